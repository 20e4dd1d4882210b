/**
 * `/router/test`: tries the settings as typed on the page, one check after another, and says in plain words what
 * worked and, at the first thing that did not, what to do. It changes nothing on the router or on this machine.
 */
import { ACCOUNTING_ON_COMMAND } from '../destinations/conntrack';
import type { RouterReading } from '../router/driver';
import { RouterError } from '../router/driver';
import type { CheckResult, ConnectionTest } from '../ui/protocol';
import { readRouterEntry, routerSession, sentence } from './connect';

const CONSOLE_KEY = 'ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub';

export async function testConnection(raw: unknown, storagePath: string): Promise<ConnectionTest> {
  const checks: CheckResult[] = [];
  const pass = (check: CheckResult['check'], message: string): void => void checks.push({ check, ok: true, message });
  const failed = (check: CheckResult['check'], message: string, extra: Partial<ConnectionTest> = {}): ConnectionTest => {
    checks.push({ check, ok: false, message });
    return { ok: false, checks, ...extra };
  };

  const { router, problems } = readRouterEntry(raw);
  if (router === undefined) return failed('address', problems.join(' ') || 'The router entry cannot be used; check its fields.');
  if (router.host === undefined) {
    return failed('address', 'Enter the router\'s address in "host" (the plugin would otherwise use this machine\'s default gateway, which the test cannot assume).');
  }
  pass('address', `Connecting to ${router.host} port ${router.port} as "${router.username}".`);

  const session = routerSession({ ...router, host: router.host }, storagePath);
  try {
    try {
      await session.driver.connect();
    } catch (error) {
      const presented = session.presented();
      const kind = error instanceof RouterError ? error.kind : undefined;
      if (presented === undefined) {
        if (kind === 'auth') return failed('login', sentence(error));
        return failed('reach', `${sentence(error)} Check "host" and "port", and that SSH is on for the router (System > SSH in its web UI).`);
      }
      pass('reach', `The router answered SSH at ${router.host}:${router.port}.`);
      const hostKey = { fingerprint: presented, status: router.hostKey === undefined ? ('unpinned' as const) : router.hostKey === presented ? ('pinned' as const) : ('mismatch' as const) };
      if (kind === 'host-key') return failed('host-key', sentence(error), { hostKey: { ...hostKey, status: 'mismatch' } });
      pass('host-key', hostKeyMessage(hostKey.status, presented));
      if (kind === 'auth') {
        return failed(
          'login',
          `The router refused the login for "${router.username}": check the user name, and that the router has this key (paste the commands from "Prepare the router") or the password.`,
          { hostKey },
        );
      }
      return failed('login', sentence(error), { hostKey });
    }
    const presented = session.presented() ?? '';
    const hostKey = { fingerprint: presented, status: router.hostKey === presented ? ('pinned' as const) : ('unpinned' as const) };
    pass('reach', `The router answered SSH at ${router.host}:${router.port}.`);
    pass('host-key', hostKeyMessage(hostKey.status, presented));
    pass('login', `Logged in as "${router.username}".`);

    let identity;
    try {
      identity = await session.driver.identify();
    } catch (error) {
      return failed('admin', sentence(error), { hostKey });
    }
    if (!identity.admin) {
      return failed(
        'admin',
        `"${router.username}" is not an admin on the router, and the plugin needs sudo to read the firewall counters and cut connections: ` +
          `run "set system login user ${router.username} level admin" in configure mode on the router, then commit and save.`,
        { hostKey },
      );
    }
    pass('admin', `"${router.username}" is an admin (sudo works).`);

    let reading: RouterReading;
    try {
      reading = await session.driver.read([]);
    } catch (error) {
      return failed('router', sentence(error), { hostKey });
    }
    const wanInterfaces = [...new Set([...identity.defaultRouteInterfaces, router.wanInterface])];
    const outSlot = reading.adopted
      ? { kind: 'owner' as const, ruleSet: reading.ruleSet }
      : reading.enforced
        ? { kind: 'ours' as const, ruleSet: reading.ruleSet }
        : { kind: 'free' as const };
    const slotWords =
      outSlot.kind === 'owner'
        ? `its own ruleset ${outSlot.ruleSet}, which the plugin will add its rules to and otherwise leave alone`
        : outSlot.kind === 'ours'
          ? `the plugin's ruleset ${outSlot.ruleSet}`
          : `nothing yet: the plugin will add its ruleset ${router.ruleSet} there`;
    const routeWarning =
      identity.defaultRouteInterfaces.length > 0 && !identity.defaultRouteInterfaces.includes(router.wanInterface)
        ? ` Note: the router's default route leaves by ${identity.defaultRouteInterfaces.join(', ')}, not by ${router.wanInterface}; set "wanInterface" to the interface that leads to the internet.`
        : '';
    const offloadWarning = identity.hardwareOffload ? ' Hardware offload is on, so upload volumes are under-counted (blocking is not affected).' : '';
    pass(
      'router',
      `${[identity.model, identity.version].filter(Boolean).join(', ') || 'The router'}: the "out" slot of ${router.wanInterface} holds ${slotWords}.${routeWarning}${offloadWarning}${destinationWords(reading)}`,
    );
    return {
      ok: routeWarning === '',
      checks: routeWarning === '' ? checks : [...checks.slice(0, -1), { ...checks[checks.length - 1]!, ok: false }],
      hostKey,
      router: { version: identity.version, model: identity.model, hardwareOffload: identity.hardwareOffload, wanInterfaces, outSlot },
    };
  } finally {
    session.close();
  }
}

/**
 * What the read of the router's log and connection table (which the test's read made) says about naming
 * destinations: whether the log can be read, and whether the router counts bytes per connection. Neither affects
 * blocking, so neither fails the test.
 */
function destinationWords(reading: RouterReading): string {
  const destinations = reading.destinations;
  if (destinations === undefined) return '';
  const log =
    destinations.logProblem === undefined
      ? " The plugin can read the router's log, so it can name where a blocked camera tries to go."
      : ` Note: the plugin ${destinations.logProblem}`;
  const accounting =
    destinations.accounting === true
      ? ' The router counts bytes per connection, so what allowed cameras send can be shown.'
      : destinations.accounting === false
        ? ' The router does not count bytes per connection, so where allowed cameras send is shown without volumes; ' +
          `"${ACCOUNTING_ON_COMMAND}" on the router turns counting on until its next reboot.`
        : '';
  return `${log}${accounting}`;
}

function hostKeyMessage(status: 'pinned' | 'unpinned' | 'mismatch', fingerprint: string): string {
  return status === 'pinned'
    ? `The router's host key ${fingerprint} is the pinned one.`
    : `The router's host key is ${fingerprint}, not pinned yet: compare it with what "${CONSOLE_KEY}" prints on the router, then pin it.`;
}
