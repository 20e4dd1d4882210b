/**
 * The EdgeOS commands an owner pastes on the router once, to give the plugin its own login: a dedicated admin user
 * (the plugin needs `sudo` for iptables and conntrack, and the vyattacfg group to configure) that logs in with the
 * page's key only. They do what `loadkey` does, without copying a file to the router first.
 */
import { randomBytes } from 'node:crypto';

import type { RouterCommands } from '../ui/protocol';
import { RequestError } from './requestError';

/** Linux user names as EdgeOS accepts them (lower case, starting with a letter or `_`, at most 32 characters). */
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
/** The key types EdgeOS's `public-keys <id> type` takes that the page makes or an owner is likely to bring. */
const PUBLIC_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521) ([A-Za-z0-9+/]+={0,2})(?: \S.*)?$/;
const KEY_ID = 'camera-guard';

export function routerCommands(username: unknown, publicKey: unknown): RouterCommands {
  if (typeof username !== 'string' || !USER_NAME.test(username)) {
    throw new RequestError('the router user name must be lower-case letters, digits, "_" or "-", starting with a letter (for example camera-guard).');
  }
  if (['root', 'ubnt', 'admin'].includes(username)) {
    throw new RequestError(`"${username}" is the router's own account; give the plugin a user of its own (for example camera-guard), so it can be removed without locking you out.`);
  }
  const match = typeof publicKey === 'string' ? PUBLIC_KEY.exec(publicKey.trim()) : null;
  if (match === null) {
    throw new RequestError('that is not an SSH public key line (it starts with "ssh-ed25519 AAAA"); generate the key first.');
  }
  const [, type, body] = match;
  // The account needs a password to be created; nobody ever types this one (the plugin logs in with the key), so it
  // is random, shown once in these commands and kept nowhere.
  const password = randomBytes(18).toString('base64url');
  const user = `set system login user ${username}`;
  return {
    commands: [
      'configure',
      `${user} authentication plaintext-password '${password}'`,
      `${user} level admin`,
      `${user} full-name 'Camera Guard (Homebridge)'`,
      `${user} authentication public-keys ${KEY_ID} type ${type}`,
      `${user} authentication public-keys ${KEY_ID} key ${body}`,
      'commit',
      'save',
      'exit',
    ],
    explanation:
      `Log in to the router over SSH as its admin (for example "ssh ubnt@192.168.1.1") and paste these lines: they add the user "${username}" ` +
      'that logs in with this key only, as an admin because the plugin needs sudo to read the firewall counters and cut connections. ' +
      'The password in them is random and never needed; nothing else on the router changes.',
  };
}
