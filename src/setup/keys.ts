/**
 * The SSH key pair the plugin logs in to the router with, made by the settings page in the Homebridge storage
 * folder, so an owner never needs a terminal to create one. The private half never leaves this machine: only its
 * path and the public half are handed to the page.
 */
import { chmodSync, closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { utils } from 'ssh2';

import type { GeneratedKey } from '../ui/protocol';
import { RequestError } from './requestError';

/** The folder under the Homebridge storage path that holds the key pair (mode 0700). */
export const KEY_FOLDER = 'camera-guard';
export const KEY_NAME = 'camera-guard_ed25519';
export const KEY_COMMENT = 'camera-guard';

/** ssh2 now and then makes an ed25519 pair it cannot read back; a pair is kept only once both halves parse. */
const KEY_ATTEMPTS = 5;

export function keyPaths(storagePath: string): { folder: string; privateKeyFile: string; publicKeyFile: string } {
  const folder = join(storagePath, KEY_FOLDER);
  const privateKeyFile = join(folder, KEY_NAME);
  return { folder, privateKeyFile, publicKeyFile: `${privateKeyFile}.pub` };
}

/** The public key line of a private key file, or undefined when the file is not a key ssh2 can read without a passphrase. */
function publicKeyOf(privateKeyFile: string): string | undefined {
  const key = utils.parseKey(readFileSync(privateKeyFile));
  if (key instanceof Error) return undefined;
  return `${key.type} ${key.getPublicSSH().toString('base64')} ${KEY_COMMENT}`;
}

/** Writes `text` to `path` with mode `mode`, whole or not at all (a fresh file renamed over the target). */
function writeWhole(path: string, text: string, mode: number): void {
  const temporary = `${path}.${randomBytes(8).toString('hex')}.tmp`;
  const descriptor = openSync(temporary, 'wx', mode);
  try {
    writeSync(descriptor, text);
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
  try {
    chmodSync(temporary, mode);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/**
 * Makes the key pair once; later calls return the one already there (so a second click never locks the owner out
 * of a router that already trusts the first key).
 */
export function generateKey(storagePath: string): GeneratedKey {
  const { folder, privateKeyFile, publicKeyFile } = keyPaths(storagePath);
  try {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    if (lstatSync(folder).isSymbolicLink()) {
      throw new RequestError(`${folder} is a symbolic link; remove it so the key is kept in the Homebridge storage folder itself.`);
    }
    chmodSync(folder, 0o700);
    if (existsSync(privateKeyFile)) {
      const publicKey = publicKeyOf(privateKeyFile);
      if (publicKey === undefined) {
        throw new RequestError(`${privateKeyFile} exists but is not a key the plugin can read; move it away and generate the key again.`);
      }
      chmodSync(privateKeyFile, 0o600);
      return { privateKeyFile, publicKey, created: false };
    }
    for (let attempt = 0; attempt < KEY_ATTEMPTS; attempt++) {
      const pair = utils.generateKeyPairSync('ed25519', { comment: KEY_COMMENT });
      if (utils.parseKey(pair.private) instanceof Error || utils.parseKey(pair.public) instanceof Error) continue;
      writeWhole(privateKeyFile, pair.private, 0o600);
      const publicKey = publicKeyOf(privateKeyFile);
      if (publicKey === undefined) continue;
      writeWhole(publicKeyFile, `${publicKey}\n`, 0o644);
      return { privateKeyFile, publicKey, created: true };
    }
    throw new RequestError('could not make a key pair the plugin can read back; try again.');
  } catch (error) {
    if (error instanceof RequestError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new RequestError(`could not write the key to ${folder} (${code}); check that Homebridge can write to its storage folder.`);
  }
}
