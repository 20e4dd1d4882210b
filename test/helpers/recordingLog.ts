import type { Log } from '../../src/log';
import { captureLogLine } from '../../tools/sim/logCapture';

/** A Log that keeps every line (as "LEVEL message") so tests can check what the owner would read. */
export function recordingLog(): Log & { lines: string[] } {
  const lines: string[] = [];
  const record = (line: string): void => {
    lines.push(line);
    captureLogLine(line);
  };
  return {
    lines,
    info: (message) => record(`INFO ${message}`),
    warn: (message) => record(`WARN ${message}`),
    error: (message) => record(`ERROR ${message}`),
    debug: (message) => record(`DEBUG ${message}`),
  };
}
