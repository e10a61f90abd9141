export type { Backend, InstanceRecord } from './backend';
export { LocalBackend } from './local/local-backend';
