/**
 * What the router lab is made of: its network namespaces, interfaces and addresses, and the router's
 * configuration at power-on. Every address is in a documentation range, and every name starts with `cglab`, so
 * that teardown can find all of it again (also after a crashed run).
 */
import { ipv6Matches, parseIpv6 } from '../sim/edgeos/ipv6';

/** Every namespace and root-namespace interface of the lab starts with this. */
export const LAB_PREFIX = 'cglab';

/** Where the lab keeps its state (router state, keys, sshd config, logs); root-only, gone after stop. */
export const LAB_DIR = '/run/camera-guard-lab';

export const LAN_PREFIX_LENGTH = 24;
/**
 * The lab's LAN, the only lab network this machine has a route to. It must not overlap any network this machine
 * already reaches (some machines use documentation ranges themselves): the lab refuses to start if it does.
 */
export const LAN_NETWORK = `198.51.100.0/${LAN_PREFIX_LENGTH}`;

/**
 * IPv6: the LAN and the WAN each get a /64 of the documentation prefix 2001:db8::/32, so the cameras have global
 * addresses of their own, as on a home LAN with IPv6, and reach the internet host without NAT. Only the namespaces
 * have IPv6: this machine's end of the LAN (HOMEBRIDGE_HOST) has it turned off, and nothing in the root namespace
 * ever sends to these prefixes (the machine's own IPv6 default route leads off the machine).
 */
export const LAN6_PREFIX_LENGTH = 64;
export const LAN6_NETWORK = `2001:db8:100::/${LAN6_PREFIX_LENGTH}`;
export const WAN6_NETWORK = `2001:db8:ffff::/${LAN6_PREFIX_LENGTH}`;

export const ROUTER = {
  namespace: `${LAB_PREFIX}-router`,
  wanInterface: 'eth0',
  lanInterface: 'eth1',
  wanAddress: '203.0.113.2',
  lanAddress: '198.51.100.1',
  wanAddress6: '2001:db8:ffff::2',
  lanAddress6: '2001:db8:100::1',
  /** The router's admin account (user id 0 inside the router namespace only; see sshd.ts). */
  sshUser: 'homebridge',
} as const;

/** The LAN switch: a bridge in its own namespace, so the router keeps exactly two ports (eth0 WAN, eth1 LAN). */
export const LAN_SWITCH = { namespace: `${LAB_PREFIX}-lan`, bridge: 'br0' } as const;

/** The internet: one host that plays every server the cameras and the NVR talk to. */
export const INTERNET = { namespace: `${LAB_PREFIX}-inet`, interface: 'isp0', address: '203.0.113.10', address6: '2001:db8:ffff::10' } as const;

/** The Homebridge host is the machine itself: a veth from the root namespace into the LAN switch, and no route beyond it. */
export const HOMEBRIDGE_HOST = { interface: `${LAB_PREFIX}0`, address: '198.51.100.254' } as const;

export interface LabHostSpec {
  /** The camera's name in HomeKit (and in the lab command line, lower-cased). */
  readonly name: string;
  readonly namespace: string;
  /** The host's port on the LAN switch. */
  readonly switchPort: string;
  readonly address: string;
  /** Its global IPv6 address on the LAN (stable, as SLAAC derives it; see LabHost.addIpv6Address for a privacy one). */
  readonly address6: string;
  readonly mac: string;
  readonly hostname: string;
}

export const FRONT_DOOR: LabHostSpec = {
  name: 'Front Door',
  namespace: `${LAB_PREFIX}-cam1`,
  switchPort: 'cam1',
  address: '198.51.100.50',
  address6: '2001:db8:100::50',
  mac: '02:00:c6:33:64:32',
  hostname: 'front-door-cam',
};

export const GARAGE: LabHostSpec = {
  name: 'Garage',
  namespace: `${LAB_PREFIX}-cam2`,
  switchPort: 'cam2',
  address: '198.51.100.51',
  address6: '2001:db8:100::51',
  mac: '02:00:c6:33:64:33',
  hostname: 'garage-cam',
};

/** The owner's NVR, which the adopted camera policy lets out for DNS, NTP and mail only. */
export const NVR: LabHostSpec = {
  name: 'NVR',
  namespace: `${LAB_PREFIX}-nvr`,
  switchPort: 'nvr',
  address: '198.51.100.60',
  address6: '2001:db8:100::60',
  mac: '02:00:c6:33:64:3c',
  hostname: 'nvr',
};

export const LAN_HOSTS: readonly LabHostSpec[] = [FRONT_DOOR, GARAGE, NVR];

/** The LAN's addresses as numbers, for the checks below. */
function ipv4Number(address: string): number | undefined {
  const octets = address.split('.');
  if (octets.length !== 4 || !octets.every((octet) => /^\d{1,3}$/.test(octet) && Number(octet) <= 255)) return undefined;
  return octets.reduce((sum, octet) => sum * 256 + Number(octet), 0);
}

/** Whether `address` is a host address of the lab's LAN (not its network or broadcast address) that `taken` does not hold. */
export function isFreeLanAddress(address: string, taken: readonly string[]): boolean {
  const value = ipv4Number(address);
  const [network = '', length = '32'] = LAN_NETWORK.split('/');
  const base = ipv4Number(network);
  const size = 2 ** (32 - Number(length));
  if (value === undefined || base === undefined || value <= base || value >= base + size - 1) return false;
  return !taken.includes(address);
}

/**
 * Addresses of the LAN that no lab host uses, for cameras in the plugin's configuration that have no host in the
 * lab (the soak guards eight cameras; the lab has two and an NVR). Nothing answers there.
 */
export function spareLanAddress(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= 100) throw new Error(`no spare lab address number ${index}`);
  return `198.51.100.${100 + index}`;
}

/** Whether `address` is an IPv6 address inside the lab's IPv6 LAN (LAN6_NETWORK), other than the router's. */
export function isLan6Address(address: string): boolean {
  return ipv6Matches(LAN6_NETWORK, address) && parseIpv6(address) !== parseIpv6(ROUTER.lanAddress6);
}

/** Where the Front Door camera moves when the DHCP test gives it a new lease: free, and outside the spare range. */
export const DHCP_MOVE_ADDRESS = '198.51.100.52';

export const ALL_NAMESPACES: readonly string[] = [ROUTER.namespace, LAN_SWITCH.namespace, INTERNET.namespace, ...LAN_HOSTS.map((host) => host.namespace)];

/**
 * The router at power-on, as an EdgeRouter leaves the setup wizard: WAN on eth0 with the wizard's WAN_IN and
 * WAN_LOCAL rulesets (their `state` rules also make the kernel track connections, which `conntrack -D` then cuts),
 * LAN on eth1, and no camera policy yet. It is dual-stack, as the wizard's IPv6 option leaves it: both interfaces
 * have an IPv6 address and WANv6_IN guards forwarded IPv6 from the internet; nothing limits IPv6 going out.
 */
export const FRESH_LAB_ROUTER_CONFIG = [
  'set firewall name WAN_IN default-action drop',
  "set firewall name WAN_IN description 'WAN to internal'",
  'set firewall name WAN_IN rule 10 action accept',
  "set firewall name WAN_IN rule 10 description 'Allow established/related'",
  'set firewall name WAN_IN rule 10 state established enable',
  'set firewall name WAN_IN rule 10 state related enable',
  'set firewall name WAN_IN rule 20 action drop',
  "set firewall name WAN_IN rule 20 description 'Drop invalid state'",
  'set firewall name WAN_IN rule 20 state invalid enable',
  'set firewall name WAN_LOCAL default-action drop',
  "set firewall name WAN_LOCAL description 'WAN to router'",
  'set firewall name WAN_LOCAL rule 10 action accept',
  "set firewall name WAN_LOCAL rule 10 description 'Allow established/related'",
  'set firewall name WAN_LOCAL rule 10 state established enable',
  'set firewall name WAN_LOCAL rule 10 state related enable',
  'set firewall name WAN_LOCAL rule 20 action drop',
  "set firewall name WAN_LOCAL rule 20 description 'Drop invalid state'",
  'set firewall name WAN_LOCAL rule 20 state invalid enable',
  'set firewall ipv6-name WANv6_IN default-action drop',
  "set firewall ipv6-name WANv6_IN description 'WAN inbound traffic forwarded to LAN'",
  'set firewall ipv6-name WANv6_IN rule 10 action accept',
  "set firewall ipv6-name WANv6_IN rule 10 description 'Allow established/related sessions'",
  'set firewall ipv6-name WANv6_IN rule 10 state established enable',
  'set firewall ipv6-name WANv6_IN rule 10 state related enable',
  'set firewall ipv6-name WANv6_IN rule 20 action drop',
  "set firewall ipv6-name WANv6_IN rule 20 description 'Drop invalid state'",
  'set firewall ipv6-name WANv6_IN rule 20 state invalid enable',
  `set interfaces ethernet eth0 address ${ROUTER.wanAddress}/${LAN_PREFIX_LENGTH}`,
  `set interfaces ethernet eth0 address ${ROUTER.wanAddress6}/${LAN6_PREFIX_LENGTH}`,
  "set interfaces ethernet eth0 description 'Internet'",
  'set interfaces ethernet eth0 firewall in name WAN_IN',
  'set interfaces ethernet eth0 firewall in ipv6-name WANv6_IN',
  'set interfaces ethernet eth0 firewall local name WAN_LOCAL',
  `set interfaces ethernet eth1 address ${ROUTER.lanAddress}/${LAN_PREFIX_LENGTH}`,
  `set interfaces ethernet eth1 address ${ROUTER.lanAddress6}/${LAN6_PREFIX_LENGTH}`,
  "set interfaces ethernet eth1 description 'Local'",
  'set service ssh port 22',
  'set system host-name camera-guard-lab',
].join('\n');

/**
 * The owner's hand-made camera policy on the WAN `out` slot (the setup of the blog this project comes from): the
 * NVR may resolve names, set its clock and send mail, and nothing else of it leaves.
 */
export const OWNER_CAMERA_POLICY_CONFIG = [
  FRESH_LAB_ROUTER_CONFIG,
  'set firewall name CAMERAS_OUT default-action accept',
  "set firewall name CAMERAS_OUT description 'Cameras: only what the NVR needs'",
  'set firewall name CAMERAS_OUT rule 10 action accept',
  "set firewall name CAMERAS_OUT rule 10 description 'NVR DNS'",
  `set firewall name CAMERAS_OUT rule 10 source address ${NVR.address}`,
  'set firewall name CAMERAS_OUT rule 10 protocol tcp_udp',
  'set firewall name CAMERAS_OUT rule 10 destination port 53',
  'set firewall name CAMERAS_OUT rule 20 action accept',
  "set firewall name CAMERAS_OUT rule 20 description 'NVR NTP'",
  `set firewall name CAMERAS_OUT rule 20 source address ${NVR.address}`,
  'set firewall name CAMERAS_OUT rule 20 protocol udp',
  'set firewall name CAMERAS_OUT rule 20 destination port 123',
  'set firewall name CAMERAS_OUT rule 30 action accept',
  "set firewall name CAMERAS_OUT rule 30 description 'NVR mail'",
  `set firewall name CAMERAS_OUT rule 30 source address ${NVR.address}`,
  'set firewall name CAMERAS_OUT rule 30 protocol tcp',
  'set firewall name CAMERAS_OUT rule 30 destination port 25,465,587',
  'set firewall name CAMERAS_OUT rule 40 action drop',
  "set firewall name CAMERAS_OUT rule 40 description 'NVR everything else'",
  `set firewall name CAMERAS_OUT rule 40 source address ${NVR.address}`,
  'set interfaces ethernet eth0 firewall out name CAMERAS_OUT',
].join('\n');
