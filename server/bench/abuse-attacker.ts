/**
 * The attacker of `npm run bench:abuse`, in its own process: a freshly signed-up account that, for the given
 * seconds, cycles through oversize bodies (300 MiB of JSON to the upload route, 64 MiB of chunked JSON to a call,
 * a 600 MiB upload declared), bursts of wrong sign-ins, RuntimeGenerator requests (on a run without weights and on
 * the team's training run) and oversize tRPC batches; meanwhile it asks /api/health every 100 ms. Sends back the
 * refusals by HTTP status and code, and the health check's latencies.
 */
import { request as httpRequest } from "node:http";

const [url, victimRunId, secondsArg] = process.argv.slice(2) as [string, string, string];
const seconds = Number(secondsArg);

let cookie = "";
const refusals: Record<string, number> = {};
const count = (key: string) => (refusals[key] = (refusals[key] ?? 0) + 1);
const health: number[] = [];

async function call(pathname: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(`${url}${pathname}`, { ...init, headers: { ...(init.headers as Record<string, string>), ...(cookie ? { cookie } : {}) } });
  for (const c of res.headers.getSetCookie()) cookie = c.split(";")[0]!;
  return res;
}

async function record(res: Response): Promise<void> {
  const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; data?: { code?: string } } };
  if (res.status >= 400) count(`${res.status} ${body.error?.data?.code ?? body.error?.code ?? "?"}`);
}

/** A body of `bytes` sent in 1 MiB chunks until the server answers (it answers early when it refuses). */
function flood(pathname: string, bytes: number, contentType: string, declare: boolean): Promise<void> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { "content-type": contentType, cookie };
    if (declare) headers["content-length"] = String(bytes);
    const req = httpRequest(new URL(pathname, url), { method: "POST", headers });
    const chunk = Buffer.alloc(2 ** 20, "[");
    let sent = 0;
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        resolve();
      }
    };
    req.on("response", (res) => {
      const parts: Buffer[] = [];
      res.on("data", (d: Buffer) => parts.push(d));
      res.on("end", () => {
        try {
          const body = JSON.parse(Buffer.concat(parts).toString("utf8")) as { error?: { data?: { code?: string } } };
          count(`${res.statusCode} ${body.error?.data?.code ?? "?"}`);
        } catch {
          count(`${res.statusCode} ?`);
        }
        req.destroy();
        finish();
      });
    });
    // The server closed the connection while the body was still being sent, before its answer was read.
    req.on("error", () => {
      if (!done) count("closed before the answer was read");
      finish();
    });
    const pump = () => {
      while (sent < bytes && !done) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      if (!done) req.end();
    };
    pump();
  });
}

await record(
  await call("/api/trpc/auth.signUp", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "mallory@example.com", name: "Mallory", password: "mallory's pass" }),
  }),
);
const created = await call("/api/trpc/sessions.create", {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ name: "Mallory's" }),
});
const sessionId = ((await created.json()) as { result: { data: { id: string } } }).result.data.id;
const idle = await call("/api/trpc/runs.create", {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ sessionId, name: "never trained", config: { network: "small-dcgan", diagnostics: false } }),
});
const idleRunId = ((await idle.json()) as { result: { data: { id: string } } }).result.data.id;

let stop = false;
const prober = (async () => {
  while (!stop) {
    const t0 = performance.now();
    const res = await fetch(`${url}/api/health`);
    await res.arrayBuffer();
    health.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 100));
  }
})();

const end = Date.now() + seconds * 1000;
let rounds = 0;
while (Date.now() < end) {
  rounds++;
  await flood("/api/trpc/datasets.upload", 300 * 2 ** 20, "application/json", true);
  await flood("/api/trpc/runs.create", 64 * 2 ** 20, "application/json", false);
  await flood("/api/trpc/datasets.upload", 600 * 2 ** 20, "application/octet-stream", true);
  for (let i = 0; i < 10; i++) {
    await record(
      await call("/api/trpc/auth.signIn", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "bench@example.com", password: `guess ${rounds}-${i}` }),
      }),
    );
  }
  await Promise.all(
    Array.from({ length: 20 }, async (_, i) => record(await call(`/api/runs/${i % 2 ? idleRunId : victimRunId}/generate?label=${i % 10}&seed=${rounds}`))),
  );
  await record(await call(`/api/trpc/${Array.from({ length: 50 }, () => "auth.me").join(",")}?batch=1&input=%7B%7D`));
}
stop = true;
await prober;
process.send!({ type: "report", refusals, health, rounds });
setTimeout(() => process.exit(0), 100);
