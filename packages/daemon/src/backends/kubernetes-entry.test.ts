import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../config';

const parse = (text: string) => parseConfig('/h/config.yml', text);

describe('backends: - type: kubernetes', () => {
  it('reads dstack’s shape (kubeconfig data or filename, contexts, namespace) plus pending_timeout and price', () => {
    const cfg = parse(
      'backends:\n  - type: kubernetes\n    kubeconfig:\n      data: "apiVersion: v1"\n    contexts: [a, {name: b}]\n    namespace: ml\n    pending_timeout: 90s\n    price: 1.5\n',
    );
    expect(cfg.backends).toEqual([
      {
        type: 'kubernetes',
        kubeconfig: { filename: null, data: 'apiVersion: v1' },
        contexts: ['a', 'b'],
        namespace: 'ml',
        pendingTimeoutMs: 90_000,
        price: 1.5,
      },
    ]);
  });

  it.each([
    ['backends:\n  - type: kubernetes\n', '/h/config.yml:2:5: backends[0]: kubeconfig: {filename: ~/.kube/config} is required'],
    [
      'backends:\n  - type: kubernetes\n    kubeconfig: {filename: /nonexistent/kubeconfig}\n',
      '/h/config.yml:3:17: backends[0].kubeconfig.filename: no such file: "/nonexistent/kubeconfig"',
    ],
    [
      'backends:\n  - type: kubernetes\n    kubeconfig: {data: x}\n    proxy_jump: {hostname: 1.2.3.4, port: 32000}\n',
      '/h/config.yml:4:5: backends[0].proxy_jump: proxy_jump is not needed by dstack-ts: it reaches pods through the API server’s port-forward (pods/portforward), with no port open on a node; remove it',
    ],
    [
      'backends:\n  - type: kubernetes\n    kubeconfig: {data: x}\n    namespace: Bad_Name\n',
      '/h/config.yml:4:16: backends[0].namespace: expected a namespace name (lowercase, digits, -), got "Bad_Name"',
    ],
    [
      'backends:\n  - type: kubernetes\n    kubeconfig: {data: x}\n    pending_timeout: soon\n',
      '/h/config.yml:4:22: backends[0].pending_timeout: invalid duration "soon": use whole seconds or <n><s|m|h|d|w>, e.g. 90m or 2h',
    ],
    [
      'backends:\n  - type: kubernetes\n    kubeconfig: {data: x}\n    creds: {type: api_key, api_key: k}\n',
      '/h/config.yml:4:5: unknown setting "backends[0].creds" (known for kubernetes: type, kubeconfig, contexts, namespace, pending_timeout, price)',
    ],
  ])('refuses %j with file:line:col', (text, message) => {
    expect(() => parse(text)).toThrow(ConfigError);
    expect(() => parse(text)).toThrow(message);
  });
});
