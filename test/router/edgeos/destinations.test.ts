/**
 * The destinations parts of a read (issue 12): the script's connection-table and accounting parts run in a real bash
 * over the connection table as conntrack-tools prints it (captured in a real kernel: test/fixtures/destinations), and
 * readDestinations over real output shapes, broken parts and hostile text.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { logPrefixOf } from '../../../src/destinations/firewallLog';
import { FLOWS_READ_MAX_BYTES, FLOWS_UNAVAILABLE, MARK, pollScript, readScript, splitLogPart, splitSections } from '../../../src/router/edgeos/commands';
import { TRIES_LOG_OFFSET, readDestinations, triesLogPrefixes } from '../../../src/router/edgeos/destinations';
import type { CameraQuery } from '../../../src/router/edgeos/destinations';

const fixture = (name: string): string => readFileSync(join(__dirname, '../../fixtures/destinations', name), 'utf8');

/** The `conntrack -L -o extended` part of the lab capture, flows only (its summary line went to stderr). */
function extendedListing(): string {
  const text = fixture('conntrack_L_lab_netns.txt');
  const part = text.slice(text.indexOf('=== conntrack -L -o extended'));
  return part
    .split('\n')
    .slice(1)
    .filter((line) => line.startsWith('ipv'))
    .join('\n');
}

const v4Camera: CameraQuery = { address: '198.51.100.1', prefixes: triesLogPrefixes(4000, 'CAMGUARD_OUT', undefined), flowAddresses: ['198.51.100.1'] };
const v6Camera: CameraQuery = { address: '198.51.100.3', prefixes: triesLogPrefixes(4010, 'CAMGUARD_OUT', 'CAMGUARD6_OUT'), flowAddresses: ['198.51.100.3', '2001:db8:1::50'] };

describe("the read script's connection-table part, in a real bash", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'camguard-flows-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * Runs the poll script with `sudo` standing in for the router's: conntrack prints `listing` (or fails), iptables
   * fails (the counters are not this test's subject). Only the script's stdout is kept.
   */
  const runPoll = (listing: string | undefined, addresses: readonly string[]): string => {
    const file = join(dir, 'conntrack.txt');
    writeFileSync(file, `${listing ?? ''}\n`);
    const conntrack = listing === undefined ? 'echo "conntrack: not permitted" >&2; return 1' : `cat '${file}'; echo 'conntrack v1.4.6 (conntrack-tools): 6 flow entries have been shown.' >&2`;
    const sudo = `sudo() { case "$1" in /usr/sbin/conntrack) ${conntrack};; *) return 1;; esac; }`;
    const script = pollScript('CAMGUARD_OUT', undefined, { logCursor: undefined, flowAddresses: addresses });
    // The log part is cut off: it reads this machine's /var/log/messages, which is not the router's.
    const withoutLog = script.slice(0, script.indexOf(`echo '${MARK.log}'`));
    return execFileSync('bash', ['-c', `${sudo}\n${withoutLog}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  };

  it("lists the cameras' flows of either tuple and no other host's, whose address only starts the same", () => {
    const other = 'ipv4     2 udp      17 27 src=198.51.100.10 dst=198.51.100.2 sport=1 dport=53 packets=1 bytes=30 src=198.51.100.2 dst=198.51.100.10 sport=53 dport=1 packets=0 bytes=0 mark=0 use=1';
    const forwarded = 'ipv4     2 tcp      6 431999 ESTABLISHED src=203.0.113.9 dst=203.0.113.1 sport=50000 dport=8443 packets=4 bytes=400 src=198.51.100.1 dst=203.0.113.9 sport=443 dport=50000 packets=3 bytes=3000 [ASSURED] mark=0 use=1';
    const output = runPoll(`${extendedListing()}\n${other}\n${forwarded}`, ['198.51.100.1', '2001:db8:1::50']);
    const { head } = splitLogPart(output);
    const sections = splitSections(head);
    const read = readDestinations(sections, undefined, [v4Camera, v6Camera], true);
    expect(read.reading.flowsProblem).toBeUndefined();
    const v4 = read.reading.cameras.get(v4Camera.address)?.flows;
    expect(v4?.accounting).toBe('on');
    expect(v4?.destinations.map((d) => `${d.direction} ${d.protocol} ${d.address} ${d.port ?? '-'}`).sort()).toEqual([
      'incoming tcp 203.0.113.9 443',
      'outgoing icmp 198.51.100.2 -',
      'outgoing tcp 198.51.100.2 8000',
      'outgoing udp 198.51.100.2 8000',
    ]);
    expect(sections.get(MARK.flows)).not.toContain('198.51.100.10 ');
    const v6 = read.reading.cameras.get(v6Camera.address)?.flows;
    expect(v6?.destinations.map((d) => `${d.protocol} ${d.address} ${d.port ?? '-'}`).sort()).toEqual(['icmpv6 2001:db8:1::2 -', 'tcp 2001:db8:1::2 443', 'udp 2001:db8:1::2 123']);
    // This machine's own /proc value (0 or 1), read the same way the router's is.
    expect([true, false, undefined]).toContain(read.reading.accounting);
  });

  it('says the table could not be listed when conntrack fails, instead of showing no connections', () => {
    const read = readDestinations(splitSections(splitLogPart(runPoll(undefined, ['198.51.100.1'])).head), undefined, [v4Camera], true);
    expect(read.reading.flowsProblem).toMatch(/would not list its connections/);
    expect(read.reading.cameras.get(v4Camera.address)?.flows).toBeUndefined();
  });

  it('asks for no connections when there is no camera, and still reads the accounting switch', () => {
    const script = readScript('CAMGUARD_OUT', undefined, { logCursor: undefined, flowAddresses: [] });
    expect(script).not.toContain('/usr/sbin/conntrack');
    expect(script).toContain('cat /proc/sys/net/netfilter/nf_conntrack_acct');
    expect(readScript('CAMGUARD_OUT')).not.toContain(MARK.log);
  });
});

/** The sections of a read whose destinations parts printed these. */
function sections(parts: { accounting?: string; flows?: string; flowsEnd?: boolean }): Map<string, string> {
  const lines = [MARK.clock, '1764763200', MARK.accounting, parts.accounting ?? '1'];
  if (parts.flows !== undefined) lines.push(MARK.flows, parts.flows, '', ...(parts.flowsEnd === false ? [] : [MARK.flowsEnd]));
  lines.push(MARK.end);
  return splitSections(`${lines.join('\n')}\n`);
}

/** What logReadScript prints for a log that grew by `text` since offset `offset` (no skip, no rotation). */
const logOutput = (text: string, offset = 0, inode = 77): string => `camguard-log new ${inode} ${offset} ${text.length} 0\n${text}\ncamguard-log end\n`;
const line = (prefix: string, src: string, dst: string, port: number): string =>
  `Dec  3 12:00:01 ubnt kernel: ${prefix}IN=switch0 OUT=eth0 MAC=00:11:22:33:44:55:00:12:41:a3:70:04:08:00 SRC=${src} DST=${dst} LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=1 DF PROTO=TCP SPT=40000 DPT=${port} WINDOW=29200 RES=0x00 SYN URGP=0\n`;

describe('readDestinations', () => {
  it("names each camera's tries under its own tries-log rule, IPv4 and IPv6 together, and moves the cursor on", () => {
    expect(TRIES_LOG_OFFSET).toBe(7);
    expect(v6Camera.prefixes).toEqual(['[CAMGUARD_OUT-4017-D]', '[CAMGUARD6_OUT-4017-D]']);
    // A ruleset name is cut to 19 characters in a prefix, as EdgeOS does.
    expect(triesLogPrefixes(4000, 'OWNERS_VERY_LONG_WAN_OUT', undefined)).toEqual([logPrefixOf('OWNERS_VERY_LONG_WAN_OUT', 4007, 'drop')]);
    const text =
      line('[CAMGUARD_OUT-4007-D]', '198.51.100.1', '47.96.1.2', 8000) +
      line('[CAMGUARD_OUT-4017-D]', '198.51.100.3', '8.8.8.8', 53) +
      line('[CAMGUARD6_OUT-4017-D]', '2001:0db8:0001:0000:0000:0000:0000:0050', '2001:0db8:ffff:0000:0000:0000:0000:0010', 443) +
      line('[CAMGUARD6_OUT-4017-D]', '2001:0db8:0001:0000:0000:0000:0000:0050', '2001:0db8:ffff:0000:0000:0000:0000:0010', 443) +
      line('[CAMGUARD_OUT-4008-D]', '198.51.100.1', '47.96.1.2', 8000);
    const read = readDestinations(sections({ accounting: '0' }), logOutput(text, 1000), [v4Camera, v6Camera], false);
    expect(read.cursor).toEqual({ inode: 77, offset: 1000 + text.length });
    expect(read.reading.accounting).toBe(false);
    expect(read.reading.logProblem).toBeUndefined();
    expect(read.reading.cameras.get(v4Camera.address)?.attempts).toMatchObject({ logged: 1, destinations: [{ address: '47.96.1.2', port: 8000, logged: 1 }] });
    expect(read.reading.cameras.get(v6Camera.address)?.attempts).toMatchObject({
      logged: 3,
      destinations: [{ address: '2001:db8:ffff::10', port: 443, logged: 2 }, { address: '8.8.8.8', port: 53, logged: 1 }],
    });
    // Connections were not asked for: none are reported, and that is no problem.
    expect(read.reading.cameras.get(v4Camera.address)?.flows).toBeUndefined();
    expect(read.reading.flowsProblem).toBeUndefined();
  });

  it('reports a log that did not arrive whole as a problem, keeps the cursor, and leaves the rest as read', () => {
    const cut = 'camguard-log new 77 0 5000 0\nDec  3 12:00:01 ubnt kernel: [CAMGUARD_OUT-4007-D]IN=switch0';
    const read = readDestinations(sections({ flows: extendedListing() }), cut, [v4Camera], true);
    expect(read.cursor).toBeUndefined();
    expect(read.reading.logProblem).toMatch(/^could not read the router's log \/var\/log\/messages \(.*\), so the tries of blocked cameras are not named; the cameras are still guarded\./);
    expect(read.reading.cameras.get(v4Camera.address)?.attempts).toBeUndefined();
    expect(read.reading.cameras.get(v4Camera.address)?.flows?.destinations).toHaveLength(3);
    expect(readDestinations(sections({}), undefined, [v4Camera], false).reading.logProblem).toMatch(/was not read/);
  });

  it('reads the accounting switch as on, off or unknown', () => {
    expect(readDestinations(sections({ accounting: '1' }), logOutput(''), [], false).reading.accounting).toBe(true);
    expect(readDestinations(splitSections(`${MARK.accounting}\n${MARK.accountingFailed}\n${MARK.end}\n`), logOutput(''), [], false).reading.accounting).toBeUndefined();
    expect(readDestinations(sections({ accounting: 'yes please' }), logOutput(''), [], false).reading.accounting).toBeUndefined();
  });

  it('says so when the connection listing was cut, and still shows what arrived', () => {
    expect(readDestinations(sections({ flows: extendedListing(), flowsEnd: false }), logOutput(''), [v4Camera], true).reading.flowsProblem).toMatch(/did not arrive whole/);
    const flow = extendedListing().split('\n')[3] ?? '';
    const many = `${`${flow}\n`.repeat(Math.ceil(FLOWS_READ_MAX_BYTES / (flow.length + 1)))}`.slice(0, FLOWS_READ_MAX_BYTES);
    const read = readDestinations(sections({ flows: many }), logOutput(''), [v4Camera], true);
    expect(read.reading.flowsProblem).toMatch(/only some of them are shown/);
    expect(read.reading.cameras.get(v4Camera.address)?.flows?.destinations[0]?.flows).toBeGreaterThan(100);
  });

  it('takes hostile connection text for nothing: broken lines are left out, the mark only counts on a line of its own', () => {
    const hostile = [
      `ipv4     2 tcp      6 1 ESTABLISHED src=198.51.100.1 dst=${'9'.repeat(300)} sport=1 dport=2 src=x dst=y sport=2 dport=1`,
      'ipv4     2 tcp      6 1 ESTABLISHED src=198.51.100.1 dst=198.51.100.9 sport=1 dport=99999 src=198.51.100.9 dst=198.51.100.1 sport=2 dport=1',
      `ipv4     2 udp      17 1 src=198.51.100.1 dst=198.51.100.8 sport=1 dport=53 src=198.51.100.8 dst=198.51.100.1 sport=53 dport=1`,
      `${FLOWS_UNAVAILABLE} and more on the same line`,
      'ipv4     2 udp      17 1 src=198.51.100.1 dst=198.51.100.7 sport=1 dport=\u00e953 src=198.51.100.7 dst=198.51.100.1 sport=53 dport=1',
    ].join('\n');
    const read = readDestinations(sections({ flows: hostile }), logOutput(''), [v4Camera], true);
    expect(read.reading.flowsProblem).toBeUndefined();
    expect(read.reading.cameras.get(v4Camera.address)?.flows?.destinations.map((d) => d.address)).toEqual(['198.51.100.8']);
  });
});
