/**
 * One transaction with the router: the requests are planned on a reading taken for them (never on an older one),
 * the plan is applied, a commit refused because another one was running is retried on a fresh reading, and the
 * result is read back. An empty plan sends nothing: the reading it was made on is the confirmation.
 */
import type { CameraSettings } from '../config';
import { RouterError } from '../router/driver';
import type { ApplyOutcome, FlowCut, Plan, Requests, RouterDriver, RouterReading } from '../router/driver';
import { LOCKED_COMMIT_BACKOFF_MS, LOCKED_COMMIT_RETRIES } from '../settings';
import * as say from './messages';
import type { Messenger } from './messages';

export interface TransactionResult {
  /** The plan that was applied last (or found empty). */
  readonly plan: Plan;
  /** Undefined when the plan was empty and nothing was sent. */
  readonly outcome: ApplyOutcome | undefined;
  /** The router after the transaction. */
  readonly after: RouterReading;
}

export interface TransactionContext {
  readonly driver: RouterDriver;
  readonly cameras: readonly CameraSettings[];
  readonly say: Messenger;
  /** What is still asked when a locked commit is retried (requests made meanwhile wait for the next transaction). */
  readonly inFlight: () => Requests;
  readonly wait: (ms: number) => Promise<void>;
  readonly stopped: () => boolean;
}

export async function runTransaction(context: TransactionContext, requests: Requests): Promise<TransactionResult> {
  const { driver, cameras } = context;
  let plan = driver.plan(await driver.read(cameras), requests);
  if (plan.empty) {
    return { plan, outcome: undefined, after: plan.reading };
  }
  context.say.say(say.planned(plan.steps));
  let outcome = await driver.apply(plan);
  for (let attempt = 1; outcome.result === 'locked' && attempt <= LOCKED_COMMIT_RETRIES && !context.stopped(); attempt++) {
    const delay = LOCKED_COMMIT_BACKOFF_MS * 2 ** (attempt - 1);
    context.say.say(say.routerBusy(delay, attempt, LOCKED_COMMIT_RETRIES));
    await context.wait(delay);
    plan = driver.plan(await driver.read(cameras), context.inFlight());
    outcome = await driver.apply(plan);
  }
  if (outcome.result === 'committed' && !outcome.saved) {
    context.say.say(say.notSaved(outcome.detail));
  }
  return { plan, outcome, after: await driver.read(cameras) };
}

/**
 * A new drop rule does not stop a flow already past it on an offloading router: the cameras' flows are deleted too,
 * all of one transaction's in one go (a scene that blocks fifty cameras must not keep the router busy fifty times).
 */
export async function cutFlows(driver: RouterDriver, cameras: readonly CameraSettings[], messenger: Messenger): Promise<void> {
  if (cameras.length === 0) {
    return;
  }
  let cuts: ReadonlyMap<string, FlowCut | RouterError>;
  try {
    cuts = await driver.cutFlows(cameras);
  } catch (error) {
    cameras.forEach((camera) => messenger.say(say.flowsNotCut(camera, error instanceof Error ? error.message : String(error))));
    return;
  }
  for (const camera of cameras) {
    const cut = cuts.get(camera.address);
    if (cut === undefined || cut instanceof RouterError) {
      messenger.say(say.flowsNotCut(camera, cut?.message ?? 'the router did not report on it'));
    } else {
      messenger.say(say.flowsCut(camera, cut.flows, cut.addresses));
      messenger.say(cut.problem === undefined ? undefined : say.flowsPartlyCut(camera, cut.problem));
    }
  }
}
