/**
 * `allowDestinations` (issue 12): each entry an address, a CIDR or a host name. A wrong entry is said in a sentence
 * that names the camera, the entry and what is accepted, and is left out: the camera still loads with the rest.
 */
import { parseConfig } from '../src/config';
import { MAX_EXPECTED_DESTINATIONS } from '../src/destinations/expected';

const camera = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({ name: 'Front Door', address: '192.168.1.50', ...overrides });
const config = (cameraEntry: Record<string, unknown>): unknown => ({
  routers: [{ name: 'EdgeRouter', host: '192.168.1.1', username: 'homebridge', privateKeyFile: '/k', cameras: [cameraEntry] }],
});

function read(entries: unknown): { labels: string[] | undefined; errors: readonly string[]; loaded: boolean } {
  const { settings, errors } = parseConfig(config(camera({ allowDestinations: entries })));
  const loaded = settings.routers[0]?.cameras[0];
  return { labels: loaded?.allowDestinations?.map((entry) => entry.label), errors, loaded: loaded !== undefined };
}

describe('allowDestinations', () => {
  it('reads addresses, CIDRs of both families and host names, cleaned and each once', () => {
    const { labels, errors } = read(['1.1.1.1', '203.0.113.0/24', '2001:DB8:0:0::/32', '2606:4700:4700::1111', 'Firmware.Example.COM.', '1.1.1.1', '::ffff:10.0.0.0/104']);
    expect(errors).toEqual([]);
    expect(labels).toEqual(['1.1.1.1', '203.0.113.0/24', '2001:db8::/32', '2606:4700:4700::1111', 'firmware.example.com', '10.0.0.0/8']);
  });

  it('leaves none and says nothing when the camera lists none', () => {
    const { settings, errors } = parseConfig(config(camera()));
    expect(errors).toEqual([]);
    expect(settings.routers[0]?.cameras[0]).not.toHaveProperty('allowDestinations');
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['a wildcard', '*.example.com', /"\*\.example\.com" is a wildcard, which is not supported/],
    ['an IPv4 address out of range', '192.168.1.300', /is not a valid IPv4 address/],
    ['a prefix too long', '10.0.0.0/33', /prefix length above 32/],
    ['an IPv6 prefix too long', '2001:db8::/129', /prefix length above 128/],
    ['host bits past the prefix', '10.1.2.3/8', /bits set beyond its \/8 prefix; write the network's first address \(10\.0\.0\.0\/8\)/],
    ['a label too long', `${'a'.repeat(64)}.example.com`, /is not a host name: use labels of 1 to 63/],
    ['a name too long', `${'abcdefghi.'.repeat(26)}com`, /longer than the 253 characters/],
    ['a single label', 'firmware', /is not a host name/],
    ['a shell injection', 'a.com; reboot', /is not a host name/],
    ['a label starting with "-"', '-x.example.com', /is not a host name/],
    ['a number', 42, /"42" must be an IPv4 or IPv6 address/],
    ['a zone', 'fe80::1%eth0', /is not a valid address or CIDR/],
  ];

  it.each(bad)('refuses %s, naming the camera, the entry and what is accepted, and keeps the camera with the rest', (_what, entry, message) => {
    const { labels, errors, loaded } = read(['1.1.1.1', entry]);
    expect(loaded).toBe(true);
    expect(labels).toEqual(['1.1.1.1']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^Router "EdgeRouter", camera "Front Door": "allowDestinations" entry /);
    expect(errors[0]).toMatch(message);
    expect(errors[0]).toMatch(/it is left out, and the camera is guarded with the other entries\.$/);
  });

  it('refuses a value that is not a list, and loads the camera without expected destinations', () => {
    const { labels, errors, loaded } = read('1.1.1.1');
    expect(loaded).toBe(true);
    expect(labels).toBeUndefined();
    expect(errors).toEqual([expect.stringMatching(/"allowDestinations" must be a list of entries, each an IPv4 or IPv6 address/)]);
  });

  it(`keeps at most ${MAX_EXPECTED_DESTINATIONS} entries and says which were left out`, () => {
    const many = Array.from({ length: MAX_EXPECTED_DESTINATIONS + 3 }, (_, index) => `198.51.100.${index + 1}`);
    const { labels, errors } = read(many);
    expect(labels).toHaveLength(MAX_EXPECTED_DESTINATIONS);
    expect(errors).toEqual([expect.stringMatching(new RegExp(`at most ${MAX_EXPECTED_DESTINATIONS} entries; "198\\.51\\.100\\.${MAX_EXPECTED_DESTINATIONS + 1}" and those after it are left out`))]);
  });
});
