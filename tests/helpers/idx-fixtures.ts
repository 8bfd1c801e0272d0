/** Small MNIST-style IDX files made by the tests themselves: labelled images whose content depends on the label. */

/**
 * An IDX images file and its labels file: n images of h×w; an image of label l shows a bright block whose column
 * depends on l (so labels look different), over a faint pattern that differs per image (so no two are equal).
 */
export function idxPair(labels: number[], h = 16, w = 16): { images: Uint8Array; labels: Uint8Array } {
  const n = labels.length;
  const images = new Uint8Array(16 + n * h * w);
  const view = new DataView(images.buffer);
  view.setUint32(0, 0x00000803);
  view.setUint32(4, n);
  view.setUint32(8, h);
  view.setUint32(12, w);
  labels.forEach((label, i) => {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const inside = Math.abs(x - (3 + ((label * 4) % w))) < 3 && Math.abs(y - h / 2) < 3 + (i % 3);
        images[16 + i * h * w + y * w + x] = inside ? 255 : (i * 7 + x) % 20;
      }
    }
  });
  const lab = new Uint8Array(8 + n);
  const lv = new DataView(lab.buffer);
  lv.setUint32(0, 0x00000801);
  lv.setUint32(4, n);
  lab.set(labels, 8);
  return { images, labels: lab };
}

/** Labels with `perLabel[l]` images of label l, interleaved (not sorted by label, as real files are). */
export function labelsOf(perLabel: number[]): number[] {
  return perLabel
    .flatMap((count, label) => Array.from({ length: count }, (_, k) => ({ label, k })))
    .sort((a, b) => a.k - b.k || a.label - b.label)
    .map((x) => x.label);
}
