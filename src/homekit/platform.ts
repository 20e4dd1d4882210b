/**
 * The Homebridge platform: checks the configuration, starts one RouterGuard per router, and keeps one accessory
 * per camera (plus a Lockdown switch per router) in step with it.
 *
 * One router, one entry: entries whose addresses resolve to the same address and port, or whose routers present
 * the same host key, are one router, and only the first may talk to it. A router is set up whole or not at all:
 * its accessories and guard are built first and published only when all of them fit on the bridge and registered,
 * so no switch is ever shown without a guard behind it.
 */
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';

import type { API, DynamicPlatformPlugin, Logging, PlatformAccessory, PlatformConfig } from 'homebridge';
import si from 'systeminformation';

import { duplicateRouterError, excludeInfrastructureAddresses, otherPlatformRouterError, parseConfig, printable } from '../config';
import type { CameraSettings, NetworkDataFiles, NetworkDataSetting, PlatformSettings, RouterSettings, SkippedCamera } from '../config';
import { BUNDLED_CREDIT, bundledNetworkData } from '../destinations/bundledNetworkData';
import { ForwardNames } from '../destinations/forwardNames';
import { NetworkLookup } from '../destinations/networkLookup';
import { ReverseNames } from '../destinations/reverseNames';
import type { DestinationNames } from '../guard/guardApi';
import { expectedNameNotFound } from '../guard/messages';
import { RouterGuard } from '../guard/routerGuard';
import type { LockdownMemory } from '../guard/lockdown';
import type { Log } from '../log';
import { routerWords, withPrefix } from '../log';
import { routerDriver } from '../router/drivers';
import { expectedHostKey, HostKeyClaims, KnownHosts } from '../router/hostKeys';
import { SshConnection } from '../router/ssh';
import { DEFAULT_PLATFORM_NAME, HOST_LOOKUP_TIMEOUT_MS, KNOWN_HOSTS_FILE, MAX_BRIDGED_ACCESSORIES, PLATFORM_NAME, PLUGIN_NAME } from '../settings';
import { CameraAccessory, LockdownAccessory } from './cameraAccessory';
import { homeKitName } from './names';
import { StatusFile } from './statusFile';

interface AccessoryContext {
  kind?: 'camera' | 'lockdown';
  /** Set once the camera's rules were seen on the router, so their later absence means "deleted". */
  seen?: boolean;
  lockdown?: LockdownMemory;
  /** When the camera's timed access (`allowMinutes`) closes (epoch ms), kept in the accessory cache across restarts. */
  openUntil?: number;
}

/** Where a router entry leads: the host to dial, and every address it resolved to, to compare entries by. */
interface Endpoint {
  /** The entry's host, or this machine's default gateway for an entry without one; undefined when there is none. */
  readonly host: string | undefined;
  /** The host itself (canonical, so a spelling of a name that did not resolve still meets its twin) and its addresses. */
  readonly addresses: readonly string[];
}

/** A router entry of another Camera Guard platform that comes before this one in config.json. */
interface EarlierEntry {
  readonly platform: string;
  readonly router: RouterSettings;
  readonly endpoint: Endpoint;
  /** The host key it trusts before connecting (pinned, or remembered in the shared known-hosts file). */
  readonly trusted: string | undefined;
}

/** What this platform learns from config.json about the other Camera Guard platforms. */
interface Siblings {
  /** The platforms before this one (by their names) and their router entries, which keep their routers. */
  readonly earlier: readonly { readonly name: string; readonly routers: readonly RouterSettings[] }[];
  /** Set when a platform before this one has this platform's name. */
  readonly nameTakenBy: boolean;
  /** How many Camera Guard platforms config.json holds (1 when it cannot be read). */
  readonly count: number;
}

/** Everything one router needs, built before any of it is published. */
interface RouterSetup {
  readonly router: RouterSettings;
  readonly log: Log;
  readonly host: string;
  readonly cameraCount: number;
  /** All of the router's accessories (cached ones and new ones) and, of them, the new ones to register. */
  readonly accessories: readonly PlatformAccessory[];
  readonly fresh: readonly PlatformAccessory[];
  readonly guard: RouterGuard;
}

export class CameraGuardPlatform implements DynamicPlatformPlugin {
  private readonly cached = new Map<string, PlatformAccessory>();
  private readonly guards: RouterGuard[] = [];
  /** The router entries of the Camera Guard platforms before this one in config.json, which keep their routers. */
  private earlier: readonly EarlierEntry[] = [];
  /** Which entry talks to the router behind each host key, for every router of this platform. */
  private readonly hostKeyClaims = new HostKeyClaims();
  /**
   * Reverse DNS names of where cameras go, for the log and the status view; look-ups are cancelled at shutdown. Made
   * again at launch when the owner names DNS servers (`nameServers`), before any guard asks it for a name.
   */
  private reverseNames = new ReverseNames();
  /**
   * The addresses of the cameras' `allowDestinations` host names; look-ups are cancelled at shutdown. Made again at
   * launch, as reverseNames is, when the owner names DNS servers.
   */
  private forwardNames = this.makeForwardNames();
  /** The networks behind addresses (`networkData`: the bundled data set or the owner's files); none when it is off. */
  private networks: NetworkLookup | undefined;
  /** What the guards use to name destinations: reverse names, and network names when the owner has data for them. */
  private readonly names: DestinationNames = {
    lookUp: (addresses) => {
      this.reverseNames.lookUp(addresses);
      // The network data is read at the end of the first reading (every reading asks, with or without destinations),
      // not at the first line that names one, which would then go out without networks: a leak trip needs a second
      // reading, a poll later, and the data is there by then (about 1.3 s on a 2-core x86; longer on a Raspberry Pi).
      void this.networks?.load();
    },
    nameOf: (address) => this.reverseNames.nameOf(address),
    networkOf: (address) => this.networks?.lookUp(address),
    lookUpNames: (names) => this.forwardNames.lookUp(names),
    addressesOfName: (name) => this.forwardNames.addressesOf(name),
  };
  /** What the settings page's status view reads; made at launch, when the config's verdict is known. */
  private status: StatusFile | undefined;

  constructor(
    private readonly log: Logging,
    private readonly config: PlatformConfig,
    private readonly api: API,
  ) {
    api.on('didFinishLaunching', () => {
      this.launch().catch((error: unknown) => {
        this.log.error(`Camera Guard could not start (${(error as Error).message}); fix the problem and restart Homebridge.`);
      });
    });
    api.on('shutdown', () => {
      for (const guard of this.guards) {
        guard.stop().catch(() => undefined);
      }
      this.status?.stop();
      this.reverseNames.stop();
      this.forwardNames.stop();
    });
  }

  /** The resolver of `allowDestinations` host names, asking `servers` when the owner names them (`nameServers`). */
  private makeForwardNames(servers?: readonly string[]): ForwardNames {
    return new ForwardNames({
      ...(servers === undefined ? {} : { servers }),
      onNotFound: (name, code) => {
        const message = expectedNameNotFound(name, code);
        this.log[message.level](message.text);
      },
    });
  }

  /**
   * The network look-up `networkData` asks for (none when it is off, or nothing of the bundled data set is
   * installed), and the sentence the Status view shows about it. Nothing is read here: the tables load when
   * destinations are first seen, and each file that cannot be read is said once.
   */
  private makeNetworks(setting: NetworkDataSetting): { lookup?: NetworkLookup; note: string; credit: boolean } {
    if (setting.source === 'off') {
      return { note: 'Network names are off ("networkData" source "off"): destinations are shown with their addresses and DNS names.', credit: false };
    }
    let files: NetworkDataFiles;
    let note: string;
    let loaded: string;
    if (setting.source === 'files') {
      files = setting.files;
      note = 'Network names come from the files set in "networkData".';
      loaded = 'read the network data files set in "networkData"; destinations are named with the networks that hold them.';
    } else {
      const bundled = bundledNetworkData();
      files = bundled.files;
      const dated = bundled.dated === undefined ? '' : ` of ${bundled.dated}`;
      note = `Network names come from the ip-location-db data${dated} installed with Camera Guard.`;
      loaded = `read the network data${dated} installed with Camera Guard; destinations are named with the networks that hold them (${BUNDLED_CREDIT}).`;
      if (bundled.missing.length > 0) {
        const left = Object.keys(files).length === 0 ? 'without network names' : 'without some network names';
        this.log.warn(
          `the network data that comes with Camera Guard is not installed (${bundled.missing.join(', ')}), so destinations are shown ${left}; ` +
            'reinstall Camera Guard without --omit=optional to get it, or set "networkData" to source "off" if you left it out on purpose.',
        );
        note = Object.keys(files).length === 0 ? `Network names are not shown: the network data that comes with Camera Guard is not installed (${bundled.missing.join(', ')}).` : `${note} Not installed: ${bundled.missing.join(', ')}.`;
        if (Object.keys(files).length === 0) {
          return { note, credit: false };
        }
      }
    }
    let doubtful = false;
    const lookup = new NetworkLookup(files, {
      // A file that is mostly not ranges is the wrong file or layout: said, not silently used for nothing.
      onLoaded: (file, report) => {
        if (report.ranges === 0 || report.skipped > report.ranges / 100) {
          doubtful = true;
          this.log.warn(
            `the network data file ${printable(file)} holds ${report.ranges} ranges and ${report.skipped} lines that are not; ` +
              "addresses it should cover are shown without network names until it is replaced by a file in ip-location-db's numeric layout and Homebridge restarted.",
          );
        }
      },
      onError: (file, error) =>
        this.log.warn(
          `could not read the network data file ${printable(file)} (${(error as NodeJS.ErrnoException).code ?? routerWords((error as Error).message, 120)}); ` +
            'cameras are still guarded, but their destinations are shown without network names until the file is fixed and Homebridge restarted.',
        ),
      // Said once, when every file was read: the data's date tells the owner how old the names are.
      onDone: (read, failed) => {
        if (read > 0 && failed === 0 && !doubtful) {
          this.log.info(loaded);
        }
      },
    });
    return { lookup, note, credit: setting.source === 'bundled' };
  }

  configureAccessory(accessory: PlatformAccessory): void {
    this.cached.set(accessory.UUID, accessory);
  }

  private async launch(): Promise<void> {
    const { settings, errors } = parseConfig(this.config);
    errors.forEach((error) => this.log.error(error));
    const siblings = this.siblings();
    const ownName = this.platformName() ?? DEFAULT_PLATFORM_NAME;
    if (siblings.nameTakenBy) {
      this.log.error(
        `This Camera Guard platform is named "${printable(ownName)}", like one before it in config.json; each Camera Guard platform needs a "name" of its own ` +
          '(its log lines, its status on the settings page and its files are told apart by it), so this one guards nothing. Give it another "name" and restart Homebridge.',
      );
    }
    if (siblings.count > 1 && this.config._bridge === undefined) {
      // Homebridge runs one Camera Guard platform per bridge: on the main bridge, a second one is refused (by Homebridge).
      this.log.warn(
        `config.json holds ${siblings.count} Camera Guard platforms and this one runs on the main bridge, where Homebridge refuses any Camera Guard platform after the first; ` +
          'give every Camera Guard platform a child bridge of its own (Plugins, Camera Guard, ⋮, Child Bridge Config), then restart Homebridge.',
      );
    }
    if (settings.nameServers !== undefined) {
      this.reverseNames = new ReverseNames({ servers: settings.nameServers });
      this.forwardNames = this.makeForwardNames(settings.nameServers);
    }
    const networks = this.makeNetworks(settings.networkData);
    this.networks = networks.lookup;
    const status = new StatusFile(this.api.user.storagePath(), errors, this.log, Date.now, this.platformName(), { note: networks.note, credit: networks.credit });
    this.status = status;
    const setups: RouterSetup[] = [];
    /** Cached accessories of routers that are not set up, by router name, so the log can say whose they were. */
    const refused = new Map<string, string>();
    if (siblings.nameTakenBy) {
      // Nothing of this platform is set up: its status file would be the other platform's.
      this.removeUnused(setups, refused);
      return;
    }
    if (settings.routers.length === 0) {
      this.log.info('No routers are configured, so Camera Guard is idle; add a router with its cameras in the plugin settings.');
    } else {
      const ownAddresses = this.ownAddresses();
      const earlierRouters = siblings.earlier.flatMap((platform) => platform.routers.map((router) => ({ platform: platform.name, router })));
      const gateway = [...settings.routers, ...earlierRouters.map((entry) => entry.router)].some((router) => router.host === undefined) ? await this.defaultGateway() : undefined;
      const endpoints = await Promise.all(settings.routers.map((router) => this.resolve(router, gateway)));
      const knownHosts = new KnownHosts(join(this.api.user.storagePath(), KNOWN_HOSTS_FILE));
      const earlier: EarlierEntry[] = await Promise.all(
        earlierRouters.map(async ({ platform, router }) => {
          const endpoint = await this.resolve(router, gateway);
          return { platform, router, endpoint, trusted: endpoint.host === undefined ? undefined : this.trustedHostKey(router, endpoint.host, knownHosts) };
        }),
      );
      this.earlier = earlier;
      /** Entries that hold their router's address so far, in config order. */
      const holders: { readonly router: RouterSettings; readonly endpoint: Endpoint }[] = [];
      let published = 0;
      settings.routers.forEach((router, index) => {
        const log: Log = withPrefix(this.log, router.name);
        const endpoint = endpoints[index] as Endpoint;
        const host = endpoint.host;
        if (host === undefined) {
          log.error('no "host" is set and this machine has no default gateway to use instead; set "host" to the router\'s address.');
          return;
        }
        if (router.host === undefined) {
          log.info(`no "host" is set, so using this machine's default gateway ${host} as the router.`);
        }
        const refuse = (): void => {
          for (const uuid of this.uuids(router, host)) {
            if (this.cached.has(uuid)) {
              refused.set(uuid, router.name);
            }
          }
        };
        // Two spellings of one router (a name and its address, no host and the gateway's address) reach the same address.
        const twin = holders.find((other) => other.router.port === router.port && other.endpoint.addresses.some((address) => endpoint.addresses.includes(address)));
        holders.push({ router, endpoint });
        if (twin) {
          const shared = twin.endpoint.addresses.find((address) => endpoint.addresses.includes(address)) as string;
          this.log.error(duplicateRouterError(router.name, twin.router.name, `${spelling(router)} and ${spelling(twin.router)} both reach ${shared} port ${router.port}`));
          refuse();
          return;
        }
        // The same router in another Camera Guard platform before this one (which may run in another process, on a
        // child bridge): both platforms read the same config.json, so both agree that the earlier one keeps it.
        const trusted = this.trustedHostKey(router, host, knownHosts);
        const elsewhere =
          earlier.find((other) => other.router.port === router.port && other.endpoint.addresses.some((address) => endpoint.addresses.includes(address))) ??
          earlier.find((other) => trusted !== undefined && other.trusted === trusted);
        if (elsewhere) {
          const shared = elsewhere.endpoint.addresses.find((address) => endpoint.addresses.includes(address));
          const evidence =
            shared !== undefined && elsewhere.router.port === router.port
              ? `${spelling(router)} and ${spelling(elsewhere.router)} both reach ${shared} port ${router.port}`
              : `both trust host key ${trusted as string}`;
          this.log.error(otherPlatformRouterError(router.name, elsewhere.platform, elsewhere.router.name, evidence));
          refuse();
          return;
        }
        // The key this entry already trusts (pinned, or remembered from an earlier run) is claimed now, in config order,
        // so the first entry keeps its router even when a later one happens to connect first; other keys are claimed
        // at connect, before anything is sent.
        const holder = trusted === undefined ? undefined : this.hostKeyClaims.claim(trusted, index, router.name);
        if (holder !== undefined) {
          this.log.error(duplicateRouterError(router.name, holder, `both trust host key ${trusted as string}`));
          refuse();
          return;
        }
        const { cameras, skipped, errors: cameraErrors } = excludeInfrastructureAddresses({ ...router, host }, ownAddresses);
        cameraErrors.forEach((error) => log.error(error));
        // Count before publishing: HomeKit refuses the 150th accessory of a bridge, and a router published in part
        // would show switches with no guard behind them.
        const needed = cameras.length + 1;
        if (published + needed > MAX_BRIDGED_ACCESSORIES) {
          const over = published + needed - MAX_BRIDGED_ACCESSORIES;
          this.log.error(
            `Router "${printable(router.name)}" is not published in HomeKit and not guarded (its rules on the router stay as they are): ` +
              `its ${needed} accessories (${cameras.length} cameras and its Lockdown switch) would be ${over} over the ${MAX_BRIDGED_ACCESSORIES} HomeKit allows on one bridge, ` +
              `where the routers before it already have ${published} (other plugins' accessories on the same bridge count too); ` +
              `to guard it, move it to another Camera Guard platform ("Add a Camera Guard platform" on the settings page) and give every Camera Guard platform a child bridge of its own ` +
              `(Plugins, Camera Guard, ⋮, Child Bridge Config), each holding up to ${MAX_BRIDGED_ACCESSORIES}; or remove at least ${over} of its cameras; then restart Homebridge.`,
          );
          refuse();
          return;
        }
        try {
          setups.push(this.buildRouter(router, index, host, cameras, skipped, settings, knownHosts, log));
          published += needed;
        } catch (error) {
          log.error(`could not be set up (${(error as Error).message}), so none of its accessories is published and it is not guarded; the other routers carry on.`);
          refuse();
        }
      });
    }
    this.removeUnused(setups, refused);
    for (const setup of setups) {
      this.publish(setup);
    }
    status.write();
  }

  /**
   * Builds a router's driver, guard and accessories without publishing anything; throws if any part cannot be made.
   */
  private buildRouter(
    router: RouterSettings,
    index: number,
    host: string,
    cameras: readonly CameraSettings[],
    skipped: readonly SkippedCamera[],
    settings: PlatformSettings,
    knownHosts: KnownHosts,
    log: Log,
  ): RouterSetup {
    // The driver sees only the cameras it guards, and leaves the rules of every skipped one as they are.
    const resolved = { ...router, host, cameras, skipped };
    const ssh = new SshConnection({ ...router, address: host }, knownHosts, log, {
      claimHostKey: (presented) => this.hostKeyClaims.claim(presented, index, router.name),
      trustedByEarlierPlatform: (presented) => this.trustedByEarlierPlatform(presented, knownHosts),
    });
    const driver = routerDriver(resolved, ssh);

    const uuid = (seed: string): string => this.uuid(router, host, seed);
    const fresh: PlatformAccessory[] = [];
    const accessory = (id: string, name: string, kind: 'camera' | 'lockdown'): PlatformAccessory => {
      const existing = this.cached.get(id);
      if (existing) {
        return existing;
      }
      const made = new this.api.platformAccessory(name, id);
      (made.context as AccessoryContext).kind = kind;
      fresh.push(made);
      return made;
    };
    // Accessory names follow HomeKit's naming rules too, or the Home app may refuse the whole bridge.
    const lockdownAccessory = accessory(uuid('lockdown'), `${homeKitName(router.name, 'Camera')} Lockdown`, 'lockdown');
    const cameraAccessories = new Map(cameras.map((camera) => [camera.address, accessory(uuid(camera.address), homeKitName(camera.name, 'Camera'), 'camera')]));
    const context = (of: PlatformAccessory): AccessoryContext => of.context;

    const views = new Map<string, CameraAccessory>();
    const lockdownViews: LockdownAccessory[] = [];
    const guard = new RouterGuard({
      cameras,
      names: this.names,
      leak: settings.leak,
      pollMs: settings.pollMs,
      driver,
      log,
      listener: {
        cameraChanged: (address) => {
          views.get(address)?.refresh();
          this.status?.changed();
        },
        leakChanged: (address) => {
          views.get(address)?.refresh();
          this.status?.changed();
        },
        reachabilityChanged: () => {
          views.forEach((view) => view.refresh());
          this.status?.changed();
        },
        lockdownChanged: () => lockdownViews.forEach((view) => view.refresh()),
        readingTaken: () => this.status?.polled(),
      },
      seenCameras: new Set(cameras.filter((camera) => context(cameraAccessories.get(camera.address) as PlatformAccessory).seen).map((c) => c.address)),
      lockdown: context(lockdownAccessory).lockdown ?? { on: false, previous: {} },
      saveLockdown: (memory) => {
        context(lockdownAccessory).lockdown = memory;
        this.api.updatePlatformAccessories([lockdownAccessory]);
      },
      openUntil: new Map(
        cameras.flatMap((camera) => {
          const deadline = context(cameraAccessories.get(camera.address) as PlatformAccessory).openUntil;
          return typeof deadline === 'number' && Number.isFinite(deadline) ? [[camera.address, deadline] as const] : [];
        }),
      ),
      saveOpenUntil: (address, deadline) => {
        const accessory = cameraAccessories.get(address);
        if (accessory) {
          context(accessory).openUntil = deadline;
          this.api.updatePlatformAccessories([accessory]);
        }
      },
      markSeen: (addresses) => {
        const seen = addresses.flatMap((address) => {
          const accessory = cameraAccessories.get(address);
          return accessory ? [accessory] : [];
        });
        seen.forEach((accessory) => (context(accessory).seen = true));
        // One write of the accessory cache for all of them (Homebridge rewrites the whole cache at every update).
        if (seen.length > 0) {
          this.api.updatePlatformAccessories(seen);
        }
      },
    });
    for (const camera of cameras) {
      views.set(camera.address, new CameraAccessory(this.api, cameraAccessories.get(camera.address) as PlatformAccessory, guard, camera));
    }
    lockdownViews.push(new LockdownAccessory(this.api, lockdownAccessory, guard, router.name));
    return { router, log, host, cameraCount: cameras.length, accessories: [lockdownAccessory, ...cameraAccessories.values()], fresh, guard };
  }

  /**
   * Removes the cached accessories no router that is set up uses: those of cameras and routers no longer configured,
   * and those of routers that are not set up, which would otherwise show switches with no guard behind them. This
   * runs before anything new is registered, so the room they held on the bridge is free again.
   */
  private removeUnused(setups: readonly RouterSetup[], refused: ReadonlyMap<string, string>): void {
    const inUse = new Set(setups.flatMap((setup) => setup.accessories.map((accessory) => accessory.UUID)));
    const unused = [...this.cached.values()].filter((accessory) => !inUse.has(accessory.UUID));
    if (unused.length === 0) {
      return;
    }
    const byRouter = new Map<string, number>();
    for (const accessory of unused) {
      const router = refused.get(accessory.UUID);
      if (router !== undefined) {
        byRouter.set(router, (byRouter.get(router) ?? 0) + 1);
      }
    }
    for (const [router, count] of byRouter) {
      this.log.warn(
        `Router "${printable(router)}": removing its ${count} accessory(ies) from HomeKit, since it is not set up and they would show switches that do nothing; ` +
          'they come back when the problem logged above is fixed and Homebridge restarts (automations that used them must then be set up again).',
      );
    }
    const stale = unused.length - [...byRouter.values()].reduce((sum, count) => sum + count, 0);
    if (stale > 0) {
      this.log.info(`Removing ${stale} accessory(ies) for cameras or routers that are no longer configured.`);
    }
    this.withdraw(unused);
  }

  /**
   * Takes accessories off the bridge, one at a time: an accessory Homebridge could not bridge (a bridge that was full
   * when it restored its cache, or a registration refused part-way) makes removing it throw, and must not stop the rest.
   */
  private withdraw(accessories: readonly PlatformAccessory[]): void {
    for (const accessory of accessories) {
      try {
        this.api.unregisterPlatformAccessories(PLUGIN_NAME, PLATFORM_NAME, [accessory]);
      } catch {
        // Not on the bridge: nothing to take off.
      }
      this.cached.delete(accessory.UUID);
    }
  }

  /**
   * Registers a router's new accessories and starts its guard, or, when HomeKit refuses any of them (a bridge that
   * other plugins have filled, say), takes every accessory of the router off the bridge again and starts nothing.
   */
  private publish(setup: RouterSetup): void {
    const { router, log, guard } = setup;
    try {
      if (setup.fresh.length > 0) {
        this.api.registerPlatformAccessories(PLUGIN_NAME, PLATFORM_NAME, [...setup.fresh]);
      }
    } catch (error) {
      // HomeKit may have bridged some of them before it refused one: all of them go.
      this.withdraw(setup.accessories);
      this.log.error(
        `Router "${printable(router.name)}" is not published in HomeKit and not guarded (its rules on the router stay as they are): ` +
          `the bridge refused its accessories (${(error as Error).message}), so none of its ${setup.accessories.length} accessories is left on the bridge; ` +
          `if the bridge is full (HomeKit allows ${MAX_BRIDGED_ACCESSORIES} accessories on one bridge, other plugins' included), run Camera Guard as a child bridge, then restart Homebridge.`,
      );
      return;
    }
    setup.accessories.forEach((accessory) => this.cached.set(accessory.UUID, accessory));
    this.guards.push(guard);
    this.status?.add({ name: router.name, snapshot: () => guard.snapshot() });
    log.info(`guarding ${setup.cameraCount} camera(s) on ${setup.host}:${router.port}.`);
    guard.start();
  }

  /**
   * The other Camera Guard platforms in config.json. Homebridge runs at most one per bridge, so a second platform is on
   * a child bridge of its own: another process, which sees only its own block. Both read config.json to agree on who
   * keeps a router (the platform that comes first) and that no two share a name. When config.json cannot be read, or
   * this platform's block is not found in it, the platform carries on alone and says so in the debug log.
   */
  private siblings(): Siblings {
    const alone: Siblings = { earlier: [], nameTakenBy: false, count: 1 };
    let blocks: unknown[];
    try {
      const file: unknown = JSON.parse(readFileSync(this.api.user.configPath(), 'utf8'));
      const platforms = (file as { platforms?: unknown } | null)?.platforms;
      blocks = Array.isArray(platforms) ? platforms.filter(isCameraGuardBlock) : [];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        // No config.json (Homebridge started with its config elsewhere): nothing to compare with.
        return alone;
      }
      this.log.debug(`could not read config.json to compare with other Camera Guard platforms (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`);
      return alone;
    }
    const own = stableJson(this.config);
    const index = blocks.findIndex((block) => stableJson(block) === own);
    if (index < 0) {
      this.log.debug('could not find this platform\'s block in config.json, so it is not compared with other Camera Guard platforms.');
      return alone;
    }
    const nameOf = (block: unknown): string => {
      const name = (block as { name?: unknown }).name;
      return typeof name === 'string' && name !== '' ? name : DEFAULT_PLATFORM_NAME;
    };
    const ownName = nameOf(this.config);
    const before = blocks.slice(0, index);
    return {
      earlier: before.map((block) => ({ name: nameOf(block), routers: parseConfig(block).settings.routers })),
      nameTakenBy: before.some((block) => nameOf(block) === ownName),
      count: blocks.length,
    };
  }

  /** This platform's `name` from its block, undefined when it has none (the default). */
  private platformName(): string | undefined {
    return typeof this.config.name === 'string' && this.config.name !== '' ? this.config.name : undefined;
  }

  private uuid(router: RouterSettings, host: string, seed: string): string {
    return this.api.hap.uuid.generate(`${PLATFORM_NAME}:${host}:${router.port}:${seed}`);
  }

  /** The UUIDs every accessory of this router would have. */
  private uuids(router: RouterSettings, host: string): string[] {
    return [this.uuid(router, host, 'lockdown'), ...router.cameras.map((camera) => this.uuid(router, host, camera.address))];
  }

  /**
   * The entry of an earlier platform that trusts `presented` now: pinned, or remembered in the known-hosts file, which
   * is read again here, since that platform (in another process) may have remembered its router's key since launch.
   */
  private trustedByEarlierPlatform(presented: string, knownHosts: KnownHosts): { router: string; platform: string } | undefined {
    const holder = this.earlier.find((other) => other.endpoint.host !== undefined && this.trustedHostKey(other.router, other.endpoint.host, knownHosts) === presented);
    return holder === undefined ? undefined : { router: holder.router.name, platform: holder.platform };
  }

  /** The fingerprint this entry trusts before connecting: pinned in the config, or remembered from an earlier run. */
  private trustedHostKey(router: RouterSettings, host: string, knownHosts: KnownHosts): string | undefined {
    try {
      const expectation = expectedHostKey(router, host, knownHosts);
      return expectation.source === 'none' ? undefined : expectation.fingerprint;
    } catch {
      // A known-hosts file that cannot be trusted: the connection refuses the router and says why.
      return undefined;
    }
  }

  /** Finds where an entry leads: its host (or the default gateway) and every address a lookup of it gives. */
  private async resolve(router: RouterSettings, gateway: string | undefined): Promise<Endpoint> {
    const host = router.host ?? gateway;
    if (host === undefined) {
      return { host, addresses: [] };
    }
    const addresses = new Set([canonicalAddress(host)]);
    if (isIP(host) === 0) {
      let timer: NodeJS.Timeout | undefined;
      try {
        const found = await Promise.race([
          lookup(host, { all: true }),
          new Promise<never>((_resolve, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${HOST_LOOKUP_TIMEOUT_MS / 1000} s`)), HOST_LOOKUP_TIMEOUT_MS);
          }),
        ]);
        found.forEach((entry) => addresses.add(canonicalAddress(entry.address)));
      } catch (error) {
        // The connection looks the name up again, and the host key check at connect still finds a twin entry.
        withPrefix(this.log, router.name).debug(
          `could not look up "${printable(host)}" (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}), so it is compared with the other routers by its name only.`,
        );
      } finally {
        clearTimeout(timer);
      }
    }
    return { host, addresses: [...addresses] };
  }

  private async defaultGateway(): Promise<string | undefined> {
    try {
      const gateway = await si.networkGatewayDefault();
      return gateway === '' ? undefined : gateway;
    } catch {
      return undefined;
    }
  }

  /**
   * This machine's own addresses, IPv4 and IPv6, from Node's own list (answered in well under a millisecond, where
   * systeminformation's spawns programs and reads /sys for 100-200 ms before anything can be registered).
   */
  private ownAddresses(): string[] {
    try {
      return Object.values(networkInterfaces())
        .flatMap((entries) => entries ?? [])
        .map((entry) => canonicalAddress(entry.address))
        .filter((address) => address !== '');
    } catch (error) {
      this.log.warn(`could not list this machine's own addresses (${(error as Error).message}); cameras are not checked against them.`);
      return [];
    }
  }
}

/** A platform block of this plugin: `"platform": "CameraGuard"`, or the long form `"homebridge-camera-guard.CameraGuard"`. */
function isCameraGuardBlock(block: unknown): boolean {
  const platform = (block as { platform?: unknown } | null)?.platform;
  return platform === PLATFORM_NAME || platform === `${PLUGIN_NAME}.${PLATFORM_NAME}`;
}

/** JSON with the keys of every object sorted, to recognise a block whatever order its keys came in. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item !== null && typeof item === 'object' && !Array.isArray(item) ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : item,
  );
}

/** How an entry names its router, for the log. */
function spelling(router: RouterSettings): string {
  return router.host === undefined ? `"${printable(router.name)}" (no "host", so the default gateway)` : `"${printable(router.host)}" of "${printable(router.name)}"`;
}

/** One spelling per address: IPv6 compressed and lower case, IPv4-mapped IPv6 as IPv4, names in lower case. */
function canonicalAddress(address: string): string {
  if (isIP(address) === 6) {
    try {
      const compact = new URL(`http://[${address}]/`).hostname.slice(1, -1);
      const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(compact);
      if (mapped) {
        const high = parseInt(mapped[1] as string, 16);
        const low = parseInt(mapped[2] as string, 16);
        return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
      }
      return compact;
    } catch {
      return address.toLowerCase();
    }
  }
  return address.toLowerCase().replace(/\.$/, '');
}
