/**
 * Who made a device, from its MAC's first three bytes (the IEEE's OUI registry, shipped offline by the `oui-data`
 * package and refreshed with each release of this plugin), and whether that maker builds cameras or recorders.
 */
import { routerWords } from '../log';

let registry: Readonly<Record<string, string>> | undefined;

/** Loaded on first use only: the list is 5 MB, and only the settings page's server needs it. */
function oui(): Readonly<Record<string, string>> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  registry ??= require('oui-data') as Record<string, string>;
  return registry;
}

/** Makers of IP cameras, doorbells and video recorders, as the OUI registry spells them. */
const CAMERA_MAKERS = new RegExp(
  '^(' +
    [
      'Hangzhou Hikvision',
      'Hangzhou Ezviz',
      'Zhejiang Dahua',
      'Axis Communications',
      'Amcrest',
      'Reolink',
      'Hanwha (Vision|Techwin)',
      'Samsung Techwin',
      'Zhejiang Uniview',
      'Lorex',
      'Swann',
      'Shenzhen Foscam',
      'Wyze',
      'Tianjin Hualai',
      'Shanghai Xiaoyi',
      'Arlo',
      'Blink',
      'Ring LLC',
      'Dropcam',
      'Vivotek',
      'Mobotix',
      'Bosch Security Systems',
      'i-PRO',
      'Milesight',
      'Tiandy',
      'Hangzhou Xiongmai',
      'Zhuhai Raysharp',
      'Sunell',
      'Avigilon',
      'Pelco',
      'GeoVision',
      'Honeywell Video',
      'Night Owl',
      'Canary Connect',
      'Synology',
    ].join('|') +
    ')',
  'i',
);

export interface Vendor {
  readonly vendor: string | undefined;
  readonly camera: boolean;
}

/** The maker of `mac` (any case, `:` or `-`); none for a locally administered (randomised) MAC. */
export function vendorOf(mac: string): Vendor {
  const hex = mac.replace(/[^0-9a-f]/gi, '').toUpperCase();
  if (hex.length !== 12) return { vendor: undefined, camera: false };
  // The second-lowest bit of the first byte marks an address the device made up (phones do, per network).
  if ((parseInt(hex.slice(0, 2), 16) & 0x02) !== 0) return { vendor: undefined, camera: false };
  const entry = oui()[hex.slice(0, 6)];
  if (entry === undefined) return { vendor: undefined, camera: false };
  const vendor = routerWords(entry.split('\n')[0] ?? '', 80);
  return { vendor: vendor === '' ? undefined : vendor, camera: CAMERA_MAKERS.test(vendor) };
}
