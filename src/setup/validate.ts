/**
 * `/validate`: the plugin's own config reader passes its verdict on the page's settings before they are saved, so
 * an entry the plugin would skip (and a camera that would vanish from the Home app) is refused with the reason.
 */
import { otherPlatformRouterError, parseConfig } from '../config';
import type { RouterSettings } from '../config';
import { DEFAULT_PLATFORM_NAME } from '../settings';
import type { Validation } from '../ui/protocol';

export function validate(rawConfig: unknown, rawEarlier?: unknown): Validation {
  if (rawConfig === null || typeof rawConfig !== 'object' || Array.isArray(rawConfig)) {
    return { ok: false, errors: ['The settings are missing.'] };
  }
  const { settings, errors } = parseConfig(rawConfig);
  const all = [...errors];
  if (settings.routers.length === 0 && errors.length === 0) all.push('Add a router (with its cameras) before saving.');
  all.push(...otherPlatformErrors(settings.routers, Array.isArray(rawEarlier) ? rawEarlier : []));
  return { ok: all.length === 0, errors: all };
}

/**
 * The routers of this platform that a Camera Guard platform before it already lists, by the same spelling of their
 * address and port (or the default gateway) or the same pinned host key: the running plugin would skip them. (Two
 * spellings of one address, and keys trusted on first use, are found by the running plugin, which resolves names and
 * reads the known-hosts file.)
 */
function otherPlatformErrors(routers: readonly RouterSettings[], earlier: readonly unknown[]): string[] {
  const others = earlier.flatMap((block) => {
    const name = (block as { name?: unknown } | null)?.name;
    const platform = typeof name === 'string' && name !== '' ? name : DEFAULT_PLATFORM_NAME;
    return parseConfig(block).settings.routers.map((router) => ({ platform, router }));
  });
  return routers.flatMap((router) => {
    const sameAddress = others.find((other) => other.router.host?.toLowerCase() === router.host?.toLowerCase() && other.router.port === router.port);
    const sameKey = others.find((other) => router.hostKey !== undefined && other.router.hostKey === router.hostKey);
    const other = sameAddress ?? sameKey;
    if (other === undefined) return [];
    const evidence = sameAddress ? `both reach ${router.host ?? "this machine's default gateway"} port ${router.port}` : `both pin host key ${router.hostKey as string}`;
    return [otherPlatformRouterError(router.name, other.platform, other.router.name, evidence)];
  });
}
