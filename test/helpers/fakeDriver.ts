/**
 * A second RouterDriver: an in-memory router, so the guard's decisions can be tested in milliseconds on a fake
 * clock, and so the driver interface is proven to fit a router family other than EdgeOS. It keeps each camera's
 * rules as the router would (intact, missing or damaged; allowed or blocked; counters), plans from a reading
 * alone, and can be told to fail the way real routers do: refuse a login, drop the connection before or after a
 * commit, stay locked by another commit, refuse a change, or lose the save.
 */
import type { CameraSettings } from '../../src/config';
import { RouterError } from '../../src/router/driver';
import type {
  Access,
  ApplyOutcome,
  CameraReading,
  DestinationsReading,
  EgressCounters,
  FlowCut,
  Plan,
  PlanScript,
  Requests,
  RouterDriver,
  RouterReading,
} from '../../src/router/driver';

export interface FakeRules {
  status: 'intact' | 'missing' | 'damaged';
  access: Access;
  counters?: EgressCounters;
  /** The configuration blocks it but the kernel does not (see CameraReading). */
  notInForce?: string;
  /** A timed opening's deadline on the router's clock (epoch ms). */
  openUntil?: number;
}

/** What the next apply does instead of committing. */
export type ApplyFault = 'locked' | 'refused' | 'drop-before-commit' | 'drop-after-commit' | 'save-fails' | 'commits-without-effect';

export class FakeDriver implements RouterDriver {
  /** The router's state: camera address → its rules. A camera not here has no rules. */
  readonly rules = new Map<string, FakeRules>();
  /** Every call, in order: "connect", "read", "apply <steps>", "cut <address>", "close". */
  readonly calls: string[] = [];
  readonly connectFaults: RouterError[] = [];
  readonly readFaults: RouterError[] = [];
  readonly applyFaults: ApplyFault[] = [];
  offload = false;
  unsaved = false;
  /**
   * What the next reads report of destinations (the log's tries and the connection table's flows), as the EdgeOS
   * driver would: each read takes the next entry of `destinationReads` if any is queued, else `destinations`.
   */
  destinations: DestinationsReading | undefined;
  readonly destinationReads: DestinationsReading[] = [];
  /** Makes apply wait for this promise (a slow commit). */
  commitGate: Promise<void> | undefined;
  /** Makes the next read wait for this promise (a slow answer), then take the next read fault, if any. */
  readGate: Promise<void> | undefined;
  private isConnected = false;
  private readonly readings = new WeakSet<RouterReading>();
  private readonly targets = new WeakMap<Plan, ReadonlyMap<string, Access>>();

  constructor(private readonly clock: () => number = Date.now) {}

  get connected(): boolean {
    return this.isConnected;
  }

  connect(): Promise<void> {
    this.calls.push('connect');
    const fault = this.connectFaults.shift();
    if (fault) {
      return Promise.reject(fault);
    }
    this.isConnected = true;
    return Promise.resolve();
  }

  close(): void {
    if (this.isConnected) {
      this.calls.push('close');
    }
    this.isConnected = false;
  }

  hardwareOffload(): Promise<boolean> {
    return Promise.resolve(this.offload);
  }

  async read(cameras: readonly CameraSettings[]): Promise<RouterReading> {
    this.calls.push('read');
    this.mustBeConnected();
    const gate = this.readGate;
    this.readGate = undefined;
    await gate;
    const fault = this.readFaults.shift();
    if (fault) {
      this.isConnected = fault.kind === 'unreachable' || fault.kind === 'timeout' ? false : this.isConnected;
      throw fault;
    }
    const now = this.clock();
    const readings = new Map<string, CameraReading>();
    for (const camera of cameras) {
      const rules = this.rules.get(camera.address);
      if (rules?.openUntil !== undefined && now >= rules.openUntil) {
        // The router closes a timed opening itself.
        rules.access = 'blocked';
        delete rules.openUntil;
        readings.set(camera.address, { status: 'intact', access: 'blocked', counters: rules.counters, timedOut: true });
        continue;
      }
      readings.set(camera.address, this.readingOf(rules, now));
    }
    const broken = [...readings].filter(([, reading]) => reading.access === undefined).map(([address]) => `rewrite the rules of ${address}`);
    const destinations = this.destinationReads.shift() ?? this.destinations;
    const reading: RouterReading = {
      ...(destinations === undefined ? {} : { destinations }),
      cameras: readings,
      ruleSet: 'FAKE_OUT',
      adopted: false,
      enforced: true,
      unlisted: [],
      repairs: broken,
      routerAddresses: ['192.0.2.1'],
      warnings: [],
      notes: [],
      unsaved: this.unsaved,
    };
    this.readings.add(reading);
    await Promise.resolve();
    return reading;
  }

  plan(reading: RouterReading, requests: Requests): Plan {
    if (!this.readings.has(reading)) {
      throw new Error('plan on a reading this driver did not take');
    }
    const targets = new Map<string, Access>();
    const steps: string[] = [];
    const repairs: string[] = [];
    for (const [address, camera] of reading.cameras) {
      const asked = requests.get(address);
      if (camera.access === undefined) {
        targets.set(address, asked ?? 'blocked');
        steps.push(`rewrite ${address} (${asked ?? 'blocked'})`);
        repairs.push(`rewrite ${address}`);
      } else if (asked !== undefined && asked !== camera.access) {
        targets.set(address, asked);
        steps.push(`${asked === 'allowed' ? 'open' : 'block'} ${address}`);
      }
    }
    if (reading.unsaved) {
      steps.push('save');
      repairs.push('save');
    }
    const plan: Plan = { reading, requests, steps, empty: steps.length === 0, repairs };
    this.targets.set(plan, targets);
    return plan;
  }

  describe(plan: Plan): PlanScript {
    return { script: plan.empty ? '' : plan.steps.map((step) => `# ${step}`).join('\n'), leftAlone: [] };
  }

  async apply(plan: Plan): Promise<ApplyOutcome> {
    const targets = this.targets.get(plan);
    if (targets === undefined) {
      throw new Error('apply of a plan this driver did not make');
    }
    this.calls.push(`apply ${plan.steps.join(', ')}`);
    this.mustBeConnected();
    await this.commitGate;
    const fault = this.applyFaults.shift();
    switch (fault) {
      case 'locked':
        return { result: 'locked', saved: false, detail: 'Configuration is locked by another session' };
      case 'refused':
        return { result: 'failed', saved: false, detail: 'the router refused "set firewall" (Invalid value), so the whole change was discarded and nothing was committed' };
      case 'drop-before-commit':
        this.isConnected = false;
        this.unsaved = true;
        throw new RouterError('unreachable', 'the connection to the router dropped.');
      case 'drop-after-commit':
        this.commit(targets);
        this.isConnected = false;
        this.unsaved = true;
        throw new RouterError('unreachable', 'the connection to the router dropped.');
      case 'commits-without-effect':
        return { result: 'committed', saved: true, detail: '' };
      case 'save-fails':
        this.commit(targets);
        this.unsaved = true;
        return { result: 'committed', saved: false, detail: 'Saving configuration failed' };
      case undefined:
        this.commit(targets);
        this.unsaved = false;
        return { result: 'committed', saved: true, detail: '' };
    }
  }

  cutFlows(cameras: readonly CameraSettings[]): Promise<ReadonlyMap<string, FlowCut>> {
    this.calls.push(`cut ${cameras.map((camera) => camera.address).join(' ')}`);
    return Promise.resolve(new Map(cameras.map((camera) => [camera.address, { flows: 1, addresses: [camera.address] }])));
  }

  /** The calls of one kind, for counting. */
  count(prefix: string): number {
    return this.calls.filter((call) => call.startsWith(prefix)).length;
  }

  private commit(targets: ReadonlyMap<string, Access>): void {
    for (const [address, access] of targets) {
      const rules = this.rules.get(address);
      this.rules.set(address, { ...(rules?.counters === undefined ? {} : { counters: rules.counters }), status: 'intact', access });
    }
  }

  private readingOf(rules: FakeRules | undefined, now: number): CameraReading {
    if (rules === undefined || rules.status === 'missing') {
      return { status: 'missing' };
    }
    if (rules.status === 'damaged') {
      return { status: 'damaged' };
    }
    if (rules.access === 'allowed') {
      return { status: 'intact', access: 'allowed', counters: rules.counters, ...(rules.openUntil === undefined ? {} : { openForMs: rules.openUntil - now }) };
    }
    return { status: 'intact', access: 'blocked', counters: rules.counters, ...(rules.notInForce === undefined ? {} : { notInForce: rules.notInForce }) };
  }

  private mustBeConnected(): void {
    if (!this.isConnected) {
      throw new RouterError('unreachable', 'not connected to the router.');
    }
  }
}
