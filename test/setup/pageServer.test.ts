/**
 * The settings page's server side, answering each request path of src/ui/protocol.ts over real SSH to the
 * simulated router, as the Homebridge UI would ask it: the key it makes logs in once the commands it prints are
 * pasted on the router, the connection test says what is wrong in plain words and changes nothing, discovery finds
 * the cameras, the preview is the exact script, and no answer ever holds a secret.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { KEY_FOLDER } from '../../src/setup/keys';
import { KNOWN_HOSTS_FILE, STATUS_FILE, statusFileName } from '../../src/settings';
import type { ConnectionTest, Discovery, GeneratedKey, Preview, RouterCommands, Status, Validation } from '../../src/ui/protocol';
import { requestHandlers, startUiServer } from '../../src/ui/server';
import type { UiServerBase } from '../../src/ui/server';
import { FRESH_ROUTER_CONFIG, SIM_USER, startSimulatedRouter } from '../../tools/sim/simulatedSetup';
import type { SimulatedRouterSetup } from '../../tools/sim/simulatedSetup';

jest.setTimeout(60_000);

const LAN_HOSTS = [
  { ip: '192.0.2.50', mac: 'BC:AD:28:11:22:33', hostname: 'garage-cam', ipv6: ['2001:db8::50'] },
  { ip: '192.0.2.51', mac: 'AC:CC:8E:44:55:66', hostname: 'front-door' },
  { ip: '192.0.2.60', mac: 'DA:A1:19:00:00:01', hostname: 'phone' },
];

let storage: string;
let sim: SimulatedRouterSetup;
let handlers: ReturnType<typeof requestHandlers>;

async function ask<T>(path: string, body: Record<string, unknown> = {}): Promise<T> {
  const handler = handlers[path];
  if (handler === undefined) throw new Error(`no handler for ${path}`);
  return (await handler(body)) as T;
}

function entry(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'Home', host: '127.0.0.1', port: sim.port, username: SIM_USER, privateKeyFile: sim.privateKeyFile, hostKey: sim.hostKeyFingerprint, cameras: [], ...overrides };
}

/** A port on loopback where nothing listens (bound, then closed). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

beforeEach(async () => {
  storage = mkdtempSync(join(tmpdir(), 'cg-page-'));
  sim = await startSimulatedRouter({ lanHosts: LAN_HOSTS });
  handlers = requestHandlers(storage);
});

afterEach(async () => {
  await sim.dispose();
  rmSync(storage, { recursive: true, force: true });
});

describe('preparing the router', () => {
  it('makes one key pair in the storage folder (0600 in a 0700 folder) and hands back only its public half and path', async () => {
    const key = await ask<GeneratedKey>('/keys/generate');
    expect(key.created).toBe(true);
    expect(key.privateKeyFile).toBe(join(storage, KEY_FOLDER, 'camera-guard_ed25519'));
    expect(key.publicKey).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/]+=* camera-guard$/);
    expect(statSync(key.privateKeyFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(storage, KEY_FOLDER)).mode & 0o777).toBe(0o700);
    expect(JSON.stringify(key)).not.toContain(readFileSync(key.privateKeyFile, 'utf8').split('\n')[1]);
    // A second click returns the same key: a router that already trusts it keeps working.
    expect(await ask<GeneratedKey>('/keys/generate')).toEqual({ ...key, created: false });
  });

  it('prints commands that, pasted on the router, let the plugin log in with that key as an admin', async () => {
    const key = await ask<GeneratedKey>('/keys/generate');
    const { commands, explanation } = await ask<RouterCommands>('/router/commands', { username: 'camera-guard', publicKey: key.publicKey });
    expect(commands[0]).toBe('configure');
    expect(commands).toEqual(expect.arrayContaining(['set system login user camera-guard level admin', 'commit', 'save']));
    expect(explanation).toMatch(/camera-guard/);

    const before = await ask<ConnectionTest>('/router/test', { router: entry({ username: 'camera-guard', privateKeyFile: key.privateKeyFile }) });
    expect(before.checks.find((check) => check.check === 'login')).toMatchObject({ ok: false });

    const pasted = await sim.pasteCommands(commands);
    expect(pasted.code).toBe(0);
    const config = await sim.router.savedConfigCommands();
    expect(config).toContain(`set system login user camera-guard authentication public-keys camera-guard key ${key.publicKey.split(' ')[1]}`);

    const after = await ask<ConnectionTest>('/router/test', { router: entry({ username: 'camera-guard', privateKeyFile: key.privateKeyFile }) });
    expect(after.checks.map((check) => [check.check, check.ok])).toEqual([
      ['address', true],
      ['reach', true],
      ['host-key', true],
      ['login', true],
      ['admin', true],
      ['router', true],
    ]);
  });

  it('says a login that is not an admin cannot work, and how to make it one', async () => {
    const key = await ask<GeneratedKey>('/keys/generate');
    const { commands } = await ask<RouterCommands>('/router/commands', { username: 'camera-guard', publicKey: key.publicKey });
    expect((await sim.pasteCommands(commands.map((line) => line.replace('level admin', 'level operator')))).code).toBe(0);
    const result = await ask<ConnectionTest>('/router/test', { router: entry({ username: 'camera-guard', privateKeyFile: key.privateKeyFile }) });
    expect(result.checks.at(-1)).toMatchObject({ check: 'admin', ok: false });
    expect(result.checks.at(-1)?.message).toMatch(/not an admin.*set system login user camera-guard level admin/);
  });

  it("refuses a user name EdgeOS would not take, the router's own account, and anything that is not a public key", async () => {
    const key = await ask<GeneratedKey>('/keys/generate');
    await expect(ask('/router/commands', { username: 'Camera Guard', publicKey: key.publicKey })).rejects.toThrow(/lower-case/);
    await expect(ask('/router/commands', { username: "x'; reboot", publicKey: key.publicKey })).rejects.toThrow(/lower-case/);
    await expect(ask('/router/commands', { username: 'ubnt', publicKey: key.publicKey })).rejects.toThrow(/router's own account/);
    await expect(ask('/router/commands', { username: 'camera-guard', publicKey: `${key.publicKey}\nset system login user evil level admin` })).rejects.toThrow(/not an SSH public key/);
    await expect(ask('/router/commands', { username: 'camera-guard', publicKey: '-----BEGIN OPENSSH PRIVATE KEY-----' })).rejects.toThrow(/not an SSH public key/);
  });
});

describe('testing the connection', () => {
  it('reports the router, its key and its WAN slot, and changes nothing on the router or here', async () => {
    const config = await sim.router.activeConfigCommands();
    const result = await ask<ConnectionTest>('/router/test', { router: entry({ hostKey: undefined }) });
    expect(result.ok).toBe(true);
    expect(result.hostKey).toEqual({ fingerprint: sim.hostKeyFingerprint, status: 'unpinned' });
    expect(result.router).toEqual({ version: 'v2.0.9-hotfix.7', model: 'EdgeRouter X 5-Port', hardwareOffload: false, wanInterfaces: ['eth0'], outSlot: { kind: 'free' } });
    expect(result.checks.find((check) => check.check === 'host-key')?.message).toMatch(/not pinned yet.*ssh-keygen -lf/);
    expect(await sim.router.activeConfigCommands()).toBe(config);
    // Trust is given by pinning, not by testing: the plugin's known-hosts file is not written.
    expect(existsSync(join(storage, KNOWN_HOSTS_FILE))).toBe(false);

    const pinned = await ask<ConnectionTest>('/router/test', { router: entry({ hostKey: result.hostKey?.fingerprint }) });
    expect(pinned.hostKey?.status).toBe('pinned');
  });

  it("says whether the router's log can be read and whether it counts bytes per connection, failing neither", async () => {
    const before = await ask<ConnectionTest>('/router/test', { router: entry() });
    expect(before.ok).toBe(true);
    expect(before.checks.at(-1)?.message).toMatch(/can read the router's log.*does not count bytes per connection.*sysctl -w net\.netfilter\.nf_conntrack_acct=1.*until its next reboot/);
    await sim.router.store.update((state) => {
      state.conntrackAccounting = 1;
      state.faults.logUnreadable = true;
      state.routerLog = { current: { inode: 7, text: 'Dec  3 12:00:01 ubnt syslogd started\n' }, nextInode: 8 };
    });
    const after = await ask<ConnectionTest>('/router/test', { router: entry() });
    expect(after.ok).toBe(true);
    expect(after.checks.at(-1)?.message).toMatch(/Note: the plugin could not read the router's log \/var\/log\/messages .*still guarded.*counts bytes per connection/);
  });

  it("says the owner's own policy in the WAN out slot will be adopted", async () => {
    await sim.dispose();
    sim = await startSimulatedRouter({
      initialConfig: [FRESH_ROUTER_CONFIG, 'set firewall name WAN_OUT default-action accept', 'set firewall name WAN_OUT rule 10 action drop', 'set interfaces ethernet eth0 firewall out name WAN_OUT'].join('\n'),
    });
    const result = await ask<ConnectionTest>('/router/test', { router: entry() });
    expect(result.router?.outSlot).toEqual({ kind: 'owner', ruleSet: 'WAN_OUT' });
    expect(result.checks.at(-1)?.message).toMatch(/its own ruleset WAN_OUT/);
  });

  it('says an unreachable host is unreachable, and what to check', async () => {
    const result = await ask<ConnectionTest>('/router/test', { router: entry({ port: await deadPort() }) });
    expect(result.ok).toBe(false);
    expect(result.checks.map((check) => [check.check, check.ok])).toEqual([
      ['address', true],
      ['reach', false],
    ]);
    expect(result.checks[1]?.message).toMatch(/^Cannot reach 127\.0\.0\.1:\d+ over SSH.*Check "host" and "port"/);
    expect(result.hostKey).toBeUndefined();
  });

  it('says a refused login is refused, after showing the key the router presented', async () => {
    const result = await ask<ConnectionTest>('/router/test', { router: entry({ username: 'nobody' }) });
    expect(result.checks.map((check) => [check.check, check.ok])).toEqual([
      ['address', true],
      ['reach', true],
      ['host-key', true],
      ['login', false],
    ]);
    expect(result.checks[3]?.message).toMatch(/refused the login for "nobody"/);
    expect(result.hostKey?.status).toBe('pinned');
  });

  it('refuses an impostor: a router whose key is not the pinned one gets no login', async () => {
    const impostor = await startSimulatedRouter();
    try {
      const result = await ask<ConnectionTest>('/router/test', { router: entry({ port: impostor.port }) });
      expect(result.checks.map((check) => [check.check, check.ok])).toEqual([
        ['address', true],
        ['reach', true],
        ['host-key', false],
      ]);
      expect(result.hostKey).toEqual({ fingerprint: impostor.hostKeyFingerprint, status: 'mismatch' });
      expect(result.checks[2]?.message).toMatch(/someone may be intercepting/);
    } finally {
      await impostor.dispose();
    }
  });

  it('says a key file that is not a private key cannot be used', async () => {
    const key = await ask<GeneratedKey>('/keys/generate');
    const result = await ask<ConnectionTest>('/router/test', { router: entry({ privateKeyFile: `${key.privateKeyFile}.pub` }) });
    expect(result.checks.at(-1)).toMatchObject({ check: 'login', ok: false });
    expect(result.checks.at(-1)?.message).toMatch(/private key file/);
  });

  it('names a WAN interface the router does not have, and the ones it has', async () => {
    const result = await ask<ConnectionTest>('/router/test', { router: entry({ wanInterface: 'eth9' }) });
    expect(result.checks.at(-1)).toMatchObject({ check: 'router', ok: false });
    expect(result.checks.at(-1)?.message).toMatch(/no interface eth9/);
  });

  it('refuses an entry the plugin would skip, saying why, before connecting', async () => {
    const result = await ask<ConnectionTest>('/router/test', { router: entry({ port: 'twenty-two' }) });
    expect(result.checks).toHaveLength(1);
    expect(result.checks[0]).toMatchObject({ check: 'address', ok: false });
    expect(result.checks[0]?.message).toMatch(/port/);
  });
});

describe('discovering cameras', () => {
  it("lists the router's LAN devices with makers, cameras first, and marks the configured ones", async () => {
    const { devices } = await ask<Discovery>('/cameras/discover', { router: entry(), cameras: [{ name: 'Front', address: '192.0.2.51' }] });
    expect(devices).toEqual([
      { name: 'front-door', addresses: ['192.0.2.51'], mac: 'ac:cc:8e:44:55:66', vendor: 'Axis Communications AB', camera: true, configured: true },
      { name: 'garage-cam', addresses: ['192.0.2.50', '2001:db8::50'], mac: 'bc:ad:28:11:22:33', vendor: 'Hangzhou Hikvision Digital Technology Co.,Ltd.', camera: true, configured: false },
      { name: 'phone', addresses: ['192.0.2.60'], mac: 'da:a1:19:00:00:01', vendor: undefined, camera: false, configured: false },
    ]);
  });

  it('rejects with the reason when the router cannot be reached', async () => {
    await expect(ask('/cameras/discover', { router: entry({ port: await deadPort() }), cameras: [] })).rejects.toThrow(/^Cannot reach/);
  });
});

describe('previewing', () => {
  it('shows the exact script for the settings on the page, and the owner rules it leaves alone, sending nothing', async () => {
    await sim.dispose();
    sim = await startSimulatedRouter({
      initialConfig: [FRESH_ROUTER_CONFIG, 'set firewall name WAN_OUT default-action accept', "set firewall name WAN_OUT rule 10 description 'Block the TV'", 'set firewall name WAN_OUT rule 10 action drop', 'set interfaces ethernet eth0 firewall out name WAN_OUT'].join('\n'),
    });
    const before = await sim.router.activeConfigCommands();
    const cameras = [
      { name: 'Garage', address: '192.0.2.50', allow: ['dns'] },
      { name: 'Front Door', address: '192.0.2.51', mac: 'ac:cc:8e:44:55:66' },
    ];
    const { routers } = await ask<Preview>('/preview', { config: { platform: 'CameraGuard', routers: [entry({ cameras })] } });
    expect(routers).toHaveLength(1);
    const [home] = routers;
    expect(home?.problem).toBeUndefined();
    expect(home?.script).toMatch(/vyatta-cfg-cmd-wrapper/);
    expect(home?.script).toMatch(/begin/);
    expect(home?.script).toMatch(/set firewall name WAN_OUT rule \d+ source address 192\.0\.2\.50/);
    expect(home?.script).toMatch(/source mac-address ac:cc:8e:44:55:66/);
    expect(home?.script).toMatch(/commit/);
    expect(home?.steps.length).toBeGreaterThan(0);
    expect(home?.leftAlone).toEqual(['IPv4 ruleset WAN_OUT rule 10 "Block the TV" (drop) is the owner\'s: left as it is.']);
    expect(await sim.router.activeConfigCommands()).toBe(before);
  });

  it('says per router when one cannot be previewed', async () => {
    const { routers } = await ask<Preview>('/preview', { config: { routers: [entry({ port: await deadPort(), cameras: [{ name: 'Garage', address: '192.0.2.50' }] })] } });
    expect(routers[0]?.problem).toMatch(/^Cannot reach/);
    expect(routers[0]?.script).toBe('');
  });
});

describe('saving', () => {
  it('is refused, with the field named, for a camera or router the plugin would skip', async () => {
    const bad = await ask<Validation>('/validate', { config: { routers: [entry({ cameras: [{ name: 'Garage', address: '192.0.2.300' }] })] } });
    expect(bad.ok).toBe(false);
    expect(bad.errors.join(' ')).toMatch(/Garage.*address/);
    const good = await ask<Validation>('/validate', { config: { routers: [entry({ cameras: [{ name: 'Garage', address: '192.0.2.30' }] })] } });
    expect(good).toEqual({ ok: true, errors: [] });
    expect((await ask<Validation>('/validate', { config: {} })).ok).toBe(false);
  });

  it('is refused for a wrong expected destination, naming the camera, the entry and what is accepted; accepted with good ones', async () => {
    const garage = (allowDestinations: unknown[]) => ({ name: 'Garage', address: '192.0.2.30', tripOnForeignDns: true, allowDestinations });
    const bad = await ask<Validation>('/validate', { config: { routers: [entry({ cameras: [garage(['1.1.1.1', '*.example.com'])] })] } });
    expect(bad.ok).toBe(false);
    expect(bad.errors).toEqual([expect.stringMatching(/camera "Garage": "allowDestinations" entry "\*\.example\.com" is a wildcard, which is not supported: list each host name whole/)]);
    const good = await ask<Validation>('/validate', { config: { routers: [entry({ cameras: [garage(['1.1.1.1', '2606:4700::/32', 'fw.example.com'])] })] } });
    expect(good).toEqual({ ok: true, errors: [] });
  });
});

describe('the status', () => {
  it('is "not running" without a status file, and the cleaned file otherwise', async () => {
    expect(await ask<Status>('/status')).toEqual({ running: false, updatedAt: undefined, routers: [] });
    writeFileSync(
      join(storage, STATUS_FILE),
      JSON.stringify({
        updatedAt: '2026-12-03T08:00:00.000Z',
        routers: [{ name: 'Home', lastPoll: '2026-12-03T07:59:58.000Z', problem: 'bad\u001b[2Jthing', cameras: [{ name: 'Garage', address: '192.0.2.50', enforced: 'owned', blockedPackets: -3, egressBytes: 'x', leak: 1 }] }],
        configErrors: ['Camera "X": "address" is not an IPv4 address.'],
      }),
    );
    const status = await ask<Status>('/status');
    expect(status.running).toBe(true);
    expect(status.routers[0]?.problem).not.toContain('\u001b');
    expect(status.routers[0]?.cameras[0]).toEqual({ name: 'Garage', address: '192.0.2.50', enforced: 'unknown', blockedPackets: undefined, egressBytes: undefined, leak: false, lastLeakTrip: undefined });
    expect(status.configErrors).toEqual(['Camera "X": "address" is not an IPv4 address.']);
  });
});

describe('saving a second Camera Guard platform', () => {
  it('is refused for a router that an earlier platform lists (same address and port, or same pinned key), and accepted for another router', async () => {
    const camera = { name: 'Barn Door', address: '198.51.100.50' };
    const earlier = [{ platform: 'CameraGuard', name: 'Camera Guard', routers: [entry({ cameras: [{ name: 'Garage', address: '192.0.2.30' }] })] }];
    const again = await ask<Validation>('/validate', { config: { name: 'Barn Guard', routers: [entry({ name: 'Barn', hostKey: undefined, cameras: [camera] })] }, earlier });
    expect(again).toEqual({
      ok: false,
      errors: [
        `Router "Barn" is the same router as router "Home" of the Camera Guard platform "Camera Guard" before this one in config.json (both reach 127.0.0.1 port ${sim.port}); ` +
          'two platforms guarding one router would fight over its rules, so "Barn" is skipped here and changes nothing on the router. Keep each router in one Camera Guard platform only: remove it from this one.',
      ],
    });
    const sameKey = await ask<Validation>('/validate', { config: { name: 'Barn Guard', routers: [entry({ name: 'Barn', host: 'localhost', cameras: [camera] })] }, earlier });
    expect(sameKey.errors).toEqual([expect.stringContaining(`(both pin host key ${sim.hostKeyFingerprint})`)]);
    const other = await ask<Validation>('/validate', { config: { name: 'Barn Guard', routers: [entry({ name: 'Barn', host: '192.0.2.1', hostKey: undefined, cameras: [camera] })] }, earlier });
    expect(other).toEqual({ ok: true, errors: [] });
  });
});

describe('the status of several Camera Guard platforms', () => {
  it('shows every platform\'s routers and skipped settings together, each named with its platform, as old as the oldest file', async () => {
    const file = (platform: string | undefined, updatedAt: string, router: string, error: string): void =>
      writeFileSync(
        join(storage, statusFileName(platform)),
        JSON.stringify({ updatedAt, platform, routers: [{ name: router, lastPoll: updatedAt, cameras: [] }], configErrors: [error] }),
      );
    file(undefined, '2026-12-03T08:00:05.000Z', 'Home', 'Camera "X": one.');
    file('Barn Guard', '2026-12-03T08:00:01.000Z', 'Barn', 'Camera "Y": two.');
    const status = await ask<Status>('/status');
    expect(status.running).toBe(true);
    expect(status.updatedAt).toBe('2026-12-03T08:00:01.000Z');
    expect(status.routers.map((router) => [router.name, router.platform])).toEqual(
      expect.arrayContaining([
        ['Home', undefined],
        ['Barn', 'Barn Guard'],
      ]),
    );
    expect(status.configErrors).toEqual(expect.arrayContaining(['Camera "X": one.', 'Barn Guard: Camera "Y": two.']));

    // Once config.json no longer lists "Barn Guard" (renamed or removed), a file it left behind is not shown.
    writeFileSync(join(storage, 'config.json'), JSON.stringify({ platforms: [{ platform: 'CameraGuard', name: 'Camera Guard' }, { platform: 'Other' }] }));
    expect((await ask<Status>('/status')).routers.map((router) => router.name)).toEqual(['Home']);
  });
});

describe('the server the Homebridge UI starts', () => {
  class FakeUiServer implements UiServerBase {
    static last: FakeUiServer | undefined;
    readonly homebridgeStoragePath = storage;
    readonly handlers = new Map<string, (body: unknown) => Promise<unknown>>();
    isReady = false;
    constructor() {
      FakeUiServer.last = this;
    }
    onRequest(path: string, handler: (body: unknown) => Promise<unknown>): void {
      this.handlers.set(path, handler);
    }
    ready(): void {
      this.isReady = true;
    }
  }
  class UiRequestError extends Error {
    constructor(
      message: string,
      readonly requestError: unknown,
    ) {
      super(message);
    }
  }

  it('answers every path of the protocol, then says it is ready', () => {
    startUiServer(FakeUiServer, UiRequestError);
    expect([...(FakeUiServer.last?.handlers.keys() ?? [])].sort()).toEqual(['/cameras/discover', '/keys/generate', '/preview', '/router/commands', '/router/test', '/status', '/validate']);
    expect(FakeUiServer.last?.isReady).toBe(true);
  });

  it("turns a failure into the UI's request error with one sentence, and never echoes a secret", async () => {
    startUiServer(FakeUiServer, UiRequestError);
    const server = FakeUiServer.last!;
    const failure = server.handlers.get('/router/commands')!({ username: 'ubnt', publicKey: 'x' });
    await expect(failure).rejects.toBeInstanceOf(UiRequestError);
    const secret = 'hunter2-secret-password';
    const config = { routers: [entry({ privateKeyFile: undefined, password: secret, passphrase: secret, port: await deadPort(), cameras: [{ name: 'Garage', address: '192.0.2.50' }] })] };
    const answers = await Promise.all(
      [
        ['/router/test', { router: config.routers[0] }],
        ['/preview', { config }],
        ['/validate', { config }],
        ['/cameras/discover', { router: config.routers[0], cameras: [] }],
      ].map(([path, body]) => server.handlers.get(path as string)!(body).then(JSON.stringify, (error: Error) => error.message)),
    );
    for (const answer of answers) expect(answer).not.toContain(secret);
  });
});
