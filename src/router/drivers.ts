/**
 * The one place that knows which router families there are. A new family (VyOS, OpenWrt, nftables) implements
 * RouterDriver beside EdgeOS and is chosen here; the guard and the HomeKit layer see only RouterDriver. EdgeOS is
 * the only family today, so every router entry gets its driver.
 */
import type { RouterDriver, SetupProbe } from './driver';
import { EdgeOsRouter } from './edgeos/edgeosRouter';
import type { SshConnection } from './ssh';

export type DriverSettings = ConstructorParameters<typeof EdgeOsRouter>[0];

export function routerDriver(router: DriverSettings, ssh: SshConnection): RouterDriver & SetupProbe {
  return new EdgeOsRouter(router, ssh);
}
