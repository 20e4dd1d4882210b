/**
 * The lab's network: namespaces joined by veth pairs, with no route to anything outside the lab.
 *
 *   camera 1, camera 2, NVR ─┐
 *   this machine (cglab0) ───┤ LAN switch (bridge) ── eth1 [router] eth0 ── internet host
 *
 * The router forwards between its LAN (198.51.100.0/24) and its WAN (203.0.113.0/24) and its default route points
 * at the internet host, which routes the LAN back through the router and knows nothing else. This machine only
 * gets the LAN's connected route, so Homebridge reaches the router's SSH and nothing behind it.
 *
 * The namespaces are dual-stack: the same picture again with 2001:db8:100::/64 on the LAN and 2001:db8:ffff::/64
 * on the WAN, so that cameras send real IPv6 through the router's ip6tables. This machine's end stays IPv4 only.
 */
import { readdirSync, writeFileSync } from 'node:fs';

import { run, runChecked, terminateProcesses, tool } from './system';
import {
  ALL_NAMESPACES,
  HOMEBRIDGE_HOST,
  INTERNET,
  LAB_PREFIX,
  LAN6_NETWORK,
  LAN6_PREFIX_LENGTH,
  LAN_HOSTS,
  LAN_NETWORK,
  LAN_PREFIX_LENGTH,
  LAN_SWITCH,
  ROUTER,
} from './topology';

function ip(...args: string[]): Promise<string> {
  return runChecked([tool('ip'), ...args], { timeoutMs: 10_000 });
}

/** Writes a kernel setting inside a namespace (procps' sysctl is not on every minimal Debian). */
function setKernelValue(namespace: string, key: string, value: string): Promise<string> {
  return runChecked([tool('ip'), 'netns', 'exec', namespace, tool('sh'), '-c', `echo ${value} > /proc/sys/${key.replace(/\./g, '/')}`], { timeoutMs: 10_000 });
}

/** The lab's namespaces that exist now, including those of a crashed run. */
function labNamespaces(): string[] {
  try {
    return readdirSync('/run/netns').filter((name) => name.startsWith(`${LAB_PREFIX}-`));
  } catch {
    return [];
  }
}

/** The processes running inside a namespace. */
export async function namespacePids(namespace: string): Promise<number[]> {
  const result = await run([tool('ip'), 'netns', 'pids', namespace], { timeoutMs: 10_000 });
  return result.stdout
    .split('\n')
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

/** Stops every process inside a namespace. */
export async function killNamespaceProcesses(namespace: string): Promise<void> {
  await terminateProcesses(await namespacePids(namespace));
}

/** Removes every trace of the lab's network: its processes, namespaces (with their veths) and this machine's veth. */
export async function removeLabNetwork(): Promise<void> {
  for (const namespace of labNamespaces()) {
    await killNamespaceProcesses(namespace);
    await ip('netns', 'del', namespace);
  }
  // Deleting the LAN switch's namespace deletes the peer and so this end, but the kernel does that in the
  // background: the link may vanish between the look and the delete. A half-built lab may have only this end.
  const present = async (): Promise<boolean> => (await run([tool('ip'), '-o', 'link', 'show', HOMEBRIDGE_HOST.interface], { timeoutMs: 10_000 })).code === 0;
  if (await present()) {
    const deleted = await run([tool('ip'), 'link', 'del', HOMEBRIDGE_HOST.interface], { timeoutMs: 10_000 });
    if (deleted.code !== 0 && (await present())) {
      throw new Error(`ip link del ${HOMEBRIDGE_HOST.interface} failed (exit ${deleted.code}): ${deleted.stderr.trim()}`);
    }
  }
}

/** Turns IPv6 off in a namespace (the LAN switch: a bridge forwards IPv6 frames without an IPv6 stack of its own). */
async function disableIpv6(namespace: string): Promise<void> {
  await setKernelValue(namespace, 'net.ipv6.conf.all.disable_ipv6', '1').catch(() => undefined);
  await setKernelValue(namespace, 'net.ipv6.conf.default.disable_ipv6', '1').catch(() => undefined);
}

/**
 * IPv6 on in a host's namespace, with static addresses only: no router advertisements are taken (there is no
 * radvd, and a stray one must not add routes) and duplicate address detection is skipped so addresses work at once.
 */
async function enableIpv6(namespace: string): Promise<void> {
  for (const scope of ['all', 'default']) {
    await setKernelValue(namespace, `net.ipv6.conf.${scope}.disable_ipv6`, '0');
    await setKernelValue(namespace, `net.ipv6.conf.${scope}.accept_ra`, '0');
    await setKernelValue(namespace, `net.ipv6.conf.${scope}.accept_dad`, '0');
  }
}

async function addNamespace(namespace: string): Promise<void> {
  await ip('netns', 'add', namespace);
  if (namespace === LAN_SWITCH.namespace) await disableIpv6(namespace);
  else await enableIpv6(namespace);
  await ip('-n', namespace, 'link', 'set', 'lo', 'up');
}

/** A veth from `namespace` (named `name`) to a port of the LAN switch. */
async function plugIntoSwitch(namespace: string, name: string, port: string, mac?: string): Promise<void> {
  await ip('-n', namespace, 'link', 'add', name, ...(mac !== undefined ? ['address', mac] : []), 'type', 'veth', 'peer', 'name', port, 'netns', LAN_SWITCH.namespace);
  await ip('-n', LAN_SWITCH.namespace, 'link', 'set', port, 'master', LAN_SWITCH.bridge, 'up');
}

async function configure(namespace: string, device: string, address: string, gateway?: string): Promise<void> {
  await ip('-n', namespace, 'address', 'add', `${address}/${LAN_PREFIX_LENGTH}`, 'dev', device);
  await ip('-n', namespace, 'link', 'set', device, 'up');
  if (gateway !== undefined) await ip('-n', namespace, 'route', 'add', 'default', 'via', gateway);
}

async function configure6(namespace: string, device: string, address: string, gateway?: string): Promise<void> {
  await ip('-n', namespace, '-6', 'address', 'add', `${address}/${LAN6_PREFIX_LENGTH}`, 'dev', device, 'nodad');
  if (gateway !== undefined) await ip('-n', namespace, '-6', 'route', 'add', 'default', 'via', gateway, 'dev', device);
}

/** Builds the lab's network from nothing (remove a previous one first). */
export async function createLabNetwork(): Promise<void> {
  for (const namespace of ALL_NAMESPACES) await addNamespace(namespace);
  // Without an IPv6 stack the switch cannot query for multicast listeners: it floods multicast (neighbour discovery)
  // to every port, as an unmanaged switch does, instead of guessing from what it snooped.
  await ip('-n', LAN_SWITCH.namespace, 'link', 'add', LAN_SWITCH.bridge, 'type', 'bridge', 'mcast_snooping', '0');
  await ip('-n', LAN_SWITCH.namespace, 'link', 'set', LAN_SWITCH.bridge, 'up');
  // Bridged frames must not be filtered by the switch's own (empty) netfilter when br_netfilter is loaded.
  await setKernelValue(LAN_SWITCH.namespace, 'net.bridge.bridge-nf-call-iptables', '0').catch(() => undefined);
  await setKernelValue(LAN_SWITCH.namespace, 'net.bridge.bridge-nf-call-ip6tables', '0').catch(() => undefined);

  await ip('-n', ROUTER.namespace, 'link', 'add', ROUTER.wanInterface, 'type', 'veth', 'peer', 'name', INTERNET.interface, 'netns', INTERNET.namespace);
  await plugIntoSwitch(ROUTER.namespace, ROUTER.lanInterface, 'router');
  await configure(ROUTER.namespace, ROUTER.lanInterface, ROUTER.lanAddress);
  await configure(ROUTER.namespace, ROUTER.wanInterface, ROUTER.wanAddress, INTERNET.address);
  await configure6(ROUTER.namespace, ROUTER.lanInterface, ROUTER.lanAddress6);
  await configure6(ROUTER.namespace, ROUTER.wanInterface, ROUTER.wanAddress6, INTERNET.address6);
  await setKernelValue(ROUTER.namespace, 'net.ipv4.ip_forward', '1');
  await setKernelValue(ROUTER.namespace, 'net.ipv6.conf.all.forwarding', '1');

  await configure(INTERNET.namespace, INTERNET.interface, INTERNET.address);
  await ip('-n', INTERNET.namespace, 'route', 'add', LAN_NETWORK, 'via', ROUTER.wanAddress);
  await configure6(INTERNET.namespace, INTERNET.interface, INTERNET.address6);
  await ip('-n', INTERNET.namespace, '-6', 'route', 'add', LAN6_NETWORK, 'via', ROUTER.wanAddress6, 'dev', INTERNET.interface);

  for (const host of LAN_HOSTS) {
    await plugIntoSwitch(host.namespace, 'eth0', host.switchPort, host.mac);
    await configure(host.namespace, 'eth0', host.address, ROUTER.lanAddress);
    await configure6(host.namespace, 'eth0', host.address6, ROUTER.lanAddress6);
  }

  // This machine's end stays in the root namespace: only an address and the LAN's connected route, no gateway.
  await ip('link', 'add', HOMEBRIDGE_HOST.interface, 'type', 'veth', 'peer', 'name', 'homebridge', 'netns', LAN_SWITCH.namespace);
  await ip('-n', LAN_SWITCH.namespace, 'link', 'set', 'homebridge', 'master', LAN_SWITCH.bridge, 'up');
  try {
    writeFileSync(`/proc/sys/net/ipv6/conf/${HOMEBRIDGE_HOST.interface}/disable_ipv6`, '1');
  } catch {
    // A kernel without IPv6 has nothing to turn off.
  }
  await ip('address', 'add', `${HOMEBRIDGE_HOST.address}/${LAN_PREFIX_LENGTH}`, 'dev', HOMEBRIDGE_HOST.interface);
  await ip('link', 'set', HOMEBRIDGE_HOST.interface, 'up');
  await assertLanRoutedIntoLab();
}

/**
 * Proves, before anything talks to the lab, that this machine reaches every LAN address (and `extra` ones, such as
 * the address a camera moves to) through the lab's veth.
 */
export async function assertLanRoutedIntoLab(extra: readonly string[] = []): Promise<void> {
  for (const address of [ROUTER.lanAddress, ...LAN_HOSTS.map((host) => host.address), ...extra]) {
    const route = await ip('-4', 'route', 'get', address);
    if (!new RegExp(`\\bdev ${HOMEBRIDGE_HOST.interface}\\b`).test(route)) {
      throw new Error(`this machine would reach the lab address ${address} outside the lab (${route.trim()}); refusing to go on`);
    }
  }
}

/** Turns on per-flow byte counts in the router's conntrack, once the firewall has loaded the conntrack module. */
export async function enableConntrackAccounting(): Promise<void> {
  await setConntrackAccounting(true);
}

/** Switches per-flow byte counts in the router's conntrack on or off (flows counted before keep their counts). */
export async function setConntrackAccounting(enabled: boolean): Promise<void> {
  await setKernelValue(ROUTER.namespace, 'net.netfilter.nf_conntrack_acct', enabled ? '1' : '0');
}
