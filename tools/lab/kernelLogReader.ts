/**
 * Follows the kernel's log for the lab (see kernelLog.ts): `node kernelLogReader.js`, run by the lab's owner in this
 * machine's own namespace. It passes over every record the kernel already had when it started, then writes each new
 * record that looks like a firewall LOG line (`[PREFIX]IN=…`) to standard output as one JSON string a line; it prints
 * `"ready"` first, once it follows. It exits when its standard input closes, so it never outlives the lab.
 *
 * /dev/kmsg gives one record per read: `<priority>,<sequence>,<µs since boot>,<flags>;<text>`, then dictionary lines
 * that start with a space. A read of a record the ring buffer has already overwritten fails with EPIPE; the reader
 * then opens the device again and goes on after the last sequence number it saw.
 */
import { closeSync, createReadStream, openSync, readSync, constants as fs } from 'node:fs';

const KMSG = '/dev/kmsg';
/** A kernel record is at most 8 KiB (printk's CONSOLE_EXT_LOG_MAX); a smaller buffer makes the read fail. */
const RECORD_BUFFER_BYTES = 16 * 1024;
/** The text of a firewall LOG line starts with its prefix in brackets, glued to `IN=`. */
const LOG_LINE = /^\[[^\]\n]{1,64}\]IN=/;

function recordOf(text: string): { sequence: number; message: string } | undefined {
  const head = /^(\d+),(\d+),(\d+),[^;]*;/.exec(text);
  if (head?.[2] === undefined) return undefined;
  const message = text.slice(head[0].length).split('\n')[0] ?? '';
  return { sequence: Number(head[2]), message };
}

/** The sequence number of the newest record the kernel holds now (-1 when it holds none). */
function newestSequence(): number {
  const fd = openSync(KMSG, fs.O_RDONLY | fs.O_NONBLOCK);
  const buffer = Buffer.alloc(RECORD_BUFFER_BYTES);
  let newest = -1;
  try {
    for (;;) {
      let length: number;
      try {
        length = readSync(fd, buffer, 0, buffer.length, null);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') continue;
        if (code === 'EAGAIN') break;
        throw error;
      }
      if (length === 0) break;
      newest = recordOf(buffer.subarray(0, length).toString('utf8'))?.sequence ?? newest;
    }
  } finally {
    closeSync(fd);
  }
  return newest;
}

let after = newestSequence();

function follow(): void {
  // Every read of a ReadStream on a character device is one read(2): one record.
  const stream = createReadStream(KMSG, { highWaterMark: RECORD_BUFFER_BYTES });
  stream.on('data', (chunk: Buffer | string) => {
    const record = recordOf(chunk.toString());
    if (record === undefined || record.sequence <= after) return;
    after = record.sequence;
    if (LOG_LINE.test(record.message)) process.stdout.write(`${JSON.stringify(record.message)}\n`);
  });
  stream.once('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') {
      process.stderr.write(`kernel log reader: ${error.message}\n`);
      process.exit(1);
    }
    follow();
  });
}

follow();
process.stdout.write(`${JSON.stringify('ready')}\n`);
process.stdin.once('end', () => process.exit(0));
process.stdin.resume();
