/**
 * The lab router's dataplane as the router's programs see it: the real iptables of iptablesDataplane.ts, plus what the
 * plugin's poll reads of connection tracking, answered from the router namespace's real kernel:
 *
 * - `sudo conntrack -L -o extended` is conntrack-tools' own listing of the namespace's whole table (both families,
 *   with `packets= bytes=` while accounting is on, and its `N flow entries have been shown.` on standard error);
 * - `cat /proc/sys/net/netfilter/nf_conntrack_acct` is the namespace's own accounting switch (the lab turns it on at
 *   start: see enableConntrackAccounting in network.ts).
 *
 * Every SSH login (routerLogin.ts) and the lab's owner (lab.ts) build the router on this dataplane.
 */
import { readFile } from 'node:fs/promises';

import type { CommandResult } from '../sim/edgeos';
import { IptablesDataplane } from './iptablesDataplane';
import type { IptablesDataplaneOptions } from './iptablesDataplane';
import { inNamespace, run, tool } from './system';

const TOOL_TIMEOUT_MS = 30_000;
const ACCOUNTING_FILE = '/proc/sys/net/netfilter/nf_conntrack_acct';

export class LabDataplane extends IptablesDataplane {
  private readonly namespace: string | undefined;

  constructor(options: IptablesDataplaneOptions = {}) {
    super(options);
    this.namespace = options.namespace;
  }

  listAllFlows(): Promise<CommandResult> {
    return run(inNamespace(this.namespace, [tool('conntrack'), '-L', '-o', 'extended']), { timeoutMs: TOOL_TIMEOUT_MS });
  }

  /** The namespace's switch: procfs shows each network namespace its own netfilter settings. */
  async conntrackAccounting(): Promise<0 | 1> {
    const text =
      this.namespace === undefined
        ? await readFile(ACCOUNTING_FILE, 'utf8')
        : (await run(inNamespace(this.namespace, [tool('cat'), ACCOUNTING_FILE]), { timeoutMs: TOOL_TIMEOUT_MS })).stdout;
    return text.trim() === '1' ? 1 : 0;
  }
}
