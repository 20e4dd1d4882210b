/**
 * The platform under a stand-in for Homebridge: real HAP accessories (hap-nodejs), a log that records every line,
 * and a bridge that, like Homebridge's, holds at most MAX_BRIDGED_ACCESSORIES accessories, starts with the cached
 * ones already bridged, and throws (after bridging what fitted) when a registration goes past its limit.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import * as hap from '@homebridge/hap-nodejs';
import type { API, PlatformAccessory } from 'homebridge';

import { CameraGuardPlatform } from '../../src/homekit/platform';
import { KNOWN_HOSTS_FILE, MAX_BRIDGED_ACCESSORIES } from '../../src/settings';
import { scratchDirectory } from './scratchDirectory';

type ServiceType = Parameters<hap.Accessory['getService']>[0] & typeof hap.Service;

/** Homebridge's platform accessory, reduced to what the plugin uses, around a real HAP accessory. */
export class TestAccessory {
  readonly context: Record<string, unknown> = {};
  readonly hap: hap.Accessory;
  constructor(
    readonly displayName: string,
    readonly UUID: string,
  ) {
    this.hap = new hap.Accessory(displayName, UUID);
  }
  getService(type: ServiceType): hap.Service | undefined {
    return this.hap.getService(type);
  }
  getServiceById(type: ServiceType, subtype: string): hap.Service | undefined {
    return this.hap.getServiceById(type, subtype);
  }
  addService(type: ServiceType & (new (name: string, subtype: string) => hap.Service), name: string, subtype: string): hap.Service {
    return this.hap.addService(new type(name, subtype));
  }
}

export interface Harness {
  platform: CameraGuardPlatform;
  /** Every accessory the plugin registered and the bridge took, in order. */
  registered: TestAccessory[];
  unregistered: TestAccessory[];
  /** What is on the bridge now (the cached accessories the plugin was given, to begin with). */
  bridged: Set<TestAccessory>;
  lines: string[];
  storage: string;
  shutdown: () => void;
}

export interface HarnessOptions {
  /** Accessories of other plugins on the same bridge. */
  foreignAccessories?: number;
  /** Cached accessories the bridge could not restore (it was full): given to the plugin, but not on the bridge. */
  notRestored?: TestAccessory[];
  /** The known-hosts file's content in the Homebridge storage folder, as earlier runs left it. */
  knownHosts?: Record<string, string>;
  /** A Homebridge storage folder shared with another platform (a fresh one unless told). */
  storage?: string;
}

export function startPlatform(config: Record<string, unknown>, cached: TestAccessory[] = [], options: HarnessOptions = {}): Harness {
  const lines: string[] = [];
  const record = (level: string) => (message: string) => lines.push(`${level} ${message}`);
  const log = Object.assign(record('INFO'), { info: record('INFO'), warn: record('WARN'), error: record('ERROR'), debug: record('DEBUG'), success: record('INFO'), log: record('INFO'), prefix: '' });
  const handlers = new Map<string, () => void>();
  const registered: TestAccessory[] = [];
  const unregistered: TestAccessory[] = [];
  const bridged = new Set<TestAccessory>(cached.filter((accessory) => !(options.notRestored ?? []).includes(accessory)));
  const foreign = options.foreignAccessories ?? 0;
  const storage = options.storage ?? scratchDirectory('cg-platform-');
  if (options.knownHosts !== undefined) {
    writeFileSync(join(storage, KNOWN_HOSTS_FILE), JSON.stringify(options.knownHosts), { mode: 0o600 });
  }
  const api = {
    hap,
    on: (event: string, handler: () => void) => handlers.set(event, handler),
    // config.json there, when a test writes one, holds the platform blocks of every Camera Guard platform.
    user: { storagePath: () => storage, configPath: () => join(storage, 'config.json') },
    platformAccessory: TestAccessory,
    // As hap-nodejs's addBridgedAccessories: one at a time, throwing at the first one past the limit.
    registerPlatformAccessories: (_plugin: string, _platform: string, accessories: TestAccessory[]) => {
      for (const accessory of accessories) {
        if (foreign + bridged.size >= MAX_BRIDGED_ACCESSORIES) {
          throw new Error(`Cannot Bridge more than ${MAX_BRIDGED_ACCESSORIES} Accessories`);
        }
        bridged.add(accessory);
        registered.push(accessory);
      }
    },
    // As hap-nodejs's removeBridgedAccessories: throwing at the first one it does not have.
    unregisterPlatformAccessories: (_plugin: string, _platform: string, accessories: TestAccessory[]) => {
      for (const accessory of accessories) {
        if (!bridged.delete(accessory)) {
          throw new Error('Cannot find the bridged Accessory to remove.');
        }
        unregistered.push(accessory);
      }
    },
    updatePlatformAccessories: () => undefined,
  } as unknown as API;
  // Network names off unless the test asks (networkData: undefined for the bundled default): reading the data set
  // takes a second of CPU that the tests of other things should not wait behind.
  const platform = new CameraGuardPlatform(log, { platform: 'CameraGuard', networkData: { source: 'off' }, ...config }, api);
  for (const accessory of cached) {
    platform.configureAccessory(accessory as unknown as PlatformAccessory);
  }
  handlers.get('didFinishLaunching')?.();
  return { platform, registered, unregistered, bridged, lines, storage, shutdown: () => handlers.get('shutdown')?.() };
}

/** The service with this HomeKit name among the registered accessories. */
export function service(h: Harness, name: string): hap.Service {
  for (const accessory of h.registered) {
    for (const candidate of accessory.hap.services) {
      if (candidate.getCharacteristic(hap.Characteristic.Name).value === name) {
        return candidate;
      }
    }
  }
  throw new Error(`no service named ${name}`);
}
