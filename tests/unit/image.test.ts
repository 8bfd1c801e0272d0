import { describe, it, expect } from "vitest";
import { PNG } from "pngjs";
import { decodePng, decodePngBytes, encodePng, tileGrid, upscaleNearest } from "../../lib/gan/image";

/** Values that survive 8-bit quantisation exactly: k/255. */
function byteFloats(n: number, seed = 7): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((i * 37 + seed * 11) % 256) / 255;
  return out;
}

/** IHDR fields of a PNG: bit depth at byte 24, colour type at byte 25. */
function ihdr(png: Uint8Array): { width: number; height: number; depth: number; colorType: number } {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20), depth: png[24]!, colorType: png[25]! };
}

describe("encodePng / decodePng", () => {
  it("round-trips a grayscale float image as a colour-type-0 PNG", () => {
    const image = { width: 5, height: 3, channels: 1 as const, data: byteFloats(15) };
    const png = encodePng(image);
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(ihdr(png)).toEqual({ width: 5, height: 3, depth: 8, colorType: 0 });
    const back = decodePng(png);
    expect(back.width).toBe(5);
    expect(back.height).toBe(3);
    expect(back.channels).toBe(1);
    expect(back.data).toBeInstanceOf(Float32Array);
    expect(Array.from(back.data)).toEqual(Array.from(image.data));
  });

  it("round-trips an RGB image as a colour-type-2 PNG, keeping HWC order", () => {
    const data = byteFloats(4 * 2 * 3, 3);
    data[0] = 1; // make sure the pixel is not gray
    data[1] = 0;
    const png = encodePng({ width: 4, height: 2, channels: 3, data });
    expect(ihdr(png).colorType).toBe(2);
    const back = decodePng(png);
    expect(back.channels).toBe(3);
    expect(Array.from(back.data)).toEqual(Array.from(data));
  });

  it("writes Uint8Array data as bytes and clamps floats (NaN → 0)", () => {
    const bytes = new Uint8Array([0, 1, 128, 255]);
    expect(Array.from(decodePngBytes(encodePng({ width: 2, height: 2, channels: 1, data: bytes })).data)).toEqual([0, 1, 128, 255]);
    const floats = new Float32Array([-0.5, 2, Number.NaN, 0.5]);
    expect(Array.from(decodePngBytes(encodePng({ width: 4, height: 1, channels: 1, data: floats })).data)).toEqual([0, 255, 0, 128]);
  });

  it("reads an RGB PNG whose pixels are all gray as one channel", () => {
    const gray = byteFloats(6);
    const rgb = new Float32Array(18);
    gray.forEach((v, i) => {
      rgb.fill(v, i * 3, i * 3 + 3);
    });
    const back = decodePng(encodePng({ width: 3, height: 2, channels: 3, data: rgb }));
    expect(back.channels).toBe(1);
    expect(Array.from(back.data)).toEqual(Array.from(gray));
  });

  it("composites alpha over black", () => {
    const png = new PNG({ width: 2, height: 1 });
    png.data = Buffer.from([200, 100, 50, 255, 200, 100, 50, 0]);
    const back = decodePngBytes(PNG.sync.write(png));
    expect(back.channels).toBe(3);
    expect(Array.from(back.data)).toEqual([200, 100, 50, 0, 0, 0]);
  });

  it("rejects bytes that are not a PNG and data of the wrong length", () => {
    expect(() => decodePng(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]))).toThrow();
    expect(() => encodePng({ width: 2, height: 2, channels: 1, data: new Float32Array(3) })).toThrow(RangeError);
  });
});

describe("tileGrid", () => {
  it("places image i at row floor(i/cols), column i%cols with padding around every tile", () => {
    const h = 3;
    const w = 4;
    const count = 5;
    const images = new Float32Array(count * h * w);
    // Image i is filled with value i/10, except pixel (y=1, x=2) which is 0.99.
    for (let i = 0; i < count; i++) {
      images.fill(i / 10, i * h * w, (i + 1) * h * w);
      images[i * h * w + 1 * w + 2] = 0.99;
    }
    const grid = tileGrid(images, { count, height: h, width: w, channels: 1, rows: 2, cols: 3, padding: 2, background: 0.5 });
    expect(grid.width).toBe(3 * (w + 2) + 2);
    expect(grid.height).toBe(2 * (h + 2) + 2);
    expect(grid.channels).toBe(1);
    const at = (x: number, y: number) => grid.data[y * grid.width + x]!;
    // Image 4: row 1, column 1 → x0 = 2 + 1*6 = 8, y0 = 2 + 1*5 = 7.
    expect(at(8, 7)).toBeCloseTo(0.4);
    expect(at(8 + 2, 7 + 1)).toBeCloseTo(0.99);
    expect(at(8 + w - 1, 7 + h - 1)).toBeCloseTo(0.4);
    // Image 2: row 0, column 2.
    expect(at(2 + 2 * 6, 2)).toBeCloseTo(0.2);
    // Padding, border and the empty sixth cell hold the background.
    expect(at(0, 0)).toBe(0.5);
    expect(at(7, 7)).toBe(0.5);
    expect(at(8, 6)).toBe(0.5);
    expect(at(2 + 2 * 6, 7)).toBe(0.5);
    expect(at(grid.width - 1, grid.height - 1)).toBe(0.5);
  });

  it("handles RGB, default layout, and rejects too many images", () => {
    const images = new Float32Array(4 * 1 * 1 * 3);
    for (let i = 0; i < 4; i++) images.set([i, i + 0.1, i + 0.2], i * 3);
    const grid = tileGrid(images, { count: 4, height: 1, width: 1, channels: 3, padding: 1 });
    expect([grid.width, grid.height]).toEqual([5, 5]); // 2x2 grid
    const px = (x: number, y: number) => Array.from(grid.data.subarray((y * 5 + x) * 3, (y * 5 + x) * 3 + 3));
    expect(px(3, 3).map((v) => +v.toFixed(3))).toEqual([3, 3.1, 3.2]);
    expect(px(3, 1).map((v) => +v.toFixed(3))).toEqual([1, 1.1, 1.2]);
    expect(() => tileGrid(images, { count: 4, height: 1, width: 1, channels: 3, rows: 1, cols: 3 })).toThrow(RangeError);
    expect(() => tileGrid(images, { count: 3, height: 1, width: 1, channels: 3 })).toThrow(RangeError);
  });
});

describe("upscaleNearest", () => {
  it("turns each pixel into a factor×factor block and keeps the array type", () => {
    const up = upscaleNearest({ width: 2, height: 2, channels: 1, data: new Uint8Array([1, 2, 3, 4]) }, 3);
    expect(up.data).toBeInstanceOf(Uint8Array);
    expect([up.width, up.height]).toEqual([6, 6]);
    const rows = [];
    for (let y = 0; y < 6; y++) rows.push(Array.from(up.data.subarray(y * 6, y * 6 + 6)).join(""));
    expect(rows).toEqual(["111222", "111222", "111222", "333444", "333444", "333444"]);
  });

  it("works for RGB floats and rejects a bad factor", () => {
    const img = { width: 1, height: 2, channels: 3 as const, data: new Float32Array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]) };
    const up = upscaleNearest(img, 2);
    expect(up.data).toBeInstanceOf(Float32Array);
    expect(Array.from(up.data).map((v) => +v.toFixed(2))).toEqual([
      0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.4, 0.5, 0.6, 0.4, 0.5, 0.6, 0.4, 0.5, 0.6,
    ]);
    expect(upscaleNearest(img, 1).data).toEqual(img.data);
    expect(() => upscaleNearest(img, 0)).toThrow(RangeError);
    expect(() => upscaleNearest(img, 1.5)).toThrow(RangeError);
  });
});
