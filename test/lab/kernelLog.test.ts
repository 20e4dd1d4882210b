/**
 * How the lab files the kernel's LOG lines in the router's /var/log/messages: only lines of the router's own LOG rows,
 * in rsyslog's form, and bounded as Vyatta's syslog setup bounds the file (rotated to messages.1 with its inode, a new
 * file with a new inode). The kernel itself is test/lab/destinations.test.ts's (root, real packets).
 */
import { appendRouterLog, routerLogPrefixes, syslogTime } from '../../tools/lab/kernelLog';
import { createInitialState, parseConfigCommands } from '../../tools/sim/edgeos';
import { DEFAULT_LOG_MAX_BYTES } from '../../tools/sim/edgeos/memoryDataplane';

describe('the lab router\'s kernel log', () => {
  it('takes the prefixes of the router\'s own LOG rows, IPv4 and IPv6, from its active configuration', () => {
    const active = parseConfigCommands(
      [
        'set firewall name CAMGUARD_OUT rule 4007 action drop',
        'set firewall name CAMGUARD_OUT rule 4007 log enable',
        'set firewall name CAMGUARD_OUT rule 4008 action drop',
        'set firewall ipv6-name CAMGUARD6_OUT rule 4007 action drop',
        'set firewall ipv6-name CAMGUARD6_OUT rule 4007 log enable',
        'set firewall name WAN_LOCAL default-action drop',
        'set firewall name WAN_LOCAL enable-default-log',
      ].join('\n'),
    );
    expect([...routerLogPrefixes(active)].sort()).toEqual(['[CAMGUARD6_OUT-4007-D]', '[CAMGUARD_OUT-4007-D]', '[WAN_LOCAL-default-D]']);
  });

  it('writes rsyslog\'s traditional time stamp, the day padded with a space', () => {
    expect(syslogTime(new Date(2026, 11, 3, 9, 5, 7))).toBe('Dec  3 09:05:07');
    expect(syslogTime(new Date(2026, 0, 31, 23, 59, 59))).toBe('Jan 31 23:59:59');
  });

  it('rotates the file before it would pass the simulator\'s bound: the old one becomes messages.1 with its inode, the new one has a new inode', () => {
    const state = createInitialState();
    const line = `${'x'.repeat(249)}\n`;
    const perFile = Math.floor(DEFAULT_LOG_MAX_BYTES / line.length);
    for (let i = 0; i < perFile; i++) appendRouterLog(state, line);
    expect(state.routerLog?.current.text.length).toBe(perFile * line.length);
    expect(state.routerLog?.rotated).toBeUndefined();
    const firstInode = state.routerLog?.current.inode;

    appendRouterLog(state, line);
    expect(state.routerLog?.rotated).toEqual({ inode: firstInode, text: line.repeat(perFile) });
    expect(state.routerLog?.current.text).toBe(line);
    expect(state.routerLog?.current.inode).not.toBe(firstInode);
  });

  it('takes a smaller bound from the router\'s options, as the simulator does', () => {
    const state = createInitialState();
    state.options.logMaxBytes = 1_000;
    for (let i = 0; i < 5; i++) appendRouterLog(state, `${'y'.repeat(299)}\n`);
    expect(state.routerLog?.rotated?.text.length).toBe(900);
    expect(state.routerLog?.current.text.length).toBe(600);
  });
});
