/**
 * `npm run lab`: the router lab and a Homebridge with Camera Guard pointed at it, for trying things by hand. It
 * prints the pairing code, then reads commands that make the cameras send traffic or make the router misbehave.
 *
 * Options: `--lan` advertises the bridge on this machine's network so an iPhone can pair (localhost only by
 * default); `--owner-policy` starts the router with the owner's camera ruleset already on WAN out; `--commit-ms N`
 * makes each commit take N ms (default 2000, like an ER-X); `--seconds N` stops by itself after N seconds. `node build/tools/lab/lab-cli.js stop` removes what a crashed lab left behind.
 */
import { createInterface } from 'node:readline';

import { startHomebridge } from '../sim/homebridgeRunner';
import type { RunningHomebridge } from '../sim/homebridgeRunner';
import type { CommitFaultKind } from '../sim/edgeos';
import { LabUnavailableError, startLab, stopLab } from './lab';
import type { Lab, LabHost } from './lab';
import { FRESH_LAB_ROUTER_CONFIG, INTERNET, OWNER_CAMERA_POLICY_CONFIG, ROUTER } from './topology';

/** A commit on an ER-X takes seconds; trying the plugin by hand should feel like one. */
const ER_X_COMMIT_MS = 2_000;

const HELP = `Commands:
  front|garage|nvr connect [port]    TCP connection to the internet host (${INTERNET.address}), port 443 by default
  front|garage|nvr dns|ntp|smtp      ask an allow-listable service
  front|garage|nvr upload <MB>       upload to the camera cloud and wait until it has arrived
  front|garage|nvr udp <datagrams>   send a UDP stream (1000-byte datagrams)
  front|garage|nvr move <address>    a new DHCP lease: the host gets another free address of the LAN
  front|garage|nvr ipv6 <command>    the same traffic over IPv6, to ${INTERNET.address6} (connect, dns, upload…)
  router config                      show configuration commands
  router counters [RULESET]          the ruleset's real iptables counters (CAMGUARD_OUT by default)
  router counters6 [RULESET]         the same from ip6tables (CAMGUARD6_OUT by default)
  router set|delete <path…>          change the configuration on the router, outside HomeKit (commit + save)
  router fail|partial|locked [n]     make the next n commits fail that way
  router delay <ms>                  how long each commit takes (an ER-X takes seconds)
  router clear                       no more injected faults
  router reboot [seconds]            power-cycle the router (counters zeroed, saved config loaded), SSH down that long
  sshd stop|start                    take the router's SSH server down or bring it back
  sshd cut                           kill the sshd processes serving connections (the daemon stays)
  ssh drop <seconds>                 drop every SSH packet in and out of the router for that long
  help | quit`;

async function hostCommand(lab: Lab, host: LabHost, words: readonly (string | undefined)[]): Promise<string> {
  const ipv6 = words[0] === 'ipv6';
  const [action, argument] = ipv6 ? words.slice(1) : words;
  if (action === 'move' && !ipv6) {
    await lab.moveHost(host, argument ?? '');
    return `${host.name} now has address ${host.address} (same MAC ${host.mac})`;
  }
  const traffic = ipv6 ? host.ipv6() : host;
  const outcome = await (() => {
    switch (action) {
      case 'connect':
        return traffic.connect(argument === undefined ? undefined : Number(argument));
      case 'dns':
        return traffic.dns();
      case 'ntp':
        return traffic.ntp();
      case 'smtp':
        return traffic.smtp();
      case 'upload':
        return traffic.upload(Math.round(Number(argument ?? '1') * 1_000_000));
      case 'udp':
        return traffic.udp(Number(argument ?? '100'));
      default:
        return undefined;
    }
  })();
  if (outcome === undefined) return `unknown ${host.name} command; try "help"`;
  return `${host.name} (${ipv6 ? host.address6 : host.address}) ${action}: ${outcome.ok ? 'OK' : 'FAILED'}, ${outcome.detail}`;
}

async function routerCommand(lab: Lab, action: string | undefined, args: string[]): Promise<string> {
  switch (action) {
    case 'config':
      return lab.router.activeConfigCommands();
    case 'counters': {
      const listing = await lab.router.dataplane.listChain(args[0] ?? 'CAMGUARD_OUT');
      return `${listing.stdout}${listing.stderr}`;
    }
    case 'counters6': {
      const listing = await lab.router.dataplane.listChain6?.(args[0] ?? 'CAMGUARD6_OUT');
      return listing === undefined ? 'this router has no IPv6 firewall' : `${listing.stdout}${listing.stderr}`;
    }
    case 'set':
    case 'delete': {
      const result = await lab.router.configure([`${action} ${args.join(' ')}`], { save: true });
      return `${result.stdout}${result.stderr}commit ${result.code === 0 ? 'succeeded' : `failed (exit ${result.code})`}`;
    }
    case 'fail':
    case 'partial':
    case 'locked':
      await lab.router.failNextCommits(action satisfies CommitFaultKind, Number(args[0] ?? '1'));
      return `the next ${args[0] ?? '1'} commit(s) will be ${action === 'fail' ? 'failed' : action === 'partial' ? 'partly applied' : 'locked'}`;
    case 'delay':
      await lab.router.setCommitDelay(Number(args[0] ?? '0'));
      return `each commit now takes ${Number(args[0] ?? '0')} ms`;
    case 'clear':
      await lab.router.clearFaults();
      return 'no injected faults';
    case 'reboot':
      await lab.rebootRouter({ sshDownMs: Number(args[0] ?? '0') * 1000 });
      return 'the router rebooted';
    default:
      return 'unknown router command; try "help"';
  }
}

async function execute(lab: Lab, line: string): Promise<string> {
  const [subject, action, ...args] = line.trim().split(/\s+/);
  const host = lab.hosts.find((candidate) => candidate.name.split(' ')[0]?.toLowerCase() === subject);
  if (host !== undefined) return hostCommand(lab, host, [action, ...args]);
  if (subject === 'router') return routerCommand(lab, action, args);
  if (subject === 'sshd' && (action === 'stop' || action === 'start')) {
    await (action === 'stop' ? lab.ssh.stop() : lab.ssh.start());
    return `sshd ${action === 'stop' ? 'stopped' : 'started'}`;
  }
  if (subject === 'sshd' && action === 'cut') {
    return `killed ${await lab.ssh.cutConnections()} sshd process(es) serving connections`;
  }
  if (subject === 'ssh' && action === 'drop') {
    const seconds = Number(args[0] ?? '5');
    await lab.ssh.setPacketsDropped(true);
    try {
      await new Promise((done) => setTimeout(done, seconds * 1000));
    } finally {
      await lab.ssh.setPacketsDropped(false);
    }
    return `SSH packets were dropped for ${seconds} s`;
  }
  return HELP;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === 'stop') {
    await stopLab();
    console.log('The lab is gone: no namespaces, veths, processes or state left.');
    return;
  }
  const option = (name: string): number | undefined => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : undefined);
  const seconds = option('--seconds');
  const lan = args.includes('--lan');

  console.log('Starting the router lab (installing missing Debian packages first, if any)...');
  const lab = await startLab({ initialConfig: args.includes('--owner-policy') ? OWNER_CAMERA_POLICY_CONFIG : FRESH_LAB_ROUTER_CONFIG });
  await lab.router.setCommitDelay(option('--commit-ms') ?? ER_X_COMMIT_MS);
  let homebridge: RunningHomebridge | undefined;
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log('Stopping Homebridge and the lab...');
    await homebridge?.stop();
    homebridge?.remove();
    await lab.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());

  try {
    homebridge = await startHomebridge({
      platform: lab.platformConfig({ pollSeconds: 2, leak: { uploadMB: 5, quietMinutes: 0.5 } }),
      advertiseOnLan: lan,
      onLine: (line) => {
        if (!/\[HAP-NodeJS\]|DEBUG|debug/i.test(line) || /camera guard|camera-guard|Lab Router/i.test(line)) console.log(line);
      },
    });
  } catch (error) {
    await lab.stop();
    throw error;
  }
  lab.trackProcess(homebridge.child.pid);
  console.log('');
  console.log(`Router: ${ROUTER.sshUser}@${ROUTER.lanAddress} (real OpenSSH in namespace ${ROUTER.namespace}), host key ${lab.ssh.hostKeyFingerprint}.`);
  console.log(`  Try: ssh -i ${lab.ssh.privateKeyFile} ${ROUTER.sshUser}@${ROUTER.lanAddress} /opt/vyatta/bin/vyatta-op-cmd-wrapper show configuration commands`);
  console.log(`Homebridge is running on port ${homebridge.port}. Pairing code: ${homebridge.pin}`);
  console.log(lan ? 'Add the bridge "Camera Guard Bridge" in the Home app with that code.' : 'It listens on localhost only; run "npm run lab -- --lan" to pair an iPhone on this network.');
  console.log(HELP);
  console.log('');

  if (seconds !== undefined && Number.isFinite(seconds)) setTimeout(() => void stop(), seconds * 1000);
  const input = createInterface({ input: process.stdin, output: process.stdout, prompt: 'lab> ' });
  input.prompt();
  // Commands run one at a time, in the order they were typed.
  let queue = Promise.resolve();
  input.on('line', (line) => {
    if (line.trim() === 'quit') {
      void stop();
      return;
    }
    queue = queue
      .then(async () => console.log(await execute(lab, line)))
      .catch((error: unknown) => console.error(`error: ${(error as Error).message}`))
      .finally(() => input.prompt());
  });
  // End of input (Ctrl-D, or stdin not a terminal) leaves the lab running until Ctrl-C or --seconds.
}

main().catch((error: unknown) => {
  const reason = error instanceof LabUnavailableError ? `The lab cannot run here: ${error.message}` : `The lab could not start: ${(error as Error).message}`;
  console.error(reason);
  process.exit(1);
});
