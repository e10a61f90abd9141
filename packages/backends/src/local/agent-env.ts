// The environment this machine's agent starts with: a short list taken from the daemon's, never the
// whole of it. The daemon inherits the shell that first started it (tokens, keys, anything exported
// there); the agent runs jobs, and a host-mode job must not find those in its own environment.
//
// Kept, and why: PATH (the tools the agent runs: sh, setsid, nvidia-smi, amd-smi), HOME (where its
// user's files are), LANG, LC_* and TZ (messages and times as the user reads them), TMPDIR (where
// temporary files go), DOCKER_HOST (the engine its jobs run on), DSTACK_*_SERVER_URL,
// DSTACK_*_SERVER_SHA256_URL and DSTACK_*_EXTENSION_URL (the agent's documented IDE download overrides), NODE_EXTRA_CA_CERTS
// (a mirror's CA) and DSTACK_AGENT_* (the agent's own switches).
const KEEP = ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR', 'DOCKER_HOST', 'NODE_EXTRA_CA_CERTS'];
const KEEP_PATTERNS = [/^LC_[A-Z]+$/, /^DSTACK_[A-Z]+_(SERVER(_SHA256)?|EXTENSION)_URL$/, /^DSTACK_AGENT_[A-Z0-9_]+$/];

export function agentEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && (KEEP.includes(k) || KEEP_PATTERNS.some((p) => p.test(k)))) out[k] = v;
  }
  return out;
}
