/**
 * Every sentence the guard tells the owner, and its level, in one place. Each is one sentence: what happened and
 * what to do. Names come from the owner's configuration (made printable); router text is cleaned and cut.
 */
import type { CameraSettings } from '../config';
import { printable } from '../config';
import type { Log } from '../log';
import { routerWords } from '../log';
import type { Access, ApplyOutcome, RouterError, RouterReading, UnlistedCamera } from '../router/driver';
import { BYTES_PER_MB } from '../settings';
import { ACCOUNTING_ON_COMMAND } from '../destinations/conntrack';
import type { FlowDestination } from '../destinations/conntrack';
import { describeDestination } from '../destinations/summary';
import type { DestinationDescription, NetworkName } from '../destinations/summary';
import type { TriedList } from './destinationBook';
import { flowDescription, triedDescription } from './destinationBook';
import type { LeakTrip } from './leakDetector';

export type Level = 'info' | 'warn' | 'error' | 'debug';

export interface Message {
  readonly level: Level;
  readonly text: string;
  /** Set for messages said once per run: the same key is not said again. */
  readonly onceKey?: string;
}

/** Writes messages to the owner's log, each once-message once per run. */
export class Messenger {
  private readonly said = new Set<string>();

  constructor(private readonly log: Log) {}

  say(message: Message | undefined): void {
    if (message === undefined) {
      return;
    }
    if (message.onceKey !== undefined) {
      if (this.said.has(message.onceKey)) {
        return;
      }
      this.said.add(message.onceKey);
    }
    this.log[message.level](message.text);
  }
}

const info = (text: string): Message => ({ level: 'info', text });
const warn = (text: string): Message => ({ level: 'warn', text });
const error = (text: string): Message => ({ level: 'error', text });
const debug = (text: string): Message => ({ level: 'debug', text });
const once = (key: string, message: Message): Message => ({ ...message, onceKey: key });

const quoted = (camera: Pick<CameraSettings, 'name'>): string => `"${printable(camera.name)}"`;
const named = (camera: Pick<CameraSettings, 'name' | 'address'>): string => `"${printable(camera.name)}" (${camera.address})`;
const opened = (access: Access): string => (access === 'allowed' ? 'opened' : 'blocked');
const open = (access: Access): string => (access === 'allowed' ? 'open' : 'block');

/** Three significant digits are plenty for a log line: 1.25 MB, 150 MB, 0.5 min. */
export function formatNumber(value: number): string {
  return String(Number(value.toPrecision(3)));
}

// ---- the connection ----

/** A problem with the router: said when an outage starts; while it lasts, only at debug level. */
export function routerProblem(problem: RouterError, retryMs: number | undefined, level: Level): Message {
  const retry = retryMs === undefined ? 'retrying shortly' : `retrying in ${Math.max(1, Math.round(retryMs / 1000))} s`;
  return { level, text: `${problem.message} Camera switches show "No Response" and leak sensors a fault until the router answers; ${retry}.` };
}

export const reconnected = (): Message => info('connected to the router again; guarding resumes.');
export const connected = (): Message => debug('connected to the router.');

export const offloadOn = (): Message =>
  warn(
    'hardware offload is on, so uploads from allowed cameras bypass the firewall counters and are under-counted; ' +
      'blocked attempts are still counted exactly. Turn offload off on the router if upload alarms matter to you.',
  );
export const offloadUnknown = (reason: string): Message => debug(`could not check hardware offload (${routerWords(reason)}); will try after the next reconnect.`);

export const guardCrashed = (reason: string): Message => error(`stopped guarding after an unexpected error (${routerWords(reason)}); restart Homebridge to resume.`);

// ---- requests and transactions ----

export const lockdownRefusesOpening = (camera: CameraSettings): Message => warn(`${quoted(camera)} stays blocked because Lockdown is on; turn Lockdown off first.`);
export const lockdownEntered = (cameras: number): Message => info(`Lockdown on: blocking the internet access of all ${cameras} camera(s).`);
export const lockdownLeft = (): Message => info("Lockdown off: restoring each camera's access from before the lockdown.");

export const notSaved = (detail: string): Message =>
  warn(`the change was applied but could not be saved on the router (${detail}); it would be lost if the router restarts, so saving is retried.`);

export const routerBusy = (delayMs: number, attempt: number, of: number): Message =>
  debug(`the router is busy with another commit; trying again in ${delayMs / 1000} s (attempt ${attempt} of ${of}).`);

export const confirmed = (camera: CameraSettings, access: Access): Message => info(`${quoted(camera)}: internet access ${opened(access)} from HomeKit.`);

export function notApplied(camera: CameraSettings, wanted: Access, actual: Access | undefined, outcome: ApplyOutcome | undefined): Message {
  const why = outcome ? ` (${whyNotApplied(outcome)})` : '';
  return error(
    `${quoted(camera)}: could not ${open(wanted)} internet access${why}; ` + `the switch shows what the router really has (${describe(actual)}). Try again, or check the router's log.`,
  );
}

export const blockUnconfirmed = (camera: CameraSettings, reason: string): Message =>
  warn(`${quoted(camera)}: the block could not be confirmed (${routerWords(reason)}); it will be applied as soon as the router answers.`);
export const openingUnconfirmed = (camera: CameraSettings, reason: string): Message =>
  error(`${quoted(camera)}: could not confirm that internet access opened (${routerWords(reason)}); the switch shows what the router reports once it answers again.`);
export const openingDropped = (camera: CameraSettings, reason: string): Message =>
  error(`${quoted(camera)}: could not open internet access because ${reason}; the switch shows "No Response" until the router answers, then what the router has.`);
export const unconfirmedAtStop = (camera: CameraSettings, access: Access): Message =>
  error(
    `${quoted(camera)}: could not confirm that internet access was ${opened(access)} before Homebridge stopped; ` +
      'after the restart the switch shows what the router has. Set it again then if it is not what you want.',
  );

export const repairDidNotTake = (why: string, delayMs: number): Message =>
  warn(`the repair of the camera rules did not take (${why}); the cameras concerned show "No Response" and it is tried again in ${Math.round(delayMs / 1000)} s.`);
export const stillToRepair = (repairs: readonly string[]): Message => debug(`still to repair: ${repairs.slice(0, 3).join('; ')}.`);
export const planned = (steps: readonly string[]): Message => debug(`changing on the router: ${steps.slice(0, 6).join('; ')}${steps.length > 6 ? '; ...' : ''}.`);

export const flowsCut = (camera: CameraSettings, flows: number, addresses: readonly string[]): Message =>
  debug(`${quoted(camera)}: cut ${flows} open connection(s) from ${addresses.join(', ')}.`);
export const flowsPartlyCut = (camera: CameraSettings, problem: string): Message =>
  warn(
    `${quoted(camera)}: blocked, and its connections from ${camera.address} were cut, but ${problem}; ` +
      'connections it has open from other addresses (IPv6, or a new DHCP lease) may go on until they end.',
  );
export const flowsNotCut = (camera: CameraSettings, reason: string): Message =>
  warn(`${quoted(camera)}: blocked, but its open connections could not be cut (${routerWords(reason)}); an upload already in progress may go on until it ends.`);

export const closingTimed = (camera: CameraSettings): Message =>
  info(`${quoted(camera)}: closing internet access again after ${formatNumber(camera.allowMinutes)} minute(s), as configured by "allowMinutes".`);

// ---- what a reading shows ----

export const adopted = (ruleSet: string): Message =>
  once(
    `adopted:${ruleSet}`,
    info(`the WAN "out" slot already holds your ruleset "${ruleSet}", so the camera rules go into it; your own rules there are left untouched.`),
  );
export const notEnforced = (ruleSet: string): Message => warn(`the camera ruleset "${ruleSet}" is missing or not bound to the WAN interface; setting it up now.`);
export const routerWarning = (text: string): Message => once(`warning:${text}`, warn(text));
export const routerNote = (text: string): Message => once(`note:${text}`, debug(text));
export const routerOwnAddress = (camera: CameraSettings): Message =>
  once(`router-address:${camera.address}`, error(`${quoted(camera)}: ${camera.address} is one of the router's own addresses, not a camera's; fix "address".`));

/** What a reading says about the router as a whole (and about camera addresses that are the router's own). */
export function readingMessages(reading: RouterReading, cameras: readonly CameraSettings[]): Message[] {
  const routerOwn = new Set(reading.routerAddresses);
  return [
    ...(reading.adopted ? [adopted(reading.ruleSet)] : []),
    ...(reading.enforced ? [] : [notEnforced(reading.ruleSet)]),
    ...reading.warnings.map(routerWarning),
    ...reading.notes.map(routerNote),
    ...reading.unlisted.map(unlisted),
    ...cameras.filter((camera) => routerOwn.has(camera.address)).map(routerOwnAddress),
  ];
}

export const newCamera = (camera: CameraSettings): Message => info(`${named(camera)} is new: its rules are being created with internet access blocked.`);
export const rulesDeleted = (camera: CameraSettings): Message => warn(`${quoted(camera)}: its rules were deleted on the router; re-creating them with internet access blocked.`);
export const rulesChanged = (camera: CameraSettings): Message =>
  warn(`${quoted(camera)}: its rules were changed on the router and can no longer be trusted; re-creating them with internet access blocked.`);

export const closedByRouter = (camera: CameraSettings): Message =>
  info(`${quoted(camera)}: internet access closed by the router itself at the end of its ${formatNumber(camera.allowMinutes)} minute(s) ("allowMinutes").`);
export const changedOnRouter = (camera: CameraSettings, access: Access): Message => warn(`${quoted(camera)}: internet access was ${opened(access)} on the router, outside HomeKit.`);
export const openedDespiteLockdown = (camera: CameraSettings): Message =>
  warn(`${quoted(camera)} was opened on the router although Lockdown is on; Lockdown does not override changes made on the router.`);

/** A reason that says what to do itself (an owner's rule ahead of the camera's: "…: delete it, …") needs no restart hint. */
const saysWhatToDo = (why: string): boolean => why.includes(': delete it');

export const notInForce = (camera: CameraSettings, why: string): Message =>
  error(
    `${named(camera)} LEAK: its block is not in force: the router's configuration blocks it, but ${routerWords(why)}, so its packets get out; ` +
      `the switch shows On and the leak sensor stays tripped until the block is in force again${saysWhatToDo(why) ? '' : ' (restarting the router rebuilds its firewall from the configuration)'}.`,
  );
export const inForceAgain = (camera: CameraSettings): Message => info(`${named(camera)}: its block is in force in the router's firewall again.`);

/** A leak: a warning (an error when the block is bypassed) when the sensor trips, debug while it stays tripped. */
export function leak(camera: CameraSettings, trip: LeakTrip, uploadBytes: number, alreadyDetected: boolean, where: LeakDestinations = {}): Message {
  const name = named(camera);
  const minutes = `${formatNumber(trip.windowMs / 60_000)} min`;
  let text: string;
  switch (trip.reason) {
    case 'blocked-attempts':
      // The exact total is the counter's; the destinations come from the rate-limited log, so their counts are a sample.
      text =
        where.tried !== undefined && where.tried.destinations.length > 0
          ? `${name} LEAK: kept trying to reach the internet while blocked: ${trip.amount} tries in ${minutes}, to ${triedLine(where.tried, where.names, where.expected)}.`
          : `${name} LEAK: ${trip.amount} blocked packet(s) toward the internet in the last ${minutes} while its access is off; it keeps trying to phone home.`;
      break;
    case 'upload': {
      const most = where.sentMost;
      const mark = most === undefined || where.expected === undefined ? '' : where.expected(most.address) ? ' (an expected destination)' : ' (not an expected destination)';
      text =
        `${name} LEAK: uploaded ${formatNumber(trip.amount / BYTES_PER_MB)} MB in the last ${minutes}, more than the ${formatNumber(uploadBytes / BYTES_PER_MB)} MB allowed` +
        `${most === undefined ? '' : `, most of it to ${describeDestination(withName(flowDescription(most), where.names))}${mark}`}; check what it is sending.`;
      break;
    }
    case 'block-bypassed':
      text = `${name} LEAK: ${trip.amount} packet(s) reached the internet in the last ${minutes} although its access is off; the block is not working, check the router's firewall for rules ahead of the camera rules.`;
      break;
  }
  return { level: alreadyDetected ? 'debug' : trip.reason === 'block-bypassed' ? 'error' : 'warn', text };
}
/** What the readings told of where a leaking camera went. */
export interface LeakDestinations {
  /** Its logged tries this leak episode (blocked). */
  readonly tried?: TriedList;
  /** The destination it sent the most to, from the latest flows (allowed). */
  readonly sentMost?: FlowDestination;
  /** Reverse names that have arrived (names still on their way are simply left out). */
  readonly names?: { nameOf(address: string): string | undefined; networkOf?(address: string): NetworkName | undefined };
  /** Whether the camera is expected to reach an address (cameraWatch.ts): unexpected destinations are named first. */
  readonly expected?: (address: string) => boolean;
}

/** The tries of the trip line: the three with the most tries described, the others counted, cut to the log's bound. */
const TRIED_SHOWN = 3;
function triedLine(tried: TriedList, names: LeakDestinations['names'], expected: LeakDestinations['expected']): string {
  // Unexpected destinations first (the list is busiest first; sort is stable, so each part keeps that order).
  const isExpected = (address: string): boolean => expected?.(address) === true;
  const ordered = [...tried.destinations].sort((a, b) => Number(isExpected(a.address)) - Number(isExpected(b.address)));
  const shown = ordered
    .slice(0, TRIED_SHOWN)
    .map((destination) => `${describeDestination(withName(triedDescription(destination), names))} logged${isExpected(destination.address) ? ' (expected)' : ''}`);
  const more = tried.destinations.length - shown.length + tried.others;
  return routerWords(`${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`, TRIED_LINE_MAX);
}
function withName(destination: DestinationDescription, names: LeakDestinations['names']): DestinationDescription {
  const hostName = names?.nameOf(destination.address);
  const network = names?.networkOf?.(destination.address);
  return { ...destination, ...(hostName === undefined ? {} : { hostName }), ...(network === undefined ? {} : { network }) };
}
/** The longest destination list in a trip line. */
const TRIED_LINE_MAX = 400;

/** DNS sent past the router by a camera with `tripOnForeignDns`: a warning when the sensor trips, debug while it stays tripped. */
export function foreignDns(camera: CameraSettings, destination: FlowDestination, alreadyDetected: boolean, names?: LeakDestinations['names']): Message {
  const where = withName({ ...flowDescription(destination) }, names);
  const service = describeDestination(where).replace(/, \d+ flows?(, .* sent)?$/, '');
  return {
    level: alreadyDetected ? 'debug' : 'warn',
    text: `${named(camera)} LEAK: sent DNS to ${service} instead of the router ("tripOnForeignDns"); check the camera's DNS settings, or add the server to "allowDestinations" if it is one you chose.`,
  };
}

/** An allowed camera with `allowDestinations` whose uploads to them cannot be told apart: said once per camera. */
export const exemptionNeedsAccounting = (camera: CameraSettings): Message =>
  once(
    `exemption-accounting:${camera.address}`,
    warn(
      `${quoted(camera)}: uploads to its expected destinations ("allowDestinations") cannot be left out of the upload alarm, because the router does not count bytes per connection; ` +
        `every byte it sends counts toward "uploadMB" until you run "${ACCOUNTING_ON_COMMAND}" on the router (again after each reboot).`,
    ),
  );

/** A host name in `allowDestinations` that does not resolve from the Homebridge host: said once per name until it resolves. */
export const expectedNameNotFound = (name: string, code: string | undefined): Message =>
  warn(
    `the host name "${printable(name)}" in "allowDestinations" does not resolve from this Homebridge machine${code === undefined ? '' : ` (${code})`}, ` +
      'so traffic to it counts as unexpected for now; check the spelling. It is looked up again every few minutes.',
  );

export const leakCleared = (camera: CameraSettings): Message => info(`${quoted(camera)}: no unexpected traffic for a while; its leak sensor is clear again.`);

/** What becomes of the rules of a camera that is not configured, said once per camera and fate. */
export function unlisted(camera: UnlistedCamera): Message {
  const source = camera.source === undefined ? undefined : routerWords(camera.source, 40);
  const who = `${camera.name === undefined ? 'a camera' : `"${routerWords(camera.name, 60)}"`}${source === undefined ? '' : ` (${source})`}`;
  const rules = `rules ${camera.firstRule}-${camera.lastRule}`;
  const release =
    source === undefined
      ? 'If you removed it on purpose, delete those rules on the router.'
      : `If you removed it on purpose, add "${source}" to this router's "forget" list and its rules are deleted; it then has unrestricted internet access.`;
  const key = `unlisted:${camera.firstRule}:${camera.source ?? ''}:${camera.fate}`;
  switch (camera.fate) {
    case 'kept-blocked':
      return once(
        key,
        camera.access === 'allowed'
          ? warn(`${who} is no longer in the configuration but its ${rules} let it reach the internet; blocking it now, so a camera removed by mistake cannot get out. ${release}`)
          : warn(`${who} is no longer in the configuration; its ${rules} stay on the router and keep it blocked, so a camera removed by mistake cannot get out. ${release}`),
      );
    case 'kept-as-is':
      return once(key, debug(`${who}: its ${rules} belong to a camera entry that is skipped, so they are left exactly as they are.`));
    case 'frozen':
      return once(
        key,
        warn(
          `${who}: its ${rules} are left exactly as they are, because a skipped camera entry could not be matched to its rules (its address is not valid): ` +
            'until that entry is fixed, the plugin removes or changes no rules of unconfigured cameras on this router.',
        ),
      );
    case 'forgotten':
      return once(key, warn(`${who}: deleting its ${rules} as "forget" asks; it now has unrestricted internet access.`));
    case 'no-block-rule':
      return once(
        key,
        warn(`${who} is no longer in the configuration and its ${rules} have no drop rule left, so nothing blocks it; put the camera back in the configuration, or delete those rules on the router.`),
      );
  }
}

function describe(access: Access | undefined): string {
  return access === 'allowed' ? 'access on' : access === 'blocked' ? 'access off' : 'unknown, its rules are being repaired';
}

/** Why a transaction did not leave what was asked, for the log. */
function whyNotApplied(outcome: ApplyOutcome): string {
  if (outcome.result === 'locked') {
    return 'the router stayed busy with another commit';
  }
  if (outcome.result === 'committed') {
    return outcome.detail === '' ? 'the router took the change, but reading it back shows something else' : `the router took the change, but reading it back shows something else: ${outcome.detail}`;
  }
  return outcome.detail;
}
