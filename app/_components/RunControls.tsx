"use client";
/**
 * Start, pause, resume, stop, and resume-from-checkpoint (a stopped, failed or interrupted run continues from its
 * latest checkpoint); the backend in use, speed, ETA and progress. Viewers see the buttons disabled, and why.
 * A run waiting for a trainer slot shows "queued, N ahead" (pushed as the queue moves) and can leave the queue.
 */
import { useMutation } from "@tanstack/react-query";
import { ENDED_STATUSES } from "../../lib/gan/vocabulary";
import { errorMessage } from "../_lib/errors";
import { duration } from "../_lib/format";
import type { LiveRun } from "../_lib/live";
import type { LossSeries } from "../_lib/series";
import { useTRPC } from "../_lib/trpc";
import { useTick } from "../_lib/useTick";
import { Button, Notice, StatusBadge } from "./ui";

export const VIEWER_REASON = "Viewers can watch and generate; ask the owner for the editor role.";

export function RunControls({
  runId,
  run,
  series,
  canEdit,
  batchSize,
  maxEpoch,
  totalIterations,
  hasCheckpoint,
}: {
  runId: string;
  run: LiveRun;
  series: LossSeries;
  canEdit: boolean;
  batchSize: number;
  maxEpoch: number;
  totalIterations: number | null;
  hasCheckpoint: boolean;
}) {
  const trpc = useTRPC();
  const running = run.status === "running";
  useTick(1000, running);
  const start = useMutation(trpc.runs.start.mutationOptions());
  const pause = useMutation(trpc.runs.pause.mutationOptions());
  const resume = useMutation(trpc.runs.resume.mutationOptions());
  const stop = useMutation(trpc.runs.stop.mutationOptions());
  const pending = start.isPending || pause.isPending || resume.isPending || stop.isPending;
  const error = start.error ?? pause.error ?? resume.error ?? stop.error;
  /** A button's click: earlier errors cleared, then the control sent. */
  const send = (control: typeof start | typeof pause) => () => {
    reset();
    control.mutate({ runId });
  };
  const reset = () => {
    for (const m of [start, pause, resume, stop]) m.reset();
  };

  const status = run.status;
  const iteration = Math.max(run.iteration, (series.lastIteration ?? -1) + 1);
  const epoch = series.lastEpoch ?? run.epoch;
  const total = totalIterations ?? (run.iterationsPerEpoch ? run.iterationsPerEpoch * maxEpoch : null);
  const itersPerSec = running ? series.rate() : null;
  const imagesPerSec = itersPerSec !== null ? itersPerSec * batchSize : (run.imagesPerSec ?? null);
  const eta = running && itersPerSec && total ? (total - iteration) / itersPerSec : null;
  const progress = total ? Math.min(1, iteration / total) : 0;
  // An ended run other than a completed one starts again from its checkpoint.
  const resumable = status !== "completed" && (ENDED_STATUSES as readonly string[]).includes(status);
  const disabled = !canEdit || pending;
  const why = canEdit ? undefined : VIEWER_REASON;
  const queuePosition = status === "queued" ? (run.queuePosition ?? null) : null;
  const queuedLabel =
    status === "queued" ? `queued, ${queuePosition === null ? "waiting" : queuePosition === 0 ? "next in line" : `${queuePosition} ahead`}` : undefined;

  return (
    <div className="flex flex-col gap-3" data-testid="run-controls">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <div className="flex items-center gap-2">
          <StatusBadge status={status} testId="run-status" {...(queuedLabel ? { label: queuedLabel } : {})} />
          <span className="text-xs text-slate-400">
            backend{" "}
            <strong className="font-medium text-slate-200" data-testid="run-backend">
              {run.backend ?? "—"}
            </strong>
          </span>
        </div>
        <span className="text-xs tabular-nums text-slate-400">
          {imagesPerSec !== null ? `${imagesPerSec.toFixed(imagesPerSec < 10 ? 1 : 0)} images/s` : "— images/s"}
          {eta !== null ? ` · ETA ${duration(eta)}` : ""}
        </span>
      </div>

      <div>
        <div className="mb-1 flex justify-between text-xs tabular-nums text-slate-400">
          <span>
            epoch <strong className="text-slate-200">{epoch}</strong> / {maxEpoch}
          </span>
          <span>
            iteration{" "}
            <strong className="text-slate-200" data-testid="run-iteration">
              {iteration}
            </strong>
            {total ? ` / ${total}` : ""}
          </span>
        </div>
        <div
          className="h-1.5 overflow-hidden rounded-full bg-slate-800"
          role="progressbar"
          aria-label="Training progress"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={Math.round(progress * 100)}
        >
          <div className="h-full rounded-full bg-sky-500 transition-[width] duration-500" style={{ width: `${progress * 100}%` }} />
        </div>
      </div>

      <div className="flex flex-wrap gap-2">
        {status === "idle" ? (
          <Button tone="primary" disabled={disabled} title={why} onClick={send(start)}>
            <span aria-hidden>▶</span> Start
          </Button>
        ) : null}
        {status === "running" ? (
          <Button disabled={disabled} title={why} onClick={send(pause)}>
            <span aria-hidden>❚❚</span> Pause
          </Button>
        ) : null}
        {status === "paused" ? (
          <Button tone="primary" disabled={disabled} title={why} onClick={send(resume)}>
            <span aria-hidden>▶</span> Resume
          </Button>
        ) : null}
        {status === "running" || status === "paused" ? (
          <Button tone="danger" disabled={disabled} title={why} onClick={send(stop)}>
            <span aria-hidden>■</span> Stop
          </Button>
        ) : null}
        {status === "queued" ? (
          <>
            <Button tone="danger" disabled={disabled} title={why ?? "leave the queue: the run gets back the status it had"} onClick={send(stop)}>
              <span aria-hidden>■</span> Leave the queue
            </Button>
            <p className="text-sm text-slate-400" data-testid="queue-note">
              Every trainer slot of the server is busy: this run starts by itself when one frees
              {queuePosition ? `, after the ${queuePosition} run${queuePosition === 1 ? "" : "s"} ahead of it` : ""}.
            </p>
          </>
        ) : null}
        {resumable ? (
          <Button tone="primary" disabled={disabled || !hasCheckpoint} title={why ?? (hasCheckpoint ? undefined : "no checkpoint yet")} onClick={send(start)}>
            <span aria-hidden>⟲</span> Resume from checkpoint
          </Button>
        ) : null}
        {status === "completed" ? <p className="text-sm text-slate-400">This run completed. Start a new run to train further.</p> : null}
      </div>

      {!canEdit ? (
        <p className="text-xs text-slate-400" data-testid="viewer-reason">
          {VIEWER_REASON}
        </p>
      ) : null}
      {error ? (
        <Notice tone="error" role="alert">
          {errorMessage(error)}
        </Notice>
      ) : null}
    </div>
  );
}
