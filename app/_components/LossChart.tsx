"use client";
/**
 * The losses (GReal, Fake, Real) per iteration, drawn by uPlot. Points are appended to the series' arrays and the
 * chart takes them with `setData` at most once per animation frame, so thousands of points stream smoothly.
 * Every control action is a vertical marker at its iteration: hover or focus it for who did what, and when.
 * Drag to zoom in (the zoom holds while points stream), double-click to see everything again.
 *
 * A long run arrives as an overview (each point the mean of a bucket of iterations, shaded between the bucket's min
 * and max so spikes stay visible) plus its last points at full resolution. Zooming into a range of at most
 * DETAIL_SPAN iterations that the chart holds only as overview reads it at full resolution (`loadRange`, debounced)
 * and draws it.
 */
import "uplot/dist/uPlot.min.css";
import type uPlot from "uplot";
import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { createPortal } from "react-dom";
import type { ActivityEntry } from "../../lib/protocol/activity";
import type { LossPoint } from "../../lib/protocol/socket";
import { clockTime, describeActivity, markerColor } from "../_lib/format";
import type { LossSeries } from "../_lib/series";
import { followWrapperWidth } from "../_lib/uplot";

/** An activity entry drawn as a marker (or listed in the feed): its kind with that kind's detail, typed. */
export type MarkerEntry = ActivityEntry;

const SERIES = [
  { label: "GReal", stroke: "#38bdf8", band: "rgb(56 189 248 / 0.18)" },
  { label: "Fake", stroke: "#f472b6", band: "rgb(244 114 182 / 0.18)" },
  { label: "Real", stroke: "#34d399", band: "rgb(52 211 153 / 0.18)" },
];

/** The widest zoom (in iterations) read at full resolution; wider ones show the overview. */
export const DETAIL_SPAN = 20_000;
/** Wait this long after the last zoom before reading its range. */
const DETAIL_DEBOUNCE_MS = 250;

/** Puts each marker at its iteration's x (CSS pixels in the plotting area); hides those outside the x range. */
function placeMarkers(u: uPlot, hasData: boolean): void {
  const min = u.scales.x?.min ?? 0;
  const max = u.scales.x?.max ?? 0;
  u.over.querySelectorAll<HTMLElement>("[data-marker]").forEach((el) => {
    const it = Number(el.dataset.iteration);
    const inside = hasData && it >= min && it <= max;
    el.style.display = inside ? "" : "none";
    if (inside) el.style.left = `${u.valToPos(it, "x")}px`;
  });
}

export function LossChart({
  series,
  markers,
  height = 260,
  loadRange,
}: {
  series: LossSeries;
  markers: MarkerEntry[];
  height?: number;
  /** Reads [from, to] at full resolution (runs.historyRange, page by page): the points and the last iteration they account for. */
  loadRange?: (from: number, to: number) => Promise<{ points: LossPoint[]; to: number }>;
}) {
  const wrapRef = useRef<HTMLDivElement>(null);
  const loadRef = useRef(loadRange);
  loadRef.current = loadRange;
  const [coarse, setCoarse] = useState(0);
  const [loading, setLoading] = useState(false);
  const plotRef = useRef<uPlot | null>(null);
  const [over, setOver] = useState<HTMLDivElement | null>(null);
  const [hovered, setHovered] = useState<number | null>(null);
  const [empty, setEmpty] = useState(series.length === 0);
  const markerMax = useRef(0);
  const requestRedraw = useRef<() => void>(() => {});

  // Markers grouped by iteration (a pause and a change at the same iteration share one marker).
  const groups = new Map<number, MarkerEntry[]>();
  for (const m of markers) {
    if (m.iteration === null) continue;
    const g = groups.get(m.iteration) ?? [];
    g.push(m);
    groups.set(m.iteration, g);
  }
  const grouped = [...groups.entries()].sort((a, b) => a[0] - b[0]);
  const lastMarker = grouped.length ? grouped[grouped.length - 1]![0] : 0;

  useEffect(() => {
    const wrap = wrapRef.current;
    if (!wrap) return;
    let disposed = false;
    let raf = 0;
    let zoomed = false;
    let unsubscribe = () => {};
    let resize: ResizeObserver | null = null;
    let detailTimer: ReturnType<typeof setTimeout> | undefined;
    let detailSeq = 0;
    /** The range waiting for its debounce (a redraw of the same zoom must not restart it). */
    let pending: { from: number; to: number } | null = null;
    // Three lines, then each one's band edges (min, max): the overview's spread, flat where points are exact.
    const data = (): uPlot.AlignedData => [
      series.x,
      series.gReal,
      series.fake,
      series.real,
      series.gRealMin,
      series.gRealMax,
      series.fakeMin,
      series.fakeMax,
      series.realMin,
      series.realMax,
    ];
    /** A zoom into iterations the chart holds only as overview: read them at full resolution, once the zooming stops. */
    const wantDetail = (u: uPlot) => {
      const load = loadRef.current;
      if (!load || series.length === 0) return;
      const from = Math.max(series.x[0]!, Math.floor(u.scales.x?.min ?? 0));
      const to = Math.min(series.x[series.length - 1]!, Math.ceil(u.scales.x?.max ?? 0));
      if (pending && pending.from === from && pending.to === to) return;
      clearTimeout(detailTimer);
      pending = null;
      if (to < from || to - from + 1 > DETAIL_SPAN || series.covers(from, to)) return;
      pending = { from, to };
      detailTimer = setTimeout(() => {
        pending = null;
        const seq = ++detailSeq;
        setLoading(true);
        load(from, to)
          .then((got) => {
            if (disposed || seq !== detailSeq) return;
            series.setDetail(from, got.to, got.points);
            wantDetail(u); // the view may have moved on meanwhile
          })
          .catch(() => undefined) // the overview stays; the next zoom tries again
          .finally(() => {
            if (!disposed && seq === detailSeq) setLoading(false);
          });
      }, DETAIL_DEBOUNCE_MS);
    };

    void import("uplot").then(({ default: UPlot }) => {
      if (disposed) return;
      const axis = {
        stroke: "#94a3b8",
        grid: { stroke: "#1e293b", width: 1 },
        ticks: { stroke: "#334155", width: 1 },
        font: "11px ui-sans-serif, system-ui, sans-serif",
      };
      const positionMarkers = (u: uPlot) => placeMarkers(u, series.length > 0);
      const opts: uPlot.Options = {
        width: Math.max(200, wrap.clientWidth),
        height,
        scales: { x: { time: false } },
        axes: [
          { ...axis, label: "iteration", labelSize: 18, labelFont: "11px ui-sans-serif, system-ui, sans-serif" },
          { ...axis, size: 44 },
        ],
        series: [
          { label: "iteration" },
          ...SERIES.map((s) => ({ label: s.label, stroke: s.stroke, width: 1.25, points: { show: false } })),
          // Band edges: no line, no legend entry, no hover point (app/globals.css hides .loss-band).
          ...SERIES.flatMap((s) =>
            ["min", "max"].map((edge) => ({ label: `${s.label} ${edge}`, class: "loss-band", stroke: "transparent", width: 0, points: { show: false } })),
          ),
        ],
        bands: SERIES.map((s, i) => ({ series: [5 + 2 * i, 4 + 2 * i] as [number, number], fill: s.band })),
        legend: { show: true, live: true },
        cursor: { drag: { x: true, y: false, setScale: true }, points: { size: 6 } },
        hooks: {
          draw: [positionMarkers],
          setSelect: [() => (zoomed = true)],
          setScale: [
            (u, key) => {
              if (key !== "x" || series.length === 0) return;
              const x = u.scales.x;
              const full = (x?.min ?? 0) <= series.x[0]! && (x?.max ?? 0) >= series.x[series.length - 1]!;
              if (full) zoomed = false;
              else wantDetail(u);
            },
          ],
          // Hiding a loss from the legend hides its band too.
          setSeries: [
            (u, i, opts) => {
              if (i === null || i < 1 || i > 3 || opts.show === undefined) return;
              u.setSeries(2 + 2 * i, { show: opts.show });
              u.setSeries(3 + 2 * i, { show: opts.show });
            },
          ],
        },
      };
      const u = new UPlot(opts, data(), wrap);
      plotRef.current = u;
      setOver(u.over);
      const update = () => {
        raf = 0;
        if (series.length === 0) {
          zoomed = false;
          u.setData(data(), true);
        } else if (zoomed) {
          // Keep the zoom; setScale redraws (setData without resetting scales does not) and fits y to what is visible.
          const min = u.scales.x?.min ?? series.x[0]!;
          const max = u.scales.x?.max ?? series.x[series.length - 1]!;
          u.batch(() => {
            u.setData(data(), false);
            u.setScale("x", { min, max });
          });
        } else {
          // The whole run, and the markers past its last point (a pause is reported at the next iteration).
          const min = series.x[0]!;
          const max = Math.max(series.x[series.length - 1]!, markerMax.current, min + 1);
          u.batch(() => {
            u.setData(data(), false);
            u.setScale("x", { min, max });
          });
        }
        wrap.dataset.points = String(series.length);
        wrap.dataset.overviewPoints = String(series.overviewPoints);
        wrap.dataset.bucket = String(series.bucket);
        wrap.setAttribute("aria-label", `Losses per iteration: ${series.length} points`);
        setEmpty(series.length === 0);
        setCoarse(series.overviewPoints > 0 ? series.bucket : 0);
      };
      update();
      const schedule = () => {
        if (!raf) raf = requestAnimationFrame(update);
      };
      requestRedraw.current = schedule;
      unsubscribe = series.subscribe(schedule);
      resize = followWrapperWidth(u, wrap, 200, height);
    });
    return () => {
      disposed = true;
      unsubscribe();
      if (raf) cancelAnimationFrame(raf);
      clearTimeout(detailTimer);
      resize?.disconnect();
      requestRedraw.current = () => {};
      plotRef.current?.destroy();
      plotRef.current = null;
      setOver(null);
    };
  }, [series, height]);

  // A marker past the last point widens the x range.
  useEffect(() => {
    markerMax.current = lastMarker;
    requestRedraw.current();
  }, [lastMarker]);

  // New markers: place them now (the draw hook places them on every redraw after).
  useLayoutEffect(() => {
    const u = plotRef.current;
    if (!u) return;
    placeMarkers(u, series.length > 0);
  });

  const hoveredGroup = hovered === null ? null : (groups.get(hovered) ?? null);
  const tooltipLeft = hovered !== null && plotRef.current ? plotRef.current.valToPos(hovered, "x") : 0;
  const overWidth = over?.clientWidth ?? 0;

  return (
    <div className="relative">
      <div ref={wrapRef} data-testid="loss-chart" data-markers={grouped.length} className="loss-chart w-full" />
      {empty ? (
        <div className="pointer-events-none absolute inset-x-0 top-8 flex justify-center text-sm text-slate-500">
          No losses yet: they stream here once the run trains.
        </div>
      ) : null}
      {coarse > 0 ? (
        <p data-testid="loss-resolution" className="mt-1 text-xs text-slate-500">
          {loading
            ? "Reading every point of this range…"
            : `Long run: older points are means of ${coarse.toLocaleString("en-US")} iterations, shaded from their min to max. Zoom in (under ${DETAIL_SPAN.toLocaleString("en-US")} iterations) for every point.`}
        </p>
      ) : null}
      {over
        ? createPortal(
            <>
              {grouped.map(([iteration, entries]) => (
                <button
                  key={iteration}
                  type="button"
                  data-marker
                  data-iteration={iteration}
                  data-kinds={entries.map((e) => e.kind).join(" ")}
                  aria-label={entries.map((e) => `${describeActivity(e)}, ${clockTime(e.createdAt)}`).join("; ")}
                  onMouseEnter={() => setHovered(iteration)}
                  onMouseLeave={() => setHovered((h) => (h === iteration ? null : h))}
                  onFocus={() => setHovered(iteration)}
                  onBlur={() => setHovered((h) => (h === iteration ? null : h))}
                  className="group absolute bottom-0 top-0 z-10 w-3 -translate-x-1/2 cursor-help"
                >
                  <span
                    aria-hidden
                    className="absolute bottom-0 left-1/2 top-0 w-px -translate-x-1/2 opacity-70 group-hover:w-0.5 group-hover:opacity-100 group-focus:w-0.5 group-focus:opacity-100"
                    style={{ backgroundColor: markerColor(entries[entries.length - 1]!.kind) }}
                  />
                  <span
                    aria-hidden
                    className="absolute left-1/2 top-0 h-2 w-2 -translate-x-1/2 rotate-45"
                    style={{ backgroundColor: markerColor(entries[entries.length - 1]!.kind) }}
                  />
                </button>
              ))}
              {hoveredGroup ? (
                <div
                  role="tooltip"
                  data-testid="marker-tooltip"
                  className="pointer-events-none absolute top-3 z-20 w-64 rounded-lg bg-slate-950/95 p-2 text-xs text-slate-200 shadow-xl ring-1 ring-slate-700"
                  style={{ left: Math.min(Math.max(0, tooltipLeft + 8), Math.max(0, overWidth - 256)) }}
                >
                  <p className="mb-1 font-semibold text-slate-400">iteration {hovered}</p>
                  {hoveredGroup.map((e) => (
                    <p key={e.id} className="leading-snug">
                      {describeActivity(e)} <span className="text-slate-500">· {clockTime(e.createdAt)}</span>
                    </p>
                  ))}
                </div>
              ) : null}
            </>,
            over,
          )
        : null}
    </div>
  );
}
