/**
 * One camera under guard: what HomeKit asked of it (`intent.ts`), what the router's readings show (`cameraWatch.ts`)
 * and its timed access (`timedAccess.ts`), put together. Each step returns what to tell the owner; the guard's loop
 * says it and tells HomeKit.
 */
import type { CameraSettings, LeakSettings } from '../config';
import { enforcedAccess } from '../router/driver';
import type { Access, ApplyOutcome, CameraDestinations, CameraReading } from '../router/driver';
import { CameraWatch } from './cameraWatch';
import type { Observed } from './cameraWatch';
import type { DestinationNames } from './guardApi';
import * as intents from './intent';
import type { Intent } from './intent';
import * as say from './messages';
import type { Message } from './messages';
import { TimedAccess } from './timedAccess';

export interface CameraMemory {
  /** Its rules were seen on the router in an earlier run. */
  readonly seenBefore: boolean;
  /** The deadline of its timed access from an earlier run. */
  readonly openUntil: number | undefined;
  readonly saveOpenUntil: (deadline: number | undefined) => void;
}

export class GuardedCamera {
  intent: Intent = intents.IDLE;
  readonly watch: CameraWatch;
  readonly timed: TimedAccess;

  constructor(
    readonly settings: CameraSettings,
    leak: LeakSettings,
    memory: CameraMemory,
    /** Called when its timed access runs out while it is open. */
    closeTimed: () => void,
    now: () => number,
  ) {
    this.watch = new CameraWatch(settings, leak, memory.seenBefore);
    const close = (): void => {
      if (this.watch.actual === 'allowed') {
        closeTimed();
      }
    };
    this.timed = new TimedAccess(settings.allowMinutes, memory.openUntil, memory.saveOpenUntil, close, now);
  }

  get address(): string {
    return this.settings.address;
  }

  /** What its Switch shows; undefined: No Response. */
  shown(reachable: boolean): Access | undefined {
    return intents.shown(this.intent, this.watch.actual, this.watch.notInForce === undefined, reachable);
  }

  /** What it is asked or configured to have, not what it gets (a block the kernel does not enforce is a block). */
  asked(): Access | undefined {
    return intents.shown(this.intent, this.watch.actual, true, true);
  }

  request(access: Access): void {
    this.intent = intents.request(this.intent, access);
  }

  /** A transaction starts: what it asks of this camera, if anything. */
  begin(): Access | undefined {
    const { intent, asked } = intents.begin(this.intent);
    this.intent = intent;
    return asked;
  }

  /** Its request is settled by the reading after the transaction (`outcome` undefined: nothing had to be sent). */
  settle(wanted: Access, after: CameraReading | undefined, outcome: ApplyOutcome | undefined): Message | undefined {
    const actual = enforcedAccess(after);
    const { intent, confirmed } = intents.settle(this.intent, wanted, actual);
    this.intent = intent;
    return !confirmed ? say.notApplied(this.settings, wanted, actual, outcome) : outcome && say.confirmed(this.settings, wanted);
  }

  /** The router did not confirm the transaction; undefined when the request was superseded (nothing to say). */
  abandon(wanted: Access, reason: string): Message | undefined {
    const { intent, result } = intents.abandon(this.intent, wanted);
    this.intent = intent;
    switch (result) {
      case 'superseded':
        return undefined;
      case 'block-retried':
        return say.blockUnconfirmed(this.settings, reason);
      case 'opening-unconfirmed':
        return say.openingUnconfirmed(this.settings, reason);
    }
  }

  /** The router became unreachable: an opening still waiting for its batch is dropped. */
  dropOpening(reason: string): Message | undefined {
    const { intent, dropped } = intents.dropOpening(this.intent);
    this.intent = intent;
    return dropped ? say.openingDropped(this.settings, reason) : undefined;
  }

  /** Takes in its part of a reading; `requested` is what the transaction just sent asked of it. */
  observe(reading: CameraReading, requested: Access | undefined, context: { now: number; lockdownOn: boolean; stopped: boolean; routerAddresses?: readonly string[]; accounting?: boolean; flowsComplete?: boolean }, destinations?: CameraDestinations, names?: DestinationNames): Observed {
    if (reading.openForMs !== undefined) {
      this.timed.routerDeadline(context.now + reading.openForMs);
    }
    const ours = (access: Access): boolean => requested === access || intents.expects(this.intent, access);
    const observed = this.watch.observe(reading, { ...context, ours, names }, destinations);
    if (observed.accessChanged) {
      this.timed.accessKnown(this.watch.actual, !context.stopped);
    }
    return observed;
  }
}
