import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Starts capturing every log line and every secret of the run (see tools/sim/logCapture.ts). */
export default function globalSetup(): void {
  process.env.CAMERA_GUARD_LOG_CAPTURE = mkdtempSync(join(tmpdir(), 'camera-guard-logs-'));
}
