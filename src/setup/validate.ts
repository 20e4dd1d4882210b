/**
 * `/validate`: the plugin's own config reader passes its verdict on the page's settings before they are saved, so
 * an entry the plugin would skip (and a camera that would vanish from the Home app) is refused with the reason.
 */
import { parseConfig } from '../config';
import type { Validation } from '../ui/protocol';

export function validate(rawConfig: unknown): Validation {
  if (rawConfig === null || typeof rawConfig !== 'object' || Array.isArray(rawConfig)) {
    return { ok: false, errors: ['The settings are missing.'] };
  }
  const { settings, errors } = parseConfig(rawConfig);
  const all = [...errors];
  if (settings.routers.length === 0 && errors.length === 0) all.push('Add a router (with its cameras) before saving.');
  return { ok: all.length === 0, errors: all };
}
