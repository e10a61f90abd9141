// A gate in front of the real test Docker engine: an HTTP proxy on a unix socket of its own (the
// agent's DOCKER_HOST) that forwards every Engine API call, hijacked exec connections included, and
// can hold the calls that match a pattern until the test releases them. It fakes nothing; it only
// lets a test put a StopJob exactly while a container is being created.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { tempDir, waitFor } from './util';

interface Held {
  what: string;
  go: () => void;
}

export class DockerGate {
  readonly socketPath: string;
  private readonly tmp = tempDir('docker-gate');
  private server: Server | undefined;
  private pattern: RegExp | undefined;
  private readonly held: Held[] = [];
  private readonly sockets = new Set<Socket>();
  /** Every call seen, as "METHOD path". */
  readonly calls: string[] = [];
  /** Calls forwarded and not answered yet. */
  inFlight = 0;

  constructor(private readonly upstream: string) {
    this.socketPath = join(this.tmp.path, 'docker.sock');
  }

  get dockerHost(): string {
    return `unix://${this.socketPath}`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => this.onRequest(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(this.socketPath, resolve));
    this.server = server;
  }

  /** From now on, calls whose "METHOD path" matches wait until release(). */
  hold(pattern: RegExp): void {
    this.pattern = pattern;
  }

  /** Waits until `n` calls are held; returns what they are. */
  async waitHeld(n = 1): Promise<string[]> {
    await waitFor(`${n} held Docker call(s)`, () => this.held.length >= n, { timeoutMs: 120_000, intervalMs: 50 });
    return this.held.map((h) => h.what);
  }

  /** Lets the held calls through and stops holding. */
  release(): void {
    this.pattern = undefined;
    for (const h of this.held.splice(0)) h.go();
  }

  private gate(what: string, go: () => void): void {
    if (this.pattern?.test(what)) this.held.push({ what, go });
    else go();
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const what = `${req.method} ${req.url}`;
    this.calls.push(what);
    this.inFlight++;
    let done = false;
    const finish = () => {
      if (!done) this.inFlight--;
      done = true;
    };
    res.on('close', finish);
    // Read the body now, so a held call is complete when it goes on.
    const body: Buffer[] = [];
    req.on('data', (d: Buffer) => body.push(d));
    req.on('end', () =>
      this.gate(what, () => {
        const up = request({ socketPath: this.upstream, method: req.method, path: req.url, headers: req.headers }, (ures) => {
          res.writeHead(ures.statusCode ?? 502, ures.headers);
          ures.pipe(res);
        });
        up.on('error', (err) => {
          if (!res.headersSent) res.writeHead(502);
          res.end(String(err));
        });
        res.on('close', () => up.destroy());
        up.end(Buffer.concat(body));
      }),
    );
  }

  /** Resolves once no call has been in flight for `quietMs` (whatever a stopped job still had going has ended). */
  async settled(quietMs = 1000, timeoutMs = 60_000): Promise<void> {
    let since = Date.now();
    await waitFor(
      'the Docker calls to settle',
      () => {
        if (this.inFlight > 0) since = Date.now();
        return Date.now() - since >= quietMs;
      },
      { timeoutMs, intervalMs: 25 },
    );
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.calls.push(`${req.method} ${req.url}`);
    // Exec and attach: replay the request head on a raw connection and splice the two sockets.
    const up = connect(this.upstream, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) up.write(head);
      socket.pipe(up);
      up.pipe(socket);
    });
    const end = () => {
      socket.destroy();
      up.destroy();
    };
    up.on('error', end);
    socket.on('error', end);
    up.on('close', end);
    socket.on('close', end);
  }

  async stop(): Promise<void> {
    this.release();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.tmp.cleanup();
  }
}
