// The lines that tell the user how to reach a run: the desktop IDE's link and the SSH command.

// The links are dstack's (its ides/*.py get_url): the VS Code family opens Remote-SSH, Zed its own SSH.
const IDES: Record<string, { scheme: string; title: string; zed?: true }> = {
  vscode: { scheme: 'vscode', title: 'VS Code Desktop' },
  cursor: { scheme: 'cursor', title: 'Cursor' },
  windsurf: { scheme: 'windsurf', title: 'Windsurf' },
  zed: { scheme: 'zed', title: 'Zed', zed: true },
};

/**
 * `vscode://vscode-remote/ssh-remote+NAME/workflow`, `cursor://...`, `windsurf://...`,
 * `zed://ssh/NAME/workflow`; undefined for no or another IDE.
 */
export function ideLink(ide: string | undefined | null, host: string, dir = '/workflow'): string | undefined {
  const entry = ide ? IDES[ide] : undefined;
  if (!entry) return undefined;
  const path = dir.startsWith('/') ? dir : `/${dir}`;
  return entry.zed ? `zed://ssh/${host}${path}` : `${entry.scheme}://vscode-remote/ssh-remote+${host}${path}`;
}

/** The IDE's name as a heading says it: `VS Code Desktop`, `Cursor`. */
export function ideTitle(ide: string | undefined | null): string | undefined {
  if (!ide) return undefined;
  return IDES[ide]?.title;
}

/** The text printed once a run is up: the IDE link (when there is an IDE) and the SSH hint. */
export function accessLines(opts: { ide?: string | null; link?: string; sshAlias: string }): string {
  const link = opts.link || ideLink(opts.ide, opts.sshAlias);
  const lines: string[] = [];
  if (link) {
    const title = ideTitle(opts.ide) ?? ideTitle(link.split(':')[0]) ?? 'your IDE';
    lines.push(`To open in ${title}, use this link:`, `  ${link}`, '');
  }
  lines.push(`To connect via SSH, use: ssh ${opts.sshAlias}`);
  return lines.map((l) => `${l}\n`).join('');
}
