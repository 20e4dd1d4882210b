import type { Log } from '../../src/log';

/** A Log that keeps every line (as "LEVEL message") so tests can check what the owner would read. */
export function recordingLog(): Log & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (message) => lines.push(`INFO ${message}`),
    warn: (message) => lines.push(`WARN ${message}`),
    error: (message) => lines.push(`ERROR ${message}`),
    debug: (message) => lines.push(`DEBUG ${message}`),
  };
}
