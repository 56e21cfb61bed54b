// Access > Workload identities, as a person uses it in Debian's chromium: create a trust (the page
// says what the conditions pin before it is sent), test a workload token against it, disable and
// delete it. Then a standard OAuth client library (oauth4webapi, unchanged) exchanges a workload's
// own token (RFC 8693) for an access token and calls the API with it.
import { expect, test } from "@playwright/test";
import * as oauth from "oauth4webapi";
import { OWNER, api, bootstrap, expectAccessible, screenshot, signIn, unique, workloadToken } from "./support";

/** An API-key principal holding iam-viewer; its id. */
async function viewerPrincipal(name: string): Promise<string> {
  const b = bootstrap();
  const created = await api("POST", `/iam/orgs/${b.orgId}/api-keys`, { displayName: name });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  expect((await api("PUT", `/iam/orgs/${b.orgId}/principals/${id}/role-assignments/iam-viewer`)).status).toBe(201);
  return id;
}

/** An audience of this org no other test uses (one trust per issuer and audience). */
function freshAudience(tag: string): string {
  return `urn:infuse:iam:${bootstrap().orgId}:${tag}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

test("create a workload trust, test a token against it, disable and delete it", async ({ page }) => {
  const b = bootstrap();
  const principal = await viewerPrincipal(unique("keyless deploy"));
  const audience = freshAudience("console");
  const name = unique("deploy from main");
  await signIn(page, OWNER, "/console/workload-identities");
  await expect(page.getByRole("heading", { level: 1, name: "Workload identities" })).toBeVisible();
  await expectAccessible(page);

  await page.getByRole("button", { name: "Create workload trust" }).click();
  const dialog = page.getByRole("dialog", { name: "Create workload trust" });
  await expect(dialog.getByTestId("pin-preview")).toContainText("Nothing pins the workload yet");
  await dialog.getByLabel("Name").fill(name);
  await dialog.getByLabel("Issuer").fill(b.workloadIssuer);
  await expect(dialog.getByLabel("Audiences")).toHaveValue(`urn:infuse:iam:${b.orgId}`);
  await dialog.getByLabel("Audiences").fill(audience);
  await dialog.getByLabel("Value").fill("repo:acme/app:ref:refs/heads/main");
  await expect(dialog.getByTestId("pin-preview")).toContainText("Pins the workload by sub = repo:acme/app:ref:refs/heads/main");
  await dialog.getByLabel("API-key principal").selectOption(principal);
  await expectAccessible(page);
  await screenshot(page, "create-workload-trust");
  await dialog.getByRole("button", { name: "Create trust" }).click();
  await expect(dialog).toBeHidden();
  const row = page.getByRole("row").filter({ hasText: name });
  await expect(row).toContainText("sub = repo:acme/app:ref:refs/heads/main");
  await expect(row).toContainText("Enabled");

  // A matching token is accepted; one from another branch is refused, the failed check named.
  await page.getByRole("button", { name: `Test a token against ${name}` }).click();
  const tester = page.getByRole("dialog", { name: "Test a workload token" });
  await tester.getByLabel("Workload token").fill(workloadToken(audience));
  await tester.getByRole("button", { name: "Test token" }).click();
  await expect(tester.getByRole("status")).toHaveText("Accepted: an exchange through this trust would succeed.");
  await expectAccessible(page);
  await screenshot(page, "test-workload-token");
  await tester.getByLabel("Workload token").fill(workloadToken(audience, { sub: "repo:acme/app:ref:refs/heads/dev" }));
  await tester.getByRole("button", { name: "Test token" }).click();
  await expect(tester.getByRole("status")).toHaveText("Refused: trust_condition_not_met");
  await expect(tester.getByRole("row").filter({ hasText: "condition: sub equals" })).toContainText("refs/heads/dev");
  await tester.getByRole("button", { name: "Close" }).click();

  await page.getByRole("button", { name: `Disable ${name}` }).click();
  await expect(row).toContainText("Disabled");
  const refused = await fetch(`${b.apiBaseUrl}/iam/auth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token: workloadToken(audience),
      subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
    }),
  });
  expect(refused.status).toBe(400);
  expect(((await refused.json()) as { code: string }).code).toBe("trust_disabled");

  await page.getByRole("button", { name: `Delete ${name}` }).click();
  await page.getByRole("dialog", { name: "Confirm" }).getByRole("button", { name: "Delete trust" }).click();
  await expect(page.getByRole("row").filter({ hasText: name })).toHaveCount(0);
});

test("an OAuth client library exchanges a workload's own token (RFC 8693) and calls the API", async () => {
  const b = bootstrap();
  const principal = await viewerPrincipal(unique("keyless reader"));
  const audience = freshAudience("oauth");
  const trust = await api("POST", `/iam/orgs/${b.orgId}/workload-trusts`, {
    name: unique("oauth4webapi"),
    issuer: b.workloadIssuer,
    audiences: [audience],
    conditions: [
      { claim: "sub", equals: "repo:acme/app:ref:refs/heads/main" },
      { claim: "repository_id", equals: "690412345" },
    ],
    principalId: principal,
  });
  expect(trust.status).toBe(201);

  const issuer = new URL(`${b.apiBaseUrl}/iam`);
  // The local stack speaks plain HTTP on loopback; a deployment is HTTPS only.
  const insecure = { [oauth.allowInsecureRequests]: true };
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }));
  expect(as.grant_types_supported).toContain("urn:ietf:params:oauth:grant-type:token-exchange");
  const client: oauth.Client = { client_id: "deploy-workflow" };
  const parameters = new URLSearchParams({
    subject_token: workloadToken(audience),
    subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
  });
  const response = await oauth.genericTokenEndpointRequest(as, client, oauth.None(), "urn:ietf:params:oauth:grant-type:token-exchange", parameters, insecure);
  const token = await oauth.processGenericTokenEndpointResponse(as, client, response);
  expect(token.token_type).toBe("bearer");
  expect(token.issued_token_type).toBe("urn:ietf:params:oauth:token-type:access_token");
  const list = new URL(`${b.apiBaseUrl}/iam/orgs/${b.orgId}/api-keys`);
  const called = await oauth.protectedResourceRequest(token.access_token, "GET", list, undefined, undefined, insecure);
  expect(called.status).toBe(200);
});
