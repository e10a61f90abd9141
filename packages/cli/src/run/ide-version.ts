// The local desktop IDE's commit (`code --version` prints version, commit and arch on three lines),
// sent with the run so the agent pre-installs the matching server before the user connects.
import { spawnSync } from 'node:child_process';

const COMMANDS: Record<string, { bin: string; name: string }> = {
  vscode: { bin: 'code', name: 'VS Code' },
  cursor: { bin: 'cursor', name: 'Cursor' },
  windsurf: { bin: 'windsurf', name: 'Windsurf' },
};

export type IdeVersion = { commit: string } | { problem: string };

export function localIdeVersion(ide: string, env: NodeJS.ProcessEnv = process.env): IdeVersion | undefined {
  const cmd = COMMANDS[ide];
  if (!cmd) return undefined;
  const res = spawnSync(cmd.bin, ['--version'], { encoding: 'utf8', timeout: 15_000, env });
  const fix = `install the \`${cmd.bin}\` command (${cmd.name}: Command Palette → "Shell Command: Install '${cmd.bin}' command in PATH") or set \`version:\` in the configuration; the IDE server will be installed when you first connect`;
  const commit = (res.stdout ?? '')
    .split('\n')
    .map((l) => l.trim())
    .find((l) => /^[0-9a-f]{40}$/.test(l));
  if (!res.error && res.status === 0 && commit) return { commit };
  const why = res.error
    ? (res.error as NodeJS.ErrnoException).code === 'ENOENT'
      ? 'not found'
      : res.error.message
    : res.status !== 0
      ? `exited with ${res.status ?? res.signal}`
      : 'no commit in its output';
  return { problem: `could not read the local ${cmd.name} version (\`${cmd.bin} --version\`: ${why}): ${fix}` };
}
