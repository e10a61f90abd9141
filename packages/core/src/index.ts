export { VERSION, AGENT_PROTOCOL_VERSION } from './version';
