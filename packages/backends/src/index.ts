export type { HostConnection, ExecResult, ExecOptions } from './host-connection';
