"use client";
/**
 * The session's data sets: the bundled digits and every import, each with its images per label as a bar strip; an
 * import form (a zip of IDX files, an NNC dataset CSV with its images or one folder per label; or an IDX pair) with
 * a progress bar everyone in the session sees; and a data set's page: counts, examples per label, the split, which
 * networks fit, who imported it and when, delete while no run uses it.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useCallback, useEffect, useState, type FormEvent } from "react";
import type { DatasetProgressPush } from "../../lib/protocol/socket";
import { useRequireUser } from "../_lib/auth";
import { errorCode, errorMessage } from "../_lib/errors";
import { bytes, timeAgo } from "../_lib/format";
import { useSessionLive } from "../_lib/live";
import { useTRPC, type RouterOutputs } from "../_lib/trpc";
import { onUploadProgress } from "../_lib/upload";
import { Breadcrumb, Button, Field, Notice, Panel, Select, Skeleton } from "./ui";

type DatasetView = RouterOutputs["datasets"]["list"][number];

const PHASES: Record<DatasetProgressPush["phase"] | "uploading", string> = {
  uploading: "Uploading",
  receiving: "Received",
  reading: "Reading the archive",
  decoding: "Decoding images",
  storing: "Storing",
  done: "Imported",
  failed: "Failed",
};

/** Images per label as a strip of bars (height ∝ count), with the label under each. */
export function PerLabelBars({
  perLabel,
  labelNames,
  height = 48,
  testId,
}: {
  perLabel: number[];
  labelNames?: string[] | null;
  height?: number;
  testId?: string;
}) {
  const max = Math.max(1, ...perLabel);
  return (
    <div
      className="flex items-end gap-0.5"
      style={{ height: height + 16 }}
      data-testid={testId}
      role="img"
      aria-label={`Images per label: ${perLabel.map((n, i) => `${labelNames?.[i] ?? i}: ${n}`).join(", ")}`}
    >
      {perLabel.map((n, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: one bar per label: the index is the label number
        <div key={i} className="flex min-w-0 flex-1 flex-col items-center gap-0.5" title={`${labelNames?.[i] ?? `label ${i}`}: ${n.toLocaleString()} images`}>
          <div className="w-full rounded-sm bg-sky-500/70" style={{ height: Math.max(1, Math.round((n / max) * height)) }} />
          <span className="max-w-full truncate text-[10px] leading-3 text-slate-500">{labelNames?.[i] ?? i}</span>
        </div>
      ))}
    </div>
  );
}

function ProgressBar({ label, done, total, tone = "sky" }: { label: string; done: number; total: number; tone?: "sky" | "rose" | "emerald" }) {
  const pct = total > 0 ? Math.min(100, Math.round((done / total) * 100)) : 0;
  const colors = { sky: "bg-sky-500", rose: "bg-rose-500", emerald: "bg-emerald-500" };
  return (
    <div className="flex flex-col gap-1">
      <div className="flex justify-between text-xs text-slate-300">
        <span>{label}</span>
        <span className="tabular-nums">{total > 0 ? `${pct}%` : ""}</span>
      </div>
      <div
        className="h-2 overflow-hidden rounded-full bg-slate-800"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct}
      >
        <div className={`h-full ${colors[tone]} transition-[width] duration-200`} style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}

interface ImportState {
  importId: string;
  name: string;
  userName: string;
  phase: DatasetProgressPush["phase"] | "uploading";
  done: number;
  total: number;
  error?: DatasetProgressPush["error"];
}

function describeProgress(p: ImportState): string {
  if (p.phase === "uploading") return `${PHASES.uploading} ${bytes(p.done)} of ${bytes(p.total)}`;
  if (p.phase === "decoding") return `${PHASES.decoding}: ${p.done.toLocaleString()} of ${p.total.toLocaleString()}`;
  if (p.phase === "done") return `${PHASES.done}: ${p.total.toLocaleString()} images`;
  return PHASES[p.phase];
}

/** Imports started from this page: their end shows in the form, not again in the session's progress list. */
const ownImports = new Set<string>();

function ImportForm({ sessionId, onImported }: { sessionId: string; onImported: (id: string) => void }) {
  const trpc = useTRPC();
  const [name, setName] = useState("");
  const [resize, setResize] = useState<"reject" | "fit">("reject");
  const [size, setSize] = useState("");
  const [files, setFiles] = useState<File[]>([]);
  const [progress, setUpload] = useState<{ sent: number; total: number } | null>(null);
  const [sending, setSending] = useState(false);
  const upload = useMutation(trpc.datasets.upload.mutationOptions());
  const mutation = useMutation(
    trpc.datasets.import.mutationOptions({
      onSuccess: (r) => onImported(r.dataset.id),
    }),
  );
  const busy = upload.isPending || mutation.isPending || sending;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (files.length === 0 || busy) return;
    mutation.reset();
    upload.reset();
    const importId = crypto.randomUUID();
    ownImports.add(importId);
    // Each file is its own request body, streamed to the server's disk; the import then names them.
    const total = files.reduce((a, f) => a + f.size, 0);
    let before = 0;
    setSending(true);
    setUpload({ sent: 0, total });
    const uploaded: { uploadId: string; name: string }[] = [];
    try {
      for (const f of files) {
        const off = onUploadProgress(f, (sent) => setUpload({ sent: before + sent, total }));
        try {
          uploaded.push({ uploadId: (await upload.mutateAsync(f)).uploadId, name: f.name });
        } finally {
          off();
        }
        before += f.size;
      }
    } catch {
      return; // upload.error says why
    } finally {
      setSending(false);
      setUpload(null);
    }
    const target =
      resize === "fit" && size.trim()
        ? size
            .trim()
            .split(/[x×X*]/)
            .map(Number)
        : null;
    mutation.mutate({
      sessionId,
      importId,
      files: uploaded,
      resize,
      ...(name.trim() ? { name: name.trim() } : {}),
      ...(target && target.length === 2 ? { size: target as [number, number] } : {}),
    });
  };
  const failed = upload.error ?? mutation.error;
  const err = mutation.error as { data?: { dataset?: { code: string; file?: string; row?: number } | null } } | null;
  const where = err?.data?.dataset;
  return (
    <form onSubmit={(e) => void submit(e)} className="flex flex-col gap-3" aria-label="Import a data set" data-testid="import-form">
      <div className="flex flex-col gap-1">
        <label htmlFor="import-files" className="text-sm font-medium text-slate-300">
          Files
        </label>
        <input
          id="import-files"
          type="file"
          multiple
          accept=".zip,.gz,.csv,application/zip,application/gzip,application/octet-stream"
          onChange={(e) => setFiles(Array.from(e.target.files ?? []))}
          className="text-sm text-slate-300 file:mr-3 file:rounded-md file:border-0 file:bg-slate-700 file:px-3 file:py-1.5 file:text-slate-100 hover:file:bg-slate-600"
        />
        <p className="text-xs text-slate-500">
          A .zip holding MNIST-style IDX files, a Neural Network Console dataset CSV (x:image,y:label) with its images, or one folder per label; or an IDX
          images file with its labels file (.gz or not). PNG or JPEG, gray or RGB, up to 64×64.
        </p>
      </div>
      <div className="grid gap-3 sm:grid-cols-3">
        <Field id="import-name" label="Name" placeholder="from the file name" value={name} onChange={(e) => setName(e.target.value)} />
        <Select id="import-resize" label="Images of another size" value={resize} onChange={(e) => setResize(e.target.value as "reject" | "fit")}>
          <option value="reject">Reject the import</option>
          <option value="fit">Resize to fit, keeping the aspect ratio</option>
        </Select>
        <Field
          id="import-size"
          label="Size (H×W)"
          placeholder="most common size"
          value={size}
          onChange={(e) => setSize(e.target.value)}
          disabled={resize !== "fit"}
          hint={resize === "fit" ? "e.g. 28x28 or 32x32; padded, never stretched" : "only when resizing"}
        />
      </div>
      {progress ? <ProgressBar label={`Uploading ${bytes(progress.sent)} of ${bytes(progress.total)}`} done={progress.sent} total={progress.total} /> : null}
      {mutation.isPending ? (
        <p className="text-xs text-slate-400" role="status">
          Uploaded; importing (the progress is shown above for everyone in the session)…
        </p>
      ) : null}
      {failed ? (
        <Notice tone="error" role="alert">
          {/* The import's own message as it is: it starts with a file name, whose case matters. */}
          <span data-testid="import-error">{where ? failed.message : errorMessage(failed)}</span>
          {where ? (
            <span className="mt-1 block text-xs text-rose-200/80">
              {where.code}
              {where.file ? ` · file ${where.file}` : ""}
              {where.row !== undefined ? ` · row ${where.row}` : ""}
            </span>
          ) : null}
        </Notice>
      ) : null}
      {mutation.isSuccess ? (
        <Notice tone="info" role="status">
          {mutation.data.reused ? "Already stored: imported instantly as " : "Imported "}
          <Link className="underline" href={`/sessions/${sessionId}/datasets/${mutation.data.dataset.id}`}>
            {mutation.data.dataset.name}
          </Link>{" "}
          ({mutation.data.dataset.count.toLocaleString()} images).
        </Notice>
      ) : null}
      <div>
        <Button type="submit" tone="primary" disabled={files.length === 0 || busy}>
          {sending ? "Uploading…" : mutation.isPending ? "Importing…" : "Import"}
        </Button>
      </div>
    </form>
  );
}

function DatasetCard({ sessionId, d }: { sessionId: string; d: DatasetView }) {
  return (
    <li className="rounded-xl bg-slate-900/70 p-4 ring-1 ring-slate-800" data-testid="dataset-card">
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <Link href={`/sessions/${sessionId}/datasets/${d.id}`} className="font-semibold hover:underline">
          {d.name}
        </Link>
        <span className="text-xs text-slate-400">
          {d.count.toLocaleString()} images · {d.imageShape.join("×")} · {d.numLabels} labels
        </span>
      </div>
      <p className="mb-2 text-xs text-slate-500">
        {d.bundled ? "Comes with GAN Studio" : `Imported by ${d.importedBy ?? "someone"} ${d.importedAt ? timeAgo(d.importedAt) : ""}`} · used by {d.runCount}{" "}
        run{d.runCount === 1 ? "" : "s"}
      </p>
      <PerLabelBars perLabel={d.perLabel} labelNames={d.labelNames} height={32} />
    </li>
  );
}

export function DatasetsPage({ sessionId }: { sessionId: string }) {
  const me = useRequireUser();
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const session = useQuery(trpc.sessions.get.queryOptions({ sessionId }, { enabled: !!me }));
  const list = useQuery(trpc.datasets.list.queryOptions({ sessionId }, { enabled: !!me }));
  const [imports, setImports] = useState<ImportState[]>([]);
  const refresh = useCallback(() => queryClient.invalidateQueries({ queryKey: trpc.datasets.list.queryKey({ sessionId }) }), [queryClient, trpc, sessionId]);
  useSessionLive(sessionId, null, {
    onDatasetProgress: (p) => {
      const ended = p.phase === "done" || p.phase === "failed";
      setImports((prev) => [...prev.filter((x) => x.importId !== p.importId), ...(ended && ownImports.has(p.importId) ? [] : [{ ...p }])]);
      if (p.phase === "done") void refresh();
    },
    onActivity: (a) => {
      if (a.kind.startsWith("dataset.")) void refresh();
    },
  });
  // Finished and failed imports leave the list of bars after a while.
  useEffect(() => {
    if (!imports.some((i) => i.phase === "done" || i.phase === "failed")) return;
    const t = setTimeout(() => setImports((prev) => prev.filter((i) => i.phase !== "done" && i.phase !== "failed")), 10_000);
    return () => clearTimeout(t);
  }, [imports]);
  const viewer = session.data?.role === "viewer";

  return (
    <main className="mx-auto flex max-w-[1100px] flex-col gap-5 px-3 py-6 sm:px-5">
      <Breadcrumb sessionId={sessionId} sessionName={session.data?.session.name} />
      <div>
        <h1 className="text-2xl font-semibold">Data sets</h1>
        <p className="text-sm text-slate-400">
          Shared by everyone in this session. A run trains on one of them; the network adapts to its image size and labels.
        </p>
      </div>
      {session.isError ? (
        <Notice tone="error" role="alert">
          {errorCode(session.error) === "FORBIDDEN" ? "You are not a member of this session." : errorMessage(session.error)}
        </Notice>
      ) : (
        <>
          {imports.length > 0 ? (
            <Panel title="Imports under way" id="imports">
              <ul className="flex flex-col gap-3" data-testid="import-progress">
                {imports.map((p) => (
                  <li key={p.importId} className="flex flex-col gap-1">
                    <ProgressBar
                      label={`${p.name} (${p.userName}) — ${describeProgress(p)}`}
                      done={p.phase === "done" ? 1 : p.phase === "failed" ? 0 : p.done}
                      total={p.phase === "done" ? 1 : p.total}
                      tone={p.phase === "failed" ? "rose" : p.phase === "done" ? "emerald" : "sky"}
                    />
                    {p.error ? <p className="text-xs text-rose-300">{p.error.message}</p> : null}
                  </li>
                ))}
              </ul>
            </Panel>
          ) : null}
          {viewer ? (
            <Notice tone="warn">Viewers can look at the data sets; importing and deleting need the editor role.</Notice>
          ) : session.data ? (
            <Panel title="Import" id="import">
              <ImportForm sessionId={sessionId} onImported={(id) => router.push(`/sessions/${sessionId}/datasets/${id}`)} />
            </Panel>
          ) : null}
          {list.isPending ? (
            <Skeleton className="h-40" />
          ) : list.isError ? (
            <Notice tone="error" role="alert">
              {errorMessage(list.error)}
            </Notice>
          ) : (
            <ul className="grid gap-4 md:grid-cols-2" aria-label="Data sets" data-testid="dataset-list">
              {list.data.map((d) => (
                <DatasetCard key={d.id} sessionId={sessionId} d={d} />
              ))}
              {list.data.length === 1 ? (
                <li className="flex items-center justify-center rounded-xl border border-dashed border-slate-700 p-6 text-center text-sm text-slate-400">
                  No imported data sets yet: import one above.
                </li>
              ) : null}
            </ul>
          )}
        </>
      )}
    </main>
  );
}

export function DatasetDetailPage({ sessionId, datasetId }: { sessionId: string; datasetId: string }) {
  const me = useRequireUser();
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const session = useQuery(trpc.sessions.get.queryOptions({ sessionId }, { enabled: !!me }));
  const detail = useQuery(trpc.datasets.get.queryOptions({ sessionId, datasetId }, { enabled: !!me }));
  const remove = useMutation(
    trpc.datasets.remove.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries({ queryKey: trpc.datasets.list.queryKey({ sessionId }) });
        router.push(`/sessions/${sessionId}/datasets`);
      },
    }),
  );
  const viewer = session.data?.role === "viewer";
  const d = detail.data;

  return (
    <main className="mx-auto flex max-w-[1100px] flex-col gap-5 px-3 py-6 sm:px-5">
      <Breadcrumb sessionId={sessionId} sessionName={session.data?.session.name} trail={[{ href: `/sessions/${sessionId}/datasets`, label: "Data sets" }]} />
      {detail.isPending ? (
        <Skeleton className="h-96" />
      ) : detail.isError ? (
        <Notice tone="error" role="alert">
          {errorCode(detail.error) === "FORBIDDEN"
            ? "You are not a member of this session."
            : errorCode(detail.error) === "NOT_FOUND"
              ? "This session has no such data set (it may have been deleted)."
              : errorMessage(detail.error)}
        </Notice>
      ) : d ? (
        <>
          <div className="flex flex-wrap items-end justify-between gap-3">
            <div>
              <h1 className="text-2xl font-semibold" data-testid="dataset-name">
                {d.name}
              </h1>
              <p className="text-sm text-slate-400" data-testid="dataset-summary">
                {d.count.toLocaleString()} images · {d.imageShape[0]}×{d.imageShape[1]} {d.imageShape[2] === 3 ? "RGB" : "gray"} · {d.numLabels} labels ·{" "}
                {d.bundled ? "comes with GAN Studio" : `imported by ${d.importedBy ?? "someone"} ${d.importedAt ? timeAgo(d.importedAt) : ""} from ${d.source}`}
              </p>
              {!d.bundled ? (
                <p className="text-xs text-slate-500">
                  {d.format === "nnc-csv" ? "NNC dataset CSV" : d.format === "folders" ? "one folder per label" : "IDX files"} · {bytes(d.bytes)} stored
                  {d.resized > 0 ? ` · ${d.resized.toLocaleString()} images resized on import` : ""} · id <code>{d.id}</code>
                </p>
              ) : null}
            </div>
            <div className="flex gap-2">
              {!viewer ? (
                <Link
                  href={`/sessions/${sessionId}/runs/new?dataset=${d.id}`}
                  className="inline-flex min-h-9 items-center rounded-md bg-sky-500 px-3 text-sm font-medium text-slate-950 hover:bg-sky-400"
                >
                  New run on it
                </Link>
              ) : null}
              {!viewer && !d.bundled ? (
                <Button
                  tone="danger"
                  disabled={d.runCount > 0 || remove.isPending}
                  title={d.runCount > 0 ? `Used by ${d.runCount} run${d.runCount === 1 ? "" : "s"} of this session: it cannot be deleted` : undefined}
                  onClick={() => {
                    if (window.confirm(`Delete "${d.name}" from this session?`)) remove.mutate({ sessionId, datasetId });
                  }}
                >
                  Delete
                </Button>
              ) : null}
            </div>
          </div>
          {d.runCount > 0 && !d.bundled && !viewer ? (
            <p className="text-xs text-slate-500">
              Used by {d.runCount} run{d.runCount === 1 ? "" : "s"} of this session, so it cannot be deleted.
            </p>
          ) : null}
          {remove.isError ? (
            <Notice tone="error" role="alert">
              {errorMessage(remove.error)}
            </Notice>
          ) : null}
          <div className="grid gap-4 lg:grid-cols-[minmax(0,1fr)_minmax(0,1fr)]">
            <Panel title="Images per label" id="per-label">
              <PerLabelBars perLabel={d.perLabel} labelNames={d.labelNames} height={96} testId="per-label" />
              <table className="mt-3 w-full text-xs tabular-nums" data-testid="split-table">
                <caption className="mb-1 text-left text-slate-400">
                  Train / validation split (every run on this data set uses the same one; {Math.round(d.split.fraction * 1000) / 10}% held out per label)
                </caption>
                <thead className="text-slate-400">
                  <tr>
                    <th className="text-left font-medium">Label</th>
                    <th className="text-right font-medium">Images</th>
                    <th className="text-right font-medium">Train</th>
                    <th className="text-right font-medium">Validation</th>
                  </tr>
                </thead>
                <tbody className="text-slate-200">
                  {d.perLabel.map((n, i) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: one row per label: the index is the label number
                    <tr key={i} className="border-t border-slate-800">
                      <td>{d.labelNames?.[i] ?? i}</td>
                      <td className="text-right">{n.toLocaleString()}</td>
                      <td className="text-right">{d.split.train[i]!.toLocaleString()}</td>
                      <td className="text-right">{d.split.validation[i]!.toLocaleString()}</td>
                    </tr>
                  ))}
                  <tr className="border-t border-slate-700 font-semibold">
                    <td>all</td>
                    <td className="text-right">{d.count.toLocaleString()}</td>
                    <td className="text-right">{d.split.train.reduce((a, b) => a + b, 0).toLocaleString()}</td>
                    <td className="text-right">{d.split.validation.reduce((a, b) => a + b, 0).toLocaleString()}</td>
                  </tr>
                </tbody>
              </table>
            </Panel>
            <Panel title="Examples per label" id="examples">
              <div className="flex gap-2">
                <ol className="flex flex-col justify-around text-right text-xs text-slate-400" aria-hidden>
                  {d.perLabel.map((_, i) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: one row per label: the index is the label number
                    <li key={i}>{d.labelNames?.[i] ?? i}</li>
                  ))}
                </ol>
                {/* eslint-disable-next-line @next/next/no-img-element */}
                <img
                  src={`/api/sessions/${sessionId}/datasets/${d.id}/examples.png`}
                  alt={`Eight example images of each of the ${d.numLabels} labels of ${d.name}, one row per label`}
                  className="pixelated w-full max-w-md rounded bg-black"
                  data-testid="examples"
                />
              </div>
            </Panel>
          </div>
          <Panel title="Networks" id="networks">
            <ul className="flex flex-col gap-2 text-sm" data-testid="network-fit">
              {d.networks.map((n) => (
                <li key={n.name} className="flex gap-2">
                  <span aria-hidden className={n.ok ? "text-emerald-400" : "text-rose-400"}>
                    {n.ok ? "✓" : "✗"}
                  </span>
                  <span>
                    <span className="font-medium">{n.name}</span> <span className="text-slate-400">{n.message}</span>
                  </span>
                </li>
              ))}
            </ul>
          </Panel>
        </>
      ) : null}
    </main>
  );
}
