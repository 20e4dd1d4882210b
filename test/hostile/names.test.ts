/**
 * Owners name cameras whatever they like. Whatever they typed, the Home app must accept the accessory's names,
 * and the router must get a rule description that is safe on a command line and reads back unchanged.
 */
import fc from 'fast-check';

import type { CameraSettings } from '../../src/config';
import { NAMED_SERVICES } from '../../src/config';
import { homeKitName } from '../../src/homekit/names';
import { shellWord } from '../../src/router/edgeos/commands';
import { readFirewall } from '../../src/router/edgeos/firewallConfig';
import { parseConfigCommands } from '../../src/router/edgeos/parsers';
import { RuleSetLayout, descriptionName } from '../../src/router/edgeos/ruleSetLayout';
import { ruleSetPaths } from '../../src/router/edgeos/commands';
import { countGeneratedInputs } from './countInputs';

countGeneratedInputs(__filename);
// HAP-NodeJS's own check (it only warns, through console.warn), so the test follows HAP-NodeJS if it changes.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { checkName } = require('@homebridge/hap-nodejs/dist/lib/util/checkName') as { checkName: (displayName: string, name: string, value: unknown) => void };

/** HAP-NodeJS's rule, verbatim from lib/util/checkName.js. */
const HAP_NAME = /^[\p{L}\p{N}][\p{L}\p{N}\p{Zs}\u2019'&!._:;()/,-]*[\p{L}\p{N}]$/u;
/** HAP-NodeJS refuses string values longer than this (Characteristic maxLen default, UTF-16 units). */
const HAP_MAX = 64;
const FALLBACK = 'Camera';

/** True when HAP-NodeJS's own checkName stays silent about the value. */
function hapAccepts(value: string): boolean {
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  try {
    checkName('Camera Guard', 'Name', value);
    return warn.mock.calls.length === 0;
  } finally {
    warn.mockRestore();
  }
}

function expectValidHomeKitName(value: string): void {
  expect(value).toMatch(HAP_NAME);
  expect(value.length).toBeLessThanOrEqual(HAP_MAX);
  // The accessory names its switch and sensor `${name} Internet` / `${name} Leak`: those must fit too.
  for (const service of [`${value} Internet`, `${value} Leak`]) {
    expect(service).toMatch(HAP_NAME);
    expect(service.length).toBeLessThanOrEqual(HAP_MAX);
  }
}

const DESCRIPTION_WORDS = /^[A-Za-z0-9 _.,:()#@+-]+$/;

/** Writes a camera's rules as the router would print them back, then reads them as the driver does. */
function roundTrip(camera: CameraSettings, quoteEverything: boolean): { descriptions: string[]; classified: ReturnType<RuleSetLayout['classify']> } {
  const layout = new RuleSetLayout(4000);
  const specs = layout.rulesFor(camera, 3, 'blocked');
  // EdgeOS leaves simple values bare and single-quotes the others; VyOS 1.1 single-quotes every value.
  const lines = specs.flatMap((spec) =>
    ruleSetPaths('CAMGUARD_OUT', spec).map((path) => {
      const words = path.map(shellWord);
      if (quoteEverything && path.length > 6) {
        words[words.length - 1] = `'${path[path.length - 1]}'`;
      }
      return `set ${words.join(' ')}`;
    }),
  );
  const parsed = parseConfigCommands(['set system host-name ubnt', ...lines].join('\n'));
  if (!parsed.ok) {
    throw new Error(parsed.error);
  }
  const ruleSet = readFirewall(parsed.value.paths).ruleSets.get('CAMGUARD_OUT');
  return {
    descriptions: specs.map((spec) => ruleSet?.rules.get(spec.number)?.description ?? '(missing)'),
    classified: layout.classify(ruleSet, camera, 3),
  };
}

const camera = (name: string): CameraSettings => ({ name, address: '192.168.1.50', allow: [NAMED_SERVICES.dns!, { label: 'tcp/65535', protocol: 'tcp', ports: [65535] }], allowMinutes: 0 });

const hostileNames: Array<[string, string]> = [
  ['an emoji', 'Front Door 📷'],
  ['only emoji', '📷🎥'],
  ['an emoji ZWJ sequence', '👨‍👩‍👧 Kids'],
  ['double quotes', 'The "Front" Door'],
  ['a single quote', "Kid's Room"],
  ['a curly apostrophe at the end', 'Kids’'],
  ['backslashes', 'Back\\yard\\'],
  ['a command substitution', '$(reboot) Garage `id`'],
  ['a shell sequence', "Porch'; rm -rf / #"],
  ['trailing punctuation', 'Garage!!!'],
  ['leading punctuation', '...Garage'],
  ['leading and trailing spaces', '   Garden   '],
  ['tabs and newlines', 'Front\tDoor\nCam'],
  ['100 characters', 'A'.repeat(100)],
  ['120 characters of words', 'Front Door Camera '.repeat(7)],
  ['an emoji cut at the length limit', `${'a'.repeat(54)}😀bc`],
  ['a letter outside the BMP at the length limit', `${'a'.repeat(54)}𝐀𝐁`],
  ['Hebrew (right to left)', 'מצלמה כניסה'],
  ['Arabic with a right-to-left mark', '\u200fكاميرا الباب'],
  ['a bidi override', 'Gate \u202eevil\u202c'],
  ['zero-width characters', 'Fr\u200bont\u200d Do\ufeffor'],
  ['a decomposed accent', 'Ame\u0301lie'],
  ['Japanese', '玄関カメラ'],
  ['only symbols', '!!!???***'],
  ['only spaces', '     '],
  ['the empty string', ''],
  ['one letter', 'A'],
  ['one digit', '7'],
  ['a NUL and control characters', 'Cam\u0000era\u0007\u001b[31m'],
  ['a lone surrogate', 'Cam\ud800era'],
  ['line and paragraph separators', 'Front\u2028Door\u2029'],
  ['a non-breaking and an ideographic space', 'Front\u00a0Door\u3000Cam'],
];

describe('camera names with emoji, quotes, punctuation and odd characters', () => {
  it.each(hostileNames)('give a name the Home app accepts, for %s', (_what, name) => {
    const result = homeKitName(name, FALLBACK);
    expectValidHomeKitName(result);
    expect(hapAccepts(result)).toBe(true);
  });

  it('keep the words the owner typed, minus what HomeKit cannot show', () => {
    expect(homeKitName('Front Door 📷', FALLBACK)).toBe('Front Door');
    expect(homeKitName('Garage!!!', FALLBACK)).toBe('Garage');
    expect(homeKitName("Kid's Room", FALLBACK)).toBe("Kid's Room");
    expect(homeKitName('Front\tDoor\nCam', FALLBACK)).toBe('Front Door Cam');
    expect(homeKitName('Ame\u0301lie', FALLBACK)).toBe('Amélie');
    expect(homeKitName('Fr\u200bont\u200d Do\ufeffor', FALLBACK)).toBe('Front Door');
    expect(homeKitName('מצלמה כניסה', FALLBACK)).toBe('מצלמה כניסה');
  });

  it('use the fallback for a name with no letter or digit, and keep a one-character name after it', () => {
    expect(homeKitName('📷🎥', FALLBACK)).toBe(FALLBACK);
    expect(homeKitName('!!!???***', FALLBACK)).toBe(FALLBACK);
    expect(homeKitName('', FALLBACK)).toBe(FALLBACK);
    expect(homeKitName('7', FALLBACK)).toBe('Camera 7');
    expect(homeKitName('📷 A 📷', FALLBACK)).toBe('Camera A');
  });

  it.each(hostileNames)('give a rule description that is safe for the shell and reads back unchanged, for %s', (_what, name) => {
    const description = descriptionName(name);
    expect(description).toMatch(DESCRIPTION_WORDS);
    expect(description.length).toBeLessThanOrEqual(48);
    expect(description).toBe(description.trim());
    for (const quoteEverything of [false, true]) {
      const { descriptions, classified } = roundTrip(camera(name), quoteEverything);
      expect(descriptions).toEqual([
        `camera-guard: ${description} (allow dns)`,
        `camera-guard: ${description} (allow tcp/65535)`,
        `camera-guard: ${description} (tries log)`,
        `camera-guard: ${description} (block)`,
        `camera-guard: ${description} (egress count)`,
      ]);
      expect(classified).toEqual({ status: 'intact', access: 'blocked' });
    }
  });

  it('keep word gaps in rule descriptions when the owner typed tabs or line breaks', () => {
    expect(descriptionName('Front\tDoor\nCam')).toBe('Front Door Cam');
    expect(descriptionName("Porch'; rm -rf / #")).toBe('Porch rm -rf #');
    expect(descriptionName('Ame\u0301lie')).toBe('Amelie');
  });
});

/** Any text at all: full Unicode (lone surrogates included), graphemes, and names built from hostile pieces. */
const anyName = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 150 }),
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  fc.string({ unit: 'binary-ascii', maxLength: 150 }),
  fc
    .array(
      fc.constantFrom('Front', 'Door', ' ', '  ', '📷', '👨‍👩‍👧', '"', "'", '’', '\\', '$(reboot)', '`id`', '!', '?', '.', '-', '\u200b', '\u200f', '\u202e', '\u0301', '\t', '\n', '\u0000', 'é', 'ß', 'מ', '玄', '𝐀', '7', 'x'.repeat(60)),
      { maxLength: 20 },
    )
    .map((parts) => parts.join('')),
);

describe('any camera name (fast-check)', () => {
  it('becomes a HomeKit name that HAP-NodeJS accepts, 64 characters at most with its service suffix, or the fallback', () => {
    fc.assert(
      fc.property(anyName, (name) => {
        const result = homeKitName(name, FALLBACK);
        expectValidHomeKitName(result);
        // A name with a letter or digit in it is never thrown away for the fallback.
        if (/[\p{L}\p{N}]/u.test(name.normalize('NFC'))) {
          expect(result).not.toBe(FALLBACK);
        }
        // Cleaning a clean name changes nothing: what the Home app shows is stable across restarts.
        expect(homeKitName(result, FALLBACK)).toBe(result);
      }),
      { numRuns: 3000 },
    );
  });

  it('becomes a rule description the shell quoting accepts and that the router reads back unchanged', () => {
    fc.assert(
      fc.property(anyName, fc.boolean(), (name, quoteEverything) => {
        const description = descriptionName(name);
        expect(description).toMatch(DESCRIPTION_WORDS);
        expect(description.length).toBeLessThanOrEqual(48);
        expect(() => shellWord(`camera-guard: ${description} (egress count)`)).not.toThrow();
        const { descriptions, classified } = roundTrip(camera(name), quoteEverything);
        expect(descriptions.every((text) => text.startsWith(`camera-guard: ${description} (`))).toBe(true);
        expect(classified).toEqual({ status: 'intact', access: 'blocked' });
      }),
      { numRuns: 2000 },
    );
  });
});
