/**
 * Host key trust: a pinned fingerprint from the config, or the first key seen (remembered on disk). A key that
 * differs from the trusted one is refused before anything is sent: it means the router was replaced, or
 * someone is in the middle.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/** `SHA256:` + unpadded base64 of the SHA-256 of the raw public key blob, exactly as `ssh-keygen -lf` prints it. */
export function fingerprint(publicKeyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(publicKeyBlob).digest('base64').replace(/=+$/, '')}`;
}

export type HostKeyVerdict =
  | { readonly trusted: true; readonly firstUse: boolean }
  | { readonly trusted: false; readonly expected: string; readonly source: 'config' | 'stored' };

/** Remembers first-seen keys in a JSON file (mode 0600) keyed by `host:port`. */
export class KnownHosts {
  constructor(private readonly file: string) {}

  get(endpoint: string): string | undefined {
    return this.load()[endpoint];
  }

  remember(endpoint: string, key: string): void {
    const all = this.load();
    all[endpoint] = key;
    // Write then rename, so a crash never leaves a half-written trust store behind.
    const temporary = `${this.file}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, this.file);
  }

  private load(): Record<string, string> {
    if (!existsSync(this.file)) {
      return {};
    }
    const parsed: unknown = JSON.parse(readFileSync(this.file, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) {
      throw new Error(`${this.file} is not a known-hosts file written by Camera Guard`);
    }
    return parsed as Record<string, string>;
  }
}

/** Decides whether a presented key is trusted; on first use (nothing pinned, nothing stored) remembers it. */
export function checkHostKey(presented: string, endpoint: string, pinned: string | undefined, known: KnownHosts): HostKeyVerdict {
  if (pinned !== undefined) {
    return presented === pinned ? { trusted: true, firstUse: false } : { trusted: false, expected: pinned, source: 'config' };
  }
  const stored = known.get(endpoint);
  if (stored !== undefined) {
    return presented === stored ? { trusted: true, firstUse: false } : { trusted: false, expected: stored, source: 'stored' };
  }
  known.remember(endpoint, presented);
  return { trusted: true, firstUse: true };
}
