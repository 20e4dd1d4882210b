/**
 * Reading what the settings page shows from EdgeOS's own output: the samples are verbatim router transcripts
 * (test/fixtures/edgeos, each naming its source), not the simulator's rendering.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { identityFrom, parseArp, parseDefaultRoutes, parseDhcpLeases, parseVersion, devicesFrom, SETUP_MARK } from '../../src/router/edgeos/setupProbe';
import { vendorOf } from '../../src/setup/vendors';

/** A sample without its first line (which names where it comes from). */
const sample = (name: string): string => readFileSync(join(__dirname, '../fixtures/edgeos', name), 'utf8').split('\n').slice(1).join('\n');

describe("EdgeOS's show version", () => {
  it('gives the firmware and the model, for EdgeOS 2 and EdgeOS 1', () => {
    expect(parseVersion(sample('ntc_ubiquiti_edgerouter_show_version.raw.txt'))).toEqual({ version: 'v2.0.6', model: 'EdgeRouter 6P' });
    expect(parseVersion(sample('ansible_edgeos_show_version.txt'))).toEqual({ version: 'v1.9.7+hotfix.4', model: 'EdgeRouter PoE 5-Port' });
  });

  it('leaves out what is not there, and cleans what the router says', () => {
    expect(parseVersion('Invalid command: show [version]\n')).toEqual({ version: undefined, model: undefined });
    expect(parseVersion('Version:      v2\u001b[31m.0\nHW model:     ER\u202eX\n').model).toBe('ER X');
  });
});

describe("EdgeOS's show dhcp leases", () => {
  it('reads the lease of the sample past the warnings before its header, with its client name', () => {
    expect(parseDhcpLeases(sample('ntc_ubiquiti_edgerouter_show_dhcp_leases.raw.txt'))).toEqual([{ address: '125.125.15.12', mac: '00:0a:95:9d:68:16', name: 'HOSTNAME' }]);
  });

  it('reads an expiration with spaces and a lease without a client name', () => {
    const text = [
      'IP address      Hardware Address   Lease expiration     Pool       Client Name',
      '----------      ----------------   ----------------     ----       -----------',
      '192.168.1.20    bc:ad:28:11:22:33  2026/12/04 10:00:00  LAN        garage-cam',
      '192.168.1.21    ac:cc:8e:44:55:66  Dec 04, 2026         LAN',
      'not a lease line',
    ].join('\n');
    expect(parseDhcpLeases(text)).toEqual([
      { address: '192.168.1.20', mac: 'bc:ad:28:11:22:33', name: 'garage-cam' },
      { address: '192.168.1.21', mac: 'ac:cc:8e:44:55:66', name: undefined },
    ]);
  });

  it('reads nothing from an answer without the header', () => {
    expect(parseDhcpLeases('DHCP server not configured\n')).toEqual([]);
  });
});

describe("EdgeOS's show arp", () => {
  it('reads every resolved entry of the sample with its interface, and skips the incomplete ones', () => {
    const entries = parseArp(sample('ntc_ubiquiti_edgerouter_show_arp.raw.txt'));
    expect(entries).toHaveLength(5);
    expect(entries[0]).toEqual({ address: '192.168.2.10', mac: '34:29:8f:76:0f:e8', device: 'eth1' });
    expect(entries.map((entry) => entry.address)).not.toContain('192.168.11.127');
  });
});

describe('the default route', () => {
  it('names the interfaces it leaves by, over a gateway or a point-to-point link', () => {
    expect(parseDefaultRoutes('default via 203.0.113.1 dev eth0 proto zebra \ndefault dev pppoe0 scope link\n')).toEqual(['eth0', 'pppoe0']);
    expect(parseDefaultRoutes('')).toEqual([]);
    expect(parseDefaultRoutes('default via 1.2.3.4 dev $(reboot)\n')).toEqual([]);
  });
});

describe('the identify answer', () => {
  const answer = (admin: string): string =>
    [SETUP_MARK.version, 'Version:      v2.0.6', 'HW model:     EdgeRouter 6P', SETUP_MARK.admin, admin, SETUP_MARK.offload, '', SETUP_MARK.route, 'default via 203.0.113.1 dev eth2', SETUP_MARK.end, ''].join('\n');

  it('tells an admin from a login that sudo refuses', () => {
    expect(identityFrom(answer('yes'))).toMatchObject({ admin: true, version: 'v2.0.6', defaultRouteInterfaces: ['eth2'], hardwareOffload: false });
    expect(identityFrom(answer('no'))?.admin).toBe(false);
  });

  it('is nothing when the answer was cut short', () => {
    expect(identityFrom(answer('yes').replace(SETUP_MARK.end, ''))).toBeUndefined();
  });
});

describe('the LAN devices', () => {
  it('merge leases, ARP and IPv6 neighbours per MAC, IPv4 first, and leave out the WAN side', () => {
    const text = [
      SETUP_MARK.leases,
      'IP address      Hardware Address   Lease expiration     Pool       Client Name',
      '----------      ----------------   ----------------     ----       -----------',
      '192.168.1.20    BC:AD:28:11:22:33  2026/12/04 10:00:00  LAN        garage-cam',
      SETUP_MARK.arp,
      'Address                  HWtype  HWaddress           Flags Mask            Iface',
      '192.168.1.20             ether   bc:ad:28:11:22:33   C                     switch0',
      '203.0.113.1              ether   00:00:5e:00:01:01   C                     eth0',
      SETUP_MARK.neighbours,
      'fe80::bead:28ff:fe11:2233 dev switch0 lladdr bc:ad:28:11:22:33 STALE',
      '2001:db8::20 dev switch0 lladdr bc:ad:28:11:22:33 REACHABLE',
      '192.168.1.30 dev switch0 lladdr ac:cc:8e:44:55:66 REACHABLE',
      SETUP_MARK.end,
      '',
    ].join('\n');
    expect(devicesFrom(text, ['eth0'])).toEqual([
      { name: 'garage-cam', mac: 'bc:ad:28:11:22:33', addresses: ['192.168.1.20', '2001:db8::20', 'fe80::bead:28ff:fe11:2233'] },
      { name: undefined, mac: 'ac:cc:8e:44:55:66', addresses: ['192.168.1.30'] },
    ]);
  });
});

describe("a MAC's maker", () => {
  it('comes from the offline IEEE registry, with camera makers marked', () => {
    expect(vendorOf('BC:AD:28:11:22:33')).toEqual({ vendor: 'Hangzhou Hikvision Digital Technology Co.,Ltd.', camera: true });
    expect(vendorOf('ac-cc-8e-44-55-66')).toEqual({ vendor: 'Axis Communications AB', camera: true });
    expect(vendorOf('00:0a:95:9d:68:16')).toEqual({ vendor: 'Apple, Inc.', camera: false });
  });

  it('is unknown for a made-up (locally administered) MAC and for garbage', () => {
    expect(vendorOf('da:a1:19:00:00:01')).toEqual({ vendor: undefined, camera: false });
    expect(vendorOf('not a mac')).toEqual({ vendor: undefined, camera: false });
  });
});
