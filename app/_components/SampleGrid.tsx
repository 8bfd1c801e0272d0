"use client";
/**
 * The sample grid (one row per label, fixed noise) of the current epoch, and a scrubber over every epoch's grid.
 * The scrubber follows the newest grid until it is moved back; click the grid to enlarge it.
 */
import { useEffect, useRef, useState } from "react";
import type { Grid } from "../_lib/live";
import { Button } from "./ui";

export function SampleGrid({ grids, runName, height = 300 }: { grids: Grid[]; runName: string; height?: number }) {
  const [picked, setPicked] = useState<number | null>(null); // null: follow the newest
  const dialogRef = useRef<HTMLDialogElement>(null);
  const index = grids.length === 0 ? -1 : picked === null ? grids.length - 1 : Math.min(picked, grids.length - 1);
  const grid = index >= 0 ? grids[index]! : null;
  const following = picked === null;

  useEffect(() => {
    if (grids.length === 0) setPicked(null);
  }, [grids.length]);

  if (!grid) {
    return (
      <div
        className="flex flex-col items-center justify-center gap-2 rounded-lg bg-black/60 p-6 text-center text-sm text-slate-500 ring-1 ring-slate-800"
        style={{ minHeight: height }}
      >
        <GridPlaceholder />
        The first sample grid appears after epoch 1.
      </div>
    );
  }

  const labels = Array.from({ length: 10 }, (_, i) => i);
  return (
    <div className="flex flex-col gap-2">
      <div className="flex items-stretch justify-center gap-1.5">
        <ol aria-hidden className="flex flex-col text-[10px] text-slate-500" style={{ height }}>
          {labels.map((l) => (
            <li key={l} className="flex flex-1 items-center">
              {l}
            </li>
          ))}
        </ol>
        <button
          type="button"
          onClick={() => dialogRef.current?.showModal()}
          className="rounded-md bg-black ring-1 ring-slate-800 hover:ring-sky-500"
          aria-label={`Enlarge the sample grid of epoch ${grid.epoch}`}
        >
          {/* eslint-disable-next-line @next/next/no-img-element */}
          <img
            src={grid.url}
            alt={`Sample grid of ${runName} at epoch ${grid.epoch}: one row per label 0–9`}
            data-testid="grid-image"
            data-epoch={grid.epoch}
            className="pixelated block w-auto max-w-none rounded-md"
            style={{ height }}
          />
        </button>
      </div>
      <div className="flex items-center gap-2">
        <Button tone="ghost" className="px-2" aria-label="Previous epoch" disabled={index <= 0} onClick={() => setPicked(index - 1)}>
          ‹
        </Button>
        <label className="flex min-w-0 flex-1 flex-col gap-0.5">
          <span className="sr-only">Epoch</span>
          <input
            type="range"
            min={0}
            max={grids.length - 1}
            step={1}
            value={index}
            data-testid="grid-scrubber"
            data-count={grids.length}
            aria-valuetext={`epoch ${grid.epoch} of ${grids[grids.length - 1]!.epoch}`}
            onChange={(e) => {
              const v = Number(e.target.value);
              setPicked(v >= grids.length - 1 ? null : v);
            }}
            className="w-full"
          />
        </label>
        <Button
          tone="ghost"
          className="px-2"
          aria-label="Next epoch"
          disabled={following}
          onClick={() => setPicked(index + 1 >= grids.length - 1 ? null : index + 1)}
        >
          ›
        </Button>
      </div>
      <p className="flex items-center justify-between gap-2 text-xs text-slate-400" aria-live="polite">
        <span data-testid="grid-caption">
          epoch <strong className="text-slate-200">{grid.epoch}</strong> · {grids.length} grid{grids.length === 1 ? "" : "s"}
        </span>
        {following ? (
          <span className="text-emerald-400/80">following live</span>
        ) : (
          <button type="button" className="text-sky-300 underline-offset-2 hover:underline" onClick={() => setPicked(null)}>
            latest
          </button>
        )}
      </p>
      <dialog
        ref={dialogRef}
        aria-label={`Sample grid, epoch ${grid.epoch}`}
        className="m-auto max-h-[95vh] max-w-[95vw] rounded-xl bg-slate-950 p-3 text-slate-100 ring-1 ring-slate-700"
        onClick={(e) => {
          if (e.target === dialogRef.current) dialogRef.current?.close();
        }}
        onKeyDown={(e) => {
          if (e.key === "Escape") dialogRef.current?.close();
        }}
      >
        <div className="mb-2 flex items-center justify-between gap-4">
          <p className="text-sm text-slate-300">
            {runName} · epoch {grid.epoch} · iteration {grid.iteration}
          </p>
          <Button onClick={() => dialogRef.current?.close()} autoFocus>
            Close
          </Button>
        </div>
        {/* eslint-disable-next-line @next/next/no-img-element */}
        <img
          src={grid.url}
          alt={`Sample grid at epoch ${grid.epoch}, enlarged`}
          className="pixelated mx-auto block h-[80vh] w-auto max-w-full object-contain"
        />
      </dialog>
    </div>
  );
}

function GridPlaceholder() {
  return (
    <svg aria-hidden width="48" height="48" viewBox="0 0 48 48" className="opacity-40">
      {Array.from({ length: 16 }, (_, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: the cells of a fixed 4x4 placeholder grid: the index is the cell
        <rect key={i} x={(i % 4) * 12} y={Math.floor(i / 4) * 12} width="10" height="10" rx="2" fill="#334155" />
      ))}
    </svg>
  );
}
