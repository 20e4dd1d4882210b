/**
 * Can the router lab run on this machine? It needs root, network namespaces, the kernel's legacy iptables, and a
 * few Debian packages, which it installs itself when they are missing (CI machines are fresh Debian machines).
 * The answer is computed synchronously so that a test file can decide at collection time to run or skip.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { COMPILED_LAB_DIR, findTool, processExists, runSync } from './system';
import { HOMEBRIDGE_HOST, LAB_DIR, LAB_PREFIX, LAN_NETWORK } from './topology';

/** The Debian packages the lab uses, each with the programs that show it is installed. */
const PACKAGES: readonly { name: string; programs: string[] }[] = [
  { name: 'iproute2', programs: ['ip'] },
  { name: 'openssh-server', programs: ['sshd', 'ssh-keygen'] },
  // Debian 12 points `iptables` at the nft backend; the lab always calls the legacy binaries by name, as EdgeOS
  // (a legacy-iptables system) would, so that one backend holds every rule and counter.
  { name: 'iptables', programs: ['iptables-legacy', 'iptables-legacy-save', 'iptables-legacy-restore'] },
  { name: 'conntrack', programs: ['conntrack'] },
  { name: 'ipset', programs: ['ipset'] },
  // Hashes the lab router's password (`openssl passwd -6`) for the password-login test.
  { name: 'openssl', programs: ['openssl'] },
];

const APT_UPDATE_TIMEOUT_MS = 180_000;
const APT_INSTALL_TIMEOUT_MS = 300_000;
const PROBE_NAMESPACE = `${LAB_PREFIX}-probe`;

export const OWNER_FILE = join(LAB_DIR, 'owner.pid');

function missingPackages(): string[] {
  return PACKAGES.filter((pkg) => pkg.programs.some((program) => findTool(program) === undefined)).map((pkg) => pkg.name);
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}

/** Installs the missing packages with apt; returns why that failed, or undefined once everything is there. */
function installMissingPackages(): string | undefined {
  const missing = missingPackages();
  if (missing.length === 0) return undefined;
  const apt = findTool('apt-get');
  if (apt === undefined) return `packages ${missing.join(', ')} are missing and there is no apt-get to install them`;
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): ReturnType<typeof runSync> => runSync([apt, 'install', '-y', '-qq', '--no-install-recommends', ...missing], APT_INSTALL_TIMEOUT_MS, env);
  let result = install();
  if (result.code !== 0) {
    // A fresh machine may have no package lists yet.
    const update = runSync([apt, 'update', '-qq'], APT_UPDATE_TIMEOUT_MS, env);
    if (update.code !== 0) return `apt-get update failed while installing ${missing.join(', ')}: ${lastLine(update.stderr)}`;
    result = install();
  }
  if (result.code !== 0) return `apt-get install ${missing.join(' ')} failed: ${lastLine(result.stderr)}`;
  const stillMissing = missingPackages();
  return stillMissing.length > 0 ? `packages ${stillMissing.join(', ')} are still missing after apt-get install` : undefined;
}

/** The process id of a lab that is running now (its owner is alive), if any. */
function runningLabOwner(): number | undefined {
  try {
    const pid = Number(readFileSync(OWNER_FILE, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid && processExists(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function ipv4Number(address: string): number {
  return address.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
}

/** Whether two IPv4 networks (`a.b.c.d/len`, or a bare address) share any address. */
function networksOverlap(a: string, b: string): boolean {
  const [addressA = '', lengthA = '32'] = a.split('/');
  const [addressB = '', lengthB = '32'] = b.split('/');
  const block = 2 ** (32 - Math.min(Number(lengthA), Number(lengthB)));
  return Math.floor(ipv4Number(addressA) / block) === Math.floor(ipv4Number(addressB) / block);
}

const ROUTE_TYPES = new Set(['unicast', 'local', 'broadcast', 'multicast', 'anycast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat']);

/**
 * The routes of this machine that reach into the lab's LAN (the default route aside, which the LAN's own
 * connected route overrides). Any of them would send packets meant for the lab somewhere else.
 */
function routesIntoLan(): string[] {
  const ip = findTool('ip') ?? 'ip';
  const routes = runSync([ip, '-4', '-o', 'route', 'show', 'table', 'all'], 10_000).stdout.split('\n');
  return routes.filter((route) => {
    const words = route.trim().split(/\s+/);
    const destination = ROUTE_TYPES.has(words[0] ?? '') ? words[1] : words[0];
    const device = words[words.indexOf('dev') + 1];
    return destination !== undefined && destination !== 'default' && /^[\d.]+(\/\d+)?$/.test(destination) && device !== HOMEBRIDGE_HOST.interface && networksOverlap(destination, LAN_NETWORK);
  });
}

/** Creates a throwaway namespace and lists its legacy iptables: proves namespaces and the kernel's iptables work. */
function probeNamespaces(): string | undefined {
  const ip = findTool('ip') ?? 'ip';
  runSync([ip, 'netns', 'del', PROBE_NAMESPACE], 10_000);
  const added = runSync([ip, 'netns', 'add', PROBE_NAMESPACE], 10_000);
  if (added.code !== 0) return `cannot create a network namespace: ${lastLine(added.stderr)}`;
  try {
    const listed = runSync([ip, 'netns', 'exec', PROBE_NAMESPACE, findTool('iptables-legacy') ?? 'iptables-legacy', '-w', '5', '-t', 'filter', '-L', '-n'], 20_000);
    return listed.code === 0 ? undefined : `legacy iptables does not work in a namespace (is the ip_tables kernel module available?): ${lastLine(listed.stderr)}`;
  } finally {
    runSync([ip, 'netns', 'del', PROBE_NAMESPACE], 10_000);
  }
}

/**
 * Why the lab cannot run here, or undefined when it can. Installs missing packages on the way, which can take
 * minutes on a fresh machine.
 */
export function labUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'the lab needs Linux (network namespaces)';
  if (process.getuid?.() !== 0) return 'the lab needs root (it creates network namespaces, iptables rules and an sshd)';
  if (!existsSync(join(COMPILED_LAB_DIR, 'routerLogin.js'))) return 'build/tools/lab is missing: run "npm run build:tools" first (npm test does it)';
  if (!existsSync('/proc/sys/net/ipv6')) return 'the kernel has no IPv6, and the lab is dual-stack (it proves that cameras are blocked over IPv6 too)';
  const owner = runningLabOwner();
  if (owner !== undefined) return `another lab is running (process ${owner}, probably "npm run lab"); stop it first`;
  const missing = installMissingPackages();
  if (missing !== undefined) return missing;
  const conflicts = routesIntoLan();
  if (conflicts.length > 0) return `the lab's LAN ${LAN_NETWORK} overlaps this machine's own network (${conflicts[0]?.trim()}); the lab refuses to start so that no packet leaves it`;
  return probeNamespaces();
}
