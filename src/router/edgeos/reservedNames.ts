/**
 * Ruleset names EdgeOS will not take. Its firewall compiler (ubnt-fw, `validate-fw-name`, run when a ruleset is
 * `set`) refuses, for a name that starts with a capital letter, the names of iptables' built-in verdicts, every name
 * that is also an iptables target extension on the router (it looks for /lib/xtables/lib{xt,ipt,ip6t}_NAME.so:
 * a chain named like a target could never be jumped to), and names starting with VZONE (its zone chains):
 * `Cannot use reserved name "DROP" for firewall rule set`. A name that is already a chain on the router (the
 * built-in chains, EdgeOS's own VYATTA_… and UBNT_… chains) passes `set` but fails the commit ("Chain … is already
 * used in the system. Cannot use it as a ruleset name").
 */

/** The verdicts ubnt-fw names itself. */
const VERDICTS = ['ACCEPT', 'DROP', 'RETURN', 'QUEUE'];

/**
 * The target extensions of the iptables versions EdgeOS ships (1.4.21 on EdgeOS 1.x, 1.6 on 2.x) and of 1.8, by
 * library name: the set differs a little between versions, and a name refused on one firmware must not be chosen on
 * another.
 */
const TARGET_EXTENSIONS = [
  'AUDIT', 'CHECKSUM', 'CLASSIFY', 'CLUSTERIP', 'CONNMARK', 'CONNSECMARK', 'CT', 'DNAT', 'DNPT', 'DSCP', 'ECN', 'HL',
  'HMARK', 'IDLETIMER', 'LED', 'LOG', 'MARK', 'MASQUERADE', 'NAT', 'NETMAP', 'NFLOG', 'NFQUEUE', 'NOTRACK',
  'RATEEST', 'REDIRECT', 'REJECT', 'SECMARK', 'SET', 'SNAT', 'SNPT', 'SYNPROXY', 'TCPMSS', 'TCPOPTSTRIP', 'TEE',
  'TOS', 'TPROXY', 'TRACE', 'TTL', 'ULOG',
];

/** Names EdgeOS refuses at `set` for a ruleset (case matters: `Drop` is a valid name). */
export const RESERVED_RULESET_NAMES: ReadonlySet<string> = new Set([...VERDICTS, ...TARGET_EXTENSIONS]);

/** A ruleset name starting with this is refused at `set`. */
const RESERVED_RULESET_PREFIX = 'VZONE';

/** Chains every EdgeRouter already has: a ruleset of that name fails at commit. */
const SYSTEM_CHAIN_NAMES: ReadonlySet<string> = new Set(['INPUT', 'FORWARD', 'OUTPUT', 'PREROUTING', 'POSTROUTING']);

/** EdgeOS names its own chains with these prefixes (VYATTA_FW_OUT_HOOK, UBNT_VPN_IPSEC_FW_HOOK, …). */
const SYSTEM_CHAIN_PREFIXES: readonly string[] = ['VYATTA', 'UBNT'];

/** True when EdgeOS refuses `name` for a ruleset at `set`, as ubnt-fw does. */
export function isRefusedRuleSetName(name: string): boolean {
  return RESERVED_RULESET_NAMES.has(name) || name.startsWith(RESERVED_RULESET_PREFIX);
}

/**
 * Why `name` cannot be the plugin's ruleset on an EdgeRouter (refused at `set`, or the name of a chain the router
 * already has, which fails the commit), or undefined when it can.
 */
export function reservedRuleSetNameReason(name: string): string | undefined {
  if (RESERVED_RULESET_NAMES.has(name)) {
    return `"${name}" is the name of an iptables target, which EdgeOS reserves`;
  }
  if (name.startsWith(RESERVED_RULESET_PREFIX)) {
    return `names starting with "${RESERVED_RULESET_PREFIX}" are reserved by EdgeOS for its zone chains`;
  }
  if (SYSTEM_CHAIN_NAMES.has(name)) {
    return `"${name}" is one of the router's built-in chains`;
  }
  const prefix = SYSTEM_CHAIN_PREFIXES.find((start) => name.startsWith(start));
  if (prefix !== undefined) {
    return `names starting with "${prefix}" are EdgeOS's own chains`;
  }
  return undefined;
}
