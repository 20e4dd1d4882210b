/**
 * One HomeKit accessory per camera: a Switch (On = the camera may reach the internet) and a LeakSensor (trips on
 * traffic the camera should not send). Handlers answer from the guard's cached state and never wait on the
 * router.
 */
import type { API, CharacteristicValue, HAPStatus, PlatformAccessory, Service } from 'homebridge';

import type { CameraSettings } from '../config';
import type { RouterGuard } from '../guard/routerGuard';
import { homeKitName } from './names';

/**
 * HAP status codes. HAPStatus is an ambient const enum in Homebridge's types, which isolated modules cannot read,
 * so the two values we use are spelled out.
 */
const NO_RESPONSE = -70402 as HAPStatus; // SERVICE_COMMUNICATION_FAILURE: the Home app shows "No Response"
const NOT_ALLOWED_NOW = -70412 as HAPStatus; // NOT_ALLOWED_IN_CURRENT_STATE

export class CameraAccessory {
  private readonly access: Service;
  private readonly leak: Service;

  constructor(
    private readonly api: API,
    readonly accessory: PlatformAccessory,
    private readonly guard: RouterGuard,
    private readonly camera: CameraSettings,
  ) {
    const { Service: S, Characteristic: C } = api.hap;
    const name = homeKitName(camera.name, 'Camera');
    accessory
      .getService(S.AccessoryInformation)
      ?.setCharacteristic(C.Manufacturer, 'Camera Guard')
      .setCharacteristic(C.Model, 'Camera internet access')
      .setCharacteristic(C.SerialNumber, camera.address);

    this.access = accessory.getServiceById(S.Switch, 'access') ?? accessory.addService(S.Switch, `${name} Internet`, 'access');
    this.access.setCharacteristic(C.Name, `${name} Internet`);
    this.access.addOptionalCharacteristic(C.ConfiguredName);
    this.access.setCharacteristic(C.ConfiguredName, `${name} Internet`);
    this.access
      .getCharacteristic(C.On)
      .onGet(() => this.accessValue())
      .onSet((value: CharacteristicValue) => this.setAccess(value === true || value === 1));

    this.leak = accessory.getServiceById(S.LeakSensor, 'leak') ?? accessory.addService(S.LeakSensor, `${name} Leak`, 'leak');
    this.leak.setCharacteristic(C.Name, `${name} Leak`);
    this.leak.addOptionalCharacteristic(C.ConfiguredName);
    this.leak.setCharacteristic(C.ConfiguredName, `${name} Leak`);
    this.leak.getCharacteristic(C.LeakDetected).onGet(() => this.leakValue());
    this.leak.getCharacteristic(C.StatusFault).onGet(() => this.faultValue());
  }

  /** Pushes the guard's current state to HomeKit. */
  refresh(): void {
    const C = this.api.hap.Characteristic;
    const access = this.guard.shownAccess(this.camera.address);
    // An unknown state is pushed as an error, so HomeKit marks the switch "No Response" rather than keeping a value.
    if (access === undefined) {
      this.access.updateCharacteristic(C.On, new this.api.hap.HapStatusError(NO_RESPONSE));
    } else {
      this.access.updateCharacteristic(C.On, access === 'allowed');
    }
    this.leak.updateCharacteristic(C.LeakDetected, this.leakValue());
    this.leak.updateCharacteristic(C.StatusFault, this.faultValue());
  }

  private setAccess(allowed: boolean): void {
    const { HapStatusError } = this.api.hap;
    const result = this.guard.requestAccess(this.camera.address, allowed ? 'allowed' : 'blocked');
    if (result === 'unreachable') {
      throw new HapStatusError(NO_RESPONSE);
    }
    if (result === 'refused-lockdown') {
      // Put the switch back once HomeKit has processed the refusal.
      setTimeout(() => this.refresh(), 0);
      throw new HapStatusError(NOT_ALLOWED_NOW);
    }
  }

  /**
   * On = the camera may reach the internet. When the router's state is not known (unreachable, unread, rules
   * damaged, a request it did not confirm) the read fails with "No Response": a calm Off would claim a block the
   * router may not enforce.
   */
  private accessValue(): boolean {
    const access = this.guard.shownAccess(this.camera.address);
    if (access === undefined) {
      throw new this.api.hap.HapStatusError(NO_RESPONSE);
    }
    return access === 'allowed';
  }

  private leakValue(): number {
    const C = this.api.hap.Characteristic;
    return this.guard.leakDetected(this.camera.address) ? C.LeakDetected.LEAK_DETECTED : C.LeakDetected.LEAK_NOT_DETECTED;
  }

  private faultValue(): number {
    const C = this.api.hap.Characteristic;
    return this.guard.stateUnknown(this.camera.address) ? C.StatusFault.GENERAL_FAULT : C.StatusFault.NO_FAULT;
  }
}

/** The per-router "Lockdown" switch: On = every camera on that router is blocked. */
export class LockdownAccessory {
  private readonly lockdown: Service;

  constructor(
    private readonly api: API,
    readonly accessory: PlatformAccessory,
    private readonly guard: RouterGuard,
    routerName: string,
  ) {
    const { Service: S, Characteristic: C } = api.hap;
    // The router's name is shortened on its own, so a long one never cuts "Lockdown" off.
    const name = `${homeKitName(routerName, 'Camera')} Lockdown`;
    accessory
      .getService(S.AccessoryInformation)
      ?.setCharacteristic(C.Manufacturer, 'Camera Guard')
      .setCharacteristic(C.Model, 'Camera lockdown')
      .setCharacteristic(C.SerialNumber, 'lockdown');
    this.lockdown = accessory.getServiceById(S.Switch, 'lockdown') ?? accessory.addService(S.Switch, name, 'lockdown');
    this.lockdown.setCharacteristic(C.Name, name);
    this.lockdown.addOptionalCharacteristic(C.ConfiguredName);
    this.lockdown.setCharacteristic(C.ConfiguredName, name);
    this.lockdown
      .getCharacteristic(C.On)
      .onGet(() => this.guard.lockdownOn)
      .onSet((value: CharacteristicValue) => {
        if (this.guard.requestLockdown(value === true || value === 1) === 'unreachable') {
          throw new this.api.hap.HapStatusError(NO_RESPONSE);
        }
      });
  }

  refresh(): void {
    this.lockdown.updateCharacteristic(this.api.hap.Characteristic.On, this.guard.lockdownOn);
  }
}
