import { createHash } from 'node:crypto';
import { Client, utils, type ConnectConfig } from 'ssh2';
import { SimulatedEdgeRouter } from '../../tools/sim/edgeos';
import { generateSshKeyPair, startSimulatedRouterSsh, type SimulatedRouterSsh } from '../../tools/sim/sshServer';

const W = '/opt/vyatta/sbin/vyatta-cfg-cmd-wrapper';
const CONFIG = `set firewall name CAMGUARD_OUT default-action accept
set firewall name CAMGUARD_OUT rule 4018 action drop
set firewall name CAMGUARD_OUT rule 4018 source address 192.168.1.50
set interfaces ethernet eth0 firewall out name CAMGUARD_OUT
`;

interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | undefined;
}

function connect(config: ConnectConfig & { keyboardPassword?: string }): Promise<{ client: Client; hostKey: Buffer }> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let hostKey: Buffer = Buffer.alloc(0);
    client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => {
      finish(prompts.map((prompt) => (prompt.prompt === 'Password: ' ? (config.keyboardPassword ?? '') : '')));
    });
    client.once('ready', () => resolve({ client, hostKey }));
    // Later errors (the server killing the connection at the end of a test) are expected and ignored.
    client.on('error', (error) => {
      client.end();
      reject(error);
    });
    client.connect({
      host: '127.0.0.1',
      readyTimeout: 5000,
      ...config,
      hostVerifier: (key: Buffer) => {
        hostKey = key;
        return true;
      },
    });
  });
}

function exec(client: Client, command: string, stdin?: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, stream) => {
      if (error !== undefined && error !== null) {
        reject(error);
        return;
      }
      const result: ExecResult = { stdout: '', stderr: '', code: undefined };
      stream.on('data', (chunk: Buffer) => (result.stdout += chunk.toString()));
      stream.stderr.on('data', (chunk: Buffer) => (result.stderr += chunk.toString()));
      stream.on('exit', (code: number) => (result.code = code));
      stream.on('close', () => resolve(result));
      if (stdin !== undefined) stream.end(stdin);
    });
  });
}

describe('simulated router SSH server', () => {
  const clientKey = generateSshKeyPair();
  const otherKey = generateSshKeyPair();
  const hostKey = generateSshKeyPair();
  let router: SimulatedEdgeRouter;
  let server: SimulatedRouterSsh;
  const clients: Client[] = [];

  const login = async (config: ConnectConfig & { keyboardPassword?: string } = { username: 'ubnt', password: 'secret' }): Promise<Client> => {
    const { client } = await connect({ port: server.port, ...config });
    clients.push(client);
    return client;
  };

  beforeEach(async () => {
    router = new SimulatedEdgeRouter({ initialConfig: CONFIG });
    server = await startSimulatedRouterSsh({
      router,
      hostKey: hostKey.private,
      users: [
        { username: 'ubnt', password: 'secret' },
        { username: 'keyed', publicKey: clientKey.public },
      ],
    });
  });

  afterEach(async () => {
    clients.splice(0).forEach((client) => client.end());
    await server.stop();
  });

  it('generates only key pairs that parse back (ssh2 drops a leading zero byte in about one of 256)', () => {
    for (let i = 0; i < 1000; i++) {
      const pair = generateSshKeyPair();
      expect(utils.parseKey(pair.public)).not.toBeInstanceOf(Error);
    }
  });

  it('presents the host key whose fingerprint it reports', async () => {
    const { client, hostKey: seen } = await connect({ port: server.port, username: 'ubnt', password: 'secret' });
    clients.push(client);
    expect(server.hostKeyFingerprint).toBe(`SHA256:${createHash('sha256').update(seen).digest('base64').replace(/=+$/, '')}`);
    expect(server.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('runs an exec command with password, key and keyboard-interactive logins', async () => {
    const command = '/bin/cli-shell-api returnActiveValue firewall name CAMGUARD_OUT rule 4018 action';
    const expected = { stdout: 'drop', stderr: '', code: 0 };
    expect(await exec(await login(), command)).toEqual(expected);
    expect(await exec(await login({ username: 'keyed', privateKey: clientKey.private }), command)).toEqual(expected);
    expect(await exec(await login({ username: 'ubnt', tryKeyboard: true, keyboardPassword: 'secret' }), command)).toEqual(expected);
  });

  it('rejects wrong credentials', async () => {
    await expect(connect({ port: server.port, username: 'ubnt', password: 'wrong' })).rejects.toMatchObject({ level: 'client-authentication' });
    await expect(connect({ port: server.port, username: 'nobody', password: 'secret' })).rejects.toMatchObject({ level: 'client-authentication' });
    await expect(connect({ port: server.port, username: 'keyed', privateKey: otherKey.private })).rejects.toMatchObject({ level: 'client-authentication' });
    await expect(connect({ port: server.port, username: 'ubnt', tryKeyboard: true, keyboardPassword: 'wrong' })).rejects.toMatchObject({
      level: 'client-authentication',
    });
  });

  it('runs a transaction script read from stdin, and concurrent exec channels', async () => {
    const client = await login();
    const script = [`${W} begin`, `${W} set firewall name CAMGUARD_OUT rule 4018 disable`, `${W} commit`, `${W} save`, `${W} end`].join('\n');
    const [transaction, listing] = await Promise.all([
      exec(client, "sg vyattacfg -c '/bin/vbash -s'", `${script}\n`),
      exec(client, 'sudo /sbin/iptables -t filter -L NOPE -v -n -x'),
    ]);
    expect(transaction).toEqual({ stdout: "Saving configuration to '/config/config.boot'...\nDone\n", stderr: '', code: 0 });
    expect(listing).toEqual({ stdout: '', stderr: 'iptables: No chain/target/match by that name.\n', code: 1 });
    expect(await router.activeConfigCommands()).toContain('rule 4018 disable');
    expect(await router.openSessionCount()).toBe(0);
  });

  it.each([
    ['a script on stdin', '/bin/vbash -s', (script: string[]) => script.join('\n')],
    ['a command line', (script: string[]) => script.join('; '), undefined],
  ] as const)('aborts %s when the client closes the channel, leaving its session open', async (_name, command, stdin) => {
    await router.setCommitDelay(300);
    const client = await login();
    const script = [`${W} begin`, `${W} set firewall name CAMGUARD_OUT rule 4018 disable`, `${W} commit`, `${W} end`];
    await new Promise<void>((resolve, reject) => {
      client.exec(typeof command === 'string' ? command : command(script), (error, stream) => {
        if (error !== undefined && error !== null) return reject(error);
        if (stdin !== undefined) stream.end(stdin(script));
        setTimeout(() => stream.close(), 100);
        stream.resume().on('close', () => resolve());
      });
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await router.openSessionCount()).toBe(1);
  });

  it('refuses a pseudo-terminal', async () => {
    const client = await login();
    await expect(
      new Promise((resolve, reject) => {
        client.exec('true', { pty: true }, (error, stream) => (error === undefined ? resolve(stream) : reject(error)));
      }),
    ).rejects.toThrow();
  });

  it('drops connections, stops and starts again on the same port', async () => {
    const client = await login();
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    server.dropConnections();
    await closed;
    await server.stop();
    await expect(connect({ port: server.port, username: 'ubnt', password: 'secret' })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await server.start();
    expect((await exec(await login(), 'echo back')).stdout).toBe('back\n');
  });
});
