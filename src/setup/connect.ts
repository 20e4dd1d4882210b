/**
 * How the settings page reaches a router: the owner's entry as typed on the page, checked by the plugin's own
 * config reader, then the plugin's own SSH connection and driver. It trusts exactly the host keys the running plugin
 * would (the pinned one, or the one it remembered), and never remembers a new one itself: a test changes nothing.
 */
import { join } from 'node:path';

import { parseConfig } from '../config';
import type { RouterSettings } from '../config';
import type { Log } from '../log';
import type { RouterDriver, SetupProbe } from '../router/driver';
import { routerDriver } from '../router/drivers';
import { KnownHosts } from '../router/hostKeys';
import { SshConnection } from '../router/ssh';
import { KNOWN_HOSTS_FILE } from '../settings';
import { RequestError } from './requestError';

/** The trust store of the running plugin, read but never written. */
class ReadOnlyKnownHosts extends KnownHosts {
  override remember(): void {
    // The page only looks: a key is trusted for good when the owner pins it or the plugin first logs in.
  }
}

/** The page's server has no owner log of its own: its answers are the messages. */
const SILENT: Log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** A router entry as the plugin would read it, with the sentence that refuses it when it would be skipped. */
export function readRouterEntry(raw: unknown): { router: RouterSettings; problems: readonly string[] } | { router: undefined; problems: readonly string[] } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { router: undefined, problems: ['The router entry is missing; fill in the router first.'] };
  }
  // A router is tested and searched for cameras before it has any; the plugin refuses an entry without cameras, so
  // one stands in for the reading of the router's own settings and is taken out again.
  const cameras = (raw as { cameras?: unknown }).cameras;
  const standIn = !Array.isArray(cameras) || cameras.length === 0;
  const parsed = parseConfig({ routers: [standIn ? { ...raw, cameras: [{ name: 'Stand-in', address: '192.0.2.254' }] } : raw] });
  const router = parsed.settings.routers[0];
  if (router === undefined) return { router, problems: parsed.errors };
  return { router: standIn ? { ...router, cameras: [] } : router, problems: parsed.errors };
}

export interface RouterSession {
  readonly router: RouterSettings & { host: string };
  readonly driver: RouterDriver & SetupProbe;
  /** The fingerprint of the host key the router presented, once it did. */
  presented(): string | undefined;
  close(): void;
}

/** Makes (but does not open) a connection to the router of a checked entry. */
export function routerSession(router: RouterSettings & { host: string }, storagePath: string): RouterSession {
  let presented: string | undefined;
  const ssh = new SshConnection({ ...router, address: router.host }, new ReadOnlyKnownHosts(join(storagePath, KNOWN_HOSTS_FILE)), SILENT, {
    onHostKey: (fingerprint) => {
      presented = fingerprint;
    },
  });
  const driver = routerDriver(router, ssh);
  return { router, driver, presented: () => presented, close: () => driver.close() };
}

/** Connects to the router of a page's entry, or rejects with the one sentence that says why not. */
export async function connectedSession(raw: unknown, storagePath: string): Promise<RouterSession> {
  const { router, problems } = readRouterEntry(raw);
  if (router === undefined) throw new RequestError(problems.join(' ') || 'The router entry cannot be used; check its fields.');
  if (router.host === undefined) throw new RequestError('Enter the router\'s address in "host" first.');
  const session = routerSession({ ...router, host: router.host }, storagePath);
  try {
    await session.driver.connect();
  } catch (error) {
    session.close();
    throw new RequestError(sentence(error));
  }
  return session;
}

/** An error as one sentence for the page: a RouterError's own words, capitalised; anything else without details. */
export function sentence(error: unknown): string {
  if (error instanceof RequestError) return error.message;
  if (error instanceof Error && error.name === 'RouterError') {
    const text = error.message.trim();
    return `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
  }
  return `Something unexpected went wrong (${error instanceof Error ? error.name : 'error'}); the Homebridge log has the details.`;
}
