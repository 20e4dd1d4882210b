/** Registers the platform with Homebridge; everything else starts in platform.ts. */
import type { API } from 'homebridge';

import { CameraGuardPlatform } from './homekit/platform';
import { PLATFORM_NAME } from './settings';

export = (api: API): void => {
  api.registerPlatform(PLATFORM_NAME, CameraGuardPlatform);
};
