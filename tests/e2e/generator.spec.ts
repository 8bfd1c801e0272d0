/**
 * The RuntimeGenerator panel recovers by itself: a page opened before its run starts shows digits once the run has
 * weights, with no reload and no input, and draws again from each new epoch's weights; after the run is stopped it
 * still draws, from the last checkpoint.
 */
import { expect, test } from "@playwright/test";
import { callTrpc, createSession, DESKTOP, signUp, TINY } from "./helpers";

test("a generator panel opened before its run starts shows digits by itself once weights exist, and after the run stopped", async ({ page }) => {
  test.setTimeout(180_000);
  await page.setViewportSize(DESKTOP);
  await signUp(page, "Gene");
  const sessionId = await createSession(page, "Early bird");
  const runId = (await callTrpc<{ id: string }>(page, "runs.create", { sessionId, name: "early", config: TINY }, "POST")).body.result!.data.id;
  await page.goto(`/sessions/${sessionId}?run=${runId}`);
  const panel = page.getByTestId("generator");
  await expect(panel).toContainText("start the run first");
  let navigations = 0;
  page.on("framenavigated", (f) => {
    if (f === page.mainFrame()) navigations++;
  });

  // Started from elsewhere (another member, the API): the panel draws as soon as the first snapshot exists.
  expect((await callTrpc(page, "runs.start", { runId }, "POST")).status).toBe(200);
  await expect(panel.getByTestId("generated")).toHaveAttribute("data-label", "0", { timeout: 120_000 });
  await expect(panel.getByTestId("generated").locator("img")).toHaveCount(8);
  expect(navigations).toBe(0);
  // It follows training: a later epoch's weights draw other digits, still with no input.
  const first = await panel.getByTestId("generated").locator("img").first().getAttribute("src");
  await expect.poll(() => panel.getByTestId("generated").locator("img").first().getAttribute("src"), { timeout: 60_000 }).not.toBe(first);

  // Stopped: it still draws, from the last checkpoint.
  expect((await callTrpc(page, "runs.stop", { runId }, "POST")).status).toBe(200);
  await expect(page.getByTestId("run-status")).toHaveText("stopped", { timeout: 60_000 });
  await page.reload();
  await expect(page.getByTestId("generated")).toHaveAttribute("data-label", "0", { timeout: 60_000 });
});
