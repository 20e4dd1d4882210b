/**
 * Host key trust: a pinned fingerprint from the config, or the first key seen (remembered on disk). A key that
 * differs from the trusted one is refused before anything is sent: it means the router was replaced, or
 * someone is in the middle.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fchmodSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

import type { RouterSettings } from '../config';
import { KNOWN_HOSTS_LOCK_STALE_MS } from '../settings';

/** `SHA256:` + unpadded base64 of the SHA-256 of the raw public key blob, exactly as `ssh-keygen -lf` prints it. */
export function fingerprint(publicKeyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** What `fingerprint` returns: SHA-256 is 32 bytes, 43 characters of unpadded base64. */
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** The name under which an entry without "host" (one that follows this machine's default gateway) is remembered. */
const DEFAULT_GATEWAY = 'default-gateway';

/**
 * Under which name a router entry's first-seen key is remembered. An entry with a "host" keeps `host:port` (what
 * earlier versions wrote, so their files stay valid). An entry without one is remembered as the entry, not as
 * whatever address the default gateway has today: on another network, or behind a rogue DHCP server that hands
 * out another gateway, the new address must meet the key this entry already trusts, not be trusted on first use.
 */
export function knownHostsKey(router: Pick<RouterSettings, 'host' | 'port'>): string {
  return `${router.host ?? DEFAULT_GATEWAY}:${router.port}`;
}

/** A known-hosts file that Camera Guard cannot read or write; the message is a sentence for the owner. */
export class KnownHostsError extends Error {
  override readonly name = 'KnownHostsError';
}

/** Remembers first-seen keys in a JSON file (mode 0600): `{ "<knownHostsKey>": "SHA256:..." }`. */
export class KnownHosts {
  constructor(readonly file: string) {}

  /** The remembered fingerprint; throws KnownHostsError when the file is not one Camera Guard wrote. */
  get(key: string): string | undefined {
    return this.load()[key];
  }

  /**
   * Remembers `fingerprint` under `key`, keeping every other entry; throws KnownHostsError when that fails. Several
   * Camera Guard platforms (each on a child bridge, so in processes of their own) share the file: the read and the
   * write happen under a lock file, so two of them remembering keys at once cannot lose one of the two.
   */
  remember(key: string, fingerprint: string): void {
    const release = this.lock();
    try {
      const all = this.load();
      all[key] = fingerprint;
      this.write(all);
    } finally {
      release();
    }
  }

  /**
   * Takes the lock file next to the known-hosts file (created exclusively), waiting for another process to let it go.
   * A lock older than KNOWN_HOSTS_LOCK_STALE_MS is left over from a process that died holding it, and is taken over
   * (only by its age, never because the wait was long: a slow holder on a busy machine keeps it). Returns the function
   * that lets it go. Remembering a key is rare (a router's first connection), so a short synchronous wait costs nothing.
   */
  private lock(): () => void {
    const lockFile = `${this.file}.lock`;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (;;) {
      try {
        closeSync(openSync(lockFile, 'wx', 0o600));
        return () => rmSync(lockFile, { force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          // The folder cannot be written: the write below fails and says so.
          return () => undefined;
        }
      }
      let age = 0;
      try {
        age = Date.now() - statSync(lockFile).mtimeMs;
      } catch {
        continue;
      }
      if (age > KNOWN_HOSTS_LOCK_STALE_MS) {
        rmSync(lockFile, { force: true });
        continue;
      }
      Atomics.wait(pause, 0, 0, 10);
    }
  }

  private write(all: Record<string, string>): void {
    // Write a fresh file then rename it over the old one, so a crash never leaves a half-written trust store. The
    // fresh file gets an unpredictable name and is created exclusively: a symlink or file planted in its place
    // (the directory may be shared) makes the write fail instead of writing through the link or into the plant.
    const temporary = join(dirname(this.file), `.${basename(this.file)}.${randomBytes(12).toString('hex')}.tmp`);
    let descriptor: number | undefined;
    let created = false;
    try {
      descriptor = openSync(temporary, 'wx', 0o600);
      created = true;
      fchmodSync(descriptor, 0o600);
      writeSync(descriptor, `${JSON.stringify(all, null, 2)}\n`);
      fsyncSync(descriptor);
      closeSync(descriptor);
      descriptor = undefined;
      renameSync(temporary, this.file);
    } catch (error) {
      if (descriptor !== undefined) {
        closeSync(descriptor);
      }
      if (created) {
        rmSync(temporary, { force: true });
      }
      throw new KnownHostsError(
        `could not write the known host keys file ${this.file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); ` +
          'check that Homebridge can write to its storage folder, or pin the key with "hostKey" in the config.',
      );
    }
  }

  private load(): Record<string, string> {
    if (!existsSync(this.file)) {
      return {};
    }
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      throw new KnownHostsError(`could not read the known host keys file ${this.file} (${(error as NodeJS.ErrnoException).code ?? 'error'}); check its permissions.`);
    }
    const refuse = (what: string): KnownHostsError =>
      new KnownHostsError(
        `the known host keys file ${this.file} is not one Camera Guard wrote (${what}), so no router is trusted from it; ` +
          'fix it to the form {"192.168.1.1:22": "SHA256:..."} or delete it (each router\'s key is then trusted on first use again).',
      );
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw refuse('it is not JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw refuse(`it holds ${Array.isArray(parsed) ? 'a list' : parsed === null ? 'null' : `a ${typeof parsed}`} instead of an object`);
    }
    const entries = Object.entries(parsed);
    const wrong = entries.find(([, value]) => typeof value !== 'string' || !FINGERPRINT.test(value));
    if (wrong) {
      throw refuse(`the entry for ${JSON.stringify(wrong[0].slice(0, 80))} is not a SHA256: fingerprint`);
    }
    // A fresh object without a prototype: an entry named "__proto__" or "constructor" is just an entry.
    return Object.assign(Object.create(null) as Record<string, string>, Object.fromEntries(entries as [string, string][]));
  }
}

/** What a router entry's presented key is compared with, found before anything is sent to the router. */
export type HostKeyExpectation =
  | { readonly source: 'config'; readonly fingerprint: string }
  /** `storedUnder` differs from the entry's own key when it was remembered by an earlier version (see below). */
  | { readonly source: 'stored'; readonly fingerprint: string; readonly storedUnder: string }
  | { readonly source: 'none' };

/**
 * Finds the key a router entry must present when dialled at `address`. Earlier versions remembered an entry without
 * "host" under the gateway's address of the day (`192.168.1.1:22`); such a record is taken over for the address
 * dialled now, and only for it: that is the key this entry trusted at this address before, and comparing with it
 * is as strict as before. Records of other addresses (another network's gateway, say) are never taken over.
 * Throws KnownHostsError when the file cannot be trusted.
 */
export function expectedHostKey(router: Pick<RouterSettings, 'host' | 'port' | 'hostKey'>, address: string, known: KnownHosts): HostKeyExpectation {
  if (router.hostKey !== undefined) {
    return { source: 'config', fingerprint: router.hostKey };
  }
  const key = knownHostsKey(router);
  const stored = known.get(key);
  if (stored !== undefined) {
    return { source: 'stored', fingerprint: stored, storedUnder: key };
  }
  if (router.host === undefined) {
    const legacyKey = `${address}:${router.port}`;
    const legacy = known.get(legacyKey);
    if (legacy !== undefined) {
      return { source: 'stored', fingerprint: legacy, storedUnder: legacyKey };
    }
  }
  return { source: 'none' };
}

export type HostKeyVerdict =
  /** `remember`: store the key under the entry's own name once the login succeeded (first use, or taken over). */
  | { readonly trusted: true; readonly firstUse: boolean; readonly remember: boolean }
  | { readonly trusted: false; readonly expected: string; readonly source: 'config' | 'stored' };

/** Decides whether a presented key is trusted. Pure: the caller stores the key, and only after the login succeeded. */
export function checkHostKey(presented: string, expectation: HostKeyExpectation, key: string): HostKeyVerdict {
  switch (expectation.source) {
    case 'none':
      return { trusted: true, firstUse: true, remember: true };
    case 'config':
    case 'stored':
      if (presented !== expectation.fingerprint) {
        return { trusted: false, expected: expectation.fingerprint, source: expectation.source };
      }
      return { trusted: true, firstUse: false, remember: expectation.source === 'stored' && expectation.storedUnder !== key };
  }
}

/**
 * Which router entry talks to the router behind each host key, shared by all router entries of one platform. One
 * router has one host key, so two entries whose routers present the same key are one router under two spellings of
 * its address: they would fight over its rules, so only the entry that claimed the key first may talk to it.
 */
export class HostKeyClaims {
  private readonly holders = new Map<string, { readonly entry: number; readonly name: string }>();

  /**
   * Claims `fingerprint` for the entry with this index (its place in the config) and name. Returns undefined when the
   * entry holds it now (or held it already), or the name of the other entry that holds it.
   */
  claim(fingerprint: string, entry: number, name: string): string | undefined {
    const holder = this.holders.get(fingerprint);
    if (holder === undefined) {
      this.holders.set(fingerprint, { entry, name });
      return undefined;
    }
    return holder.entry === entry ? undefined : holder.name;
  }
}
