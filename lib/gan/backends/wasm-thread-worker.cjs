// One thread of the multi-threaded wasm backend under Node (lib/gan/backends/wasm-threads.ts starts it).
// tfjs ships the Emscripten thread script only as a string (`wasmWorkerContents`) and hands it to `new Worker`
// as a blob: URL, which Node's worker_threads refuse. This file is that script as a file: the string run
// in this worker's global scope, with the two CommonJS names it expects there.
"use strict";
const { wasmWorkerContents } = require("@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js");

globalThis.require = require;
globalThis.__filename = __filename;
// Run in this worker's global scope, as a classic worker script would. tfjs escapes the newlines inside the
// script's string literals the same way before it makes its blob.
require("node:vm").runInThisContext(wasmWorkerContents.replace(/\n/g, "\\n"), { filename: "tfjs-backend-wasm-threaded-simd.worker.js" });
