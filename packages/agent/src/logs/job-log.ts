// A job's log on disk: bounded, readable from any offset, each line with its time and stream.
//
// Offsets count the bytes of line data only (not the record headers), so a line at `offset` with
// `data.length` bytes is followed by `offset + data.length`, as LogLine's comment promises. The log
// is a row of segment files named by the offset of their first byte; past the cap the oldest
// segment is dropped whole. Each record: int64 time_ms, uint8 stream, uint32 length, data.
import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { LogStream, LogLine } from '@dstack/core/gen/agent';

const HEADER = 13;
export const DEFAULT_LOG_CAP = 16 * 1024 * 1024;
const SEGMENTS = 4;

interface Segment {
  base: number;
  file: string;
}

interface Record {
  offset: number;
  timeMs: number;
  stream: LogStream;
  data: Buffer;
}

function parseRecords(buf: Buffer, base: number): { records: Record[]; validBytes: number } {
  const records: Record[] = [];
  let pos = 0;
  let offset = base;
  while (pos + HEADER <= buf.length) {
    const len = buf.readUInt32BE(pos + 9);
    if (pos + HEADER + len > buf.length) break; // torn write at a crash: dropped on open
    records.push({
      offset,
      timeMs: Number(buf.readBigInt64BE(pos)),
      stream: buf.readUInt8(pos + 8) as LogStream,
      data: buf.subarray(pos + HEADER, pos + HEADER + len),
    });
    offset += len;
    pos += HEADER + len;
  }
  return { records, validBytes: pos };
}

export class JobLog {
  private segments: Segment[] = [];
  private fd: number | undefined;
  private segmentBytes = 0;
  private end = 0;
  private readonly segmentCap: number;

  constructor(
    private readonly dir: string,
    cap = DEFAULT_LOG_CAP,
  ) {
    this.segmentCap = Math.max(4096, Math.floor(cap / SEGMENTS));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.segments = readdirSync(dir)
      .map((f) => /^([0-9a-f]{16})\.seg$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ base: parseInt(m[1], 16), file: join(dir, m[0]) }))
      .sort((a, b) => a.base - b.base);
    const last = this.segments.at(-1);
    if (last) {
      const { records, validBytes } = parseRecords(readFileSync(last.file), last.base);
      this.fd = openSync(last.file, 'r+');
      if (fstatSync(this.fd).size !== validBytes) ftruncateSync(this.fd, validBytes);
      this.segmentBytes = validBytes;
      const r = records.at(-1);
      this.end = r ? r.offset + r.data.length : last.base;
      closeSync(this.fd);
      this.fd = openSync(last.file, 'a');
    }
  }

  /** The oldest offset still kept. */
  get firstOffset(): number {
    return this.segments[0]?.base ?? this.end;
  }

  get endOffset(): number {
    return this.end;
  }

  append(stream: LogStream, data: Buffer, timeMs = Date.now()): LogLine {
    if (this.fd === undefined || this.segmentBytes >= this.segmentCap) this.roll();
    const header = Buffer.alloc(HEADER);
    header.writeBigInt64BE(BigInt(Math.trunc(timeMs)), 0);
    header.writeUInt8(stream, 8);
    header.writeUInt32BE(data.length, 9);
    // One write per record: a crash can tear only the last one, which open() drops.
    writeSync(this.fd!, Buffer.concat([header, data]));
    this.segmentBytes += HEADER + data.length;
    const line: LogLine = { offset: this.end, timeMs, stream, data };
    this.end += data.length;
    return line;
  }

  private roll(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    const file = join(this.dir, `${this.end.toString(16).padStart(16, '0')}.seg`);
    this.fd = openSync(file, 'a', 0o600);
    this.segments.push({ base: this.end, file });
    this.segmentBytes = 0;
    while (this.segments.length > SEGMENTS) rmSync(this.segments.shift()!.file, { force: true });
  }

  /**
   * Lines from `fromOffset` (clamped to the oldest kept; a line it falls inside is returned from
   * that byte on), skipping lines older than `sinceMs`, up to about `limitBytes` of data.
   */
  read(fromOffset: number, { sinceMs = 0, limitBytes = 1 << 20 } = {}): { lines: LogLine[]; nextOffset: number; firstOffset: number } {
    const first = this.firstOffset;
    let from = Math.min(Math.max(fromOffset, first), this.end);
    const lines: LogLine[] = [];
    let bytes = 0;
    for (let i = 0; i < this.segments.length; i++) {
      const seg = this.segments[i];
      const nextBase = this.segments[i + 1]?.base ?? this.end;
      if (nextBase <= from || !existsSync(seg.file)) continue;
      for (const r of parseRecords(readFileSync(seg.file), seg.base).records) {
        const rEnd = r.offset + r.data.length;
        if (rEnd <= from) continue;
        if (bytes > 0 && bytes + r.data.length > limitBytes) return { lines, nextOffset: from, firstOffset: first };
        const skip = from - r.offset;
        const data = skip > 0 ? r.data.subarray(skip) : r.data;
        if (r.timeMs >= sinceMs) {
          lines.push({ offset: r.offset + Math.max(0, skip), timeMs: r.timeMs, stream: r.stream, data: Buffer.from(data) });
          bytes += data.length;
        }
        from = rEnd;
      }
    }
    return { lines, nextOffset: from, firstOffset: first };
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * Splits a process's output into lines for the log: a partial line waits for its end for a moment
 * (so `printf a; sleep 1; echo b` still shows `a` soon), and very long lines are cut.
 */
export class LineSplitter {
  private pending: Buffer = Buffer.alloc(0);
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly emit: (line: Buffer) => void,
    private readonly flushMs = 200,
    private readonly maxLine = 64 * 1024,
  ) {}

  write(chunk: Buffer): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let nl: number;
    while ((nl = buf.indexOf(10)) !== -1) {
      this.emit(buf.subarray(0, nl + 1));
      buf = buf.subarray(nl + 1);
    }
    while (buf.length >= this.maxLine) {
      this.emit(buf.subarray(0, this.maxLine));
      buf = buf.subarray(this.maxLine);
    }
    this.pending = Buffer.from(buf);
    if (this.timer) clearTimeout(this.timer);
    this.timer = this.pending.length ? setTimeout(() => this.flush(), this.flushMs) : undefined;
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length) this.emit(this.pending);
    this.pending = Buffer.alloc(0);
  }
}
