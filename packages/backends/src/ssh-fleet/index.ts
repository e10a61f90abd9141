// SSH fleets: the user's own hosts as a backend (`type: fleet` with `ssh_config`).
export {
  SshFleetBackend,
  SSH_BACKEND,
  fleetHostData,
  type FleetHostData,
  type FleetHostState,
  type FleetHostAvailability,
  type SshFleetBackendOptions,
} from './backend';
export { accessFor, accessLabel, defaultIdentityFile, expandHome, hostKeyOf, sameAccess, type HostAccess, type JumpAccess } from './access';
export { fleetAgentPlacement, dataDirIn, isDataDir, DATA_DIR_NAME } from './placement';
export { systemdUnit, startUnit, removeUnit, unitPid, envFilePath, UNIT_NAME, UNIT_PATH } from './systemd';
export { MeteredHost } from './metered-host';
export { scanUnknownHostKeys, type HostKeyScan, type UnknownHostKey } from './host-key-scan';
