/** Writes the bundled digits compactly for the GPU machine: uint32 count, count labels, count×784 pixels (uint8). */
import { writeFileSync } from "node:fs";
import { loadBundledMnist } from "../lib/gan/data/mnist-bundled";

const ds = loadBundledMnist();
const buf = Buffer.alloc(4 + ds.count + ds.images.length);
buf.writeUInt32LE(ds.count, 0);
for (let i = 0; i < ds.count; i++) buf[4 + i] = ds.labels[i]!;
for (let i = 0; i < ds.images.length; i++) buf[4 + ds.count + i] = Math.round(ds.images[i]! * 255);
writeFileSync(process.argv[2] ?? ".gpu/mnist-u8.bin", buf);
