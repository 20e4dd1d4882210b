/**
 * What the plugin sends a simulated router and what it gets back, command by command: the count test
 * (test/bench/counts.test.ts) and the bench (bench.ts, through simProcess.ts) both count with it, so a figure in
 * docs/PERFORMANCE.md and the bound a test holds it to are the same measurement.
 */
import type { CameraSettings } from '../../src/config';
import type { SimulatedEdgeRouter } from '../sim/edgeos';

/** What a command is for, told from its script (the plugin sends every script to a shell on stdin). */
export type CommandKind = 'read' | 'transaction' | 'cut' | 'neighbours' | 'offload' | 'other';

export interface CommandRecord {
  readonly kind: CommandKind;
  /** The command line and its script, as sent. */
  readonly sentBytes: number;
  /** Standard output and standard error, as answered. */
  readonly receivedBytes: number;
  /** `set` lines in a transaction's script (0 for any other command). */
  readonly setLines: number;
  /** `set` and `delete` lines in a transaction's script. */
  readonly editLines: number;
}

export interface CommandLog {
  readonly records: CommandRecord[];
  /** Forgets what was recorded so far. */
  clear(): void;
  /** Puts the router's own `run` back. */
  stop(): void;
}

export function commandKind(command: string, stdin: string): CommandKind {
  if (stdin.includes('vyatta-cfg-cmd-wrapper commit') || stdin.includes('vyatta-cfg-cmd-wrapper save')) return 'transaction';
  if (stdin.includes('conntrack -D')) return 'cut';
  if (stdin.includes('show configuration commands') || stdin.includes('iptables')) return 'read';
  if (command.includes('ip neigh')) return 'neighbours';
  if (command.includes('offload')) return 'offload';
  return 'other';
}

/** Records every command the router runs from now on (whoever sends it: in practice, the plugin over SSH). */
export function recordCommands(router: SimulatedEdgeRouter): CommandLog {
  const records: CommandRecord[] = [];
  const run = router.run.bind(router);
  router.run = async (command, stdin = '', signal, user) => {
    const result = await run(command, stdin, signal, user);
    records.push({
      kind: commandKind(command, stdin),
      sentBytes: Buffer.byteLength(command) + Buffer.byteLength(stdin),
      receivedBytes: Buffer.byteLength(result.stdout) + Buffer.byteLength(result.stderr),
      setLines: stdin.split('\n').filter((line) => /vyatta-cfg-cmd-wrapper set /.test(line)).length,
      editLines: stdin.split('\n').filter((line) => /vyatta-cfg-cmd-wrapper (set|delete) /.test(line)).length,
    });
    return result;
  };
  return {
    records,
    clear: () => {
      records.length = 0;
    },
    stop: () => {
      router.run = run;
    },
  };
}

export interface CommandTally {
  readonly commands: number;
  readonly byKind: Readonly<Record<CommandKind, number>>;
  readonly sentBytes: number;
  readonly receivedBytes: number;
  readonly setLines: number;
  readonly editLines: number;
}

export function tally(records: readonly CommandRecord[]): CommandTally {
  const byKind: Record<CommandKind, number> = { read: 0, transaction: 0, cut: 0, neighbours: 0, offload: 0, other: 0 };
  let sentBytes = 0;
  let receivedBytes = 0;
  let setLines = 0;
  let editLines = 0;
  for (const record of records) {
    byKind[record.kind]++;
    sentBytes += record.sentBytes;
    receivedBytes += record.receivedBytes;
    setLines += record.setLines;
    editLines += record.editLines;
  }
  return { commands: records.length, byKind, sentBytes, receivedBytes, setLines, editLines };
}

/** `n` cameras at 192.0.2.10 onwards, none with an allow-list: the rule range (firstRule + 999) holds 100. */
export function benchCameras(n: number): CameraSettings[] {
  return Array.from({ length: n }, (_, i) => ({ name: `Cam ${String(i + 1)}`, address: `192.0.2.${String(10 + i)}`, allow: [], allowMinutes: 0 }));
}

/**
 * The owner's own firewall, `lines` configuration lines of it (three a rule, in rulesets of 9,999 rules, EdgeOS's
 * limit), for the poll's cost with a large unrelated configuration.
 */
export function ownerFirewallLines(lines: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < lines; i++) {
    const ruleSet = `OWNER_${String(Math.floor(i / 9999))}`;
    const rule = (i % 9999) + 1;
    out.push(`set firewall name ${ruleSet} rule ${String(rule)} action ${i % 2 === 0 ? 'accept' : 'drop'}`);
    out.push(`set firewall name ${ruleSet} rule ${String(rule)} description 'owner rule ${String(i)}'`);
    out.push(`set firewall name ${ruleSet} rule ${String(rule)} source address 10.${String((i >> 16) & 255)}.${String((i >> 8) & 255)}.${String(i & 255)}`);
  }
  return out.slice(0, lines);
}
