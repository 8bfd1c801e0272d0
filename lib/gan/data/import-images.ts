/**
 * Image files of imported data sets: PNG (pngjs, through decodePngBytes) and JPEG (jpeg-js), gray or RGB.
 *
 * Before anything is decoded, `sniffImage` reads the declared size from the header (PNG's IHDR, JPEG's SOF
 * marker), so an image that is too large, or a "bomb" that declares a huge size, is refused before a decoder
 * allocates for it. jpeg-js also runs with small resolution and memory caps of its own.
 *
 * Node-only (pngjs needs Buffer).
 */
import { decode as decodeJpeg } from "jpeg-js";
import { decodePngBytes, type ByteImage } from "../image";

export type ImageKind = "png" | "jpeg";

/** What a header says: the kind and the declared size. */
export interface ImageHeader {
  kind: ImageKind;
  width: number;
  height: number;
}

/** Most pixels an image may have for `resize: "fit"` to scale it down (4 MP, e.g. 2000×2000). */
export const MAX_SOURCE_PIXELS = 4_000_000;
/** jpeg-js's own caps: resolution in megapixels and memory in MB for one decode. */
const JPEG_MAX_MP = MAX_SOURCE_PIXELS / 1e6;
const JPEG_MAX_MEMORY_MB = 96;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The kind and declared size of a PNG or JPEG, or undefined when the bytes are neither (or the header is cut). */
export function sniffImage(b: Uint8Array): ImageHeader | undefined {
  if (b.length >= 24 && PNG_SIGNATURE.every((v, i) => b[i] === v)) {
    // IHDR must be the first chunk: length 13, type "IHDR", width, height (big-endian).
    if (b[12] !== 0x49 || b[13] !== 0x48 || b[14] !== 0x44 || b[15] !== 0x52) return undefined;
    const width = ((b[16]! << 24) | (b[17]! << 16) | (b[18]! << 8) | b[19]!) >>> 0;
    const height = ((b[20]! << 24) | (b[21]! << 16) | (b[22]! << 8) | b[23]!) >>> 0;
    return { kind: "png", width, height };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    // Walk the marker segments to the first start-of-frame (SOF0–SOF15 except DHT C4, JPG C8, DAC CC).
    let p = 2;
    while (p + 4 <= b.length) {
      if (b[p] !== 0xff) return undefined;
      const marker = b[p + 1]!;
      if (marker === 0xff) {
        p += 1; // fill byte
        continue;
      }
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
        p += 2; // markers without a length
        continue;
      }
      if (marker === 0xd9 || marker === 0xda) return undefined; // end of image or scan data before any frame
      const length = (b[p + 2]! << 8) | b[p + 3]!;
      if (length < 2) return undefined;
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        if (p + 9 > b.length) return undefined;
        const height = (b[p + 5]! << 8) | b[p + 6]!;
        const width = (b[p + 7]! << 8) | b[p + 8]!;
        return { kind: "jpeg", width, height };
      }
      p += 2 + length;
    }
  }
  return undefined;
}

/**
 * Decodes a PNG or JPEG to bytes, HWC: channels 1 when the image is gray (a gray PNG or JPEG, or R = G = B
 * everywhere), else 3. PNG alpha is composited over black (decodePngBytes). Throws an Error with the decoder's
 * reason for anything it cannot read.
 */
export function decodeImage(bytes: Uint8Array, kind: ImageKind): ByteImage {
  if (kind === "png") return decodePngBytes(bytes);
  const img = decodeJpeg(bytes, {
    useTArray: true,
    formatAsRGBA: false,
    tolerantDecoding: false,
    maxResolutionInMP: JPEG_MAX_MP,
    maxMemoryUsageInMB: JPEG_MAX_MEMORY_MB,
  });
  const n = img.width * img.height;
  const rgb = img.data;
  if (rgb.length < n * 3) throw new Error(`the JPEG decoded to ${rgb.length} bytes for ${img.width}x${img.height} RGB`);
  let gray = true;
  for (let p = 0; p < n * 3; p += 3) {
    if (rgb[p] !== rgb[p + 1] || rgb[p] !== rgb[p + 2]) {
      gray = false;
      break;
    }
  }
  if (!gray) return { width: img.width, height: img.height, channels: 3, data: rgb.subarray(0, n * 3) };
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = rgb[i * 3]!;
  return { width: img.width, height: img.height, channels: 1, data };
}
