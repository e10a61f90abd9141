export type { HostConnection, ExecResult, ExecOptions } from './host-connection';
export type { Backend, InstanceRecord, AgentPlacement, SshEndpoint, OfferList, OfferQuery, CreateInstanceRequest } from './backend';
export { NoCapacityError } from './backend';
export { LocalHost } from './local/local-host';
export { LocalBackend, LOCAL_INSTANCE_ID, resourcesFromHostInfo } from './local/local-backend';
export { dstackGpuName } from './gpu-short-names';
