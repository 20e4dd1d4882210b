/**
 * The lab router's /var/log/messages, fed by the kernel: the LOG lines the router namespace's real iptables writes
 * (a rule with `log enable`) land in SimState.routerLog, where the simulated router's `stat`, `tail` and `head` read
 * them, as rsyslog files them on EdgeOS (`Dec  3 12:00:01 ubnt kernel: [CAMGUARD_OUT-4007-D]IN=eth1 OUT=eth0 …`).
 *
 * - The kernel logs from a network namespace other than the initial one only with
 *   `net.netfilter.nf_log_all_netns=1`: the lab sets it while it runs and puts the old value back when it stops (the
 *   old value is kept in the lab's directory, so the next start restores it after a crash too).
 * - The kernel's log is the whole machine's, so only lines that start with one of the prefixes of the router's own
 *   LOG rows (compiled from its active configuration) are taken, and only those written since the lab started
 *   (kernelLogReader.ts, a child process that follows /dev/kmsg).
 * - The file is bounded and rotated as the simulator's own LOG rows do it (memoryDataplane.ts), after Vyatta's syslog
 *   setup (docs/design/destinations.md section 2): it grows to SimOptions.logMaxBytes (255 KiB by default: archive
 *   size 250 KiB + 5), then becomes /var/log/messages.1, keeping its inode, and a new, empty file with a new inode
 *   takes its place.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { compileFirewall, compileIpv6Firewall } from '../sim/edgeos';
import type { CompiledFirewall, ConfigLines, RouterStateStore, SimState } from '../sim/edgeos';
import { DEFAULT_LOG_MAX_BYTES } from '../sim/edgeos/memoryDataplane';
import { COMPILED_LAB_DIR } from './system';
import { LAB_DIR } from './topology';

const ALL_NETNS_SETTING = '/proc/sys/net/netfilter/nf_log_all_netns';
/** The setting's value before the lab changed it. */
const SAVED_SETTING_FILE = join(LAB_DIR, 'nf_log_all_netns.saved');
const READY_TIMEOUT_MS = 10_000;
/** The host name rsyslog writes (EdgeOS's default). */
const SYSLOG_HOST = 'ubnt';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** rsyslog's traditional time stamp, in this machine's local time: `Dec  3 12:00:01`. */
export function syslogTime(at: Date): string {
  const two = (value: number): string => String(value).padStart(2, '0');
  return `${MONTHS[at.getMonth()] ?? 'Jan'} ${String(at.getDate()).padStart(2, ' ')} ${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}`;
}

/** The prefixes of the LOG rows the router's active configuration compiles to, IPv4 and IPv6. */
export function routerLogPrefixes(active: ConfigLines): Set<string> {
  const prefixes = new Set<string>();
  const collect = (firewall: CompiledFirewall): void => {
    for (const chain of Object.values(firewall.chains)) {
      for (const row of chain.rows) if (row.target === 'LOG' && row.match.logPrefix !== undefined) prefixes.add(row.match.logPrefix);
    }
  };
  collect(compileFirewall(active));
  collect(compileIpv6Firewall(active));
  return prefixes;
}

/** Appends syslog lines to the router's log, rotating it first when they would take it past its bound. */
export function appendRouterLog(state: SimState, lines: string): void {
  const max = state.options.logMaxBytes ?? DEFAULT_LOG_MAX_BYTES;
  const log = (state.routerLog ??= { current: { inode: 1000, text: '' }, nextInode: 1001 });
  if (log.current.text.length > 0 && Buffer.byteLength(log.current.text) + Buffer.byteLength(lines) > max) {
    log.rotated = log.current;
    log.current = { inode: log.nextInode++, text: '' };
  }
  log.current.text += lines;
}

/** Lets the kernel log from the lab's namespaces, remembering the setting's old value for restoreKernelLogSetting. */
function allowLoggingFromNamespaces(): void {
  const before = readFileSync(ALL_NETNS_SETTING, 'utf8').trim();
  writeFileSync(SAVED_SETTING_FILE, `${before}\n`, { flag: 'wx' });
  writeFileSync(ALL_NETNS_SETTING, '1\n');
}

/** Puts `nf_log_all_netns` back as it was before a lab (this one or a crashed one) changed it. Safe to call any time. */
export function restoreKernelLogSetting(): void {
  let before: string;
  try {
    before = readFileSync(SAVED_SETTING_FILE, 'utf8').trim();
  } catch {
    return;
  }
  if (before === '0' || before === '1') writeFileSync(ALL_NETNS_SETTING, `${before}\n`);
  rmSync(SAVED_SETTING_FILE, { force: true });
}

export class KernelLog {
  private pending: string[] = [];
  private flushing: Promise<void> = Promise.resolve();

  private constructor(private readonly store: RouterStateStore) {}

  /**
   * Starts feeding the router's log from the kernel; `track` is given the reader's process id so that stopping the lab
   * ends it (see Lab.trackProcess), as does the end of this process (the reader's standard input closes).
   */
  static async start(store: RouterStateStore, track: (pid: number | undefined) => void): Promise<KernelLog> {
    allowLoggingFromNamespaces();
    const child = spawn(process.execPath, [join(COMPILED_LAB_DIR, 'kernelLogReader.js')], { stdio: ['pipe', 'pipe', 'pipe'] });
    track(child.pid);
    const log = new KernelLog(store);
    let errors = '';
    child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString('utf8')));
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the kernel log reader did not start within ${READY_TIMEOUT_MS / 1000} s: ${errors.trim()}`)), READY_TIMEOUT_MS);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the kernel log reader exited (${code ?? 'signal'}): ${errors.trim()}`));
      });
      if (child.stdout !== null) {
        createInterface({ input: child.stdout }).on('line', (line) => {
          let message: unknown;
          try {
            message = JSON.parse(line);
          } catch {
            return;
          }
          if (message === 'ready') {
            clearTimeout(timer);
            resolve();
          } else if (typeof message === 'string') {
            log.receive(message);
          }
        });
      }
    });
    try {
      await ready;
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
    return log;
  }

  /** Resolves once every line the reader has passed on so far is in the router's log (or was not the router's). */
  async settled(): Promise<void> {
    while (this.pending.length > 0) {
      this.flush();
      await this.flushing;
    }
    await this.flushing;
  }

  private receive(message: string): void {
    this.pending.push(message);
    this.flush();
  }

  /** Writes what has arrived in one update of the router's state; lines that arrive meanwhile wait for the next. */
  private flush(): void {
    this.flushing = this.flushing.then(async () => {
      const messages = this.pending.splice(0);
      if (messages.length === 0) return;
      const at = new Date();
      await this.store
        .update((state) => {
          const prefixes = routerLogPrefixes(state.active);
          const lines = messages.filter((message) => prefixes.has(message.slice(0, message.indexOf(']') + 1)));
          if (lines.length === 0) return;
          appendRouterLog(state, lines.map((message) => `${syslogTime(at)} ${SYSLOG_HOST} kernel: ${message}\n`).join(''));
        })
        .catch((error: unknown) => {
          // The lab is going away (its state file is gone): nothing is left to write to.
          process.stderr.write(`kernel log: could not write to the router's log: ${error instanceof Error ? error.message : String(error)}\n`);
        });
    });
  }
}
