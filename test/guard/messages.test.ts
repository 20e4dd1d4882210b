import type { CameraSettings } from '../../src/config';
import * as say from '../../src/guard/messages';
import type { Level, Message } from '../../src/guard/messages';
import { LOG_UNSAFE } from '../../src/log';
import { RouterError } from '../../src/router/driver';
import type { RouterReading, UnlistedCamera } from '../../src/router/driver';
import { recordingLog } from '../helpers/recordingLog';

const camera: CameraSettings = { name: 'Front Door', address: '192.0.2.50', allow: [], allowMinutes: 30 };
const unlisted = (fate: UnlistedCamera['fate'], more: Partial<UnlistedCamera> = {}): UnlistedCamera => ({
  source: '192.0.2.99',
  name: 'Old Porch',
  firstRule: 4030,
  lastRule: 4039,
  access: 'blocked',
  fate,
  ...more,
});
const lost = new RouterError('unreachable', 'the router at 192.0.2.1 cannot be reached (connect ECONNREFUSED).');
const WINDOW = 10 * 60_000;

/** Every exported message, with sample arguments: the name it is exported as, the message, its level, and whether it is said once per run. */
type Row = [fn: keyof typeof say, message: Message, level: Level, once?: 'once'];
const rows: Row[] = [
  ['routerProblem', say.routerProblem(lost, 5_000, 'warn'), 'warn'],
  ['routerProblem', say.routerProblem(lost, undefined, 'error'), 'error'],
  ['routerProblem', say.routerProblem(lost, 400, 'debug'), 'debug'],
  ['reconnected', say.reconnected(), 'info'],
  ['connected', say.connected(), 'debug'],
  ['offloadOn', say.offloadOn(), 'warn'],
  ['offloadUnknown', say.offloadUnknown('the router did not answer within 20 s'), 'debug'],
  ['guardCrashed', say.guardCrashed('x is not a function'), 'error'],
  ['lockdownRefusesOpening', say.lockdownRefusesOpening(camera), 'warn'],
  ['lockdownEntered', say.lockdownEntered(3), 'info'],
  ['lockdownLeft', say.lockdownLeft(), 'info'],
  ['notSaved', say.notSaved('Save failed: no space left on device'), 'warn'],
  ['routerBusy', say.routerBusy(2_000, 2, 5), 'debug'],
  ['confirmed', say.confirmed(camera, 'allowed'), 'info'],
  ['confirmed', say.confirmed(camera, 'blocked'), 'info'],
  ['notApplied', say.notApplied(camera, 'allowed', 'blocked', { result: 'failed', saved: false, detail: 'set firewall name CAMGUARD_OUT rule 4009: Invalid value' }), 'error'],
  ['notApplied', say.notApplied(camera, 'blocked', undefined, { result: 'committed', saved: true, detail: '' }), 'error'],
  ['notApplied', say.notApplied(camera, 'allowed', 'blocked', { result: 'locked', saved: false, detail: 'Configuration system temporarily locked' }), 'error'],
  ['notApplied', say.notApplied(camera, 'blocked', 'allowed', undefined), 'error'],
  ['blockUnconfirmed', say.blockUnconfirmed(camera, 'the connection was lost'), 'warn'],
  ['openingUnconfirmed', say.openingUnconfirmed(camera, 'the connection was lost'), 'error'],
  ['openingDropped', say.openingDropped(camera, 'the router cannot be reached'), 'error'],
  ['unconfirmedAtStop', say.unconfirmedAtStop(camera, 'blocked'), 'error'],
  ['repairDidNotTake', say.repairDidNotTake('the router took it, but its rules still do not read back intact', 20_000), 'warn'],
  ['stillToRepair', say.stillToRepair(['re-create "Front Door" blocked', 'bind CAMGUARD_OUT to eth0 out', 'save', 'one more']), 'debug'],
  ['planned', say.planned(['1', '2', '3', '4', '5', '6', '7']), 'debug'],
  ['flowsCut', say.flowsCut(camera, 2, ['192.0.2.50', '2001:db8:100::50']), 'debug'],
  ['flowsPartlyCut', say.flowsPartlyCut(camera, 'the neighbour table could not be read'), 'warn'],
  ['flowsNotCut', say.flowsNotCut(camera, 'conntrack is not installed'), 'warn'],
  ['closingTimed', say.closingTimed(camera), 'info'],
  ['adopted', say.adopted('OWNER_OUT'), 'info', 'once'],
  ['notEnforced', say.notEnforced('CAMGUARD_OUT'), 'warn'],
  ['routerWarning', say.routerWarning('rule 4005 in the plugin\'s range was not written by it; it is left alone.'), 'warn', 'once'],
  ['routerNote', say.routerNote('left out a configuration line the plugin does not use.'), 'debug', 'once'],
  ['routerOwnAddress', say.routerOwnAddress(camera), 'error', 'once'],
  ['newCamera', say.newCamera(camera), 'info'],
  ['rulesDeleted', say.rulesDeleted(camera), 'warn'],
  ['rulesChanged', say.rulesChanged(camera), 'warn'],
  ['closedByRouter', say.closedByRouter(camera), 'info'],
  ['changedOnRouter', say.changedOnRouter(camera, 'allowed'), 'warn'],
  ['openedDespiteLockdown', say.openedDespiteLockdown(camera), 'warn'],
  ['notInForce', say.notInForce(camera, 'the WAN hook does not jump to CAMGUARD_OUT'), 'error'],
  ['inForceAgain', say.inForceAgain(camera), 'info'],
  ['leak', say.leak(camera, { reason: 'blocked-attempts', amount: 5, windowMs: WINDOW }, 100e6, false), 'warn'],
  ['leak', say.leak(camera, { reason: 'upload', amount: 123_456_789, windowMs: WINDOW }, 100e6, false), 'warn'],
  ['leak', say.leak(camera, { reason: 'block-bypassed', amount: 1, windowMs: WINDOW }, 100e6, false), 'error'],
  ['leak', say.leak(camera, { reason: 'blocked-attempts', amount: 5, windowMs: WINDOW }, 100e6, true), 'debug'],
  ['leak', say.leak(camera, { reason: 'block-bypassed', amount: 1, windowMs: WINDOW }, 100e6, true), 'debug'],
  ['leakCleared', say.leakCleared(camera), 'info'],
  ['foreignDns', say.foreignDns(camera, { address: '8.8.8.8', protocol: 'udp', protocolNumber: 17, port: 53, direction: 'outgoing', flows: 1, unreplied: 0 }, false), 'warn'],
  ['exemptionNeedsAccounting', say.exemptionNeedsAccounting(camera), 'warn', 'once'],
  ['expectedNameNotFound', say.expectedNameNotFound('fw.example.com', 'ENOTFOUND'), 'warn'],
  ['expectedNameNotFound', say.expectedNameNotFound('fw\u001b[31m.example.com', undefined), 'warn'],
  ['unlisted', say.unlisted(unlisted('kept-blocked', { access: 'allowed' })), 'warn', 'once'],
  ['unlisted', say.unlisted(unlisted('kept-blocked')), 'warn', 'once'],
  ['unlisted', say.unlisted(unlisted('kept-as-is')), 'debug', 'once'],
  ['unlisted', say.unlisted(unlisted('frozen', { source: undefined, name: undefined })), 'warn', 'once'],
  ['unlisted', say.unlisted(unlisted('forgotten')), 'warn', 'once'],
  ['unlisted', say.unlisted(unlisted('no-block-rule', { access: undefined })), 'warn', 'once'],
];

/** Exported functions that return a list of messages, tested on their own. */
const LISTS: ReadonlyArray<keyof typeof say> = ['readingMessages'];

/** One line that the owner's log shows as it is: no line break, no control character, no terminal escape. */
function expectOneCleanSentence(text: string): void {
  expect(text).not.toMatch(/[\r\n]/);
  expect(text).not.toMatch(new RegExp(LOG_UNSAFE.source));
  expect(text).toMatch(/\.$/);
  expect(text.trim()).toBe(text);
}

describe('every message the guard says', () => {
  it('the table has every exported message function', () => {
    const exported = Object.entries(say)
      .filter(([name, value]) => typeof value === 'function' && name !== 'Messenger' && name !== 'formatNumber')
      .map(([name]) => name)
      .sort();
    expect([...new Set([...rows.map(([fn]) => fn), ...LISTS])].sort()).toEqual(exported);
  });

  it.each(rows.map(([fn, message, level, once]) => ({ fn, message, level, once: once === 'once' })))('$fn: $level, one sentence on one line', ({ message, level, once }) => {
    expect(message.level).toBe(level);
    expect(message.onceKey !== undefined).toBe(once);
    expectOneCleanSentence(message.text);
  });

  it('says what happened in the owner\'s words and numbers', () => {
    expect(say.routerProblem(lost, 5_000, 'warn').text).toBe(
      'the router at 192.0.2.1 cannot be reached (connect ECONNREFUSED). Camera switches show "No Response" and leak sensors a fault until the router answers; retrying in 5 s.',
    );
    expect(say.routerProblem(lost, undefined, 'warn').text).toMatch(/; retrying shortly\.$/);
    expect(say.routerProblem(lost, 400, 'warn').text).toMatch(/; retrying in 1 s\.$/);
    expect(say.leak(camera, { reason: 'upload', amount: 123_456_789, windowMs: WINDOW }, 100e6, false).text).toBe(
      '"Front Door" (192.0.2.50) LEAK: uploaded 123 MB in the last 10 min, more than the 100 MB allowed; check what it is sending.',
    );
    expect(say.planned(['1', '2', '3', '4', '5', '6', '7']).text).toBe('changing on the router: 1; 2; 3; 4; 5; 6; ....');
    expect(say.stillToRepair(['a', 'b', 'c', 'd']).text).toBe('still to repair: a; b; c.');
    expect(say.notApplied(camera, 'allowed', 'blocked', { result: 'locked', saved: false, detail: 'x' }).text).toMatch(
      /^"Front Door": could not open internet access \(the router stayed busy with another commit\); the switch shows what the router really has \(access off\)\./,
    );
    expect(say.notApplied(camera, 'blocked', undefined, { result: 'committed', saved: true, detail: '' }).text).toMatch(/unknown, its rules are being repaired/);
    expect(say.closingTimed({ ...camera, allowMinutes: 0.5 }).text).toMatch(/after 0\.5 minute\(s\)/);
    expect(say.unlisted(unlisted('kept-blocked')).text).toMatch(/^"Old Porch" \(192\.0\.2\.99\) is no longer in the configuration; its rules 4030-4039 stay on the router .* add "192\.0\.2\.99" to this router's "forget" list/);
    expect(say.unlisted(unlisted('frozen', { source: undefined, name: undefined })).text).toMatch(/^a camera: its rules 4030-4039 are left exactly as they are/);
  });
});

describe('what a reading says about the router as a whole', () => {
  const reading: RouterReading = {
    cameras: new Map(),
    ruleSet: 'OWNER_OUT',
    adopted: true,
    enforced: false,
    unlisted: [unlisted('kept-blocked', { name: '\u001b[31mOld\nPorch' })],
    repairs: [],
    routerAddresses: ['192.0.2.1', camera.address],
    warnings: ['rule 4005 was not written by the plugin.'],
    notes: ['left out a line.'],
    unsaved: false,
  };
  const other: CameraSettings = { ...camera, name: 'Garage', address: '192.0.2.51' };

  it('one message per finding, each at its level and said once where it repeats every poll', () => {
    const messages = say.readingMessages(reading, [camera, other]);
    expect(messages.map(({ level, text, onceKey }) => [level, text.slice(0, 30), onceKey !== undefined])).toEqual([
      ['info', 'the WAN "out" slot already hol', true],
      ['warn', 'the camera ruleset "OWNER_OUT"', false],
      ['warn', 'rule 4005 was not written by t', true],
      ['debug', 'left out a line.', true],
      ['warn', '"Old Porch" (192.0.2.99) is no', true],
      ['error', '"Front Door": 192.0.2.50 is on', true],
    ]);
    messages.forEach(({ text }) => expectOneCleanSentence(text));
  });

  it('nothing to say about a router that is as it should be', () => {
    expect(say.readingMessages({ ...reading, adopted: false, enforced: true, unlisted: [], warnings: [], notes: [] }, [other])).toEqual([]);
  });
});

describe('router text in a message comes out cleaned and cut', () => {
  const ESCAPES = '\u001b[2J\u001b[31mEvil\u001b[0m cam\r\nWARN fake line\u0007';
  type Row2 = [name: string, message: Message, contains: string, absent?: string];
  const table: Row2[] = [
    ['an unlisted camera name with terminal escapes and a line break', say.unlisted(unlisted('kept-blocked', { name: ESCAPES })), '"Evil cam WARN fake line" (192.0.2.99)'],
    ['an unlisted source with an OSC title sequence', say.unlisted(unlisted('forgotten', { source: '\u001b]0;owned\u0007192.0.2.99\n' })), '(192.0.2.99): deleting its rules', 'owned'],
    ['an unlisted name of 1000 characters is cut to 60', say.unlisted(unlisted('kept-as-is', { name: 'A'.repeat(1000) })), `"${'A'.repeat(57)}..." (192.0.2.99): its rules`, 'A'.repeat(58)],
    ['an unlisted source of 1000 characters is cut to 40', say.unlisted(unlisted('kept-blocked', { source: 'b'.repeat(1000) })), `(${'b'.repeat(37)}...)`, 'b'.repeat(38)],
    ['a not-in-force reason with line breaks and escapes', say.notInForce(camera, 'the hook\nrule 10\r\n\u001b[1mjumps\u001b[0m elsewhere'), 'but the hook rule 10 jumps elsewhere, so its packets get out'],
    ['a not-in-force reason of 1000 characters is cut to 200', say.notInForce(camera, 'r'.repeat(1000)), `but ${'r'.repeat(197)}..., so`, 'r'.repeat(198)],
    ['a router error with a line break and an escape (cleaned when it is made)', say.routerProblem(new RouterError('protocol', 'bad\n\u001b[31manswer.'), 1_000, 'warn'), 'bad answer. Camera switches'],
    ['a camera name (from the configuration) with a line break', say.newCamera({ ...camera, name: 'Front\nDoor' }), '"Front?Door" (192.0.2.50) is new'],
    // Reasons are an Error's message: a RouterError's is cleaned when it is made, any other error's is not.
    ['an unexpected error that stopped the guard', say.guardCrashed('boom\n\u001b[31mWARN fake'), '(boom WARN fake)'],
    ['a hardware offload check that failed', say.offloadUnknown('no\r\nanswer'), '(no answer)'],
    ['a block that could not be confirmed', say.blockUnconfirmed(camera, 'socket\nclosed\u0007'), '(socket closed)'],
    ['an opening that could not be confirmed', say.openingUnconfirmed(camera, 'socket\u2028closed'), '(socket closed)'],
    ['connections that could not be cut', say.flowsNotCut(camera, 'x'.repeat(1000)), `(${'x'.repeat(197)}...)`, 'x'.repeat(198)],
  ];
  // Objects, not arrays: Jest would take a missing `absent` for a `done` callback.
  it.each(table.map(([name, message, contains, absent]) => ({ name, message, contains, absent })))('$name', ({ message, contains, absent }) => {
    expectOneCleanSentence(message.text);
    expect(message.text).toContain(contains);
    if (absent !== undefined) {
      expect(message.text).not.toContain(absent);
    }
    expect(message.text.length).toBeLessThan(700);
  });
});

describe('Messenger', () => {
  it('says a once-message once per run and every other message every time, at its level', () => {
    const log = recordingLog();
    const messenger = new say.Messenger(log);
    messenger.say(say.adopted('OWNER_OUT'));
    messenger.say(say.reconnected());
    messenger.say(say.adopted('OWNER_OUT'));
    messenger.say(say.reconnected());
    messenger.say(undefined);
    messenger.say(say.routerWarning('rule 4005 was not written by the plugin.'));
    messenger.say(say.routerWarning('rule 4006 was not written by the plugin.'));
    messenger.say(say.routerWarning('rule 4005 was not written by the plugin.'));
    messenger.say(say.unlisted(unlisted('kept-blocked', { access: 'allowed' })));
    messenger.say(say.unlisted(unlisted('kept-blocked')));
    messenger.say(say.unlisted(unlisted('forgotten')));
    messenger.say(say.routerNote('a note.'));
    messenger.say(say.routerNote('a note.'));
    messenger.say(say.leak(camera, { reason: 'block-bypassed', amount: 1, windowMs: WINDOW }, 100e6, false));
    const line = (message: Message): string => `${message.level.toUpperCase()} ${message.text}`;
    expect(log.lines).toEqual([
      line(say.adopted('OWNER_OUT')),
      line(say.reconnected()),
      line(say.reconnected()),
      'WARN rule 4005 was not written by the plugin.',
      'WARN rule 4006 was not written by the plugin.',
      line(say.unlisted(unlisted('kept-blocked', { access: 'allowed' }))),
      line(say.unlisted(unlisted('forgotten'))),
      'DEBUG a note.',
      line(say.leak(camera, { reason: 'block-bypassed', amount: 1, windowMs: WINDOW }, 100e6, false)),
    ]);
  });

  it('keeps its memory per Messenger: another run says the once-message again', () => {
    const first = recordingLog();
    const second = recordingLog();
    new say.Messenger(first).say(say.adopted('OWNER_OUT'));
    new say.Messenger(second).say(say.adopted('OWNER_OUT'));
    expect([first.lines.length, second.lines.length]).toEqual([1, 1]);
  });
});
