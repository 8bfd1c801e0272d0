#!/usr/bin/env bash
# The CPU options of the engine, side by side in one run on this machine, alternating (ROUNDS, default 3):
# bench:train (batch 64, 10 timed iterations) on both built-in networks with
#   1 thread, XNNPACK only | every core, XNNPACK only (tfjs's multi-threaded wasm build) | every core, OpenBLAS too.
# Prints a table of medians, then one JSON line. Usage: bash scripts/bench-cpu-options.sh
set -u
rounds=${ROUNDS:-3}
declare -A results
configs=("1 thread, XNNPACK|GAN_WASM_THREADS=1 GAN_NATIVE=0" "all cores, XNNPACK|GAN_WASM_THREADS=auto GAN_NATIVE=0" "all cores, XNNPACK + OpenBLAS|GAN_WASM_THREADS=auto GAN_NATIVE=1")
for r in $(seq 1 "$rounds"); do
  for spec in nnc-dcgan-with-label small-dcgan; do
    for c in "${configs[@]}"; do
      name=${c%%|*}; envs=${c#*|}
      v=$(env $envs npm run -s bench:train -- --backend wasm --spec $spec --batch 64 --iters 10 --json 2>/dev/null | grep -E '^\{' | tail -1 | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).imagesPerSec.toFixed(1))}catch{console.log("nan")}})')
      results["$spec|$name"]+="$v "
    done
  done
done
node -e '
const rows = JSON.parse(process.argv[1]);
const med = (a) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : +((s[m - 1] + s[m]) / 2).toFixed(1); };
console.log("| network | engine | images/s (each round) | median |\n| --- | --- | --- | --- |");
const out = [];
for (const [key, v] of Object.entries(rows)) {
  const [spec, name] = key.split("|"); const xs = v.trim().split(" ").map(Number);
  console.log(`| ${spec} | ${name} | ${xs.join(", ")} | ${med(xs)} |`); out.push({ spec, engine: name, imagesPerSec: xs, median: med(xs) });
}
console.log(JSON.stringify({ machine: require("os").cpus()[0].model + " x" + require("os").cpus().length, date: new Date().toISOString().slice(0, 10), results: out }));
' "$(for k in "${!results[@]}"; do printf '%s\t%s\n' "$k" "${results[$k]}"; done | sort | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const o={};for(const l of s.trim().split("\n")){const [k,v]=l.split("\t");o[k]=v}console.log(JSON.stringify(o))})')"
