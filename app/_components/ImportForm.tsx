"use client";
/**
 * The import form: a zip of IDX files, an NNC dataset CSV with its images or one folder per label, or an IDX pair;
 * each file uploaded as its own request body (with a progress bar), then imported by the server, whose progress
 * everyone in the session sees (DatasetsPage). Field and import errors show with the file and row they name.
 */
import { useMutation } from "@tanstack/react-query";
import Link from "next/link";
import { type FormEvent, useState } from "react";
import { errorMessage } from "../_lib/errors";
import { bytes } from "../_lib/format";
import { useTRPC } from "../_lib/trpc";
import { onUploadProgress } from "../_lib/upload";
import { ProgressBar } from "./DatasetWidgets";
import { Button, Field, Notice, Select } from "./ui";

/** Imports started from this page: their end shows in the form, not again in the session's progress list. */
const ownImports = new Set<string>();

/** Whether the import was started from this page's form. */
export const startedHere = (importId: string): boolean => ownImports.has(importId);

export function ImportForm({ sessionId, onImported }: { sessionId: string; onImported: (id: string) => void }) {
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
