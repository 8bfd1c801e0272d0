/**
 * A zip archive of whole files, stored (no compression: weights do not compress), streamed for downloads such as a
 * checkpoint folder. Nothing is held whole in memory and nothing blocks the event loop: each file is opened once
 * (so a checkpoint written over meanwhile still zips as it was), its CRC-32 is computed in chunks, then the archive
 * is written with the response's backpressure. Sizes must stay under 4 GiB (no ZIP64), which checkpoints do by far.
 */
import { open, type FileHandle } from "node:fs/promises";
import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { crc32 } from "node:zlib";
/** DOS date and time fields for `date` (local time, 2-second resolution), as zip headers keep them. */
function dosTime(date: Date): { time: number; day: number } {
  return {
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | Math.floor(date.getSeconds() / 2),
    day: ((Math.max(1980, date.getFullYear()) - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}

interface Entry {
  name: Buffer;
  fd: FileHandle;
  size: number;
  crc: number;
  offset: number;
}

const CHUNK = 1 << 20;

async function crcOf(fd: FileHandle, size: number): Promise<number> {
  const buf = Buffer.alloc(Math.min(CHUNK, Math.max(1, size)));
  let crc = 0;
  for (let pos = 0; pos < size; ) {
    const { bytesRead } = await fd.read(buf, 0, Math.min(buf.length, size - pos), pos);
    if (bytesRead === 0) throw new Error("the file got shorter while it was zipped");
    crc = crc32(buf.subarray(0, bytesRead), crc);
    pos += bytesRead;
  }
  return crc;
}

/**
 * The 26 bytes that a local header (from offset 4) and a central header (from offset 6) share: version needed,
 * flags (UTF-8 names), method (stored), DOS time and date, CRC-32, both sizes, the name's length.
 */
function writeEntryFields(buf: Buffer, at: number, e: Entry, time: number, day: number): void {
  buf.writeUInt16LE(20, at); // version needed
  buf.writeUInt16LE(0x0800, at + 2); // UTF-8 names
  buf.writeUInt16LE(0, at + 4); // stored
  buf.writeUInt16LE(time, at + 6);
  buf.writeUInt16LE(day, at + 8);
  buf.writeUInt32LE(e.crc, at + 10);
  buf.writeUInt32LE(e.size, at + 14);
  buf.writeUInt32LE(e.size, at + 18);
  buf.writeUInt16LE(e.name.length, at + 22);
}

function localHeader(e: Entry, time: number, day: number): Buffer {
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  writeEntryFields(local, 4, e, time, day);
  return Buffer.concat([local, e.name]);
}

function centralHeader(e: Entry, time: number, day: number): Buffer {
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix, zip 2.0
  writeEntryFields(central, 6, e, time, day);
  central.writeUInt32LE((0o100644 << 16) >>> 0, 38); // a regular file, rw-r--r--
  central.writeUInt32LE(e.offset, 42);
  return Buffer.concat([central, e.name]);
}

export interface StoredZip {
  /** The archive's length in bytes (for Content-Length). */
  length: number;
  /** Writes the archive to `out` (ending it), then closes the files. */
  writeTo(out: Writable): Promise<void>;
  /** Closes the files without writing (when the request went away first). */
  close(): Promise<void>;
}

/** Opens the files and reads their CRCs; throws (closing what it opened) when one cannot be read. */
export async function zipStoredFiles(files: { name: string; path: string }[], date = new Date()): Promise<StoredZip> {
  const { time, day } = dosTime(date);
  const entries: Entry[] = [];
  const close = async () => {
    await Promise.all(entries.map((e) => e.fd.close().catch(() => undefined)));
  };
  try {
    let offset = 0;
    for (const f of files) {
      const fd = await open(f.path, "r");
      const name = Buffer.from(f.name, "utf8");
      const entry: Entry = { name, fd, size: 0, crc: 0, offset };
      entries.push(entry);
      entry.size = (await fd.stat()).size;
      if (entry.size >= 0xffffffff || offset >= 0xffffffff) throw new RangeError(`${f.name}: the archive would need ZIP64 (over 4 GiB)`);
      entry.crc = await crcOf(fd, entry.size);
      offset += 30 + name.length + entry.size;
    }
    const centrals = entries.map((e) => centralHeader(e, time, day));
    const centralSize = centrals.reduce((a, b) => a + b.length, 0);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(entries.length, 8);
    end.writeUInt16LE(entries.length, 10);
    end.writeUInt32LE(centralSize, 12);
    end.writeUInt32LE(offset, 16);
    return {
      length: offset + centralSize + end.length,
      close,
      async writeTo(out) {
        try {
          const parts = async function* () {
            for (const e of entries) {
              yield localHeader(e, time, day);
              for (let pos = 0; pos < e.size; ) {
                const { bytesRead, buffer } = await e.fd.read(Buffer.alloc(Math.min(CHUNK, e.size - pos)), 0, Math.min(CHUNK, e.size - pos), pos);
                if (bytesRead === 0) throw new Error("the file got shorter while it was zipped");
                yield buffer.subarray(0, bytesRead);
                pos += bytesRead;
              }
            }
            yield* centrals;
            yield end;
          };
          await pipeline(parts, out);
        } finally {
          await close();
        }
      },
    };
  } catch (e) {
    await close();
    throw e;
  }
}
