import { describe, expect, it } from 'vitest';
import { accessLines, ideLink, ideTitle } from './links';

describe('ideLink', () => {
  it('builds the remote-SSH links of VS Code and its forks', () => {
    expect(ideLink('vscode', 'vscode')).toBe('vscode://vscode-remote/ssh-remote+vscode/workflow');
    expect(ideLink('cursor', 'fast-moth-1')).toBe('cursor://vscode-remote/ssh-remote+fast-moth-1/workflow');
    expect(ideLink('windsurf', 'w', '/home/me/work')).toBe('windsurf://vscode-remote/ssh-remote+w/home/me/work');
    expect(ideLink('vscode', 'x', 'rel')).toBe('vscode://vscode-remote/ssh-remote+x/rel');
  });

  it("builds Zed's own SSH link, as dstack does", () => {
    expect(ideLink('zed', 'fast-moth-1')).toBe('zed://ssh/fast-moth-1/workflow');
    expect(ideLink('zed', 'z', '/home/me/work')).toBe('zed://ssh/z/home/me/work');
    expect(ideTitle('zed')).toBe('Zed');
    expect(accessLines({ ide: 'zed', sshAlias: 'z' })).toBe(
      'To open in Zed, use this link:\n  zed://ssh/z/workflow\n\nTo connect via SSH, use: ssh z\n',
    );
  });

  it('has none without an IDE or for an unknown one', () => {
    expect(ideLink(null, 'x')).toBeUndefined();
    expect(ideLink('vim', 'x')).toBeUndefined();
    expect(ideTitle('vscode')).toBe('VS Code Desktop');
  });
});

describe('accessLines', () => {
  it('prints the link the way the seed page does, then the SSH hint', () => {
    expect(accessLines({ ide: 'vscode', sshAlias: 'vscode' })).toBe(
      'To open in VS Code Desktop, use this link:\n  vscode://vscode-remote/ssh-remote+vscode/workflow\n\nTo connect via SSH, use: ssh vscode\n',
    );
  });

  it("uses the daemon's link when it has one (host mode has another folder)", () => {
    const text = accessLines({ ide: 'cursor', link: 'cursor://vscode-remote/ssh-remote+r/root/.dstack/r', sshAlias: 'r' });
    expect(text).toContain('To open in Cursor, use this link:\n  cursor://vscode-remote/ssh-remote+r/root/.dstack/r\n');
  });

  it('only gives the SSH hint without an IDE', () => {
    expect(accessLines({ ide: null, sshAlias: 'plain' })).toBe('To connect via SSH, use: ssh plain\n');
  });
});
