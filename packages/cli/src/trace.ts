// DSTACK_TRACE=1: one line on stderr per phase of a command, in milliseconds since the process
// started (Node's own start included), for finding where a command's time goes.
const on = !!process.env.DSTACK_TRACE;

export function trace(what: string): void {
  if (on) process.stderr.write(`[trace ${(process.uptime() * 1000).toFixed(0)} ms] ${what}\n`);
}
