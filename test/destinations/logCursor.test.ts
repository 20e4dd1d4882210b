import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { LOG_READ_MAX_BYTES, logReadScript, parseLogRead, type LogCursor, type LogRead } from '../../src/destinations/logCursor';

/**
 * The fragment runs in a real POSIX shell with coreutils over a real file, as it would on the router; only the
 * file's path differs.
 */
describe('reading only what the log gained', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'camguard-log-'));
    file = join(dir, 'messages');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const read = (cursor: LogCursor | undefined, maxBytes?: number): LogRead => {
    const output = execFileSync('sh', ['-c', `echo before; ${logReadScript(cursor, maxBytes, file)}; echo after`], { encoding: 'utf8' });
    const result = parseLogRead(output);
    if (!result.ok) {
      throw new Error(result.error);
    }
    return result.value;
  };

  it('reads the newest bytes on first sight, then only new whole lines, holding back a line still being written', () => {
    writeFileSync(file, 'one\ntwo\n');
    const first = read(undefined);
    expect(first.text).toBe('one\ntwo\n');
    expect(first.cursor.offset).toBe(8);
    expect(first.cursor.inode).toBeGreaterThan(0);
    appendFileSync(file, 'three\nfo');
    const second = read(first.cursor);
    expect(second.text).toBe('three\n');
    expect(second.cursor.offset).toBe(14);
    appendFileSync(file, 'ur\n');
    expect(read(second.cursor).text).toBe('four\n');
    expect(read(read(second.cursor).cursor).text).toBe('');
  });

  it('after a rotation reads the rest of the old file, then the new one from its start', () => {
    writeFileSync(file, 'one\n');
    const first = read(undefined);
    appendFileSync(file, 'two\n');
    renameSync(file, `${file}.1`);
    writeFileSync(file, 'three\n');
    const second = read(first.cursor);
    expect(second.rotated).toBe(true);
    expect(second.text).toBe('two\nthree\n');
    expect(second.cursor.offset).toBe(6);
    expect(second.cursor.inode).not.toBe(first.cursor.inode);
  });

  it('starts again from the top of a file that shrank under the same inode', () => {
    writeFileSync(file, 'one\ntwo\n');
    const first = read(undefined);
    writeFileSync(file, 'x\n');
    expect(read(first.cursor).text).toBe('x\n');
  });

  it('reads at most maxBytes, drops the cut line and says how much it skipped', () => {
    writeFileSync(file, '');
    const first = read(undefined);
    appendFileSync(file, `${'a'.repeat(99)}\n`.repeat(50));
    const second = read(first.cursor, 1000);
    expect(second.skippedBytes).toBe(4000);
    expect(second.text).toBe(`${'a'.repeat(99)}\n`.repeat(10));
    expect(second.cursor.offset).toBe(5000);
    // A bound that cuts a line: the fragment is dropped and counted with the skipped bytes.
    appendFileSync(file, `${'b'.repeat(99)}\n`.repeat(50));
    const third = read(second.cursor, 950);
    expect(third.text).toBe(`${'b'.repeat(99)}\n`.repeat(9));
    expect(third.skippedBytes).toBe(4100);
    expect(third.cursor.offset).toBe(10000);
  });

  it('turns every byte outside printable ASCII into one ?, so offsets stay byte offsets', () => {
    writeFileSync(file, Buffer.concat([Buffer.from('caf'), Buffer.from([0xc3, 0xa9]), Buffer.from(' \u001b[2J ok\n'), Buffer.from([0xff, 0x0a])]));
    const first = read(undefined);
    expect(first.text).toBe('caf?? ?[2J ok\n?\n');
    expect(first.cursor.offset).toBe(first.text.length);
  });

  it('reads nothing, and fails nothing, when the log is missing', () => {
    const none = read(undefined);
    expect(none).toEqual({ text: '', cursor: { inode: 0, offset: 0 }, rotated: false });
  });

  it('refuses output that is not whole', () => {
    expect(parseLogRead('nothing here').ok).toBe(false);
    expect(parseLogRead('camguard-log new 1 0 10 0\nshort\ncamguard-log end\n').ok).toBe(false);
    expect(parseLogRead('camguard-log new 1 0 5 0\nshort\n').ok).toBe(false);
    expect(parseLogRead('camguard-log new x 0 5 0\nshort\ncamguard-log end\n').ok).toBe(false);
    expect(parseLogRead('camguard-log old 99\nabc\ncamguard-log new 1 0 0 0\n\ncamguard-log end\n').ok).toBe(false);
  });

  it('names only numbers and a plain path in the script', () => {
    expect(() => logReadScript(undefined, LOG_READ_MAX_BYTES, '/var/log/$(reboot)')).toThrow();
    const script = logReadScript({ inode: -1, offset: Number.NaN }, -5);
    expect(script).toContain(`i0=0; o=0; m=${LOG_READ_MAX_BYTES}`);
  });
});
