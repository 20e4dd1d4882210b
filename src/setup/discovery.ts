/**
 * `/cameras/discover`: the devices on the router's LAN (its DHCP leases, ARP and IPv6 neighbour tables, merged per
 * MAC by the driver), each with its maker, camera makers marked, and the ones already configured said so.
 */
import type { DiscoveredDevice, Discovery } from '../ui/protocol';
import { connectedSession, sentence } from './connect';
import { RequestError } from './requestError';
import { vendorOf } from './vendors';

interface KnownCamera {
  readonly address?: unknown;
  readonly mac?: unknown;
}

function normalisedMac(value: unknown): string | undefined {
  return typeof value === 'string' ? value.trim().toLowerCase().replace(/-/g, ':') : undefined;
}

export async function discover(rawRouter: unknown, rawCameras: unknown, storagePath: string): Promise<Discovery> {
  const cameras: KnownCamera[] = Array.isArray(rawCameras) ? rawCameras.filter((camera): camera is KnownCamera => camera !== null && typeof camera === 'object') : [];
  const knownMacs = new Set(cameras.map((camera) => normalisedMac(camera.mac)).filter((mac) => mac !== undefined));
  const knownAddresses = new Set(cameras.map((camera) => (typeof camera.address === 'string' ? camera.address.trim().toLowerCase() : undefined)).filter((address) => address !== undefined));
  const session = await connectedSession(rawRouter, storagePath);
  try {
    let lan;
    try {
      lan = await session.driver.lanDevices();
    } catch (error) {
      throw new RequestError(sentence(error));
    }
    const devices: DiscoveredDevice[] = lan.map((device) => {
      const { vendor, camera } = vendorOf(device.mac);
      return {
        name: device.name,
        addresses: device.addresses,
        mac: device.mac,
        vendor,
        camera,
        configured: knownMacs.has(device.mac) || device.addresses.some((address) => knownAddresses.has(address.toLowerCase())),
      };
    });
    // Cameras first, then by name, then by address: what the owner is looking for is at the top.
    const key = (device: DiscoveredDevice): string => `${device.camera ? 0 : 1}${(device.name ?? '~').toLowerCase()}`;
    return { devices: devices.sort((a, b) => key(a).localeCompare(key(b)) || (a.addresses[0] ?? '').localeCompare(b.addresses[0] ?? '', 'en', { numeric: true })) };
  } finally {
    session.close();
  }
}
