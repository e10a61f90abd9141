// `dstack --version`: the CLI's version, the running daemon's (asked on its socket; never started for
// this) and the agent's, from the manifest scripts/build-agent.mjs writes beside the executables
// (asking an executable would make it hash itself first).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { VERSION } from '@dstack/core/version';

export function register(program: Command): void {
  program.option('-v, --version', 'print the versions of the CLI, the daemon and the agent');
  // Emitted while commander reads the program's own options, before it decides what to run: with
  // an action set, `dstack --version` runs it (a subcommand after the flag still runs instead).
  program.on('option:version', () => program.action(printVersions));
}

async function printVersions(): Promise<void> {
  const [daemon, agent] = await Promise.all([daemonVersion(), agentVersion()]);
  process.stdout.write(`dstack ${VERSION}\ndaemon ${daemon}\nagent  ${agent}\n`);
}

async function daemonVersion(): Promise<string> {
  const { connect, socketAnswers } = await import('../daemon/client');
  const { dstackHome, homeLayout } = await import('@dstack/core/home-layout');
  if (!(await socketAnswers(homeLayout(dstackHome()).socket))) return 'not running';
  try {
    const d = await connect({ autoStart: false, checkVersion: false });
    try {
      const s = await d.status();
      return `${s.version} (pid ${s.pid})`;
    } finally {
      d.close();
    }
  } catch (err) {
    return `not answering (${err instanceof Error ? err.message : String(err)})`;
  }
}

/** From the folder the daemon takes its agents from: DSTACK_AGENT_DIR, or `agent/` beside its script. */
async function agentVersion(): Promise<string> {
  const { daemonScript } = await import('../daemon/client');
  const dir = process.env.DSTACK_AGENT_DIR || join(dirname(daemonScript()), 'agent');
  const file = join(dir, 'manifest.json');
  if (!existsSync(file)) return `unknown (no ${file}: run \`npm run build:agent\`)`;
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown; executables?: Record<string, unknown> };
    const arches = Object.keys(m.executables ?? {}).map((f) => f.replace(/^dstack-agent-/, ''));
    return `${String(m.version)} (${arches.join(', ') || 'no executables'})`;
  } catch (err) {
    return `unknown (${file}: ${err instanceof Error ? err.message : String(err)})`;
  }
}
