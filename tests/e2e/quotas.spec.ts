/**
 * What a person sees of the quotas: with every trainer slot busy a started run waits in the queue ("queued, …")
 * and can leave it; a session over its share of training runs refuses a start with the reason in words.
 * The e2e server has two trainer slots (GAN_MAX_LIVE_TRAINERS=2) and the default two runs per session.
 */
import { expect, test } from "@playwright/test";
import { callTrpc, createSession, DESKTOP, PHONE, shot, signUp, TINY } from "./helpers";

test("with every trainer slot busy a run waits in the queue and can leave it; a session's third run is refused in words", async ({ page }) => {
  test.setTimeout(120_000);
  await page.setViewportSize(DESKTOP);
  await signUp(page, "Quinn");
  const a = await createSession(page, "Slots A");
  const b = await createSession(page, "Slots B");
  const create = async (sessionId: string, name: string) =>
    (await callTrpc<{ id: string }>(page, "runs.create", { sessionId, name, config: TINY }, "POST")).body.result!.data.id;
  const start = (runId: string) => callTrpc(page, "runs.start", { runId }, "POST");
  const a1 = await create(a, "a1");
  const a2 = await create(a, "a2");
  const b1 = await create(b, "b1");
  const b2 = await create(b, "b2");
  expect((await start(a1)).status).toBe(200);
  expect((await start(b1)).status).toBe(200);

  // Both slots are taken (by a1 and b1, or by runs of earlier tests): b2 waits, and says so.
  await page.goto(`/sessions/${b}?run=${b2}`);
  await page.getByRole("button", { name: "Start" }).click();
  await expect(page.getByTestId("run-status")).toHaveText(/queued, (next in line|\d+ ahead)/);
  await expect(page.getByTestId("queue-note")).toContainText("starts by itself when one frees");
  await shot(page, "session-queued-desktop");
  await page.setViewportSize(PHONE);
  await shot(page, "session-queued-phone");
  await page.setViewportSize(DESKTOP);
  await page.getByRole("button", { name: "Leave the queue" }).click();
  await expect(page.getByTestId("run-status")).toHaveText("idle");

  // Session A trains a1 and waits with a2: a third start is refused with the reason.
  expect((await start(a2)).status).toBe(200);
  const a3 = await create(a, "a3");
  await page.goto(`/sessions/${a}?run=${a3}`);
  await page.getByRole("button", { name: "Start" }).click();
  await expect(page.getByText(/This session already trains 2 runs \(queued runs count; the limit is 2\): stop one or wait/)).toBeVisible();
  await shot(page, "session-quota-desktop");

  // a2 first: it waits in the queue, and stopping a1 first would start it. Then the machine is left quiet for the next tests.
  for (const runId of [a2, a1, b1]) expect((await callTrpc(page, "runs.stop", { runId }, "POST")).status).toBe(200);
  await expect.poll(async () => ((await (await page.request.get("/api/health")).json()) as { liveRuns: number }).liveRuns, { timeout: 60_000 }).toBe(0);
});
