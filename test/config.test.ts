import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { excludeInfrastructureAddresses, NAMED_SERVICES, parseConfig } from '../src/config';
import { MAX_ALLOW_ENTRIES } from '../src/settings';

const camera = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({ name: 'Front Door', address: '192.168.1.50', ...overrides });
const router = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'EdgeRouter',
  host: '192.168.1.1',
  username: 'homebridge',
  privateKeyFile: '/var/lib/homebridge/camera-guard_ed25519',
  cameras: [camera()],
  ...overrides,
});

describe('configuration', () => {
  it('fills in the documented defaults', () => {
    const { settings, errors } = parseConfig({ platform: 'CameraGuard', routers: [router()] });
    expect(errors).toEqual([]);
    expect(settings.pollMs).toBe(10_000);
    expect(settings.leak).toEqual({ attempts: 1, uploadBytes: 100_000_000, windowMs: 600_000, quietMs: 300_000 });
    expect(settings.routers[0]).toMatchObject({ port: 22, wanInterface: 'eth0', ruleSet: 'CAMGUARD_OUT', firstRule: 4000, saveConfig: true });
    expect(settings.routers[0]?.cameras).toEqual([{ name: 'Front Door', address: '192.168.1.50', allow: [], allowMinutes: 0 }]);
  });

  it('reads allow entries into firewall services', () => {
    const { settings, errors } = parseConfig({ routers: [router({ cameras: [camera({ allow: ['dns', 'NTP', 'smtp', 'tcp/8443', 'udp/1194', 'dns'] })] })] });
    expect(errors).toEqual([]);
    expect(settings.routers[0]?.cameras[0]?.allow.map((entry) => [entry.protocol, entry.ports.join(',')])).toEqual([
      ['tcp_udp', '53'],
      ['udp', '123'],
      ['tcp', '25,465,587'],
      ['tcp', '8443'],
      ['udp', '1194'],
    ]);
  });

  it('reads the ports of allowPorts beside the named services of allow, each service once', () => {
    const { settings, errors } = parseConfig({ routers: [router({ cameras: [camera({ allow: ['dns', 'tcp/8443'], allowPorts: ['tcp/8443', 'UDP/1194'] })] })] });
    expect(errors).toEqual([]);
    expect(settings.routers[0]?.cameras[0]?.allow.map((entry) => entry.label)).toEqual(['dns', 'tcp/8443', 'udp/1194']);
  });

  const badCameras: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an address that is not IPv4', camera({ address: '192.168.1.300' }), /"address" must be an IPv4 address/],
    ['a host name as address', camera({ address: 'cam.local' }), /"address" must be an IPv4 address/],
    ['a shell injection as address', camera({ address: '1.2.3.4; reboot' }), /"address" must be an IPv4 address/],
    ['a loopback address', camera({ address: '127.0.0.1' }), /cannot be a camera's address/],
    ['the router\'s own address', camera({ address: '192.168.1.1' }), /router's own address/],
    ['an unknown allow entry', camera({ allow: ['http'] }), /"allow" entry "http" is not a service we know/],
    ['a port out of range', camera({ allow: ['tcp/70000'] }), /port from 1 to 65535/],
    ['a bad allowPorts entry', camera({ allowPorts: ['tcp/http'] }), /"allowPorts" entry "tcp\/http" is not a service we know/],
    ['a named service in allowPorts', camera({ allowPorts: ['ntp'] }), /"allowPorts" entry "ntp" is a named service; tick it under "allow"/],
    ['allowPorts that is not a list', camera({ allowPorts: 'tcp/443' }), /"allowPorts" must be a list/],
    ['no name', camera({ name: '' }), /"name" is required/],
    ['a negative allowMinutes', camera({ allowMinutes: -1 }), /"allowMinutes" must be a number from 0/],
    ['a tripOnForeignDns that is not true or false', camera({ tripOnForeignDns: 'yes' }), /"tripOnForeignDns"/],
  ];

  it('refuses a camera with 8 allow entries (the previous limit), naming the camera and the new limit of 7, and leaves its access alone', () => {
    const eight = camera({ name: 'Porch', allow: ['dns', 'ntp', 'smtp', 'tcp/8443'], allowPorts: ['udp/1194', 'tcp/1', 'tcp/2', 'tcp/3'] });
    const { settings, errors } = parseConfig({ routers: [router({ cameras: [eight] })] });
    expect(settings.routers[0]?.cameras).toEqual([]);
    expect(errors).toEqual([
      'Router "EdgeRouter", camera "Porch": "allow" and "allowPorts" may list at most 7 services together, and this camera lists 8; remove one.',
      'Router "EdgeRouter", camera "Porch" is skipped until these settings are fixed ("allow"); its access is not changed.',
    ]);
    const seven = camera({ allow: ['dns', 'ntp', 'smtp', 'tcp/8443'], allowPorts: ['udp/1194', 'tcp/1', 'tcp/2'] });
    expect(parseConfig({ routers: [router({ cameras: [seven] })] }).errors).toEqual([]);
  });

  it('names networks with the bundled data set unless networkData says otherwise', () => {
    const read = (networkData: unknown) => parseConfig({ routers: [router()], ...(networkData === undefined ? {} : { networkData }) });
    expect(read(undefined).settings.networkData).toEqual({ source: 'bundled' });
    expect(read({}).settings.networkData).toEqual({ source: 'bundled' });
    expect(read({ source: 'off' })).toMatchObject({ settings: { networkData: { source: 'off' } }, errors: [] });
    // File paths alone are the owner's own files, as before "source" existed.
    expect(read({ asnIpv4: '/data/asn-ipv4.csv' })).toMatchObject({ settings: { networkData: { source: 'files', files: { asnIpv4: '/data/asn-ipv4.csv' } } }, errors: [] });
    expect(read({ source: 'files', countryIpv6: '/data/c6.csv' }).settings.networkData).toEqual({ source: 'files', files: { countryIpv6: '/data/c6.csv' } });
  });

  it('says each networkData mistake in plain words, and falls back to the bundled data set rather than no names', () => {
    const read = (networkData: unknown) => parseConfig({ routers: [router()], networkData });
    const { settings, errors } = read({ asnIpv4: '/data/asn-ipv4.csv', countryIpv4: 42 });
    expect(settings.networkData).toEqual({ source: 'files', files: { asnIpv4: '/data/asn-ipv4.csv' } });
    expect(errors).toEqual(['Camera Guard: "networkData.countryIpv4" must be the path of a file; it is left out.']);
    expect(read('/data')).toMatchObject({ settings: { networkData: { source: 'bundled' } }, errors: [expect.stringMatching(/"networkData" must be an object \(source, and the file paths/)] });
    expect(read({ source: 'maxmind' })).toMatchObject({
      settings: { networkData: { source: 'bundled' } },
      errors: ['Camera Guard: "networkData.source" must be "bundled", "files" or "off", not "maxmind"; the data set that comes with the plugin names networks instead.'],
    });
    expect(read({ source: 'files' })).toMatchObject({ settings: { networkData: { source: 'bundled' } }, errors: [expect.stringMatching(/"files" but no file path is set/)] });
    expect(read({ source: 'off', asnIpv4: '/data/a.csv' })).toMatchObject({
      settings: { networkData: { source: 'off' } },
      errors: ['Camera Guard: "networkData" has file paths, but its source is "off", so they are not read; set "source" to "files" to use them.'],
    });
    expect(read({ source: 'files', asnIpv4: 'a\u0007b' }).errors).toEqual([
      'Camera Guard: "networkData.asnIpv4" must be the path of a file; it is left out.',
      expect.stringMatching(/"files" but no file path is set/),
    ]);
  });

  it('offers the three networkData sources in the settings form, bundled first, and shows the paths whenever they are read', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { networkData } = (require('../config.schema.json') as { schema: { properties: Record<string, any> } }).schema.properties;
    // No default: the form would write "bundled" into an older config whose paths alone choose its own files.
    expect(networkData.properties.source.default).toBeUndefined();
    expect(networkData.properties.source.oneOf.map((choice: { enum: string[] }) => choice.enum[0])).toEqual(['bundled', 'files', 'off']);
    for (const key of ['asnIpv4', 'asnIpv6', 'countryIpv4', 'countryIpv6']) {
      // As the settings form runs it: a function of the model made from the body's text.
      // eslint-disable-next-line @typescript-eslint/no-implied-eval
      const shows = new Function('model', networkData.properties[key].condition.functionBody) as (model: unknown) => boolean;
      const models = [{ source: 'files' }, { source: 'bundled' }, { source: 'off' }, undefined, { [key]: '/data/x.csv' }, { source: 'off', [key]: '/data/x.csv' }];
      const read = models.map((networkData) => parseConfig({ routers: [router()], ...(networkData === undefined ? {} : { networkData }) }).settings.networkData.source === 'files');
      // Shown exactly when the plugin would read them (or the owner chose files and has still to type them).
      expect(models.map((networkData) => shows({ networkData }))).toEqual([true, false, false, false, true, false]);
      expect(read).toEqual([false, false, false, false, true, false]);
    }
    for (const { enum: [source] } of networkData.properties.source.oneOf as { enum: string[] }[]) {
      expect(parseConfig({ routers: [router()], networkData: { source, asnIpv4: source === 'files' ? '/a.csv' : undefined } }).settings.networkData.source).toBe(source);
    }
  });

  it('reads nameServers only when set, with or without a port, and leaves out what is not a server address', () => {
    expect(parseConfig({ routers: [router()] }).settings.nameServers).toBeUndefined();
    const { settings, errors } = parseConfig({ routers: [router()], nameServers: ['192.168.1.1', '198.51.100.254:5353', '[2001:db8::1]:53', 'dns.example', '10.0.0.1:0'] });
    expect(settings.nameServers).toEqual(['192.168.1.1', '198.51.100.254:5353', '[2001:db8::1]:53']);
    expect(errors).toEqual([
      'Camera Guard: "nameServers" entry "dns.example" is not an IP address (optionally with ":port"); it is left out.',
      'Camera Guard: "nameServers" entry "10.0.0.1:0" is not an IP address (optionally with ":port"); it is left out.',
    ]);
    expect(parseConfig({ routers: [router()], nameServers: '192.168.1.1' }).errors).toEqual([expect.stringMatching(/"nameServers" must be a list of DNS server addresses/)]);
    const many = parseConfig({ routers: [router()], nameServers: ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'] });
    expect(many.settings.nameServers).toEqual(['192.0.2.1', '192.0.2.2', '192.0.2.3']);
    expect(many.errors).toEqual([expect.stringMatching(/more than 3 servers; "192\.0\.2\.4" and any after it are left out/)]);
  });

  it('reads tripOnForeignDns, off unless the owner sets it', () => {
    const { settings, errors } = parseConfig({ routers: [router({ cameras: [camera({ tripOnForeignDns: true }), camera({ name: 'Garage', address: '192.168.1.51' })] })] });
    expect(errors).toEqual([]);
    expect(settings.routers[0]?.cameras.map((c) => c.tripOnForeignDns)).toEqual([true, undefined]);
  });

  it.each(badCameras)('skips a camera with %s, says why, and keeps the others', (_what, bad, message) => {
    const { settings, errors } = parseConfig({ routers: [router({ cameras: [bad, camera({ name: 'Garage', address: '192.168.1.51' })] })] });
    expect(errors.some((error) => message.test(error))).toBe(true);
    expect(errors.some((error) => /is skipped until these settings are fixed/.test(error))).toBe(true);
    expect(settings.routers[0]?.cameras.map((c) => c.name)).toEqual(['Garage']);
  });

  it('skips the second of two cameras with one address, naming the first', () => {
    const { settings, errors } = parseConfig({ routers: [router({ cameras: [camera(), camera({ name: 'Twin' })] })] });
    expect(settings.routers[0]?.cameras.map((c) => c.name)).toEqual(['Front Door']);
    expect(errors).toEqual(['Router "EdgeRouter", camera "Twin": "address" 192.168.1.50 is already used by camera "Front Door"; this camera is skipped and its access is not changed.']);
  });

  const badRouters: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a ruleset name with shell characters', router({ ruleSet: 'CAMS;reboot' }), /"ruleSet" must be/],
    ['a ruleset name starting with "-"', router({ ruleSet: '-CAMS' }), /"ruleSet" must be/],
    ['a ruleset name over 28 characters', router({ ruleSet: 'A'.repeat(29) }), /at most 28 characters/],
    ['a ruleset named like an iptables target (EdgeOS refuses it at set)', router({ ruleSet: 'DROP' }), /"ruleSet" cannot be "DROP": "DROP" is the name of an iptables target/],
    ['an IPv6 ruleset named like a target extension', router({ ipv6RuleSet: 'LOG' }), /"ipv6RuleSet" cannot be "LOG"/],
    ['a ruleset name in EdgeOS\'s zone prefix', router({ ruleSet: 'VZONE_CAMS' }), /"ruleSet" cannot be "VZONE_CAMS": names starting with "VZONE"/],
    ['a ruleset named like one of EdgeOS\'s own chains', router({ ruleSet: 'VYATTA_FW_OUT_HOOK' }), /"ruleSet" cannot be "VYATTA_FW_OUT_HOOK": names starting with "VYATTA" are EdgeOS's own chains/],
    ['a ruleset named like a built-in chain', router({ ruleSet: 'FORWARD' }), /"ruleSet" cannot be "FORWARD": "FORWARD" is one of the router's built-in chains/],
    ['a rule range past 9999', router({ firstRule: 9500 }), /"firstRule" must be a whole number from 1 to 9000/],
    ['no way to log in', router({ privateKeyFile: undefined }), /give "privateKeyFile" \(preferred\) or "password"/],
    ['a malformed host key', router({ hostKey: 'AbC' }), /"hostKey" must be a fingerprint/],
    ['an unknown WAN interface name', router({ wanInterface: 'eth0; reboot' }), /"wanInterface" must be an EdgeOS interface name/],
    ['no cameras', router({ cameras: [] }), /"cameras" must list at least one camera/],
  ];

  it.each(badRouters)('skips a router with %s and keeps the others', (_what, bad, message) => {
    const { settings, errors } = parseConfig({ routers: [bad, router({ name: 'Second', host: '192.168.2.1' })] });
    expect(errors.some((error) => message.test(error))).toBe(true);
    expect(settings.routers.map((r) => r.name)).toEqual(['Second']);
  });

  it('takes ruleset names EdgeOS takes, however close to a reserved one', () => {
    for (const name of ['Drop', 'DROP_CAMS', 'CAMS_LOG', 'log', 'MY_VYATTA']) {
      const { settings, errors } = parseConfig({ routers: [router({ ruleSet: name, ipv6RuleSet: `${name}6` })] });
      expect({ name, errors }).toEqual({ name, errors: [] });
      expect(settings.routers[0]).toMatchObject({ ruleSet: name, ipv6RuleSet: `${name}6` });
    }
  });

  it('refuses a second router whose rule range collides on the same host', () => {
    const { settings, errors } = parseConfig({ routers: [router(), router({ name: 'Again', firstRule: 4500 }), router({ name: 'Apart', firstRule: 5000 })] });
    expect(settings.routers.map((r) => r.name)).toEqual(['EdgeRouter', 'Apart']);
    expect(errors[0]).toMatch(/Router "Again": its rules 4500-5499 on 192.168.1.1 collide with router "EdgeRouter" \(4000-4999\)/);
  });

  it('never echoes a password, even a wrongly typed one', () => {
    const { errors } = parseConfig({ routers: [router({ password: 12345678, privateKeyFile: undefined })] });
    expect(errors.join('\n')).not.toContain('12345678');
    expect(errors.join('\n')).toMatch(/"password" must be a string \(got a value that is not shown\)/);
  });

  it('survives any shape of input without throwing', () => {
    for (const raw of [undefined, null, 42, 'x', [], { routers: 'x' }, { routers: [null, 1, 'x'] }, { leak: 5 }, { routers: [{ cameras: [null] }] }]) {
      expect(() => parseConfig(raw)).not.toThrow();
    }
  });

  it('rejects cameras at this machine\'s own addresses once they are known', () => {
    const { settings } = parseConfig({ routers: [router({ cameras: [camera(), camera({ name: 'Homebridge', address: '192.168.1.10' })] })] });
    const resolved = settings.routers[0]!;
    const { cameras, errors } = excludeInfrastructureAddresses(resolved, ['192.168.1.10']);
    expect(cameras.map((c) => c.name)).toEqual(['Front Door']);
    expect(errors[0]).toMatch(/belongs to this Homebridge machine/);
  });
});

describe('config.schema.json', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const schema = require('../config.schema.json') as { pluginAlias: string; schema: { properties: Record<string, any> } };
  const routerProps = schema.schema.properties.routers.items.properties;

  it('offers the same defaults the plugin applies', () => {
    const { settings } = parseConfig({ routers: [router()] });
    expect(schema.pluginAlias).toBe('CameraGuard');
    expect(schema.schema.properties.pollSeconds.default * 1000).toBe(settings.pollMs);
    expect(schema.schema.properties.leak.properties.uploadMB.default * 1_000_000).toBe(settings.leak.uploadBytes);
    for (const field of ['port', 'wanInterface', 'ruleSet', 'firstRule', 'saveConfig'] as const) {
      expect(routerProps[field].default).toEqual(settings.routers[0]?.[field]);
    }
  });

  /** Every property of the schema, with the path that leads to it. */
  const everyProperty = (properties: Record<string, any>, path: string[] = []): Array<[string, any]> =>
    Object.entries(properties).flatMap(([key, value]) => {
      const here: Array<[string, any]> = [[[...path, key].join('.'), value]];
      const nested = value.properties ?? value.items?.properties;
      return nested ? [...here, ...everyProperty(nested, [...path, key])] : here;
    });

  it('draws no slider: the Homebridge UI turns a number with both a minimum and a maximum into one, and 22 cannot be picked on it', () => {
    const sliders = everyProperty(schema.schema.properties).filter(([, value]) => value.minimum !== undefined && value.maximum !== undefined);
    expect(sliders.map(([path]) => path)).toEqual([]);
  });

  it('reads in setup order: the router connection, then its cameras, then the tuning', () => {
    expect(Object.keys(schema.schema.properties)).toEqual(['name', 'routers', 'pollSeconds', 'leak', 'networkData', 'nameServers']);
    const keys = Object.keys(routerProps);
    expect(keys.slice(0, 4)).toEqual(['name', 'host', 'port', 'username']);
    expect(keys.indexOf('cameras')).toBeLessThan(keys.indexOf('ruleSet'));
    expect(Object.keys(routerProps.cameras.items.properties).slice(0, 3)).toEqual(['name', 'address', 'mac']);
  });

  it('offers the named services as a choice, and ports beside them, both of which the plugin reads', () => {
    const cameraProps = routerProps.cameras.items.properties;
    expect(cameraProps.allow).toMatchObject({ type: 'array', uniqueItems: true, items: { enum: Object.keys(NAMED_SERVICES) } });
    expect(cameraProps.allowPorts).toMatchObject({ type: 'array', items: { type: 'string' } });
    const { settings, errors } = parseConfig({ routers: [router({ cameras: [camera({ allow: cameraProps.allow.items.enum, allowPorts: ['tcp/8443'] })] })] });
    expect(errors).toEqual([]);
    expect(settings.routers[0]?.cameras[0]?.allow.map((entry) => entry.label)).toEqual(['dns', 'ntp', 'smtp', 'tcp/8443']);
  });

  it(`says that allow and allowPorts hold at most ${MAX_ALLOW_ENTRIES} together, caps each at that, and the plugin refuses one more`, () => {
    const cameraProps = routerProps.cameras.items.properties;
    for (const field of ['allow', 'allowPorts']) {
      expect(cameraProps[field].maxItems).toBe(MAX_ALLOW_ENTRIES);
      expect(cameraProps[field].description).toContain(`At most ${MAX_ALLOW_ENTRIES} together`);
    }
    // The settings page's camera editor and its help say the same number.
    const page = readFileSync(join(__dirname, '..', 'homebridge-ui', 'public', 'page.js'), 'utf8');
    expect(page).toContain(`const MAX_ALLOW_ENTRIES = ${MAX_ALLOW_ENTRIES};`);
    expect(readFileSync(join(__dirname, '..', 'homebridge-ui', 'public', 'index.html'), 'utf8')).toMatch(new RegExp(`at most ${MAX_ALLOW_ENTRIES} together`));
    const ports = Array.from({ length: MAX_ALLOW_ENTRIES - 2 }, (_, index) => `tcp/${8000 + index}`);
    const fits = camera({ allow: ['dns', 'ntp'], allowPorts: ports });
    expect(parseConfig({ routers: [router({ cameras: [fits] })] }).errors).toEqual([]);
    const over = camera({ allow: ['dns', 'ntp', 'smtp'], allowPorts: ports });
    expect(parseConfig({ routers: [router({ cameras: [over] })] }).errors[0]).toMatch(new RegExp(`at most ${MAX_ALLOW_ENTRIES} services together`));
  });

  it("shows in the settings page's General settings the defaults the plugin uses, so a field left at its default writes nothing that would change", () => {
    const html = readFileSync(join(__dirname, '..', 'homebridge-ui', 'public', 'index.html'), 'utf8');
    const shown = Object.fromEntries([...html.matchAll(/data-general="([^"]+)" data-default="([^"]+)"/g)].map((match) => [match[1], Number(match[2])]));
    const { settings } = parseConfig({ routers: [router()] });
    expect(shown).toEqual({
      pollSeconds: settings.pollMs / 1000,
      'leak.attempts': settings.leak.attempts,
      'leak.uploadMB': settings.leak.uploadBytes / 1_000_000,
      'leak.windowMinutes': settings.leak.windowMs / 60_000,
      'leak.quietMinutes': settings.leak.quietMs / 60_000,
    });
  });

  it('links the README from its header and asks for the custom settings page', () => {
    expect((schema as unknown as { headerDisplay: string }).headerDisplay).toMatch(/\(https:\/\/www\.npmjs\.com\/package\/homebridge-camera-guard#readme\)/);
    expect((schema as unknown as { customUi: boolean }).customUi).toBe(true);
  });

  it('suggests a router name whose lockdown switch fits a Home app tile', () => {
    expect(`${routerProps.name.default} Lockdown`.length).toBeLessThanOrEqual(13);
  });

  it('offers "forget", so the Homebridge UI keeps it when it saves the configuration', () => {
    expect(routerProps.forget).toMatchObject({ type: 'array', items: { type: 'string' } });
    const { settings, errors } = parseConfig({ routers: [router({ forget: ['192.168.1.77', '00:11:22:33:44:55'] })] });
    expect(errors).toEqual([]);
    expect(settings.routers[0]?.forget).toEqual(['192.168.1.77', '00:11:22:33:44:55']);
  });

  it('hides secrets as password fields', () => {
    expect(routerProps.password['x-schema-form']).toEqual({ type: 'password' });
    expect(routerProps.passphrase['x-schema-form']).toEqual({ type: 'password' });
  });

  it('logs in with the password when the owner picked password login, even with a key path left behind', () => {
    const { settings } = parseConfig({ routers: [router({ authMethod: 'password', password: 'secret' })] });
    expect(settings.routers[0]).toMatchObject({ privateKeyFile: undefined, password: 'secret' });
  });
});

describe('camera MAC addresses', () => {
  it('normalises a MAC to lower case with colons', () => {
    const { settings, errors } = parseConfig({ routers: [router({ cameras: [camera({ mac: '00-1A-2B-3C-4D-5E' })] })] });
    expect(errors).toEqual([]);
    expect(settings.routers[0]?.cameras[0]?.mac).toBe('00:1a:2b:3c:4d:5e');
  });

  it.each([
    ['not a MAC', '00:11:22:33:44', /"mac" must be a MAC address/],
    ['a shell injection', '00:11:22:33:44:55;reboot', /"mac" must be a MAC address/],
    ['broadcast', 'ff:ff:ff:ff:ff:ff', /is not a device's own address/],
    ['multicast', '01:00:5e:00:00:01', /is not a device's own address/],
  ])('skips a camera whose "mac" is %s', (_what, mac, message) => {
    const { settings, errors } = parseConfig({ routers: [router({ cameras: [camera({ mac }), camera({ name: 'Garage', address: '192.168.1.51' })] })] });
    expect(errors.some((error) => message.test(error))).toBe(true);
    expect(settings.routers[0]?.cameras.map((c) => c.name)).toEqual(['Garage']);
  });

  it('skips the second of two cameras with one MAC', () => {
    const { settings, errors } = parseConfig({
      routers: [router({ cameras: [camera({ mac: '00:11:22:33:44:55' }), camera({ name: 'Garage', address: '192.168.1.51', mac: '00:11:22:33:44:55' })] })],
    });
    expect(settings.routers[0]?.cameras.map((c) => c.name)).toEqual(['Front Door']);
    expect(errors[0]).toMatch(/"mac" 00:11:22:33:44:55 is already used by camera "Front Door"/);
  });
});

describe('skipped cameras keep what identifies their rules on the router', () => {
  const skippedOf = (cameras: unknown[], overrides: Record<string, unknown> = {}) => parseConfig({ routers: [router({ cameras, ...overrides })] }).settings.routers[0]!.skipped;

  it.each([
    ['an unknown allow entry', camera({ allow: ['http'] }), { name: 'Front Door', address: '192.168.1.50' }],
    ['a bad MAC (its address still identifies it)', camera({ mac: 'ff:ff:ff:ff:ff:ff' }), { name: 'Front Door', address: '192.168.1.50', mac: 'ff:ff:ff:ff:ff:ff' }],
    ['a typo in its address, with a valid MAC', camera({ address: '192.168.1.300', mac: '00-11-22-33-44-55' }), { name: 'Front Door', mac: '00:11:22:33:44:55' }],
    ['a typo in its address and no MAC (it cannot be matched)', camera({ address: '192.168.1.300' }), { name: 'Front Door' }],
    ['no name', camera({ name: '' }), { name: 'Camera 1', address: '192.168.1.50' }],
    ['not an object', 'Front Door', { name: 'Camera 1' }],
  ])('a camera skipped for %s', (_what, bad, identity) => {
    expect(skippedOf([bad, camera({ name: 'Garage', address: '192.168.1.51' })])).toEqual([identity]);
  });

  it('a twin, a MAC twin and a camera past the limit are skipped with their identity', () => {
    const many = Array.from({ length: 101 }, (_, i) => camera({ name: `Cam ${i}`, address: `10.0.${Math.floor(i / 200)}.${(i % 200) + 1}` }));
    expect(skippedOf(many)).toEqual([{ name: 'Cam 100', address: '10.0.0.101' }]);
    expect(skippedOf([camera({ mac: '00:11:22:33:44:55' }), camera({ name: 'Twin' }), camera({ name: 'Mac twin', address: '192.168.1.52', mac: '00:11:22:33:44:55' })])).toEqual([
      { name: 'Twin', address: '192.168.1.50' },
      { name: 'Mac twin', address: '192.168.1.52', mac: '00:11:22:33:44:55' },
    ]);
  });

  it('a camera at this machine\'s own address is skipped with its identity, and the errors say its access is not changed', () => {
    const { settings } = parseConfig({ routers: [router({ cameras: [camera(), camera({ name: 'Homebridge', address: '192.168.1.10' })] })] });
    const { skipped, errors } = excludeInfrastructureAddresses(settings.routers[0]!, ['192.168.1.10']);
    expect(skipped).toEqual([{ name: 'Homebridge', address: '192.168.1.10' }]);
    expect(errors[0]).toMatch(/this camera is skipped and its access is not changed/);
  });

  it('"forget" takes addresses and MACs, and refuses entries that are not, or that name a configured camera', () => {
    const { settings, errors } = parseConfig({ routers: [router({ forget: ['192.168.1.70', '00-AA-bb-cc-dd-ee', '192.168.1.50', 'cam.local', 42, '192.168.1.70'] })] });
    expect(settings.routers[0]?.forget).toEqual(['192.168.1.70', '00:aa:bb:cc:dd:ee']);
    expect(errors).toEqual([
      'Router "EdgeRouter": "forget" entry 192.168.1.50 belongs to a configured camera; it is ignored (remove the camera from "cameras" first).',
      'Router "EdgeRouter": "forget" entry "cam.local" is not an IPv4 address or a MAC address; it is ignored and those rules stay.',
      'Router "EdgeRouter": "forget" entry "42" is not an IPv4 address or a MAC address; it is ignored and those rules stay.',
    ]);
    expect(parseConfig({ routers: [router({ forget: '192.168.1.70' })] }).settings.routers[0]?.forget).toEqual([]);
  });

  it('refuses a second entry that pins the same host key: it is the same router under another address', () => {
    const key = `SHA256:${'A'.repeat(43)}`;
    const { settings, errors } = parseConfig({ routers: [router({ hostKey: key }), router({ name: 'Again', host: 'edgerouter.lan', firstRule: 6000, hostKey: key })] });
    expect(settings.routers.map((r) => r.name)).toEqual(['EdgeRouter']);
    expect(errors[0]).toMatch(/^Router "Again" is the same router as router "EdgeRouter" \(both pin host key SHA256:A+\); .* "Again" is skipped and changes nothing on the router\. Merge its cameras into the first entry\.$/);
  });
});
