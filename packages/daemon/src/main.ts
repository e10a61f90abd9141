// Entry of the daemon process (dist/daemon.cjs). The daemon issue fills this in.
process.stderr.write('dstack daemon: not built yet\n');
process.exitCode = 1;
