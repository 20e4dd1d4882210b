// The HomeKit test client lives with the other simulation tools so the soak script can use it too.
export * from '../../tools/sim/homeKitClient';
