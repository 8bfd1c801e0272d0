/**
 * The pages around the live view: sign in / sign up with the server's field errors, the New run form's Config
 * validation, and the states a stranger meets (not a member, a bad invite link). Screenshots at desktop and phone
 * widths go to test-results/screenshots/.
 */
import { expect, test } from "@playwright/test";
import { createInvite, createSession, DESKTOP, joinInvite, PHONE, shot, signUp, uniqueEmail } from "./helpers";

test.use({ reducedMotion: "reduce" });

test("sign up shows the server's field errors under each field; a wrong password is refused", async ({ page }) => {
  await page.goto("/signin");
  await shot(page, "signin-desktop");
  await page.locator("#signup-email").fill("not-an-email");
  await page.locator("#signup-password").fill("short");
  const response = page.waitForResponse((r) => r.url().includes("/api/trpc/auth.signUp"));
  await page.getByRole("button", { name: "Create account" }).click();
  expect((await response).status()).toBe(400);
  await expect(page.locator("#signup-name-error")).toHaveText("enter your name");
  await expect(page.locator("#signup-email-error")).toHaveText("enter an email address");
  await expect(page.locator("#signup-password-error")).toHaveText("use at least 8 characters");
  await expect(page.locator("#signup-email")).toHaveAttribute("aria-invalid", "true");
  await page.setViewportSize(PHONE);
  await shot(page, "signin-errors-phone");
  await page.setViewportSize(DESKTOP);

  const email = uniqueEmail("Eve");
  await page.getByLabel("Name").fill("Eve");
  await page.locator("#signup-email").fill(email);
  await page.locator("#signup-password").fill("correct horse battery");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL("/");
  await expect(page.getByRole("heading", { name: "My sessions" })).toBeVisible();
  await expect(page.getByText("No sessions yet")).toBeVisible();
  await shot(page, "home-empty-desktop");

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL("/signin");
  await page.locator("#signin-email").fill(email);
  await page.locator("#signin-password").fill("wrong password!");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("alert").filter({ hasText: "Wrong email or password." })).toBeVisible();
  await page.locator("#signin-password").fill("correct horse battery");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL("/");
});

test("the New run form shows the server's Config errors at their fields and creates nothing", async ({ page }) => {
  await signUp(page, "Nia");
  const sessionId = await createSession(page, "Config checks");
  await page.goto(`/sessions/${sessionId}/runs/new`);
  await shot(page, "new-run-desktop");
  await page.getByLabel("Name").fill("bad");
  await page.getByLabel("BatchSize").fill("0");
  await page.getByLabel("MaxEpoch").fill("many");
  await page.getByLabel("Generator α").fill("-1");
  await page.getByText("Advanced").click();
  await page.getByLabel("Adam β1").fill("1.5");
  const response = page.waitForResponse((r) => r.url().includes("/api/trpc/runs.create"));
  await page.getByRole("button", { name: "Create run" }).click();
  expect((await response).status()).toBe(400);
  await expect(page.locator("#run-batchSize-error")).toContainText(/>=\s*1/);
  await expect(page.locator("#run-maxEpoch-error")).toContainText(/number/i);
  await expect(page.locator("#run-alpha-Generator-error")).toBeVisible();
  await expect(page.locator("#run-adam-beta1-error")).toContainText(/<\s*1/);
  await expect(page.locator("#run-batchSize")).toHaveAttribute("aria-invalid", "true");
  await expect(page).toHaveURL(/\/runs\/new$/);
  await page.setViewportSize(PHONE);
  await shot(page, "new-run-errors-phone");

  await page.goto(`/sessions/${sessionId}`);
  await expect(page.getByText("No run yet")).toBeVisible();
});

test("an invite link says who invites you to which session, as what and until when, and joins only on a click", async ({ browser, page }) => {
  await signUp(page, "Ines");
  const sessionId = await createSession(page, "Digits");
  const link = await createInvite(page, "editor", { days: 30, people: 2 });
  await expect(page.getByText(/editor link \(shown once\) · expires in 30 days · for 2 people/)).toBeVisible();
  await expect(page.getByTestId("invite-list")).toContainText(/editor · by Ines .* · expires in 30 days · 0 of 2 used/);

  const other = await browser.newContext({ viewport: PHONE, reducedMotion: "reduce" });
  const guest = await other.newPage();
  try {
    await guest.goto(link);
    await signUp(guest, "Gil");
    await expect(guest.getByTestId("invite-summary")).toHaveText('Ines invites you to the session "Digits" as an editor · expires in 30 days · 2 uses left');
    await shot(guest, "invite-phone");
    // Nothing was joined by opening the page.
    const before = await guest.evaluate(
      async (id) => (await fetch(`/api/trpc/sessions.get?input=${encodeURIComponent(JSON.stringify({ sessionId: id }))}`)).status,
      sessionId,
    );
    expect(before).toBe(403);
    await joinInvite(guest);
    await expect(guest.getByTestId("my-role")).toHaveText("editor");
    await page.reload();
    await expect(page.getByTestId("invite-list")).toContainText("1 of 2 used");
    // Back on the link as a member: it says so and offers the session, not a second join.
    await guest.goto(link);
    await expect(guest.getByRole("heading", { name: "You are already a member" })).toBeVisible();
    await expect(guest.getByRole("button", { name: "Join session" })).toHaveCount(0);
  } finally {
    await other.close();
  }
});

test("a stranger is told they are not a member, and a bad invite link says so", async ({ browser, page }) => {
  await signUp(page, "Owen");
  const sessionId = await createSession(page, "Private");

  const other = await browser.newContext({ viewport: PHONE, reducedMotion: "reduce" });
  const stranger = await other.newPage();
  try {
    await signUp(stranger, "Sam");
    await stranger.goto(`/sessions/${sessionId}`);
    await expect(stranger.getByRole("heading", { name: "Not a member" })).toBeVisible();
    await expect(stranger.getByRole("alert").filter({ hasText: "Ask its owner for an invite link" })).toBeVisible();
    await shot(stranger, "session-forbidden-phone");

    await stranger.goto("/invite/this-is-not-a-real-invite-token");
    await expect(stranger.getByRole("alert").filter({ hasText: "this invite link is not valid" })).toBeVisible();
    await shot(stranger, "invite-invalid-phone");
  } finally {
    await other.close();
  }
});
