/**
 * Data sets by reference, as a Config names them: "mnist-bundled" (the default), an imported data set's id
 * ("ds-" and 20 hex digits, read from the data set store), a Neural Network Console dataset CSV (`….csv`), or a
 * folder holding MNIST-style IDX files (images and labels, optionally gzipped).
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { DatasetError, type ImageDataset } from "./dataset";
import { loadIdx } from "./idx";
import { loadBundledMnist } from "./mnist-bundled";
import { loadNncCsv } from "./nnc-csv";
import { DATASET_ID, DatasetStore, defaultStoreDir } from "./store";

export const BUNDLED_MNIST = "mnist-bundled";

/** Finds the images and labels IDX files in a folder (train-images-idx3-ubyte, …-labels-idx1-ubyte, .gz or not). */
function findIdxPair(dir: string): [string, string] {
  const files = readdirSync(dir);
  const images = files.filter((f) => /idx3-ubyte(\.gz)?$/.test(f)).sort();
  const labels = files.filter((f) => /idx1-ubyte(\.gz)?$/.test(f)).sort();
  // Prefer the training files when a folder holds both train and t10k sets.
  const pick = (list: string[]) => list.find((f) => f.startsWith("train")) ?? list[0];
  const i = pick(images);
  const l = pick(labels);
  if (!i || !l) {
    throw new DatasetError("missing_file", `${dir} holds no IDX pair (an …idx3-ubyte images file and an …idx1-ubyte labels file)`, { file: dir });
  }
  return [path.join(dir, i), path.join(dir, l)];
}

export interface LoadDatasetOptions {
  /** The data set store for "ds-…" ids; default env GAN_DATASETS_DIR, else ./data/datasets. */
  storeDir?: string;
}

/** Loads the data set a Config names; errors are {@link DatasetError}s naming the file. */
export function loadDataset(ref: string, opts: LoadDatasetOptions = {}): ImageDataset {
  if (ref === BUNDLED_MNIST) return loadBundledMnist();
  if (DATASET_ID.test(ref)) {
    const store = new DatasetStore(opts.storeDir ?? defaultStoreDir());
    if (!store.has(ref)) {
      throw new DatasetError("missing_file", `data set ${ref} is not in the data set store ${store.dir} (import it first, or set GAN_DATASETS_DIR)`, {
        file: ref,
      });
    }
    return store.load(ref);
  }
  if (!existsSync(ref)) {
    throw new DatasetError("missing_file", `data set "${ref}" is neither "${BUNDLED_MNIST}" nor an existing file or folder`, { file: ref });
  }
  if (statSync(ref).isDirectory()) {
    const [images, labels] = findIdxPair(ref);
    return loadIdx(images, labels, { name: path.basename(path.resolve(ref)) });
  }
  if (ref.toLowerCase().endsWith(".csv")) return loadNncCsv(ref, { name: path.basename(ref, ".csv") });
  throw new DatasetError("bad_format", `${ref}: expected a Neural Network Console .csv or a folder of IDX files`, { file: ref });
}
