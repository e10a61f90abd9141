// Entry point of the agent executable (scripts/build-agent.mjs bundles it): parses the command line
// and runs it. See cli.ts for the commands.
import { AGENT_VERSION, executablePath, executableSha256 } from './self';
import { USAGE, UsageError, parseArgs } from './cli';
import { call, hostinfo } from './ctl';
import { serve } from './serve';
import { runSftpHelper } from './sftp/helper';
import { runListenHelper } from './ssh-server/listen-helper';

async function main(argv: string[]): Promise<number> {
  let cmd;
  try {
    cmd = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`dstack-agent: ${err.message} (see dstack-agent --help)\n`);
      return 2;
    }
    throw err;
  }
  switch (cmd.kind) {
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case 'version': {
      const sha256 = await executableSha256();
      if (cmd.json) {
        const info = { name: 'dstack-agent', version: AGENT_VERSION, sha256, arch: process.arch, path: executablePath() };
        process.stdout.write(`${JSON.stringify(info)}\n`);
      } else process.stdout.write(`dstack-agent ${AGENT_VERSION} sha256:${sha256}\n`);
      return 0;
    }
    case 'serve':
      await serve(cmd);
      return 0;
    case 'hostinfo':
      await hostinfo(cmd.dataDir);
      return 0;
    case 'call':
      await call(cmd.socket, cmd.method, cmd.body);
      return 0;
    case 'sftp-server':
      await runSftpHelper(cmd);
      return 0;
    case 'tcp-listen':
      await runListenHelper(cmd);
      return 0;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`dstack-agent: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
