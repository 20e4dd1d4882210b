/**
 * `npm run demo`: Homebridge with Camera Guard against a simulated EdgeRouter on localhost, run by the Homebridge UI
 * (homebridge-config-ui-x, as hb-service runs it) so that the plugin's settings page can be tried in a browser on
 * this machine: the demo prints the UI's address and the login it wrote. Two cameras send
 * simulated traffic: the Garage camera phones home now and then (its leak sensor trips while it is blocked),
 * the Front Door camera streams to its cloud and sometimes uploads a burst (its sensor trips while allowed).
 *
 * Options: `--lan` advertises the bridge on this machine's network so an iPhone can pair with it (by default it
 * only listens on localhost); `--seconds N` stops by itself after N seconds (used by the smoke test).
 */
import { createServer } from 'node:net';

import { freeLoopbackPort, startHomebridgeUi } from './homebridgeUi';
import { SIM_USER, startSimulatedRouter } from './simulatedSetup';

/** The Homebridge UI's usual port, when nothing else on this machine has it. */
const UI_PORT = 8581;

const CAMERAS = [
  { name: 'Front Door', address: '192.0.2.50', allow: ['dns', 'ntp'] },
  { name: 'Garage', address: '192.0.2.51', allow: ['dns'] },
];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const lan = args.includes('--lan');
  const secondsArg = args.indexOf('--seconds');
  const seconds = secondsArg >= 0 ? Number(args[secondsArg + 1]) : undefined;

  const sim = await startSimulatedRouter({
    lanHosts: [
      ...CAMERAS.map((camera, i) => ({ ip: camera.address, mac: `bc:ad:28:00:00:5${i}`, hostname: camera.name.replace(' ', '-').toLowerCase() })),
      // Not configured yet: the settings page's Discover finds it (an Axis MAC, so it is marked as a camera).
      { ip: '192.0.2.52', mac: 'ac:cc:8e:00:00:52', hostname: 'driveway' },
    ],
  });
  console.log(`Simulated EdgeRouter listening on 127.0.0.1:${sim.port} (host key ${sim.hostKeyFingerprint}).`);

  const uiPort = (await portIsFree(UI_PORT)) ? UI_PORT : await freeLoopbackPort();
  const homebridge = await startHomebridgeUi({
    uiPort,
    platform: {
      pollSeconds: 2,
      leak: { attempts: 3, uploadMB: 5, windowMinutes: 1, quietMinutes: 0.5 },
      routers: [
        {
          name: 'Demo Router',
          host: '127.0.0.1',
          port: sim.port,
          username: SIM_USER,
          privateKeyFile: sim.privateKeyFile,
          hostKey: sim.hostKeyFingerprint,
          cameras: CAMERAS,
        },
      ],
    },
    advertiseOnLan: lan,
    onLine: (line) => console.log(line),
  });
  console.log('');
  console.log(`Homebridge is running on port ${homebridge.bridgePort}. Pairing code: ${homebridge.pin}`);
  console.log(`Homebridge UI: ${homebridge.url} (user ${homebridge.login.username}, password ${homebridge.login.password}); open Plugins, then Camera Guard's Plugin Config.`);
  console.log(lan ? 'Add the bridge "Camera Guard Bridge" in the Home app with that code.' : 'It listens on localhost only; run "npm run demo -- --lan" to pair an iPhone on this network.');
  console.log('Camera traffic is simulated every few seconds. Press Ctrl-C to stop.');
  console.log('');

  let tick = 0;
  const traffic = setInterval(() => {
    tick++;
    const sends = [
      // Both cameras resolve names and sync time, which their allow-lists permit.
      sim.router.sendTraffic({ from: '192.0.2.50', protocol: 'udp', port: 53, packets: 2, bytes: 180 }),
      sim.router.sendTraffic({ from: '192.0.2.51', protocol: 'udp', port: 53, packets: 2, bytes: 180 }),
    ];
    if (tick % 3 === 0) {
      // Front Door streams to its cloud: dropped while blocked (and so noticed), counted while allowed.
      sends.push(sim.router.sendTraffic({ from: '192.0.2.50', protocol: 'tcp', port: 443, packets: 40, bytes: 48_000 }));
    }
    if (tick % 20 === 0) {
      // Now and then the Garage camera phones home (trips its sensor while blocked).
      sends.push(sim.router.sendTraffic({ from: '192.0.2.51', protocol: 'tcp', port: 8443, packets: 6, bytes: 360 }));
    }
    if (tick % 25 === 0) {
      // And Front Door uploads a burst (trips its sensor while allowed).
      sends.push(sim.router.sendTraffic({ from: '192.0.2.50', protocol: 'tcp', port: 443, packets: 6_000, bytes: 8_000_000 }));
    }
    Promise.all(sends).catch((error: unknown) => console.error(`simulated traffic failed: ${(error as Error).message}`));
  }, 2_000);

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) {
      return;
    }
    stopping = true;
    clearInterval(traffic);
    console.log('Stopping the demo...');
    await homebridge.stop();
    homebridge.remove();
    await sim.dispose();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  if (seconds !== undefined && Number.isFinite(seconds)) {
    setTimeout(() => void stop(), seconds * 1000);
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

main().catch((error: unknown) => {
  console.error(`The demo could not start: ${(error as Error).message}`);
  process.exit(1);
});
