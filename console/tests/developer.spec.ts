// The legacy developer page: a member holding `developer` sees the linked Infuse IoT organisation
// and its admin API key (masked until revealed); a member without it is refused, in plain words.
import { expect, test } from "@playwright/test";
import { api, bootstrap, expectAccessible, screenshot, signIn, unique } from "./support";

async function member(withDeveloper: boolean): Promise<string> {
  const subject = unique(withDeveloper ? "dev" : "nodev").replace(" ", "-");
  const added = await api("POST", `/iam/orgs/${bootstrap().orgId}/members`, { subject });
  expect(added.status).toBe(201);
  const role = withDeveloper ? "developer" : "iam-viewer";
  // The owner grants it (an API key could not: `developer` holds a permission keys never have).
  const assigned = await api("PUT", `/iam/orgs/${bootstrap().orgId}/principals/${added.body.id}/role-assignments/${role}`);
  expect(assigned.status).toBe(201);
  return subject;
}

test("a member with developer opens the developer page", async ({ page, context }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  const subject = await member(true);
  await signIn(page, subject, "/console/developer");
  await expect(page.getByRole("heading", { level: 1, name: "Developer" })).toBeVisible();
  await expect(page.getByText("IAM API-key credentials from Access > API Keys will not authenticate current Infuse IoT API requests")).toBeVisible();
  await expect(page.getByText("infuse-demo-org-0001")).toBeVisible();
  const masked = page.locator("code.secret");
  await expect(masked).not.toContainText("infuse-demo-admin-");
  await expectAccessible(page);
  await screenshot(page, "developer");
  await page.getByRole("button", { name: "Reveal" }).click();
  await expect(masked).toContainText("infuse-demo-admin-");
  await page.getByRole("button", { name: "Copy" }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toMatch(/^infuse-demo-admin-/);
  await expect(page.getByRole("table")).toContainText("Legacy organisation-level admin token from /admin/developer");
  // What the member may not do is hidden: no Create API key on the API Keys page.
  await page.getByRole("link", { name: "API Keys" }).click();
  await expect(page.getByRole("button", { name: "Create API key" })).toHaveCount(0);
});

test("a member without developer is refused the developer page", async ({ page }) => {
  const subject = await member(false);
  await signIn(page, subject, "/console/developer");
  const alert = page.getByRole("alert");
  await expect(alert).toContainText("permission_denied");
  await expect(alert).toContainText("Confirm the principal has a role assignment that includes the required permission.");
  await expect(page.getByText("infuse-demo-admin-")).toHaveCount(0);
  await expectAccessible(page);
});

test("signing out forgets the member's token", async ({ page }) => {
  await signIn(page, "demo-owner");
  const stored = await page.evaluate(() => JSON.stringify({ ...window.sessionStorage }));
  expect(stored).toContain("access_token");
  expect(await page.evaluate(() => window.localStorage.length)).toBe(0);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
  expect(await page.evaluate(() => JSON.stringify({ ...window.sessionStorage }))).not.toContain("access_token");
});

test("every page can be used by keyboard alone", async ({ page }) => {
  await signIn(page, "demo-owner");
  await page.goto("/console/api-keys");
  // Tab to Create API key, open it with Enter, fill the form and submit it without the mouse.
  const create = page.getByRole("button", { name: "Create API key" });
  for (let i = 0; i < 40 && !(await create.evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press("Tab");
  await expect(create).toBeFocused();
  await page.keyboard.press("Enter");
  const name = unique("keyboard");
  await expect(page.getByRole("dialog", { name: "Create API key" }).getByLabel("Display name")).toBeFocused();
  await page.keyboard.type(name);
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
  // The navigation is reachable by Tab and follows with Enter.
  const roles = page.getByRole("link", { name: "Roles" });
  for (let i = 0; i < 40 && !(await roles.evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press("Tab");
  await expect(roles).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: "Roles" })).toBeVisible();
});
