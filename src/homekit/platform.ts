/**
 * The Homebridge platform: checks the configuration, starts one RouterGuard per router, and keeps one accessory
 * per camera (plus a Lockdown switch per router) in step with it.
 */
import { join } from 'node:path';

import type { API, DynamicPlatformPlugin, Logging, PlatformAccessory, PlatformConfig } from 'homebridge';
import si from 'systeminformation';

import { excludeInfrastructureAddresses, parseConfig } from '../config';
import type { PlatformSettings, RouterSettings } from '../config';
import { RouterGuard } from '../guard/routerGuard';
import type { LockdownMemory } from '../guard/routerGuard';
import type { Log } from '../log';
import { withPrefix } from '../log';
import { EdgeOsRouter } from '../router/edgeos/edgeosRouter';
import { KnownHosts } from '../router/hostKeys';
import { SshConnection } from '../router/ssh';
import { KNOWN_HOSTS_FILE, PLATFORM_NAME, PLUGIN_NAME } from '../settings';
import { CameraAccessory, LockdownAccessory } from './cameraAccessory';
import { homeKitName } from './names';

interface AccessoryContext {
  kind?: 'camera' | 'lockdown';
  /** Set once the camera's rules were seen on the router, so their later absence means "deleted". */
  seen?: boolean;
  lockdown?: LockdownMemory;
  /** When the camera's timed access (`allowMinutes`) closes (epoch ms), kept in the accessory cache across restarts. */
  openUntil?: number;
}

export class CameraGuardPlatform implements DynamicPlatformPlugin {
  private readonly cached = new Map<string, PlatformAccessory>();
  private readonly guards: RouterGuard[] = [];
  /** Accessories made in this run, registered once their services are in place. */
  private fresh: PlatformAccessory[] = [];

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
    });
  }

  configureAccessory(accessory: PlatformAccessory): void {
    this.cached.set(accessory.UUID, accessory);
  }

  private async launch(): Promise<void> {
    const { settings, errors, warnings } = parseConfig(this.config);
    errors.forEach((error) => this.log.error(error));
    warnings.forEach((warning) => this.log.warn(warning));
    const inUse = new Set<string>();
    if (settings.routers.length === 0) {
      this.log.info('No routers are configured, so Camera Guard is idle; add a router with its cameras in the plugin settings.');
    } else {
      const ownAddresses = await this.ownAddresses();
      for (const router of settings.routers) {
        try {
          await this.startRouter(router, settings, ownAddresses, inUse);
        } catch (error) {
          this.log.error(`Router "${router.name}" could not be set up (${(error as Error).message}); the other routers carry on.`);
        }
      }
    }
    const stale = [...this.cached.values()].filter((accessory) => !inUse.has(accessory.UUID));
    if (stale.length > 0) {
      this.log.info(`Removing ${stale.length} accessory(ies) for cameras or routers that are no longer configured.`);
      this.api.unregisterPlatformAccessories(PLUGIN_NAME, PLATFORM_NAME, stale);
      stale.forEach((accessory) => this.cached.delete(accessory.UUID));
    }
  }

  private async startRouter(router: RouterSettings, settings: PlatformSettings, ownAddresses: string[], inUse: Set<string>): Promise<void> {
    const log: Log = withPrefix(this.log, router.name);
    let host = router.host;
    if (host === undefined) {
      host = await this.defaultGateway();
      if (host === undefined) {
        log.error('no "host" is set and this machine has no default gateway to use instead; set "host" to the router\'s address.');
        return;
      }
      log.info(`no "host" is set, so using this machine's default gateway ${host} as the router.`);
    }
    const { cameras, skipped, errors } = excludeInfrastructureAddresses({ ...router, host }, ownAddresses);
    errors.forEach((error) => log.error(error));
    // The driver sees only the cameras it guards, and leaves the rules of every skipped one as they are.
    const resolved = { ...router, host, cameras, skipped };

    const knownHosts = new KnownHosts(join(this.api.user.storagePath(), KNOWN_HOSTS_FILE));
    const ssh = new SshConnection({ ...router, address: host }, knownHosts, log);
    const driver = new EdgeOsRouter(resolved, ssh);

    const uuid = (seed: string): string => this.api.hap.uuid.generate(`${PLATFORM_NAME}:${host}:${router.port}:${seed}`);
    // Accessory names follow HomeKit's naming rules too, or the Home app may refuse the whole bridge.
    const lockdownAccessory = this.accessory(uuid('lockdown'), `${homeKitName(router.name, 'Camera')} Lockdown`, 'lockdown');
    const cameraAccessories = new Map(
      cameras.map((camera) => [camera.address, this.accessory(uuid(camera.address), homeKitName(camera.name, 'Camera'), 'camera')]),
    );
    const context = (accessory: PlatformAccessory): AccessoryContext => accessory.context;

    const views = new Map<string, CameraAccessory>();
    const lockdownViews: LockdownAccessory[] = [];
    const guard = new RouterGuard({
      router: resolved,
      cameras,
      leak: settings.leak,
      pollMs: settings.pollMs,
      driver,
      log,
      listener: {
        cameraChanged: (address) => views.get(address)?.refresh(),
        leakChanged: (address) => views.get(address)?.refresh(),
        reachabilityChanged: () => views.forEach((view) => view.refresh()),
        lockdownChanged: () => lockdownViews.forEach((view) => view.refresh()),
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
      markSeen: (address) => {
        const accessory = cameraAccessories.get(address);
        if (accessory) {
          context(accessory).seen = true;
          this.api.updatePlatformAccessories([accessory]);
        }
      },
    });
    for (const camera of cameras) {
      const accessory = cameraAccessories.get(camera.address) as PlatformAccessory;
      views.set(camera.address, new CameraAccessory(this.api, accessory, guard, camera));
      inUse.add(accessory.UUID);
    }
    lockdownViews.push(new LockdownAccessory(this.api, lockdownAccessory, guard, router.name));
    inUse.add(lockdownAccessory.UUID);
    if (this.fresh.length > 0) {
      this.api.registerPlatformAccessories(PLUGIN_NAME, PLATFORM_NAME, this.fresh);
      this.fresh = [];
    }
    this.guards.push(guard);
    log.info(`guarding ${cameras.length} camera(s) on ${host}:${router.port}.`);
    guard.start();
  }

  /** Returns the cached accessory with this UUID, or registers a new one. */
  private accessory(uuid: string, name: string, kind: 'camera' | 'lockdown'): PlatformAccessory {
    const existing = this.cached.get(uuid);
    if (existing) {
      return existing;
    }
    const accessory = new this.api.platformAccessory(name, uuid);
    (accessory.context as AccessoryContext).kind = kind;
    this.fresh.push(accessory);
    this.cached.set(uuid, accessory);
    return accessory;
  }

  private async defaultGateway(): Promise<string | undefined> {
    try {
      const gateway = await si.networkGatewayDefault();
      return gateway === '' ? undefined : gateway;
    } catch {
      return undefined;
    }
  }

  private async ownAddresses(): Promise<string[]> {
    try {
      const interfaces = await si.networkInterfaces();
      const list = Array.isArray(interfaces) ? interfaces : [interfaces];
      return list.map((entry) => entry.ip4).filter((address) => address !== '');
    } catch (error) {
      this.log.warn(`could not list this machine's own addresses (${(error as Error).message}); cameras are not checked against them.`);
      return [];
    }
  }
}
