// `--watch`: a view redrawn in place on a terminal (plain repeats elsewhere) until Ctrl+C.

/** Calls `draw` and shows its text, again every `everyMs`, until Ctrl+C. */
export async function watch(draw: () => Promise<{ text: string; everyMs: number }>): Promise<void> {
  const tty = process.stdout.isTTY;
  let stop = false;
  const onInt = () => {
    stop = true;
  };
  process.once('SIGINT', onInt);
  let lines = 0;
  try {
    while (!stop) {
      const { text, everyMs } = await draw();
      if (tty) {
        if (lines) process.stdout.write(`\x1b[${lines}A\x1b[J`);
        lines = text.split('\n').length - 1;
        process.stdout.write(text);
      } else {
        process.stdout.write(`${text}\n`);
      }
      for (let waited = 0; waited < everyMs && !stop; waited += 100) await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    process.off('SIGINT', onInt);
  }
}
