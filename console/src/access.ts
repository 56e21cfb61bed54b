import type { Organisation } from "./api";

/** `iam:apiKeys:*` matches `iam:apiKeys:create`; `*` matches everything (the service's own rule). */
function matches(pattern: string, action: string): boolean {
  if (pattern === "*") return true;
  const p = pattern.split(":");
  const a = action.split(":");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === "*" && i === p.length - 1) return true;
    if (p[i] !== "*" && p[i] !== a[i]) return false;
  }
  return p.length === a.length;
}

/**
 * Whether the member's roles grant `action` on some resource: used only to hide or disable what
 * the member may not do. The API decides and refuses regardless.
 */
export function may(org: Organisation | null, action: string): boolean {
  if (!org) return false;
  return org.permissions.some((p) => matches(p.action, action));
}
