/**
 * Counts the inputs fast-check generates in the hostile-input suites, for docs/RELIABILITY.md: when
 * CAMERA_GUARD_COUNT_INPUTS names a directory (npm run soak sets it), each property's run count is appended there.
 * Failures are reported exactly as fast-check's default reporter would.
 */
import { appendFileSync } from 'node:fs';
import { basename, join } from 'node:path';

import fc from 'fast-check';

export function countGeneratedInputs(file: string): void {
  const directory = process.env.CAMERA_GUARD_COUNT_INPUTS;
  if (directory === undefined || directory === '') {
    return;
  }
  const suite = basename(file).replace(/\.test\.ts$/, '');
  fc.configureGlobal({
    reporter: (details) => {
      appendFileSync(join(directory, 'counts.jsonl'), `${JSON.stringify({ suite, inputs: details.numRuns })}\n`);
      if (details.failed) {
        throw new Error(fc.defaultReportMessage(details));
      }
    },
  });
}
