/**
 * A tiny zip writer for tests, so each test makes its own fixtures, well-formed or deliberately not:
 * stored and deflate entries, directories, symlinks, any name (`../x`, `/etc/x`, NUL bytes), sizes and CRCs
 * that lie, other method numbers and flags, and ZIP64 records and extra fields on demand.
 */
import { crc32, deflateRawSync } from "node:zlib";

export interface ZipFixtureEntry {
  /** Written as UTF-8 bytes exactly as given (with flag bit 11 unless `utf8Flag` is false). */
  name: string;
  /** The name's bytes, overriding `name` (e.g. CP437 bytes). */
  nameBytes?: Uint8Array;
  data?: Uint8Array | string;
  /** 0 stored, 8 deflate (default 8). */
  method?: 0 | 8;
  /** Write this method number instead, the data stored as is (e.g. 12 for bzip2). */
  methodId?: number;
  directory?: boolean;
  /** Unix mode S_IFLNK 0o120777 in the external attributes; `data` is the link target. */
  symlink?: boolean;
  /** Overrides the whole external attributes field. */
  externalAttributes?: number;
  /** Lie about the decompressed size (central directory and local header). */
  declaredSize?: number;
  /** Lie about the compressed size (central directory only). */
  declaredCompressedSize?: number;
  crc?: number;
  /** Extra general purpose flags (e.g. 1 = encrypted). */
  flags?: number;
  /** Set flag bit 11 (UTF-8 names); default true. */
  utf8Flag?: boolean;
}

export interface ZipFixtureOptions {
  /** Write ZIP64 extra fields for every entry and the ZIP64 end records. */
  zip64?: boolean;
  comment?: string;
  /** Declare this many entries in the end record. */
  declaredCount?: number;
}

const enc = new TextEncoder();

function bytesOf(data: Uint8Array | string | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  return typeof data === "string" ? enc.encode(data) : data;
}

class Out {
  private chunks: Uint8Array[] = [];
  length = 0;

  push(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }

  record(size: number, fill: (v: DataView) => void): void {
    const b = new Uint8Array(size);
    fill(new DataView(b.buffer));
    this.push(b);
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let p = 0;
    for (const c of this.chunks) {
      out.set(c, p);
      p += c.length;
    }
    return out;
  }
}

/** A zip archive of `entries`, in order. */
export function makeZip(entries: ZipFixtureEntry[], options: ZipFixtureOptions = {}): Uint8Array {
  const out = new Out();
  const central = new Out();
  const zip64 = options.zip64 ?? false;
  for (const e of entries) {
    const name = e.nameBytes ?? enc.encode(e.directory && !e.name.endsWith("/") ? `${e.name}/` : e.name);
    const content = bytesOf(e.data);
    const method = e.methodId ?? (e.directory ? 0 : (e.method ?? 8));
    const packed = method === 8 ? new Uint8Array(deflateRawSync(content)) : content;
    const crc = e.crc ?? crc32(content) >>> 0;
    const size = e.declaredSize ?? content.length;
    const csize = e.declaredCompressedSize ?? packed.length;
    const flags = (e.utf8Flag === false ? 0 : 0x0800) | (e.flags ?? 0);
    const offset = out.length;
    out.record(30, (v) => {
      v.setUint32(0, 0x04034b50, true);
      v.setUint16(4, 20, true);
      v.setUint16(6, flags, true);
      v.setUint16(8, method, true);
      v.setUint32(14, crc, true);
      v.setUint32(18, packed.length, true);
      v.setUint32(22, size, true);
      v.setUint16(26, name.length, true);
      v.setUint16(28, 0, true);
    });
    out.push(name);
    out.push(packed);
    const mode = e.symlink ? 0o120777 : e.directory ? 0o040755 : 0o100644;
    const attrs = e.externalAttributes ?? ((mode << 16) >>> 0) | (e.directory ? 0x10 : 0);
    const extra = zip64 ? new Uint8Array(4 + 24) : new Uint8Array(0);
    if (zip64) {
      const v = new DataView(extra.buffer);
      v.setUint16(0, 0x0001, true);
      v.setUint16(2, 24, true);
      v.setBigUint64(4, BigInt(size), true);
      v.setBigUint64(12, BigInt(csize), true);
      v.setBigUint64(20, BigInt(offset), true);
    }
    central.record(46, (v) => {
      v.setUint32(0, 0x02014b50, true);
      v.setUint16(4, (3 << 8) | 45, true); // made on unix
      v.setUint16(6, zip64 ? 45 : 20, true);
      v.setUint16(8, flags, true);
      v.setUint16(10, method, true);
      v.setUint32(16, crc, true);
      v.setUint32(20, zip64 ? 0xffffffff : csize, true);
      v.setUint32(24, zip64 ? 0xffffffff : size, true);
      v.setUint16(28, name.length, true);
      v.setUint16(30, extra.length, true);
      v.setUint32(38, attrs, true);
      v.setUint32(42, zip64 ? 0xffffffff : offset, true);
    });
    central.push(name);
    central.push(extra);
  }
  const cdOffset = out.length;
  const cd = central.bytes();
  out.push(cd);
  const count = options.declaredCount ?? entries.length;
  if (zip64) {
    const recordAt = out.length;
    out.record(56, (v) => {
      v.setUint32(0, 0x06064b50, true);
      v.setBigUint64(4, 44n, true);
      v.setUint16(12, 45, true);
      v.setUint16(14, 45, true);
      v.setBigUint64(24, BigInt(count), true);
      v.setBigUint64(32, BigInt(count), true);
      v.setBigUint64(40, BigInt(cd.length), true);
      v.setBigUint64(48, BigInt(cdOffset), true);
    });
    out.record(20, (v) => {
      v.setUint32(0, 0x07064b50, true);
      v.setBigUint64(8, BigInt(recordAt), true);
      v.setUint32(16, 1, true);
    });
  }
  const comment = enc.encode(options.comment ?? "");
  out.record(22, (v) => {
    v.setUint32(0, 0x06054b50, true);
    v.setUint16(8, zip64 ? 0xffff : count, true);
    v.setUint16(10, zip64 ? 0xffff : count, true);
    v.setUint32(12, zip64 ? 0xffffffff : cd.length, true);
    v.setUint32(16, zip64 ? 0xffffffff : cdOffset, true);
    v.setUint16(20, comment.length, true);
  });
  out.push(comment);
  return out.bytes();
}
