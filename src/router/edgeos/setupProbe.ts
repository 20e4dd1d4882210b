/**
 * What the settings page asks of an EdgeRouter beyond guarding it: who it is (firmware, model, whether the login is
 * an admin, offload, where its default route leaves) and which devices are on its LAN (DHCP leases, ARP, IPv6
 * neighbours). Each is one read-only script in one round trip; nothing here changes the router.
 */
import { isIP } from 'node:net';

import { routerWords } from '../../log';
import type { LanDevice, RouterIdentity } from '../driver';
import { OFFLOAD_COMMAND, NEIGHBOURS_COMMAND, splitSections } from './commands';
import { parseNeighbours, parseOffload } from './parsers';

const OP_WRAPPER = '/opt/vyatta/bin/vyatta-op-cmd-wrapper';

export const SETUP_MARK = {
  version: '@@camera-guard version',
  admin: '@@camera-guard admin',
  offload: '@@camera-guard offload',
  route: '@@camera-guard route',
  leases: '@@camera-guard leases',
  arp: '@@camera-guard arp',
  neighbours: '@@camera-guard neighbours',
  end: '@@camera-guard end',
} as const;

export const IDENTIFY_SCRIPT = [
  `echo '${SETUP_MARK.version}'`,
  `${OP_WRAPPER} show version`,
  `echo '${SETUP_MARK.admin}'`,
  // An admin has sudo without a password; an operator is asked for one, which -n turns into a failure.
  'sudo -n true 2>/dev/null && echo yes || echo no',
  `echo '${SETUP_MARK.offload}'`,
  OFFLOAD_COMMAND,
  `echo '${SETUP_MARK.route}'`,
  '/sbin/ip route show default',
  `echo '${SETUP_MARK.end}'`,
  '',
].join('\n');

export const DISCOVERY_SCRIPT = [
  `echo '${SETUP_MARK.leases}'`,
  `${OP_WRAPPER} show dhcp leases`,
  `echo '${SETUP_MARK.arp}'`,
  `${OP_WRAPPER} show arp`,
  `echo '${SETUP_MARK.neighbours}'`,
  NEIGHBOURS_COMMAND,
  `echo '${SETUP_MARK.end}'`,
  '',
].join('\n');

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
/** Interface names as EdgeOS makes them; anything else is not taken from the router's words. */
const INTERFACE = /^[A-Za-z][A-Za-z0-9_.-]{0,15}$/;

function field(text: string, label: string): string | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${label}:`));
  const value = line === undefined ? '' : routerWords(line.slice(label.length + 1).trim(), 80);
  return value === '' ? undefined : value;
}

/** `show version`: `Version:      v2.0.6` and `HW model:     EdgeRouter 6P`. */
export function parseVersion(text: string): { version: string | undefined; model: string | undefined } {
  return { version: field(text, 'Version'), model: field(text, 'HW model') };
}

/** `ip route show default`: `default via 203.0.113.1 dev eth0 proto static`, `default dev pppoe0 scope link`. */
export function parseDefaultRoutes(text: string): string[] {
  const devices = new Set<string>();
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0] !== 'default') continue;
    const device = words[words.indexOf('dev') + 1];
    if (words.includes('dev') && device !== undefined && INTERFACE.test(device)) devices.add(device);
  }
  return [...devices];
}

export interface Lease {
  readonly address: string;
  readonly mac: string;
  readonly name: string | undefined;
}

/**
 * `show dhcp leases`: a header (`IP address  Hardware Address  Lease expiration  Pool  Client Name`), a line of
 * dashes, then one lease per line in those columns. The expiration holds spaces (`Sep 18, 2021`), so the client name
 * is read from where its header starts. Warnings before the header (`leased IP address [...] not in any of the pools`)
 * and lines that are not a lease are passed over.
 */
export function parseDhcpLeases(text: string): Lease[] {
  const lines = text.split('\n').map((line) => line.replace(/\r$/, ''));
  const header = lines.findIndex((line) => line.startsWith('IP address') && line.includes('Client Name'));
  if (header < 0) return [];
  const nameAt = lines[header]!.indexOf('Client Name');
  const leases: Lease[] = [];
  for (const line of lines.slice(header + 1)) {
    const [address = '', hardware = ''] = line.trim().split(/\s+/);
    const mac = hardware.toLowerCase();
    if (isIP(address) !== 4 || !MAC.test(mac)) continue;
    const raw = line.length > nameAt ? line.slice(nameAt).trim() : '';
    const name = routerWords(raw, 64);
    leases.push({ address, mac, name: name === '' || name === '?' ? undefined : name });
  }
  return leases;
}

export interface ArpEntry {
  readonly address: string;
  readonly mac: string;
  readonly device: string;
}

/** `show arp` (net-tools layout): `192.168.2.10  ether  34:29:8f:76:0f:e8  C  eth1`; `(incomplete)` entries name no host. */
export function parseArp(text: string): ArpEntry[] {
  const entries: ArpEntry[] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    const address = words[0] ?? '';
    const mac = (words.find((word) => MAC.test(word.toLowerCase())) ?? '').toLowerCase();
    const device = words[words.length - 1] ?? '';
    if (isIP(address) !== 4 || mac === '' || !INTERFACE.test(device)) continue;
    entries.push({ address, mac, device });
  }
  return entries;
}

/** The identify script's answer; undefined when it was cut short. */
export function identityFrom(stdout: string): RouterIdentity | undefined {
  const sections = splitSections(stdout);
  if (!sections.has(SETUP_MARK.end)) return undefined;
  const offload = parseOffload(sections.get(SETUP_MARK.offload) ?? '');
  return {
    ...parseVersion(sections.get(SETUP_MARK.version) ?? ''),
    admin: (sections.get(SETUP_MARK.admin) ?? '').trim() === 'yes',
    hardwareOffload: offload.ok && (offload.value.ipv4Forwarding || offload.value.ipv6Forwarding),
    defaultRouteInterfaces: parseDefaultRoutes(sections.get(SETUP_MARK.route) ?? ''),
  };
}

/**
 * Merges the leases, the ARP table and the neighbour table per MAC: one device with its name and every address
 * it uses, leaving out what is seen on `wanInterfaces`.
 */
export function devicesFrom(stdout: string, wanInterfaces: readonly string[]): LanDevice[] | undefined {
  const sections = splitSections(stdout);
  if (!sections.has(SETUP_MARK.end)) return undefined;
  const devices = new Map<string, { name: string | undefined; addresses: Set<string> }>();
  const device = (mac: string): { name: string | undefined; addresses: Set<string> } => {
    let found = devices.get(mac);
    if (found === undefined) {
      found = { name: undefined, addresses: new Set() };
      devices.set(mac, found);
    }
    return found;
  };
  for (const lease of parseDhcpLeases(sections.get(SETUP_MARK.leases) ?? '')) {
    const entry = device(lease.mac);
    entry.name ??= lease.name;
    entry.addresses.add(lease.address);
  }
  for (const arp of parseArp(sections.get(SETUP_MARK.arp) ?? '')) {
    if (!wanInterfaces.includes(arp.device)) device(arp.mac).addresses.add(arp.address);
  }
  const neighbours = parseNeighbours(sections.get(SETUP_MARK.neighbours) ?? '');
  for (const neighbour of neighbours.ok ? neighbours.value : []) {
    if (!wanInterfaces.includes(neighbour.device) && isIP(neighbour.address) !== 0) device(neighbour.mac).addresses.add(neighbour.address);
  }
  const order = (address: string): number => (isIP(address) === 4 ? 0 : address.toLowerCase().startsWith('fe80:') ? 2 : 1);
  return [...devices.entries()].map(([mac, entry]) => ({
    name: entry.name,
    mac,
    addresses: [...entry.addresses].sort((a, b) => order(a) - order(b) || a.localeCompare(b, 'en', { numeric: true })),
  }));
}
