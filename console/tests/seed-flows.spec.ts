// One test per step of the two seed pages (API tokens; Troubleshooting auth), done in the console
// as a person would, in Debian's chromium. Each checks accessibility (axe: no serious or critical
// violation) on the pages it visits.
import { readFileSync } from "node:fs";
import { type Page, expect, test } from "@playwright/test";
import { OWNER, api, bootstrap, exchange, expectAccessible, screenshot, signIn, unique } from "./support";

/** Create an API-key principal through the console and open its page. */
async function createPrincipal(page: Page, name: string, status: "Active" | "Suspended" = "Active", expiry?: string) {
  await page.goto("/console/api-keys");
  await page.getByRole("button", { name: "Create API key" }).click();
  const dialog = page.getByRole("dialog", { name: "Create API key" });
  await dialog.getByLabel("Display name").fill(name);
  await dialog.getByLabel("Status").selectOption(status);
  if (expiry) await dialog.getByLabel("Expiry date").fill(expiry);
  await dialog.getByRole("button", { name: "Create" }).click();
  await expect(page.getByRole("heading", { level: 1, name })).toBeVisible();
}

/** Issue API key on the open principal's page; returns the key the dialog shows once, and closes it. */
async function issueKey(page: Page, credentialName: string): Promise<string> {
  await page.getByRole("button", { name: "Issue API key" }).click();
  const form = page.getByRole("dialog", { name: "Issue API key" });
  await form.getByLabel("Credential name").fill(credentialName);
  await form.getByRole("button", { name: "Create credential" }).click();
  const shown = page.getByRole("dialog", { name: "Your new API key" });
  await expect(shown.getByText("The generated API key is shown once. Store it immediately in a server-side secret manager.", { exact: false })).toBeVisible();
  const key = await shown.getByLabel("API key").inputValue();
  expect(key).toMatch(/^ik_[0-9a-z]{20}\.[0-9A-Za-z]{38}$/);
  await shown.getByRole("button", { name: "Done" }).click();
  await expect(shown).toBeHidden();
  return key;
}

test.beforeEach(async ({ page, context }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await signIn(page, OWNER);
});

test("create an API-key principal (Access > API Keys > Create API key)", async ({ page }) => {
  await page.goto("/console/api-keys");
  await expect(page.getByRole("heading", { level: 1, name: "API Keys" })).toBeVisible();
  await expectAccessible(page);
  await screenshot(page, "api-keys");
  await page.getByRole("button", { name: "Create API key" }).click();
  await expectAccessible(page);
  await screenshot(page, "create-api-key");
  await page.keyboard.press("Escape");
  const name = unique("ci deploy");
  await createPrincipal(page, name, "Suspended", "2099-01-31");
  await expect(page.locator(".details")).toContainText("Suspended");
  await expect(page.locator(".details")).toContainText("2099-01-31 23:59:59 UTC");
  // The principal belongs to the current organisation, and the list shows it.
  await expect(page.locator(".details")).toContainText(bootstrap().orgId);
  await page.getByRole("link", { name: "API Keys" }).first().click();
  await page.getByLabel("Status").selectOption("Suspended");
  await expect(page.getByRole("link", { name })).toBeVisible();
});

test("issue a credential: the key is shown once, works, and is gone when the dialog closes", async ({ page }) => {
  await createPrincipal(page, unique("billing sync"));
  await expectAccessible(page);
  await page.getByRole("button", { name: "Issue API key" }).click();
  await expectAccessible(page);
  await page.getByRole("dialog", { name: "Issue API key" }).getByLabel("Credential name").fill("github actions");
  await page.getByRole("dialog", { name: "Issue API key" }).getByRole("button", { name: "Create credential" }).click();
  const shown = page.getByRole("dialog", { name: "Your new API key" });
  const key = await shown.getByLabel("API key").inputValue();
  await expectAccessible(page);
  await screenshot(page, "api-key-shown-once", [shown.getByLabel("API key")]);
  await shown.getByRole("button", { name: "Copy" }).click();
  await expect(shown.getByText("Copied.")).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
  await shown.getByRole("button", { name: "Done" }).click();
  // Gone from the page once closed.
  expect(await page.content()).not.toContain(key.slice(24));
  await expect(page.getByRole("cell", { name: "github actions", exact: true })).toBeVisible();
  // The key works once, from outside the browser, as a backend integration uses it.
  expect(await exchange(key)).toEqual({ status: 200, code: undefined });
});

test("assign a role: only roles that support ApiKey principals are offered", async ({ page }) => {
  await createPrincipal(page, unique("device onboarding"));
  const roleSelect = page.getByRole("combobox", { name: "Role" });
  await expect(roleSelect.locator("option", { hasText: "iam-viewer" })).toHaveCount(1);
  const offered = await roleSelect.locator("option").allTextContents();
  expect(offered).toContain("iam-viewer");
  expect(offered).toContain("iam-admin");
  // owner and developer support User principals only.
  expect(offered).not.toContain("owner");
  expect(offered).not.toContain("developer");
  await roleSelect.selectOption({ label: "iam-viewer" });
  await page.getByRole("button", { name: "Save assignment" }).click();
  const assignments = page.getByRole("table", { name: "Role assignments" });
  await expect(assignments.getByRole("link", { name: "iam-viewer" })).toBeVisible();
  await expectAccessible(page);
  await screenshot(page, "api-key-principal");
  // And it can be removed.
  await page.getByRole("button", { name: "Remove iam-viewer" }).click();
  await page.getByRole("dialog", { name: "Confirm" }).getByRole("button", { name: "Remove assignment" }).click();
  await expect(assignments.getByText("No role assignments.")).toBeVisible();
});

test("revoke one credential: the others and the principal are untouched", async ({ page }) => {
  await createPrincipal(page, unique("two keys"));
  const first = await issueKey(page, "first");
  const second = await issueKey(page, "second");
  await page.getByRole("button", { name: "Revoke first" }).click();
  const confirm = page.getByRole("dialog", { name: "Confirm" });
  await expect(confirm).toContainText("The principal and its other credentials are not changed.");
  await expectAccessible(page);
  await confirm.getByRole("button", { name: "Revoke credential" }).click();
  await expect(page.getByRole("cell", { name: "first", exact: true })).toBeHidden();
  await expect(page.getByRole("cell", { name: "second", exact: true })).toBeVisible();
  await expect(page.locator(".details")).toContainText("Active");
  expect(await exchange(first)).toEqual({ status: 401, code: "credential_revoked" });
  expect((await exchange(second)).status).toBe(200);
  // Revoked credentials on request.
  await page.getByLabel("Show").selectOption("Revoked");
  await expect(page.getByRole("cell", { name: "first", exact: true })).toBeVisible();
});

test("a principal's call policy: allowed networks and a rate limit (API Keys > the principal > Call policy)", async ({ page }) => {
  await createPrincipal(page, unique("fenced"));
  const key = await issueKey(page, "ci");
  const policy = page.getByRole("region", { name: "Call policy" });
  await expect(policy).toContainText("Any address");
  await expect(policy).toContainText("The organisation's default");
  await page.getByRole("button", { name: "Edit call policy" }).click();
  const dialog = page.getByRole("dialog", { name: "Edit call policy" });
  // A network with host bits set is refused, naming the network meant.
  await dialog.getByLabel("Allowed networks").fill("10.0.0.1/8");
  await dialog.getByRole("button", { name: "Save call policy" }).click();
  await expect(dialog).toContainText("10.0.0.0/8");
  await dialog.getByLabel("Allowed networks").fill("203.0.113.0/24\n2001:db8::/32");
  await dialog.getByLabel("Its own limit").check();
  await dialog.getByLabel("Calls").fill("5");
  await dialog.getByLabel("Per (seconds)").fill("60");
  await expectAccessible(page);
  await screenshot(page, "call-policy");
  await dialog.getByRole("button", { name: "Save call policy" }).click();
  await expect(dialog).toBeHidden();
  await expect(policy).toContainText("203.0.113.0/24");
  await expect(policy).toContainText("5 calls per 60 seconds");
  // This test calls from the loopback address, which the policy leaves out.
  expect(await exchange(key)).toEqual({ status: 403, code: "ip_not_allowed" });
  await page.getByRole("button", { name: "Edit call policy" }).click();
  await dialog.getByLabel("Allowed networks").fill("127.0.0.0/8\n::1/128");
  await dialog.getByLabel("The organisation's default").check();
  await dialog.getByRole("button", { name: "Save call policy" }).click();
  await expect(dialog).toBeHidden();
  await expect(policy).toContainText("The organisation's default");
  expect((await exchange(key)).status).toBe(200);
});

test("a principal's usage by outcome and its recent requests, each refusal with its fix", async ({ page }) => {
  await createPrincipal(page, unique("observed"));
  const key = await issueKey(page, "ci");
  const principalId = page.url().split("/").pop() ?? "";
  // One exchange (allowed) and two direct calls refused for want of a role.
  expect((await exchange(key)).status).toBe(200);
  for (let i = 0; i < 2; i++) {
    const r = await fetch(`${bootstrap().apiBaseUrl}/iam/orgs/${bootstrap().orgId}/api-keys/${principalId}`, { headers: { authorization: `ApiKey ${key}` } });
    expect(r.status).toBe(403);
  }
  // The stack writes what it counted every 10 s, on the next call after them: call until the page shows them.
  const recent = page.getByRole("region", { name: "Recent requests" });
  await expect(async () => {
    await api("GET", `/iam/orgs/${bootstrap().orgId}/settings`, undefined, "admin");
    await page.reload();
    await expect(recent.getByRole("cell", { name: "no_role_assignment" }).first()).toBeVisible({ timeout: 2_000 });
  }).toPass({ intervals: [2_000], timeout: 90_000 });
  await expect(recent).toContainText("Confirm the principal has a role assignment that includes the required permission.");
  const usage = page.getByRole("region", { name: "Usage" });
  await expect(usage.locator("#usage-summary")).toContainText("1 allowed, 2 no role assignment");
  await expect(usage.getByRole("img", { name: /Calls per hour by outcome/ })).toBeVisible();
  await expect(usage.getByRole("table", { name: "Calls per hour by outcome" })).toContainText("2");
  await usage.getByRole("button", { name: "By day" }).click();
  await expect(usage.getByRole("table", { name: "Calls per day by outcome" })).toBeVisible();
  await expectAccessible(page);
  await usage.getByRole("button", { name: "By hour" }).click();
  await usage.scrollIntoViewIfNeeded();
  await screenshot(page, "usage");
  // The organisation's view: the key among its most-refused.
  await page.getByRole("link", { name: "API Keys" }).first().click();
  const top = page.getByRole("region", { name: /Busiest and most-refused keys/ });
  await expect(top.getByRole("table", { name: "Most-refused keys" })).toContainText(key.slice(3, 23));
  await expectAccessible(page);
});

test("suspend a principal, with a confirmation; its keys stop authenticating", async ({ page }) => {
  await createPrincipal(page, unique("to suspend"));
  const key = await issueKey(page, "ci");
  await page.getByRole("button", { name: "Suspend" }).click();
  await page.getByRole("dialog", { name: "Confirm" }).getByRole("button", { name: "Suspend" }).click();
  await expect(page.locator(".details")).toContainText("Suspended");
  expect(await exchange(key)).toEqual({ status: 401, code: "principal_suspended" });
  await page.getByRole("button", { name: "Activate" }).click();
  await page.getByRole("dialog", { name: "Confirm" }).getByRole("button", { name: "Activate" }).click();
  await expect(page.locator(".details")).toContainText("Active");
  expect((await exchange(key)).status).toBe(200);
  // The suspension also ended the tokens it held; so does Revoke access tokens, keeping the keys.
  await page.getByRole("button", { name: "Revoke access tokens" }).click();
  // The suspension already set "Access tokens valid after": wait for this request's own answer,
  // or the next change would carry the version from before it (412, as it should).
  await page.getByRole("dialog", { name: "Confirm" }).getByRole("button", { name: "Revoke access tokens" }).click();
  await expect(page.getByText("The access tokens issued until now are revoked.")).toBeVisible();
  // Revoked is final: no status buttons afterwards.
  await page.getByRole("button", { name: "Revoke", exact: true }).click();
  await page.getByRole("dialog", { name: "Confirm" }).getByRole("button", { name: "Revoke principal" }).click();
  await expect(page.getByText("revocation is final")).toBeVisible();
  await expect(page.getByRole("button", { name: "Activate" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Issue API key" })).toHaveCount(0);
});

test("inspect a role's permissions and assignments (Access > Roles)", async ({ page }) => {
  await page.goto("/console/roles");
  await expectAccessible(page);
  await screenshot(page, "roles");
  await page.getByRole("link", { name: "iam-admin" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "iam-admin" })).toBeVisible();
  await expect(page.getByRole("table", { name: "Permissions" }).getByRole("cell", { name: "iam:*" })).toBeVisible();
  // The demo org's administrator key holds iam-admin.
  await expect(page.getByRole("table", { name: "Principals assigned this role" })).toContainText(bootstrap().principalId);
  await expectAccessible(page);
  await screenshot(page, "role");
  // A custom role, with a condition: created, shown, edited, refused while assigned, deleted.
  await page.goto("/console/roles");
  await page.getByRole("button", { name: "Create role" }).click();
  const dialog = page.getByRole("dialog", { name: "Create role" });
  const roleName = unique("device-reader").replace(" ", "-");
  await dialog.getByLabel("Role name").fill(roleName);
  await dialog.getByLabel("Action").fill("iot:devices:read");
  await dialog.getByLabel("Resource").fill("iot:sites/site-1/*");
  await dialog.getByLabel("Source IP condition").fill("10.0.0.0/8");
  await expectAccessible(page);
  await dialog.getByRole("button", { name: "Create role" }).click();
  await expect(page.getByRole("heading", { level: 1, name: roleName })).toBeVisible();
  await expect(page.getByRole("table", { name: "Permissions" })).toContainText("source IP in 10.0.0.0/8");
  const roleId = page.url().split("/").pop()!;
  const principal = await api("POST", `/iam/orgs/${bootstrap().orgId}/api-keys`, { displayName: unique("holder") });
  expect((await api("PUT", `/iam/orgs/${bootstrap().orgId}/principals/${principal.body.id}/role-assignments/${roleId}`)).status).toBe(201);
  await page.reload();
  await expect(page.getByRole("table", { name: "Principals assigned this role" })).toContainText(principal.body.id);
  await page.getByRole("button", { name: "Delete role" }).click();
  await page.getByRole("dialog", { name: "Confirm" }).getByRole("button", { name: "Delete role" }).click();
  await expect(page.getByRole("alert")).toContainText("role_in_use");
  await expect(page.getByRole("alert")).toContainText("Remove the role's assignments");
});

test("run the troubleshooter on a denied call", async ({ page }) => {
  const principal = await api("POST", `/iam/orgs/${bootstrap().orgId}/api-keys`, { displayName: unique("no roles") });
  await page.goto("/console/troubleshoot");
  await page.getByLabel("Principal id").fill(principal.body.id);
  await page.getByLabel("Action", { exact: true }).fill("iot:devices:read");
  await page.getByLabel("Resource").fill("iot:sites/site-1/devices/d-42");
  await page.getByRole("button", { name: "Check access" }).click();
  const result = page.locator(".result");
  await expect(result.getByRole("heading")).toContainText("Deny");
  await expect(result).toContainText("no_role_assignment");
  await expect(result.locator("li.failed")).toContainText("Failed: The principal has a role assignment");
  await expect(result.locator("li.passed").first()).toContainText("Passed");
  await expect(result).toContainText("Confirm the principal has a role assignment that includes the required permission.");
  await expectAccessible(page);
  await screenshot(page, "troubleshoot");
});

test("a credential lifetime policy, and the credential report with its CSV (Settings)", async ({ page }) => {
  await createPrincipal(page, unique("reported"));
  const key = await issueKey(page, "forever");
  // A use from outside the browser: its time, address and route are the credential's last use.
  expect((await exchange(key)).status).toBe(200);
  await page.reload();
  await expect(page.getByRole("table", { name: "Credentials" })).toContainText("on POST /iam/auth/token");
  const principalPage = page.url();
  try {
    await page.goto("/console/settings");
    await page.getByLabel("Maximum credential lifetime (days)").fill("90");
    await page.getByRole("button", { name: "Save settings" }).click();
    await expect(page.getByText("Saved.")).toBeVisible();
    // The demo administrator's key, the org's first, has no expiry: issued before the policy, out of it.
    const report = page.getByRole("table", { name: "Credential report" });
    await expect(report.locator("tbody tr").first().locator("td").last()).toHaveText("Yes");
    await expectAccessible(page);
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download CSV" }).click()]);
    const lines = readFileSync((await download.path())!, "utf8").trimEnd().split("\r\n");
    expect(lines[0]).toBe(
      "principalId,principalName,keyId,credentialName,status,createdAt,expiresAt,lastUsedAt,lastUsedIp,lastUsedRoute,ageDays,outOfPolicy",
    );
    const row = lines.find((line) => line.includes(key.slice(3, 23)));
    expect(row).toContain(",POST /iam/auth/token,");
    expect(row).toMatch(/,yes$/);
    // A new key without an expiry date is refused, and the refusal names the policy.
    await page.goto(principalPage);
    await page.getByRole("button", { name: "Issue API key" }).click();
    const form = page.getByRole("dialog", { name: "Issue API key" });
    await form.getByLabel("Credential name").fill("no expiry");
    await form.getByRole("button", { name: "Create credential" }).click();
    await expect(form.getByRole("alert")).toContainText("maxCredentialLifetimeDays");
  } finally {
    expect((await api("PATCH", `/iam/orgs/${bootstrap().orgId}/settings`, { maxCredentialLifetimeDays: null })).status).toBe(200);
  }
});

test("the members, settings and audit log pages", async ({ page }) => {
  await page.goto("/console/members");
  await expect(page.getByRole("cell", { name: OWNER, exact: true })).toBeVisible();
  await expectAccessible(page);
  await screenshot(page, "members");
  await page.goto("/console/settings");
  await expect(page.getByLabel("Allow direct API-key auth")).toBeVisible();
  await expect(page.getByLabel("Direct API-key cache (seconds)")).toHaveValue("0");
  await expectAccessible(page);
  await screenshot(page, "settings");
  // A suspension publishes principal.suspended: the log marks it, and the filter keeps only such changes.
  const org = bootstrap().orgId;
  const made = await api("POST", `/iam/orgs/${org}/api-keys`, { displayName: unique("evented") });
  expect(made.status).toBe(201);
  expect((await api("PATCH", `/iam/orgs/${org}/api-keys/${made.body.id}`, { status: "Suspended" })).status).toBe(200);
  await page.goto("/console/audit-log");
  // Newest first: this run's own changes lead the log.
  const table = page.getByRole("table", { name: "Audit events" });
  await expect(table.locator("tbody tr").first()).toContainText("iam:");
  const suspended = table.locator("tbody tr", { hasText: made.body.id }).filter({ hasText: "principal.suspended" });
  await expect(suspended).toHaveCount(1);
  await page.getByLabel("Lifecycle events only (on this page)").check();
  await expect(table.locator("tbody tr", { hasText: "iam:apiKeys:create" })).toHaveCount(0);
  await expect(suspended).toHaveCount(1);
  await expectAccessible(page);
  await screenshot(page, "audit-log");
});

test("roll a credential: the new key is shown once and the old one stops when chosen", async ({ page }) => {
  await createPrincipal(page, unique("rolled"));
  const old = await issueKey(page, "deploy");
  await page.getByRole("button", { name: "Roll deploy" }).click();
  const dialog = page.getByRole("dialog", { name: "Roll API key" });
  await dialog.getByLabel("The old key keeps working").selectOption("0");
  await expectAccessible(page);
  await dialog.getByRole("button", { name: "Roll API key" }).click();
  const shown = page.getByRole("dialog", { name: "Your new API key" });
  const rolled = await shown.getByLabel("API key").inputValue();
  await shown.getByRole("button", { name: "Done" }).click();
  await expect(page.getByRole("cell", { name: "deploy (rolled)", exact: true })).toBeVisible();
  expect((await exchange(rolled)).status).toBe(200);
  expect(await exchange(old)).toEqual({ status: 401, code: "credential_expired" });
});
