/**
 * Bring your own data in the browser: import an IDX pair on the session's Data sets page (progress, then the data
 * set's page with counts, examples, split and networks), a bad upload's error naming the problem, and a new run
 * on the imported data set that trains. Screenshots at desktop and phone widths.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { expect, test } from "@playwright/test";
import { idxPair, labelsOf } from "../helpers/idx-fixtures";
import { callTrpc, createSession, DESKTOP, PHONE, shot, signUp } from "./helpers";

test.use({ reducedMotion: "reduce" });

const dir = mkdtempSync(path.join(os.tmpdir(), "gan-e2e-data-"));
test.afterAll(() => rmSync(dir, { recursive: true, force: true }));
function writePair(name: string, labels: number[], gz = false): string[] {
  const pair = idxPair(labels);
  const images = path.join(dir, `${name}-images-idx3-ubyte${gz ? ".gz" : ""}`);
  const lab = path.join(dir, `${name}-labels-idx1-ubyte`);
  writeFileSync(images, gz ? gzipSync(pair.images) : pair.images);
  writeFileSync(lab, pair.labels);
  return [images, lab];
}

test("import a data set, look at it, and train a run on it", async ({ page }) => {
  await signUp(page, "Ines");
  const sessionId = await createSession(page, "Own data");
  await page.getByRole("link", { name: "Data sets" }).click();
  await page.waitForURL(`/sessions/${sessionId}/datasets`);
  await expect(page.getByRole("heading", { name: "Data sets" })).toBeVisible();
  await expect(page.getByTestId("dataset-card")).toHaveCount(1); // the bundled digits
  await expect(page.getByText("No imported data sets yet")).toBeVisible();
  await shot(page, "datasets-empty-desktop");

  // A bad upload: label 2 has no image. The error names the problem; nothing is added.
  await page.getByLabel("Files").setInputFiles(writePair("train", [0, 1, 3, 0, 1, 3, 0, 1, 3, 0, 1, 3, 0, 1, 3, 0, 1, 3, 0, 1, 3, 0, 1, 3]));
  await page.getByRole("button", { name: "Import" }).click();
  await expect(page.getByTestId("import-error")).toContainText("label 2 has no images");
  await expect(page.getByTestId("import-form").getByRole("alert")).toContainText("empty_class");
  await expect(page.getByTestId("dataset-card")).toHaveCount(1);
  await shot(page, "datasets-import-error-desktop");

  // A good one: gzipped images, three labels of 12.
  await page.getByLabel("Name").fill("squares");
  await page.getByLabel("Files").setInputFiles(writePair("good", labelsOf([12, 12, 12]), true));
  await page.getByRole("button", { name: "Import" }).click();
  await page.waitForURL(/\/datasets\/ds-[0-9a-f]{20}$/);
  const datasetId = new URL(page.url()).pathname.split("/").pop()!;
  await expect(page.getByTestId("dataset-name")).toHaveText("squares");
  await expect(page.getByTestId("dataset-summary")).toContainText("36 images · 16×16 gray · 3 labels");
  await expect(page.getByTestId("split-table")).toContainText("30");
  await expect(page.getByTestId("network-fit")).toContainText("adapts to 16×16×1 images and 3 labels");
  const examples = page.getByTestId("examples");
  await expect(examples).toBeVisible();
  await expect.poll(() => examples.evaluate((img: HTMLImageElement) => img.naturalHeight)).toBe(3 * 18 + 2);
  await shot(page, "dataset-detail-desktop");
  await page.setViewportSize(PHONE);
  await shot(page, "dataset-detail-phone");
  await page.setViewportSize(DESKTOP);

  // A run on it, from the data set's page: the form has it chosen and says what the network adapts to.
  await page.getByRole("link", { name: "New run on it" }).click();
  await page.waitForURL(/\/runs\/new\?dataset=/);
  await expect(page.getByLabel("Data set")).toHaveValue(datasetId);
  await expect(page.getByTestId("run-dataset-shape")).toContainText("16×16×1 images, 3 labels");
  await page.getByLabel("Name").fill("on squares");
  await page.getByLabel("Network").selectOption("small-dcgan");
  await page.getByLabel("MaxEpoch").fill("2");
  await page.getByLabel("BatchSize").fill("10");
  await page.getByLabel(/Measure label accuracy/).uncheck();
  // NNC's Optimizer tab: one solver per network; a new solver brings its own default α.
  await page.getByLabel("DiscriminatorReal solver").selectOption("Momentum");
  await expect(page.getByLabel("DiscriminatorReal α")).toHaveValue("0.001");
  await shot(page, "new-run-on-dataset-desktop");
  await page.getByRole("button", { name: "Create run" }).click();
  await page.waitForURL(/\?run=/);
  const runId = new URL(page.url()).searchParams.get("run")!;
  const created = await callTrpc<{ run: { config: unknown } }>(page, "runs.get", { runId });
  expect(created.body.result!.data.run.config).toMatchObject({
    dataset: datasetId,
    diagnostics: false,
    optimizers: { DiscriminatorReal: { type: "Momentum", alpha: 0.001, momentum: 0.9 }, Generator: { type: "Adam" } },
  });
  await expect(page.getByTestId("run-dataset")).toHaveText("Data set: squares");
  await page.getByRole("button", { name: "Start", exact: true }).click();
  await expect(page.getByTestId("run-status")).toHaveText(/completed/, { timeout: 90_000 });
  // The RuntimeGenerator's slider covers the three labels; an interpolation strip walks seed 42 → 43 and downloads.
  await expect(page.getByTestId("gen-label")).toHaveAttribute("max", "2");
  await page.getByLabel("Interpolate to seed B").check();
  await page.locator("#gen-count").selectOption("4");
  const strip = page.getByRole("list", { name: "Interpolation from seed 42 to seed 43, label 0" });
  await expect(strip.getByRole("img")).toHaveCount(4);
  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "↓ Download PNG" }).click();
  const png = await download;
  expect(png.suggestedFilename()).toBe("gan-studio-label-0-seed-42-to-43.png");
  const pngPath = await png.path();
  expect([...readFileSync(pngPath).subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

  // The owner's session settings: pause on collapse (recorded in the activity feed) and invite links, revocable.
  await page.getByTestId("pause-on-collapse").click();
  await expect(page.getByTestId("pause-on-collapse")).toBeChecked();
  await expect(page.getByText(/Ines turned pause on collapse on/)).toBeVisible();
  await page.getByLabel("Role", { exact: true }).selectOption("editor");
  await page.getByRole("button", { name: "Create invite link" }).click();
  await expect(page.getByTestId("invite-list").getByRole("listitem")).toHaveCount(1);
  await expect(page.getByTestId("invite-list")).toContainText("editor · by Ines");
  await page.getByRole("button", { name: /Revoke the editor link/ }).click();
  await expect(page.getByTestId("invite-list")).toHaveCount(0);
  await expect(page.getByTestId("member-list")).toContainText("Ines");
  await page.getByRole("region", { name: "Members and invites" }).screenshot({ path: "test-results/screenshots/members-and-invites.png" });

  // Run history: the run's last checkpoint downloads as a zip.
  await page.goto(`/sessions/${sessionId}/history`);
  await expect(page.getByTestId("history-run")).toContainText("small-dcgan on squares");
  const zip = page.waitForEvent("download");
  await page.getByTestId("download-latest").click();
  expect((await zip).suggestedFilename()).toBe("on-squares-latest-epoch-2.zip");
  await shot(page, "history-downloads-desktop");

  // The data set page now counts the run, and deleting it is refused while the run uses it.
  await page.goto(`/sessions/${sessionId}/datasets/${datasetId}`);
  await expect(page.getByText("Used by 1 run of this session, so it cannot be deleted.")).toBeVisible();
  await expect(page.getByRole("button", { name: "Delete" })).toBeDisabled();
  await page.goto(`/sessions/${sessionId}/datasets`);
  await expect(page.getByTestId("dataset-card")).toHaveCount(2);
  await shot(page, "datasets-list-desktop");
  await page.setViewportSize(PHONE);
  await shot(page, "datasets-list-phone");
});
