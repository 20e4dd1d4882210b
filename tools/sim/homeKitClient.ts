/**
 * A real HomeKit controller (hap-controller) paired with a running Homebridge, with lookups by the names the
 * owner sees: "Front Door Internet" is a Switch's On, "Front Door Leak" a LeakSensor.
 */
import { HttpClient, PairMethods } from 'hap-controller';
import type { PairingData } from 'hap-controller';

const SERVICE = {
  switch: '00000049-0000-1000-8000-0026BB765291',
  leakSensor: '00000083-0000-1000-8000-0026BB765291',
} as const;
const CHARACTERISTIC = {
  name: '00000023-0000-1000-8000-0026BB765291',
  on: '00000025-0000-1000-8000-0026BB765291',
  leakDetected: '00000070-0000-1000-8000-0026BB765291',
  statusFault: '00000077-0000-1000-8000-0026BB765291',
} as const;

/** HAP's "No Response" status. */
export const NO_RESPONSE = -70402;

const shortType = (type: string | undefined): string => (type ?? '').replace(/^0+/, '').split('-')[0]!.toUpperCase();
const same = (a: string | undefined, b: string): boolean => shortType(a) === shortType(b);

export interface HomeKitEvent {
  readonly id: string;
  readonly value: unknown;
}

export class HomeKitClient {
  readonly events: HomeKitEvent[] = [];
  private readonly names = new Map<string, string>();

  /**
   * Two connections: `control` for reads and writes, `listener` only for events. hap-controller's response
   * parser spins forever when an event frame arrives while a request is in flight on the same connection
   * (its decrypt failure is swallowed without consuming the frame), so events get a connection of their own
   * that sends nothing after its one subscription.
   */
  private constructor(
    private readonly control: HttpClient,
    private readonly listener: HttpClient,
    /** The controller's long-term keys: reconnect with them after a Homebridge restart. */
    readonly pairing: PairingData,
  ) {
    listener.on('event', (event: { characteristics: Array<{ aid: number; iid: number; value: unknown }> }) => {
      for (const change of event.characteristics) {
        this.events.push({ id: `${change.aid}.${change.iid}`, value: change.value });
      }
    });
  }

  static async pair(username: string, port: number, pin: string): Promise<HomeKitClient> {
    const setup = new HttpClient(username, '127.0.0.1', port);
    await setup.pairSetup(pin, PairMethods.PairSetup);
    const pairing = setup.getLongTermData();
    await setup.close();
    if (!pairing) {
      throw new Error('pairing produced no long-term keys');
    }
    return HomeKitClient.connect(username, port, pairing);
  }

  /** Connects as an already paired controller and listens to every switch and sensor. */
  static async connect(username: string, port: number, pairing: PairingData): Promise<HomeKitClient> {
    const open = (): HttpClient => new HttpClient(username, '127.0.0.1', port, pairing, { usePersistentConnections: true });
    const client = new HomeKitClient(open(), open(), pairing);
    await client.refreshNames();
    await client.listener.subscribeCharacteristics([...client.names.values()]);
    return client;
  }

  async refreshNames(): Promise<void> {
    this.names.clear();
    const { accessories } = await this.control.getAccessories();
    for (const accessory of accessories) {
      for (const service of accessory.services) {
        const name = service.characteristics.find((c) => same(c.type, CHARACTERISTIC.name))?.value;
        for (const characteristic of service.characteristics) {
          const kind = Object.entries(CHARACTERISTIC).find(([, type]) => same(characteristic.type, type))?.[0];
          const serviceKind = Object.entries(SERVICE).find(([, type]) => same(service.type, type))?.[0];
          if (typeof name === 'string' && kind && serviceKind && kind !== 'name') {
            this.names.set(`${name}/${kind}`, `${accessory.aid}.${characteristic.iid}`);
          }
        }
      }
    }
  }

  /** The `aid.iid` of a characteristic, by service name ("Front Door Internet") and kind ("on"). */
  id(serviceName: string, kind: Exclude<keyof typeof CHARACTERISTIC, 'name'>): string {
    const id = this.names.get(`${serviceName}/${kind}`);
    if (!id) {
      throw new Error(`no ${kind} on a service named "${serviceName}"; known: ${[...this.names.keys()].join(', ')}`);
    }
    return id;
  }

  has(serviceName: string): boolean {
    return [...this.names.keys()].some((key) => key.startsWith(`${serviceName}/`));
  }

  async get(id: string): Promise<{ value?: unknown; status?: number }> {
    const result = (await this.control.getCharacteristics([id]));
    return result.characteristics[0] ?? {};
  }

  async set(id: string, value: unknown): Promise<{ status?: number }> {
    const result = (await this.control.setCharacteristics({ [id]: value })) as { characteristics?: Array<{ status?: number }> } | Record<string, never>;
    return ('characteristics' in result ? result.characteristics?.[0] : undefined) ?? { status: 0 };
  }

  /** Every switch and sensor is subscribed at connect (on the listener connection); this checks the ids are among them. */
  subscribe(ids: string[]): Promise<void> {
    const known = new Set(this.names.values());
    const unknown = ids.filter((id) => !known.has(id));
    return unknown.length === 0 ? Promise.resolve() : Promise.reject(new Error(`not a switch or sensor characteristic: ${unknown.join(', ')}`));
  }

  /** Polls until the characteristic reads `value` (HomeKit booleans come back as 1/0). */
  async waitForValue(id: string, value: unknown, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      last = (await this.get(id)).value;
      if (normalise(last) === normalise(value)) {
        return;
      }
      await new Promise((done) => setTimeout(done, 200));
    }
    throw new Error(`${id} stayed ${String(last)}, expected ${String(value)}`);
  }

  /** Waits for an event carrying `value` on `id`, among the events from index `since` of `events` on (all by default). */
  async waitForEvent(id: string, value: unknown, timeoutMs = 20_000, since = 0): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.events.slice(since).some((event) => event.id === id && normalise(event.value) === normalise(value))) {
        return;
      }
      await new Promise((done) => setTimeout(done, 100));
    }
    throw new Error(`no event ${id} = ${String(value)} within ${timeoutMs} ms; events seen: ${JSON.stringify(this.events.slice(-10))}`);
  }

  async close(): Promise<void> {
    await this.control.close();
    await this.listener.close();
  }
}

function normalise(value: unknown): unknown {
  return value === true ? 1 : value === false ? 0 : value;
}
