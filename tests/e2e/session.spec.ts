/**
 * One shared live session, end to end: an owner and a viewer (two browser contexts) watch the same run; a late
 * joiner gets the full history; the server restarts under them and the pages recover by themselves.
 * The tests run in order and share the session (one server, one training run).
 */
import { readFileSync } from "node:fs";
import { expect, test, type Browser, type BrowserContext, type Page } from "@playwright/test";
import Database from "better-sqlite3";
import { readState, restartServer } from "./server";
import { callTrpc, chartPoints, createInvite, createRun, createSession, DESKTOP, joinInvite, PHONE, shot, signUp, TINY } from "./helpers";

test.describe.configure({ mode: "serial" });

let ownerCtx: BrowserContext;
let viewerCtx: BrowserContext;
let owner: Page;
let viewer: Page;
let sessionId: string;
let runId: string;

async function newPage(browser: Browser): Promise<[BrowserContext, Page]> {
  const ctx = await browser.newContext({ viewport: DESKTOP, reducedMotion: "reduce" });
  return [ctx, await ctx.newPage()];
}

test.beforeAll(async ({ browser }) => {
  [ownerCtx, owner] = await newPage(browser);
  [viewerCtx, viewer] = await newPage(browser);
});

test.afterAll(async () => {
  await ownerCtx?.close();
  await viewerCtx?.close();
});

test("two members in one session: the owner starts, pauses and freezes a parameter; the viewer sees each change", async () => {
  // On a machine without a cached evaluator (a fresh clone) the first run trains it first: 61 s measured on 2026-12-01.
  test.setTimeout(300_000);
  await signUp(owner, "Ada");
  sessionId = await createSession(owner, "Digits together");
  await expect(owner.getByText("No run yet")).toBeVisible();
  await shot(owner, "session-empty-desktop");
  // Diagnostics on, so the panel fills in (the first run on the digits trains their evaluator, about a minute).
  runId = await createRun(owner, sessionId, "tiny", { ...TINY, diagnostics: true });
  await expect(owner.getByTestId("run-status")).toHaveText("idle");
  const invite = await createInvite(owner, "viewer");

  // The viewer opens the link signed out: sign up, back on the invitation, join, and the session opens.
  await viewer.goto(invite);
  await viewer.waitForURL(/\/signin\?next=/);
  await signUp(viewer, "Vic");
  await joinInvite(viewer, 'Ada invites you to the session "Digits together" as a viewer');
  await viewer.waitForURL(new RegExp(`/sessions/${sessionId}`));
  await expect(viewer.getByTestId("my-role")).toHaveText("viewer");
  await expect(owner.getByTestId("presence").getByRole("img", { name: /Vic/ })).toBeVisible();

  await owner.getByRole("button", { name: "Start", exact: true }).click();
  await expect(viewer.getByTestId("run-status")).toHaveText("running", { timeout: 180_000 });
  await expect.poll(() => chartPoints(viewer), { timeout: 60_000 }).toBeGreaterThan(3);

  await owner.getByRole("button", { name: "Pause", exact: true }).click();
  await expect(viewer.getByTestId("run-status")).toHaveText("paused");
  const pauseMarker = viewer.locator('[data-marker][data-kinds~="run.pause"]');
  await expect(pauseMarker).toHaveCount(1);
  await pauseMarker.hover();
  await expect(viewer.getByTestId("marker-tooltip")).toContainText("Ada paused the run at iteration");

  // A change takes effect at the next iteration: resume, then set Affine/W's LRateMultiplier to 0.
  await owner.getByRole("button", { name: "Resume", exact: true }).click();
  await expect(viewer.getByTestId("run-status")).toHaveText("running");
  const ownerInput = owner.getByLabel("LRateMultiplier of Affine W");
  await ownerInput.fill("0");
  await ownerInput.press("Enter");
  await expect(viewer.getByLabel("LRateMultiplier of Affine W")).toHaveValue("0");
  await expect(viewer.getByTestId("change-Affine-W")).toContainText("Ada");
  await expect(viewer.getByLabel("Freeze Affine W")).toBeChecked();
  await expect(viewer.getByTestId("activity-feed")).toContainText("Ada set Affine/W LRateMultiplier 1 → 0");
  await expect(viewer.locator('[data-marker][data-kinds~="control.lrMultiplier"]')).toHaveCount(1);

  // The viewer downloads the change log: the pause, the resume and the multiplier, with who and the values.
  const download = viewer.waitForEvent("download");
  await viewer.getByTestId("change-log").getByRole("link", { name: "CSV" }).click();
  const csv = readFileSync((await (await download).path())!, "utf8");
  expect(csv.split("\r\n")[0]).toBe("at,iteration,who,kind,what,from,to");
  expect(csv).toMatch(/,Ada,run\.pause,paused,running,paused\r\n/);
  expect(csv).toMatch(/,Ada,control\.lrMultiplier,LRateMultiplier Affine\/W,1,0\r\n/);

  await shot(owner, "session-owner-desktop");
  await viewer.setViewportSize(PHONE);
  await shot(viewer, "session-viewer-phone");
  await viewer.setViewportSize(DESKTOP);
});

test("a viewer's controls are disabled, and a forced request is refused with FORBIDDEN", async () => {
  await expect(viewer.getByTestId("run-status")).toHaveText("running");
  await expect(viewer.getByRole("button", { name: "Pause", exact: true })).toBeDisabled();
  await expect(viewer.getByRole("button", { name: "Stop", exact: true })).toBeDisabled();
  await expect(viewer.getByLabel("LRateMultiplier of Affine b")).toBeDisabled();
  await expect(viewer.getByLabel("α of Generator")).toBeDisabled();
  await expect(viewer.getByTestId("viewer-reason")).toHaveText(/viewers can watch and generate; ask the owner for the editor role/i);
  await expect(viewer.getByRole("button", { name: "Create invite link" })).toHaveCount(0);

  const forced = await callTrpc(viewer, "runs.pause", { runId }, "POST");
  expect(forced.status).toBe(403);
  expect(forced.body.error!.data.code).toBe("FORBIDDEN");
  const lr = await callTrpc(viewer, "runs.setLrMultiplier", { runId, scope: "Affine", param: "b", value: 0 }, "POST");
  expect(lr.body.error!.data.code).toBe("FORBIDDEN");
  await expect(owner.getByTestId("run-status")).toHaveText("running");
});

test("the RuntimeGenerator follows the label slider: at 7 it asks for label 7 and shows new digits", async () => {
  const generated = viewer.getByTestId("generated");
  await expect(generated).toHaveAttribute("data-label", "0", { timeout: 30_000 });
  const before = await generated.locator("img").first().getAttribute("src");

  const request = viewer.waitForRequest((req) => {
    if (!req.url().includes("/api/trpc/runs.generate")) return false;
    const input = JSON.parse(new URL(req.url()).searchParams.get("input") ?? "{}") as { label?: number };
    return input.label === 7;
  });
  const slider = viewer.getByRole("slider", { name: "Label" });
  await slider.focus();
  for (let i = 0; i < 7; i++) await slider.press("ArrowRight");
  const req = await request;
  expect(JSON.parse(new URL(req.url()).searchParams.get("input")!)).toMatchObject({ runId, label: 7, seed: 42 });
  await expect(generated).toHaveAttribute("data-label", "7");
  const after = await generated.locator("img").first().getAttribute("src");
  expect(after).not.toBe(before);
  expect(
    await generated
      .locator("img")
      .first()
      .evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth),
  ).toBe(28);
});

test("a late joiner sees the full loss history and every epoch's grid", async ({ browser }) => {
  await owner.getByRole("button", { name: "Pause", exact: true }).click();
  await expect(owner.getByTestId("run-status")).toHaveText("paused");
  const invite = await createInvite(owner, "viewer");

  const [lateCtx, late] = await newPage(browser);
  try {
    await late.goto(invite);
    await signUp(late, "Lin");
    await joinInvite(late);
    await late.waitForURL(new RegExp(`/sessions/${sessionId}`));
    await expect(late.getByTestId("run-status")).toHaveText("paused");

    const history = await callTrpc<{ losses: unknown[]; grids: { epoch: number; url: string }[] }>(late, "runs.history", { runId });
    const { losses, grids } = history.body.result!.data;
    expect(losses.length).toBeGreaterThan(3);
    await expect.poll(() => chartPoints(late)).toBe(losses.length);
    await expect(late.locator('[data-marker][data-kinds~="run.pause"]')).toHaveCount(2);

    expect(grids.length).toBeGreaterThanOrEqual(2);
    const scrubber = late.getByTestId("grid-scrubber");
    await expect(scrubber).toHaveAttribute("data-count", String(grids.length));
    await expect(scrubber).toHaveAttribute("max", String(grids.length - 1));
    await scrubber.focus();
    await scrubber.press("Home");
    await expect(late.getByTestId("grid-image")).toHaveAttribute("src", grids[0]!.url);
    for (const g of grids.slice(1)) {
      await scrubber.press("ArrowRight");
      await expect(late.getByTestId("grid-image")).toHaveAttribute("src", g.url);
    }
    expect(await late.getByTestId("grid-image").evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
    // The network view: the four networks share ParameterScopes; Affine (its W frozen by Ada) is marked in the
    // three networks that contain the generator.
    await late.getByText("show the four networks").click();
    const affine = late.getByTestId("network-view").getByRole("button", { name: /^Affine Affine, output 7×7×128, partly frozen/ });
    await expect(affine).toHaveCount(3);
    await affine.first().hover();
    await expect(affine.nth(2)).toHaveClass(/bg-violet-500/);
    await late.getByTestId("network-view").scrollIntoViewIfNeeded();
    await late.screenshot({ path: "test-results/screenshots/network-view-desktop.png" });

    await late.getByRole("button", { name: /Enlarge the sample grid/ }).click();
    await expect(late.getByRole("dialog")).toBeVisible();
    await shot(late, "session-grid-enlarged-desktop");
    await late.keyboard.press("Escape");
    await expect(late.getByRole("dialog")).toBeHidden();
  } finally {
    await lateCtx.close();
  }
});

test("when the server restarts, the pages show reconnecting…, then recover by themselves", async () => {
  const pointsBefore = await chartPoints(viewer);
  const restarting = restartServer();
  await expect(viewer.getByTestId("reconnecting")).toBeVisible({ timeout: 20_000 });
  await expect(owner.getByTestId("reconnecting")).toHaveText(/reconnecting…/);
  await shot(viewer, "session-reconnecting-desktop");
  await restarting;

  await expect(viewer.getByTestId("reconnecting")).toBeHidden({ timeout: 30_000 });
  await expect(owner.getByTestId("reconnecting")).toBeHidden({ timeout: 30_000 });
  // The run was paused when the server went: it is interrupted now, resumable from its checkpoint.
  await expect(viewer.getByTestId("run-status")).toHaveText("interrupted");
  await expect(viewer.getByText("The run was interrupted.")).toBeVisible();
  const history = await callTrpc<{ losses: unknown[] }>(viewer, "runs.history", { runId });
  expect(history.body.result!.data.losses.length).toBe(pointsBefore);
  expect(await chartPoints(viewer)).toBe(pointsBefore);

  await owner.getByRole("button", { name: "Resume from checkpoint" }).click();
  await expect(viewer.getByTestId("run-status")).toHaveText("running", { timeout: 180_000 });
  await expect.poll(() => chartPoints(viewer), { timeout: 60_000 }).toBeGreaterThan(pointsBefore);
  await expect(viewer.locator('[data-marker][data-kinds~="run.resumedFromCheckpoint"]')).toHaveCount(1);

  await owner.getByRole("button", { name: "Stop", exact: true }).click();
  await expect(viewer.getByTestId("run-status")).toHaveText("stopped");
  // The diagnostics panel: its empty state, or (when the run's diagnostics completed an epoch) one chart per group.
  const diagnostics = owner.getByTestId("diagnostics").or(owner.getByTestId("diagnostics-empty"));
  await expect(diagnostics).toBeVisible();
  if (await owner.getByTestId("diagnostics").isVisible()) {
    await expect(owner.getByTestId("diagnostics").locator("canvas")).toHaveCount(6);
    await expect(owner.getByRole("img", { name: /^Label accuracy over \d+ epochs?/ })).toBeVisible();
  } else {
    await expect(owner.getByTestId("diagnostics-empty")).toHaveText(/Diagnostics appear after the first epoch/);
  }
  await shot(owner, "session-diagnostics-desktop");
  await owner.setViewportSize(PHONE);
  await shot(owner, "session-diagnostics-phone");
  await owner.setViewportSize(DESKTOP);
  // My sessions: the session with its run's state, epoch and latest grid, and who is watching.
  await owner.goto("/");
  const card = owner.getByTestId("session-card").filter({ hasText: "Digits together" });
  await expect(card).toContainText("stopped");
  await expect(card.getByRole("img", { name: /Latest sample grid of tiny/ })).toHaveJSProperty("complete", true);
  expect(await card.getByRole("img", { name: /Latest sample grid of tiny/ }).evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  await expect(card.getByRole("img", { name: "Vic is watching" })).toBeVisible();
  await shot(owner, "home-desktop");
  await owner.setViewportSize(PHONE);
  await shot(owner, "home-phone");
  await owner.setViewportSize(DESKTOP);

  await owner.goto(`/sessions/${sessionId}/history`);
  await expect(owner.getByTestId("history-run")).toHaveCount(1);
  await expect(owner.getByTestId("history-run").getByRole("img")).toBeVisible();
  await shot(owner, "history-desktop");
  await owner.setViewportSize(PHONE);
  await shot(owner, "history-phone");
});

// Its own person and session, so it also runs alone (-g "million points").
test("a run with a million points: the chart draws its overview and last points, and a zoom reads that range in full", async ({ browser }) => {
  const [ctx, owner] = await newPage(browser);
  await signUp(owner, "Mel");
  const sessionId = await createSession(owner, "A long run");
  const longRun = await createRun(owner, sessionId, "a million", TINY);
  // Its points written straight into the server's database, as if it had trained for days: GAN-like losses that
  // settle, with noise and a few one-iteration spikes in GReal.
  const db = new Database(readState().env.DATABASE_URL!.replace(/^file:/, ""));
  db.pragma("busy_timeout = 10000");
  db.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999)
     INSERT INTO "MetricPoint" ("runId", "iteration", "epoch", "gReal", "fake", "real", "msPerIter")
     SELECT ?, i, i / 1000,
       0.8 + 1.5 / (1 + i / 60000.0) + 0.25 * ((i * 2654435761) % 1009) / 1009.0 + CASE WHEN i % 137117 = 0 THEN 3.0 ELSE 0.0 END,
       0.35 + 0.3 / (1 + i / 80000.0) + 0.1 * ((i * 40503) % 997) / 997.0,
       0.3 + 0.25 / (1 + i / 90000.0) + 0.1 * ((i * 69069) % 991) / 991.0,
       12.0 FROM n`,
  ).run(longRun);
  db.close();

  await owner.goto(`/sessions/${sessionId}?run=${longRun}`);
  const chart = owner.getByTestId("loss-chart");
  await expect(chart).toHaveAttribute("data-bucket", "512", { timeout: 60_000 });
  const buckets = Number(await chart.getAttribute("data-overview-points"));
  // 1,000,000 / 512 = 1954 buckets, less the ones the 5000-point tail reaches into; then the tail itself.
  expect(buckets).toBeGreaterThan(1900);
  expect(await chartPoints(owner)).toBe(buckets + 5000);
  await expect(owner.getByTestId("loss-resolution")).toContainText("means of 512 iterations");
  await shot(owner, "session-long-run-desktop");

  // Drag across 1% of the x axis (about 10,000 iterations, all overview): that range is read at full resolution.
  const over = (await chart.locator(".u-over").boundingBox())!;
  const y = over.y + over.height / 2;
  await owner.mouse.move(over.x + over.width * 0.3, y);
  await owner.mouse.down();
  await owner.mouse.move(over.x + over.width * 0.305, y, { steps: 4 });
  await owner.mouse.move(over.x + over.width * 0.31, y, { steps: 4 });
  await owner.mouse.up();
  await expect.poll(() => chartPoints(owner), { timeout: 30_000 }).toBeGreaterThan(buckets + 5000 + 8000);
  expect(Number(await chart.getAttribute("data-overview-points"))).toBeLessThan(buckets);
  await shot(owner, "session-long-run-zoomed-desktop");
  await ctx.close();
});
