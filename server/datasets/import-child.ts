/**
 * The data set import process: imports uploaded files (read from the paths it is given) into the store
 * (lib/gan/data/store.ts) at the folder given as argument, reporting progress, so reading and decoding 60,000
 * images never blocks the server's event loop. Started by
 * server/datasets/importer.ts; several imports may run at once (each yields between images).
 */
import { readFileSync } from "node:fs";
import { DatasetError } from "../../lib/gan/data/dataset";
import { DatasetStore } from "../../lib/gan/data/store";
import { IMPORTER_PROTOCOL_VERSION as v, ImportRequestSchema, type ImportReply } from "../../lib/protocol/importer";

const store = new DatasetStore(process.argv[2]!);
const send = (m: ImportReply) => process.send?.(m);

process.on("message", (raw: unknown) => {
  const requestId = typeof (raw as { requestId?: unknown })?.requestId === "string" ? (raw as { requestId: string }).requestId : "";
  const parsed = ImportRequestSchema.safeParse(raw);
  if (!parsed.success) {
    send({
      v,
      type: "result",
      requestId,
      ok: false,
      error: { code: "bad_request", message: `malformed import request: ${parsed.error.issues[0]?.message ?? "?"}`, dataset: false },
    });
    return;
  }
  const { options } = parsed.data;
  Promise.resolve()
    .then(() => parsed.data.files.map((f) => ({ name: f.name, bytes: readFileSync(f.path) })))
    .then((files) =>
      store.importFiles(files, {
        ...options,
        onProgress: (p) => send({ v, type: "progress", requestId, phase: p.phase, done: p.done, total: p.total }),
      }),
    )
    .then(
      (r) => send({ v, type: "result", requestId, ok: true, dataset: { ...r.dataset }, reused: r.reused }),
      (e: unknown) => {
        const error =
          e instanceof DatasetError
            ? {
                code: e.code,
                message: e.message,
                dataset: true,
                ...(e.file !== undefined ? { file: e.file } : {}),
                ...(e.row !== undefined ? { row: e.row } : {}),
                ...(e.image !== undefined ? { image: e.image } : {}),
                ...(e.label !== undefined ? { label: e.label } : {}),
              }
            : { code: "internal", message: e instanceof Error ? e.message : String(e), dataset: false };
        send({ v, type: "result", requestId, ok: false, error });
      },
    );
});
