#!/usr/bin/env bash
# The whole training loop against the training step, side by side in one run, alternating (ROUNDS, default 2):
# `npm run bench:train` (the step alone, batch 64) and `npm run train` on the defaults (NNC's network, bundled digits,
# batch 64, diagnostics and a checkpoint every epoch) for EPOCHS epochs (default 2), whose last line gives its
# images/s over the whole run. Prints one JSON line with both medians and their ratio.
set -u
rounds=${ROUNDS:-2}; epochs=${EPOCHS:-2}; out=$(mktemp -d)
b=(); t=()
for r in $(seq 1 "$rounds"); do
  b+=("$(npm run -s bench:train -- --backend wasm --batch 64 --iters 20 --json 2>/dev/null | grep -E '^\{' | tail -1 | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).imagesPerSec.toFixed(1)))')")
  t+=("$(npm run -s train -- --backend wasm --epochs "$epochs" --out "$out/run-$r" 2>&1 | tr '\r' '\n' | grep -oE '\(([0-9.]+) images/s on' | tail -1 | grep -oE '[0-9.]+')")
done
rm -rf "$out"
node -e '
const [b, t] = [process.argv[1].split(" ").map(Number), process.argv[2].split(" ").map(Number)];
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
console.log(JSON.stringify({ epochs: Number(process.argv[3]), benchTrainImgPerSec: b, trainImgPerSec: t, ratioOfMedians: +(med(t) / med(b)).toFixed(3) }));' "${b[*]}" "${t[*]}" "$epochs"
