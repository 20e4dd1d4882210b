/**
 * Lets a test run prove that no secret ever reaches a log: when CAMERA_GUARD_LOG_CAPTURE names a directory, every
 * log line the tests see (Homebridge's output, recorded plugin logs) and every secret the tests hand out
 * (passwords, passphrases, private keys) is appended there, and the test suite's teardown greps one for the other.
 * Outside such a run these functions do nothing.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

function captureDirectory(): string | undefined {
  const directory = process.env.CAMERA_GUARD_LOG_CAPTURE;
  return directory === undefined || directory === '' ? undefined : directory;
}

export function captureLogLine(line: string): void {
  const directory = captureDirectory();
  if (directory) {
    appendFileSync(join(directory, 'log-lines.txt'), `${line.replace(/\n/g, ' ')}\n`);
  }
}

/** Registers a secret; private keys are registered line by line, since a leak would rarely copy a whole key. */
export function captureSecret(secret: string): void {
  const directory = captureDirectory();
  if (directory) {
    const parts = secret
      .split('\n')
      .map((part) => part.trim())
      .filter((part) => part.length >= 8 && !part.startsWith('-----'));
    appendFileSync(join(directory, 'secrets.json'), `${JSON.stringify(parts)}\n`);
  }
}
