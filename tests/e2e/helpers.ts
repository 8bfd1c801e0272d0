/** What the e2e tests do the way a person does it (through the pages), plus a few reads of the API from a page. */
import { expect, type Page } from "@playwright/test";

/** The tiny training config: small DCGAN, 48 images, batch 8 (6 iterations per epoch, a few per second on wasm). */
export const TINY = { network: "small-dcgan", diagnostics: false, batchSize: 8, limit: 48, maxEpoch: 300, seed: 3, sampleColumns: 2 };

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };

let counter = 0;
export function uniqueEmail(name: string): string {
  return `${name.toLowerCase()}-${Date.now().toString(36)}-${counter++}@example.com`;
}

/** Signs up on the sign-in page (the current page when a guard sent us there, else /signin). */
export async function signUp(page: Page, name: string, email = uniqueEmail(name), password = "correct horse battery"): Promise<string> {
  // A guarded page (an invite link) sends a stranger to /signin?next=… by itself; anywhere else, go there.
  if (page.url().includes("/invite/")) await page.waitForURL(/\/signin\?next=/);
  else if (!page.url().includes("/signin")) await page.goto("/signin");
  await page.getByLabel("Name").fill(name);
  await page.locator("#signup-email").fill(email);
  await page.locator("#signup-password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/signin"));
  return email;
}

export async function createSession(page: Page, name: string): Promise<string> {
  await page.goto("/");
  await page.getByLabel("New session").fill(name);
  await page.getByRole("button", { name: "Create session" }).click();
  await page.waitForURL(/\/sessions\/[^/?]+$/);
  return new URL(page.url()).pathname.split("/")[2]!;
}

/** Fills the New run form (Config tab) and submits it; returns the run id from the redirect. */
export async function createRun(page: Page, sessionId: string, name: string, config: typeof TINY = TINY): Promise<string> {
  await page.goto(`/sessions/${sessionId}/runs/new`);
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Network").selectOption(config.network);
  await page.getByLabel("MaxEpoch").fill(String(config.maxEpoch));
  await page.getByLabel("BatchSize").fill(String(config.batchSize));
  await page.getByLabel("Seed").fill(String(config.seed));
  await page.getByLabel(/Measure label accuracy/).setChecked(config.diagnostics);
  await page.getByText("Advanced").click();
  await page.getByLabel("Train on first N images").fill(String(config.limit));
  await page.getByLabel("Sample grid columns").fill(String(config.sampleColumns));
  await page.getByRole("button", { name: "Create run" }).click();
  await page.waitForURL(/\?run=/);
  return new URL(page.url()).searchParams.get("run")!;
}

/** Creates an invite link in the session view's Invite panel (owner only) and returns it. */
export async function createInvite(page: Page, role: "viewer" | "editor" = "viewer", options: { days?: 1 | 7 | 30; people?: number } = {}): Promise<string> {
  await page.getByLabel("Role", { exact: true }).selectOption(role);
  if (options.days) await page.getByLabel("Expires after").selectOption(String(options.days));
  await page.getByLabel("People (optional)").fill(options.people ? String(options.people) : "");
  await page.getByRole("button", { name: "Create invite link" }).click();
  const input = page.getByTestId("invite-url");
  await expect(input).toHaveValue(/\/invite\//);
  return input.inputValue();
}

/**
 * On an invite link's page (signed in): checks the invitation's words when given, presses "Join session" (opening
 * the link joins nothing) and waits for the session to open. Returns the invitation as shown.
 */
export async function joinInvite(page: Page, expected?: RegExp | string): Promise<string> {
  await page.waitForURL(/\/invite\//);
  const summary = page.getByTestId("invite-summary");
  if (expected) await expect(summary).toContainText(expected);
  const text = (await summary.textContent()) ?? "";
  await page.getByRole("button", { name: "Join session" }).click();
  await page.waitForURL(/\/sessions\/[^/?]+/);
  return text;
}

/** The JSON body of a tRPC HTTP response: `result.data` (a T) when the call succeeded, `error` when it failed. */
export interface TrpcBody<T> {
  result?: { data: T };
  error?: { message: string; code: number; data: { code: string; httpStatus: number } };
}

/** A tRPC query or mutation from inside the page (its cookie, its origin), with the HTTP status and body. */
export async function callTrpc<T = unknown>(
  page: Page,
  path: string,
  input: unknown,
  method: "GET" | "POST" = "GET",
): Promise<{ status: number; body: TrpcBody<T> }> {
  return page.evaluate(
    async ({ path, input, method }) => {
      const url = method === "GET" ? `/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}` : `/api/trpc/${path}`;
      const res = await fetch(url, method === "GET" ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(input) });
      return { status: res.status, body: await res.json() };
    },
    { path, input, method },
  );
}

export async function chartPoints(page: Page): Promise<number> {
  return Number((await page.getByTestId("loss-chart").getAttribute("data-points")) ?? "0");
}

/** A full-page screenshot into test-results/screenshots/. */
export async function shot(page: Page, name: string): Promise<void> {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `test-results/screenshots/${name}.png`, fullPage: true });
}
