/** What the uPlot charts share once a plot is mounted in its wrapper. */
import type uPlot from "uplot";

/** The plot's width for its wrapper: the wrapper's, at least `minWidth`. */
export const plotWidth = (wrap: HTMLElement, minWidth: number): number => Math.max(minWidth, wrap.clientWidth);

/**
 * Keeps the plot as wide as its wrapper (at least `minWidth`) at `height`, resizing only when the width changed.
 * Returns the observer: disconnect it when the plot goes.
 */
export function followWrapperWidth(u: uPlot, wrap: HTMLElement, minWidth: number, height: number): ResizeObserver {
  const resize = new ResizeObserver(() => {
    const w = plotWidth(wrap, minWidth);
    if (w !== u.width) u.setSize({ width: w, height });
  });
  resize.observe(wrap);
  return resize;
}
