/**
 * Image utilities: PNG encoding/decoding, sample-grid composition, nearest-neighbour enlargement.
 *
 * Images are HWC (row-major, channels interleaved), 1 (gray) or 3 (RGB) channels. Float data is in [0,1].
 *
 * `encodePng` / `decodePng` use pngjs, which needs Node's Buffer and zlib: use them in Node (trainer, server).
 * `tileGrid` and `upscaleNearest` are plain TypeScript.
 */
import { PNG } from "pngjs";

/** A float image, HWC, values in [0,1]. */
export interface RasterImage {
  width: number;
  height: number;
  channels: 1 | 3;
  /** height*width*channels values. */
  data: Float32Array;
}

/** An image to encode: float data in [0,1] (clamped), or bytes 0..255. */
export interface PngInput {
  width: number;
  height: number;
  channels: 1 | 3;
  /** height*width*channels values, HWC. */
  data: Float32Array | Uint8Array;
}

function checkShape(image: { width: number; height: number; channels: number; data: ArrayLike<number> }): void {
  const { width, height, channels } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`invalid image size ${width}x${height}`);
  }
  if (channels !== 1 && channels !== 3) throw new RangeError(`channels must be 1 or 3, got ${channels}`);
  if (image.data.length !== width * height * channels) {
    throw new RangeError(`${image.data.length} values do not match ${width}x${height}x${channels}`);
  }
}

/** A float in [0,1] (clamped; NaN → 0) to a byte. */
function toByte(v: number): number {
  if (!(v > 0)) return 0;
  if (v >= 1) return 255;
  return Math.round(v * 255);
}

/**
 * Encodes an image as an 8-bit PNG: grayscale (colour type 0) for 1 channel, RGB (colour type 2) for 3.
 * Float data is clamped to [0,1] and scaled to 0..255 (NaN → 0); Uint8Array data is written as is.
 * Throws RangeError when the data length does not match width*height*channels.
 */
export function encodePng(image: PngInput): Uint8Array {
  checkShape(image);
  const { width, height, channels } = image;
  const bytes = Buffer.alloc(width * height * channels);
  if (image.data instanceof Uint8Array) {
    bytes.set(image.data);
  } else {
    const data = image.data;
    for (let i = 0; i < bytes.length; i++) bytes[i] = toByte(data[i]!);
  }
  const png = new PNG({ width, height });
  png.data = bytes;
  const colorType = channels === 1 ? 0 : 2;
  const out = PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: false, bitDepth: 8 });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** A decoded PNG as bytes: HWC, 1 or 3 channels, 0..255. */
export interface ByteImage {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

/**
 * Decodes a PNG (any colour type and bit depth pngjs reads: gray, gray+alpha, RGB, RGBA, palette; 16-bit is
 * rescaled to 8) into bytes. channels = 1 when the PNG is grayscale (colour type 0 or 4) or every pixel has
 * R = G = B; else 3. Alpha is composited over black (value * alpha), so opaque images are unchanged and
 * transparent areas become 0, MNIST's background. Throws pngjs's Error for bytes that are not a valid PNG.
 */
export function decodePngBytes(bytes: Uint8Array): ByteImage {
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const { width, height } = png;
  const rgba = png.data;
  const n = width * height;
  if (rgba.length < n * 4) throw new Error(`bad png - ${rgba.length} bytes for ${width}x${height} RGBA`);
  let gray = png.colorType === 0 || png.colorType === 4;
  if (!gray) {
    gray = true;
    for (let p = 0; p < n * 4; p += 4) {
      if (rgba[p] !== rgba[p + 1] || rgba[p] !== rgba[p + 2]) {
        gray = false;
        break;
      }
    }
  }
  const channels: 1 | 3 = gray ? 1 : 3;
  const data = new Uint8Array(n * channels);
  for (let i = 0; i < n; i++) {
    const a = rgba[i * 4 + 3]!;
    for (let c = 0; c < channels; c++) {
      const v = rgba[i * 4 + c]!;
      data[i * channels + c] = a === 255 ? v : Math.round((v * a) / 255);
    }
  }
  return { width, height, channels, data };
}

/** Decodes a PNG into a float image in [0,1] (byte / 255). Channel detection and alpha: {@link decodePngBytes}. */
export function decodePng(bytes: Uint8Array): RasterImage {
  const img = decodePngBytes(bytes);
  const data = new Float32Array(img.data.length);
  const inv = 1 / 255;
  for (let i = 0; i < data.length; i++) data[i] = img.data[i]! * inv;
  return { width: img.width, height: img.height, channels: img.channels, data };
}

export interface TileGridOptions {
  /** Number of images in `images` (NHWC, count*height*width*channels values). */
  count: number;
  height: number;
  width: number;
  channels: 1 | 3;
  /** Grid columns; default ceil(sqrt(count)). */
  cols?: number;
  /** Grid rows; default ceil(count / cols). */
  rows?: number;
  /** Pixels of padding around every tile, borders included; default 2. */
  padding?: number;
  /**
   * Value of the padding and of empty cells, in [0,1]; default 0.5 (mid grey): neutral between MNIST's black
   * background and white strokes, so tiles stay distinct whichever polarity the images have.
   */
  background?: number;
}

/**
 * Composes images into one grid image (e.g. a sample grid, one row per label). Image i goes to row
 * floor(i / cols), column i % cols, at x = padding + col*(width+padding), y = padding + row*(height+padding);
 * the grid is cols*(width+padding)+padding wide and rows*(height+padding)+padding high. Cells past `count`
 * are filled with `background`. Values are copied as they are (no clamping).
 * Throws RangeError if count > rows*cols or `images` does not hold count images of the given shape.
 */
export function tileGrid(images: Float32Array, options: TileGridOptions): RasterImage {
  const { count, height, width, channels } = options;
  const padding = options.padding ?? 2;
  const background = options.background ?? 0.5;
  const cols = options.cols ?? Math.max(1, Math.ceil(Math.sqrt(count)));
  const rows = options.rows ?? Math.max(1, Math.ceil(count / cols));
  if (!Number.isInteger(padding) || padding < 0) throw new RangeError(`invalid padding ${padding}`);
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows <= 0 || cols <= 0) {
    throw new RangeError(`invalid grid ${rows}x${cols}`);
  }
  if (count > rows * cols) throw new RangeError(`${count} images do not fit a ${rows}x${cols} grid`);
  const size = height * width * channels;
  if (images.length !== count * size) {
    throw new RangeError(`${images.length} values do not match ${count} images of ${height}x${width}x${channels}`);
  }
  const gridW = cols * (width + padding) + padding;
  const gridH = rows * (height + padding) + padding;
  const data = new Float32Array(gridW * gridH * channels).fill(background);
  const rowLen = width * channels;
  for (let i = 0; i < count; i++) {
    const x0 = padding + (i % cols) * (width + padding);
    const y0 = padding + Math.floor(i / cols) * (height + padding);
    for (let y = 0; y < height; y++) {
      const src = i * size + y * rowLen;
      data.set(images.subarray(src, src + rowLen), ((y0 + y) * gridW + x0) * channels);
    }
  }
  return { width: gridW, height: gridH, channels, data };
}

/**
 * Enlarges an image by an integer factor, each pixel becoming a factor×factor block (nearest neighbour).
 * Keeps the data's type (Float32Array or Uint8Array). Throws RangeError for a factor that is not a positive
 * integer or a data length that does not match the shape.
 */
export function upscaleNearest<T extends Float32Array | Uint8Array>(
  image: { width: number; height: number; channels: 1 | 3; data: T },
  factor: number,
): { width: number; height: number; channels: 1 | 3; data: T } {
  if (!Number.isInteger(factor) || factor < 1) throw new RangeError(`factor must be a positive integer, got ${factor}`);
  checkShape(image);
  const { width, height, channels } = image;
  const outW = width * factor;
  const src = image.data;
  const out = (src instanceof Float32Array ? new Float32Array(outW * height * factor * channels) : new Uint8Array(outW * height * factor * channels)) as T;
  const outRowLen = outW * channels;
  for (let y = 0; y < height; y++) {
    const rowStart = y * factor * outRowLen;
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        const v = src[(y * width + x) * channels + c]!;
        for (let k = 0; k < factor; k++) out[rowStart + (x * factor + k) * channels + c] = v;
      }
    }
    for (let k = 1; k < factor; k++) out.copyWithin(rowStart + k * outRowLen, rowStart, rowStart + outRowLen);
  }
  return { width: outW, height: height * factor, channels, data: out };
}

/** Writes `count` gray pixels of `gray` into the RGB bytes `rgb` from pixel `at` on, as R = G = B. */
export function grayIntoRgb(gray: ArrayLike<number>, count: number, rgb: Uint8Array, at = 0): void {
  for (let p = 0; p < count; p++) {
    const v = gray[p]!;
    const o = (at + p) * 3;
    rgb[o] = v;
    rgb[o + 1] = v;
    rgb[o + 2] = v;
  }
}

/**
 * Puts image `k` (`plane` pixels of `image.channels` channels) into `pixels`, a set of `count` images of `channels`
 * channels. The first colour image widens the set to RGB (what was placed so far, images 0..k-1, is copied over;
 * `beforeWiden` runs first, e.g. to check the larger size); a gray image in an RGB set is replicated into R, G, B.
 * Returns the set's buffer and channels, new after a widening.
 */
export function placeImage(
  pixels: Uint8Array,
  channels: 1 | 3,
  count: number,
  plane: number,
  k: number,
  image: { channels: number; data: Uint8Array },
  beforeWiden?: () => void,
): { pixels: Uint8Array; channels: 1 | 3 } {
  let out = pixels;
  let outChannels = channels;
  if (image.channels === 3 && outChannels === 1) {
    beforeWiden?.();
    const rgb = new Uint8Array(count * plane * 3);
    grayIntoRgb(out, k * plane, rgb);
    out = rgb;
    outChannels = 3;
  }
  if (image.channels === outChannels) out.set(image.data, k * plane * outChannels);
  else grayIntoRgb(image.data, plane, out, k * plane);
  return { pixels: out, channels: outChannels };
}
