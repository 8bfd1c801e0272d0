/**
 * npm run dataset -- import PATH [--name NAME] [--resize reject|fit] [--size HxW] [--store DIR] [--json]
 * npm run dataset -- list [--store DIR] [--json]
 *
 * Imports a data set (a folder, a .zip, an IDX file with its labels beside it, or an NNC .csv) into the data set
 * store, or lists the store. The store is --store, else env GAN_DATASETS_DIR, else ./data/datasets.
 * With --json, import prints one line {"id","count","perLabel","imageShape","name","reused"}, or on a rejected
 * data set {"error":{"code","message","file","row"}} and exits 1; list prints one JSON array.
 */
import { parseArgs } from "node:util";
import { DatasetError } from "../data/dataset";
import { DatasetStore, defaultStoreDir, type ImportOptions, type ImportPhase, type StoredDatasetMeta } from "../data/store";
import { ProgressBar, UsageError, helpText, runMain, type OptionSpec } from "./args";

const OPTIONS = {
  name: { type: "string", help: "import: the data set's name (default: from the file or folder name)" },
  resize: { type: "string", help: "import: reject (default: every image one size, at most 64x64) | fit (scale each, keeping its aspect ratio)" },
  size: { type: "string", help: "import with --resize fit: target HxW, e.g. 32x32 (default: the most common size, fit into 64x64)" },
  store: { type: "string", help: "the data set store folder (default: GAN_DATASETS_DIR, else ./data/datasets)" },
  json: { type: "boolean", help: "print one JSON line instead of a table" },
  help: { type: "boolean", help: "show this help" },
} satisfies Record<string, OptionSpec>;
const USAGE = [
  "Usage: npm run dataset -- import PATH [--name NAME] [--resize reject|fit] [--size HxW] [--store DIR] [--json]",
  "       npm run dataset -- list [--store DIR] [--json]",
  "",
  "PATH: a folder (one subfolder per label, an NNC CSV with its images, or an IDX pair), a .zip of one,",
  "an IDX images or labels file (its partner beside it, .gz or not), or an NNC dataset .csv.",
].join("\n");

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${helpText(OPTIONS, USAGE)}`);
  }
}

function parseSize(value: string): [number, number] {
  const m = /^(\d+)x(\d+)$/i.exec(value);
  const h = Number(m?.[1]);
  const w = Number(m?.[2]);
  if (!m || !(h >= 1 && h <= 64 && w >= 1 && w <= 64)) throw new UsageError(`--size must be HxW with sides 1..64, e.g. 28x28, got "${value}"`);
  return [h, w];
}

/** The error line of `--json`: code and message, file and row when known. */
function errorJson(e: DatasetError): string {
  return JSON.stringify({
    error: { code: e.code, message: e.message, ...(e.file !== undefined ? { file: e.file } : {}), ...(e.row !== undefined ? { row: e.row } : {}) },
  });
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function describe(meta: StoredDatasetMeta, reused: boolean, storeDir: string): string {
  const [h, w, c] = meta.imageShape;
  const labels = meta.perLabel.map((n, l) => `${meta.labelNames?.[l] ?? l}: ${n}`).join(", ");
  return table([
    ["id", `${meta.id}${reused ? " (already in the store)" : ""}`],
    ["name", meta.name],
    ["images", `${meta.count}, ${h}x${w}x${c} (height x width x channels)`],
    ["labels", `${meta.numLabels} (${labels})`],
    ["format", `${meta.format}, from ${meta.source}`],
    ["resized", String(meta.resized)],
    ["store", storeDir],
  ]);
}

runMain(async () => {
  const { values: a, positionals } = parse(process.argv.slice(2));
  const [command, ...rest] = positionals;
  if (a.help || command === undefined) {
    console.log(helpText(OPTIONS, USAGE));
    if (command === undefined && !a.help) process.exitCode = 2;
    return;
  }
  const store = new DatasetStore(a.store ?? defaultStoreDir());

  if (command === "list") {
    if (rest.length > 0) throw new UsageError(`list takes no PATH, got "${rest.join(" ")}"`);
    const all = store.list();
    if (a.json) {
      console.log(JSON.stringify(all));
      return;
    }
    if (all.length === 0) {
      console.log(`no data sets in ${store.dir}`);
      return;
    }
    console.log(
      table([
        ["id", "name", "images", "shape", "labels", "format", "imported"],
        ...all.map((m) => [m.id, m.name, String(m.count), m.imageShape.join("x"), String(m.numLabels), m.format, m.importedAt.slice(0, 19).replace("T", " ")]),
      ]),
    );
    return;
  }

  if (command !== "import") throw new UsageError(`unknown command "${command}": expected import or list\n\n${helpText(OPTIONS, USAGE)}`);
  if (rest.length !== 1) throw new UsageError(`import takes one PATH, got ${rest.length}\n\n${helpText(OPTIONS, USAGE)}`);
  const resize = a.resize ?? "reject";
  if (resize !== "reject" && resize !== "fit") throw new UsageError(`--resize must be reject or fit, got "${resize}"`);
  if (a.size !== undefined && resize !== "fit") throw new UsageError("--size needs --resize fit");
  const options: ImportOptions = { resize, ...(a.name !== undefined ? { name: a.name } : {}), ...(a.size !== undefined ? { size: parseSize(a.size) } : {}) };

  let bar: ProgressBar | undefined;
  let phase: ImportPhase | undefined;
  if (!a.json && process.stderr.isTTY) {
    options.onProgress = (p) => {
      if (p.phase === "done" || p.total === 0) return;
      if (p.phase !== phase) {
        bar?.done();
        bar = new ProgressBar(p.total);
        phase = p.phase;
      }
      bar!.update(p.done, `${p.phase} ${p.done}/${p.total}`);
    };
  }
  const controller = new AbortController();
  options.signal = controller.signal;
  process.once("SIGINT", () => controller.abort());

  try {
    const { dataset, reused } = await store.importPath(rest[0]!, options);
    bar?.done();
    if (a.json) {
      const { id, count, perLabel, imageShape, name } = dataset;
      console.log(JSON.stringify({ id, count, perLabel, imageShape, name, reused }));
    } else {
      console.log(describe(dataset, reused, store.dir));
    }
  } catch (e) {
    bar?.done();
    if (a.json && e instanceof DatasetError) {
      console.log(errorJson(e));
      process.exitCode = 1;
      return;
    }
    throw e;
  }
});
