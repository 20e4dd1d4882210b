/**
 * The one logger shape every layer uses. Homebridge's logger satisfies it; tests pass a recorder. Each message is
 * one sentence for the owner: what happened and what to do.
 */
export interface Log {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
}

/** Prefixes every line with the router's or camera's name, so the owner knows which one it is about. */
export function withPrefix(log: Log, prefix: string): Log {
  return {
    info: (message) => log.info(`${prefix}: ${message}`),
    warn: (message) => log.warn(`${prefix}: ${message}`),
    error: (message) => log.error(`${prefix}: ${message}`),
    debug: (message) => log.debug(`${prefix}: ${message}`),
  };
}
