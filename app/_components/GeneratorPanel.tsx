"use client";
/**
 * The RuntimeGenerator: a label (slider 0 to the data set's last label, 0–9 for digits) and a seed make images from the run's live weights (or its last
 * checkpoint). Images follow the slider (debounced 150 ms). An interpolation strip walks from seed A to seed B.
 */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { errorCode, errorMessage } from "../_lib/errors";
import { useTRPC } from "../_lib/trpc";
import { Button, Notice, Select } from "./ui";

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

const randomSeed = () => Math.floor(Math.random() * 1_000_000);
const COUNTS = [1, 4, 8, 16];

export function GeneratorPanel({
  runId,
  hasWeights,
  numLabels = 10,
  labelNames = null,
  weightsEpoch = null,
}: {
  runId: string;
  hasWeights: boolean;
  numLabels?: number;
  labelNames?: string[] | null;
  /** The run's newest epoch with a grid: when it changes the weights have too, and the images are drawn again. */
  weightsEpoch?: number | null;
}) {
  const trpc = useTRPC();
  const [label, setLabel] = useState(0);
  const [seed, setSeed] = useState("42");
  const [count, setCount] = useState(8);
  const [interpolate, setInterpolate] = useState(false);
  const [seedB, setSeedB] = useState("43");
  const seedN = Number(seed);
  const seedBN = Number(seedB);
  const seedValid = Number.isInteger(seedN) && seedN >= 0 && seedN < 2 ** 32;
  const seedBValid = Number.isInteger(seedBN) && seedBN >= 0 && seedBN < 2 ** 32;
  const input = useDebounced({ runId, label, seed: seedValid ? seedN : 0, count, ...(interpolate && seedBValid ? { seedB: seedBN } : {}) }, 150);
  const enabled = hasWeights && seedValid && (!interpolate || seedBValid);
  const generated = useQuery(
    trpc.runs.generate.queryOptions(input, {
      enabled,
      placeholderData: keepPreviousData,
      staleTime: 0,
      // No weights yet (the trainer writes its first snapshot a few seconds in) or every generator busy: ask again
      // by itself, so the panel shows images as soon as they can be drawn; other errors are shown at once.
      retry: (failures, e) => failures < 90 && (errorCode(e) === "CONFLICT" || errorCode(e) === "TOO_MANY_REQUESTS"),
      retryDelay: 2000,
    }),
  );
  // A new epoch: draw again from the newer weights (also after the retries above gave up, e.g. a run that waited
  // long in the queue), with no input from the member.
  const { refetch } = generated;
  const seenEpoch = useRef(weightsEpoch);
  useEffect(() => {
    if (weightsEpoch === seenEpoch.current) return; // not at mount: the query's own first fetch is on its way
    seenEpoch.current = weightsEpoch;
    if (weightsEpoch !== null && enabled) void refetch();
  }, [weightsEpoch, enabled, refetch]);
  const data = generated.data;
  const strip = data ? `data:image/png;base64,${data.stripPng}` : null;
  const fileName = data ? `gan-studio-label-${data.label}-seed-${data.seed}${interpolate ? `-to-${seedB}` : ""}.png` : "digits.png";

  return (
    <div className="flex flex-col gap-4" data-testid="generator">
      <div className="grid gap-4 sm:grid-cols-[1fr_auto]">
        <div className="flex flex-col gap-1">
          <label htmlFor="gen-label" className="flex items-baseline justify-between text-sm font-medium text-slate-300">
            Label
            <span className="text-3xl font-semibold tabular-nums text-sky-200" aria-hidden>
              {labelNames?.[label] ?? label}
            </span>
          </label>
          <input
            id="gen-label"
            type="range"
            min={0}
            max={numLabels - 1}
            step={1}
            value={Math.min(label, numLabels - 1)}
            aria-valuetext={labelNames?.[label] ?? String(label)}
            onChange={(e) => setLabel(Number(e.target.value))}
            className="w-full"
            data-testid="gen-label"
          />
          <div aria-hidden className="flex justify-between px-0.5 text-[10px] text-slate-500">
            {Array.from({ length: numLabels }, (_, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: one tick per label: the index is the label number
              <span key={i} className={numLabels > 12 && i % Math.ceil(numLabels / 12) !== 0 ? "invisible" : undefined}>
                {labelNames?.[i] ?? i}
              </span>
            ))}
          </div>
        </div>
        <div className="flex flex-wrap items-end gap-3">
          <div className="flex flex-col gap-1">
            <label htmlFor="gen-seed" className="text-sm font-medium text-slate-300">
              Seed
            </label>
            <div className="flex gap-1">
              <input
                id="gen-seed"
                inputMode="numeric"
                value={seed}
                onChange={(e) => setSeed(e.target.value)}
                aria-invalid={!seedValid || undefined}
                className={`min-h-9 w-28 rounded-md bg-slate-900 px-2 font-mono ring-1 ring-inset ${seedValid ? "ring-slate-700" : "ring-rose-500"}`}
              />
              <Button aria-label="Shuffle the seed" title="Shuffle the seed" onClick={() => setSeed(String(randomSeed()))}>
                ⤮
              </Button>
            </div>
          </div>
          <Select id="gen-count" label={interpolate ? "Steps" : "Count"} value={count} onChange={(e) => setCount(Number(e.target.value))}>
            {COUNTS.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </Select>
        </div>
      </div>

      <div className="flex flex-wrap items-end gap-3">
        <label className="flex min-h-9 items-center gap-2 text-sm text-slate-300">
          <input type="checkbox" checked={interpolate} onChange={(e) => setInterpolate(e.target.checked)} className="h-4 w-4 accent-sky-500" />
          Interpolate to seed B
        </label>
        {interpolate ? (
          <div className="flex items-end gap-1">
            <div className="flex flex-col gap-1">
              <label htmlFor="gen-seedB" className="text-sm font-medium text-slate-300">
                Seed B
              </label>
              <input
                id="gen-seedB"
                inputMode="numeric"
                value={seedB}
                onChange={(e) => setSeedB(e.target.value)}
                aria-invalid={!seedBValid || undefined}
                className={`min-h-9 w-28 rounded-md bg-slate-900 px-2 font-mono ring-1 ring-inset ${seedBValid ? "ring-slate-700" : "ring-rose-500"}`}
              />
            </div>
            <Button aria-label="Shuffle seed B" title="Shuffle seed B" onClick={() => setSeedB(String(randomSeed()))}>
              ⤮
            </Button>
          </div>
        ) : null}
        <a
          href={strip ?? undefined}
          download={fileName}
          aria-disabled={!strip}
          className={`ml-auto inline-flex min-h-9 items-center rounded-md px-3 text-sm font-medium ring-1 ring-inset ${strip ? "bg-slate-800 text-slate-100 ring-slate-700 hover:bg-slate-700" : "pointer-events-none text-slate-500 ring-slate-800"}`}
        >
          ↓ Download PNG
        </a>
      </div>

      {!hasWeights ? (
        <p className="text-sm text-slate-500">The RuntimeGenerator draws from the run&apos;s weights: start the run first.</p>
      ) : generated.isError ? (
        <Notice tone="error" role="alert">
          {errorMessage(generated.error)}
        </Notice>
      ) : data ? (
        <div className="flex flex-col gap-1">
          <ul
            aria-label={interpolate ? `Interpolation from seed ${seed} to seed ${seedB}, label ${data.label}` : `Generated digits, label ${data.label}`}
            data-testid="generated"
            data-label={data.label}
            data-seed={data.seed}
            className={`flex flex-wrap gap-1.5 transition-opacity ${generated.isFetching ? "opacity-60" : ""}`}
          >
            {data.png.map((png, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: the strip is regenerated as a whole: the index is the image's place in it
              <li key={i}>
                {/* eslint-disable-next-line @next/next/no-img-element */}
                <img
                  src={`data:image/png;base64,${png}`}
                  alt={`Digit ${data.labels[i] ?? data.label}, ${i + 1} of ${data.png.length}`}
                  width={data.width * 2}
                  height={data.height * 2}
                  className="pixelated rounded bg-black ring-1 ring-slate-800"
                />
              </li>
            ))}
          </ul>
          {interpolate ? (
            <p className="flex justify-between text-xs text-slate-500">
              <span>seed {seed}</span>
              <span>seed {seedB}</span>
            </p>
          ) : null}
        </div>
      ) : (
        <div className="flex flex-col gap-1">
          <div aria-busy="true" className="h-14 motion-safe:animate-pulse rounded bg-slate-800/60" />
          {generated.failureReason ? <p className="text-xs text-slate-500">{errorMessage(generated.failureReason)}: trying again…</p> : null}
        </div>
      )}
    </div>
  );
}
