// DSTACK_TRACE=1: one line on stderr per phase of a command, in milliseconds since the process
// started (Node's own start included) and as a UTC time to the millisecond, so the phases line up
// with the daemon's log (bench/cli.bench.mjs does that).
const on = !!process.env.DSTACK_TRACE;

export function trace(what: string): void {
  if (on) process.stderr.write(`[trace ${(process.uptime() * 1000).toFixed(0)} ms ${new Date().toISOString()}] ${what}\n`);
}
