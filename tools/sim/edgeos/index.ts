/** The simulated EdgeRouter: an EdgeOS command interpreter with swappable state store and dataplane. */
export { SimulatedEdgeRouter, createInitialState } from './router';
export type { SimulatedEdgeRouterOptions } from './router';
export { MemoryStateStore } from './memoryStore';
export { MemoryDataplane } from './memoryDataplane';
export { COMMIT_LOCKED } from './configSystem';
export { parseConfigCommands, renderConfigCommands } from './configTree';
export { compileFirewall, compileIpv6Firewall, IPV6_RULE_KEY_PREFIX } from './firewall';
export { parseIptablesCounters } from './formats';
export { commandReadsStdin } from './shell';
export type * from './types';
