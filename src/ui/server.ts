/**
 * The settings page's server side: the Homebridge UI starts homebridge-ui/server.js as a child process, which hands
 * this module the UI's server class (the ESM package @homebridge/plugin-ui-utils, loaded there). Each request path
 * of src/ui/protocol.ts is answered with the plugin's own config reader, SSH connection and driver. No answer holds
 * a secret, and a request that fails rejects with one sentence for the owner.
 */
import { generateKey } from '../setup/keys';
import { testConnection } from '../setup/connectionTest';
import { sentence } from '../setup/connect';
import { discover } from '../setup/discovery';
import { preview } from '../setup/preview';
import { RequestError } from '../setup/requestError';
import { routerCommands } from '../setup/routerCommands';
import { readStatus } from '../setup/status';
import { validate } from '../setup/validate';
import { routerWords } from '../log';

type Body = Record<string, unknown>;
export type Handler = (body: Body) => unknown;

/** The request handlers, by path, for a Homebridge storage folder. */
export function requestHandlers(storagePath: string): Readonly<Record<string, Handler>> {
  return {
    '/keys/generate': () => generateKey(storagePath),
    '/router/commands': (body) => routerCommands(body.username, body.publicKey),
    '/router/test': (body) => testConnection(body.router, storagePath),
    '/cameras/discover': (body) => discover(body.router, body.cameras, storagePath),
    '/preview': (body) => preview(body.config, storagePath),
    '/validate': (body) => validate(body.config, body.earlier),
    '/status': () => readStatus(storagePath),
  };
}

/** What this module needs of @homebridge/plugin-ui-utils' HomebridgePluginUiServer. */
export interface UiServerBase {
  readonly homebridgeStoragePath: string | undefined;
  onRequest(path: string, handler: (body: unknown) => Promise<unknown>): void;
  ready(): void;
}
export type UiServerClass = new () => UiServerBase;
export type UiRequestErrorClass = new (message: string, requestError: unknown) => Error;

/** Starts the page's server: registers every handler, then tells the UI it is ready. */
export function startUiServer(Base: UiServerClass, UiRequestError: UiRequestErrorClass): UiServerBase {
  const server = new Base();
  const storagePath = server.homebridgeStoragePath;
  if (storagePath === undefined) throw new Error('HOMEBRIDGE_STORAGE_PATH is not set: the settings page server must be started by the Homebridge UI.');
  for (const [path, handler] of Object.entries(requestHandlers(storagePath))) {
    server.onRequest(path, async (body) => {
      try {
        return await handler(body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Body) : {});
      } catch (error) {
        if (!(error instanceof RequestError)) {
          // The UI's log gets the kind of failure and where, never the message (it could quote a setting).
          console.error(`Camera Guard settings: ${path} failed: ${routerWords(error instanceof Error ? (error.stack ?? error.name).split('\n').slice(1, 4).join(' ') : 'unknown')}`);
        }
        throw new UiRequestError(sentence(error), {});
      }
    });
  }
  server.ready();
  return server;
}
