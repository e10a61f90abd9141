// The product version. Bundles get it from package.json at build time (scripts/build.mjs defines
// DSTACK_BUILD_VERSION); unbundled code (tests) falls back to the development marker.
export const VERSION: string = process.env.DSTACK_BUILD_VERSION ?? '0.1.0-dev';

// Bumped when a proto change breaks wire compatibility between daemon and agent.
export const AGENT_PROTOCOL_VERSION = 1;
