/**
 * The uploading member of `npm run bench:upload`, in its own process so that building and sending the multipart
 * body does not count against the server's event loop. Arguments: base URL, cookie, session id, then a JSON list
 * of uploads ({ format, files: [{ name, path }] }). Uploads each twice and prints one JSON line of timings.
 */
import { readFileSync } from "node:fs";
import { createTRPCClient, httpLink } from "@trpc/client";
import type { AppRouter } from "../trpc/root";

const [url, cookie, sessionId, uploadsJson] = process.argv.slice(2) as [string, string, string, string];
const uploads = JSON.parse(uploadsJson) as { format: string; files: { name: string; path: string }[] }[];
const api = createTRPCClient<AppRouter>({
  links: [
    httpLink({
      url: `${url}/api/trpc`,
      fetch: (u, init) => fetch(u as string, { ...(init as RequestInit), headers: { ...(init?.headers as Record<string, string>), cookie } }),
    }),
  ],
});

const results = [];
let n = 0;
for (const u of uploads) {
  const files = u.files.map((f) => ({ name: f.name, bytes: readFileSync(f.path) }));
  const send = async () => {
    const importId = `bench-upload-${String(n++).padStart(4, "0")}`;
    const start = performance.now();
    const uploaded = [];
    for (const f of files) uploaded.push({ uploadId: (await api.datasets.upload.mutate(new Blob([f.bytes]))).uploadId, name: f.name });
    const result = await api.datasets.import.mutate({ sessionId, importId, files: uploaded });
    return { importId, seconds: (performance.now() - start) / 1000, count: result.dataset.count, reused: result.reused, id: result.dataset.id };
  };
  const first = await send();
  const second = await send();
  results.push({ format: u.format, bytes: files.reduce((a, f) => a + f.bytes.length, 0), first, second });
}
console.log(JSON.stringify(results));
