import { describe, expect, it } from 'vitest';
import { PullTracker, classifyPullError, registryAuthHeader, registryOf } from './pull';

describe('image pull helpers', () => {
  it('finds the registry of an image reference', () => {
    expect(registryOf('127.0.0.1:5000/private/busybox:v1')).toBe('127.0.0.1:5000');
    expect(registryOf('ghcr.io/org/img')).toBe('ghcr.io');
    expect(registryOf('localhost/img')).toBe('localhost');
    expect(registryOf('ubuntu:22.04')).toBe('https://index.docker.io/v1/');
    expect(registryOf('library/ubuntu')).toBe('https://index.docker.io/v1/');
  });

  it('sends the auth as base64url JSON with the registry', () => {
    const h = registryAuthHeader('ghcr.io/a/b', { username: 'u', password: 'p+/=' });
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ username: 'u', password: 'p+/=', serveraddress: 'ghcr.io' });
  });

  it('turns engine messages into errors a user can act on', () => {
    const img = '127.0.0.1:5000/x:v1';
    expect(classifyPullError(img, 'Head "http://127.0.0.1:5000/v2/x/manifests/v1": no basic auth credentials', true)).toMatchObject({
      reason: 'registry_auth_error',
      message: `registry auth failed for ${img}: check registry_auth username and password`,
    });
    expect(classifyPullError(img, 'unauthorized: authentication required', false).message).toBe(
      `registry auth failed for ${img}: the registry needs credentials (set registry_auth)`,
    );
    expect(classifyPullError(img, 'manifest for 127.0.0.1:5000/x:v1 not found: manifest unknown', true)).toMatchObject({
      reason: 'image_pull_error',
      message: `image ${img} not found`,
    });
    expect(classifyPullError(img, 'connection refused', true).message).toBe(`cannot pull image ${img}: connection refused`);
  });

  it('sums progress across layers', () => {
    const t = new PullTracker();
    t.update({ status: 'Pulling from x', id: 'v1' });
    t.update({ status: 'Downloading', id: 'aaaaaaaaaaaa', progressDetail: { current: 10, total: 100 } });
    t.update({ status: 'Downloading', id: 'bbbbbbbbbbbb', progressDetail: { current: 5, total: 50 } });
    expect(t.progress()).toEqual({ current: 15, total: 150, status: 'Downloading' });
    t.update({ status: 'Download complete', id: 'aaaaaaaaaaaa' });
    t.update({ status: 'Already exists', id: 'cccccccccccc' });
    expect(t.progress()).toMatchObject({ current: 105, total: 150 });
  });
});
