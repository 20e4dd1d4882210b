/**
 * A settings-page request that cannot be answered: its message is one sentence for the owner, shown on the page
 * where the request was made. Anything else that escapes a handler is reported as an internal error, without its
 * details (they could quote a secret).
 */
export class RequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RequestError';
  }
}
