import { execFileSync } from "node:child_process";
import { readFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import AxeBuilder from "@axe-core/playwright";
import { type Locator, type Page, expect } from "@playwright/test";

/** What the local stack wrote at start: the demo org, its administrator's key, its owner's token. */
export interface Bootstrap {
  apiBaseUrl: string;
  orgId: string;
  principalId: string;
  apiKey: string;
  userToken: string;
  /** The development workload issuer (GitHub Actions' stand-in). */
  workloadIssuer: string;
}

function bootstrapPath(): string {
  return process.env.IAM_BOOTSTRAP ?? join(dirname(fileURLToPath(import.meta.url)), "../../.local/bootstrap.json");
}

export function bootstrap(): Bootstrap {
  return JSON.parse(readFileSync(bootstrapPath(), "utf8")) as Bootstrap;
}

/**
 * A workload token of the stack's development issuer for `audience` (GitHub Actions' shape: `sub`
 * repo:acme/app:ref:refs/heads/main, `repository_id` 690412345), `claims` set last; minted by
 * `iam-admin workload-token`, as `make workload-token` does.
 */
export function workloadToken(audience: string, claims: Record<string, unknown> = {}): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const stack = join(dirname(bootstrapPath()), "stack.json");
  const args = ["--stack", stack, "workload-token", "--aud", audience, "--claims", JSON.stringify(claims)];
  return execFileSync(join(here, "../../target/debug/iam-admin"), args, { encoding: "utf8" }).trim();
}

/** The demo org's owner (the local stack makes it a member holding `owner`). */
export const OWNER = "demo-owner";

export function unique(prefix: string): string {
  return `${prefix} ${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Signs in at the development identity provider as `subject`, starting from `path`. */
export async function signIn(page: Page, subject: string, path = "/console/api-keys"): Promise<void> {
  await page.goto(path);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("Subject").fill(subject);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByText(`Signed in as ${subject}`)).toBeVisible();
}

/** A call to the API as the org's administrator (its bootstrap key) or its owner (the owner's token). */
export async function api(method: string, path: string, body?: unknown, as: "admin" | "owner" = "owner"): Promise<{ status: number; body: any }> {
  const b = bootstrap();
  const authorization = as === "admin" ? `ApiKey ${b.apiKey}` : `Bearer ${b.userToken}`;
  const response = await fetch(`${b.apiBaseUrl}${path}`, {
    method,
    headers: { authorization, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** Exchanges an API key for a token, as a backend integration would (curl-like, outside the browser). */
export async function exchange(apiKey: string): Promise<{ status: number; code?: string }> {
  const response = await fetch(`${bootstrap().apiBaseUrl}/iam/auth/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ apiKey }),
  });
  const body = (await response.json()) as { code?: string };
  return { status: response.status, code: body.code };
}

/** No serious or critical accessibility violation on the page as it is now. */
export async function expectAccessible(page: Page): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join("; ")})`)).toEqual([]);
}

/**
 * A screenshot for docs/console.md, written there only when UPDATE_SCREENSHOTS=1 (else under test-results).
 * `mask` covers what must not be in a picture (an issued key, even a throwaway one).
 */
export async function screenshot(page: Page, name: string, mask: Locator[] = []): Promise<void> {
  const here = dirname(fileURLToPath(import.meta.url));
  const dir = process.env.UPDATE_SCREENSHOTS === "1" ? join(here, "../../docs/console") : join(here, "../test-results/screenshots");
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), mask, maskColor: "#4a5360" });
}
