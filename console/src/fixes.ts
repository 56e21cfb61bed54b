import { ApiProblem } from "./api";

/**
 * The seed's "Common Fixes" table (Troubleshooting Auth), keyed by the API's stable problem codes.
 * Every error the console shows carries its code and the fix that matches it.
 */
const SEED_FIXES = {
  tokenExchange:
    "Token exchange fails: Confirm the API key value is complete, the principal is active, and the credential is not expired or revoked.",
  infuseIot: "Infuse IoT rejects an IAM API key: Use the legacy organisation-level admin token from /admin/developer.",
  direct:
    "Direct API-key request fails: Confirm direct API-key auth is enabled for the organisation, or exchange the key for a bearer token.",
  forbidden: "API call returns forbidden: Confirm the principal has a role assignment that includes the required permission.",
  roleType: "API-key role is not available: Confirm the role supports ApiKey principals.",
  member:
    "Member cannot access a workflow: Confirm the member is in the current organisation and has the required role assignment.",
} as const;

const BY_CODE: Record<string, string> = {
  missing_credentials: SEED_FIXES.tokenExchange,
  api_key_malformed: SEED_FIXES.tokenExchange,
  invalid_api_key: SEED_FIXES.tokenExchange,
  credential_revoked: SEED_FIXES.tokenExchange,
  credential_expired: SEED_FIXES.tokenExchange,
  principal_suspended: SEED_FIXES.tokenExchange,
  principal_revoked: SEED_FIXES.tokenExchange,
  principal_expired: SEED_FIXES.tokenExchange,
  direct_api_key_auth_disabled: SEED_FIXES.direct,
  no_role_assignment: SEED_FIXES.forbidden,
  permission_denied: SEED_FIXES.forbidden,
  scope_mismatch: SEED_FIXES.forbidden,
  condition_not_met: SEED_FIXES.forbidden,
  scope_not_granted: "The token was down-scoped: exchange the API key again with a scope that includes this action.",
  ip_not_allowed:
    "The call came from an address the API-key principal does not allow: call from an allowed network, or add this one to its allowed networks (API Keys > the principal > Call policy).",
  rate_limited:
    "The API-key principal used up its rate limit: wait for the Retry-After time, spread the calls out, or raise its limit (API Keys > the principal > Call policy).",
  too_many_failed_attempts: "Too many wrong keys were tried for this key id: wait for the Retry-After time, then use the complete, correct key.",
  escalation_denied:
    "You can only grant what you hold: ask a member who holds every permission of this role (for example an owner) to do it.",
  role_principal_type_unsupported: SEED_FIXES.roleType,
  principal_type_not_allowed: SEED_FIXES.roleType,
  org_mismatch: SEED_FIXES.member,
  invalid_token: "Your sign-in is not valid here: sign out and sign in again at your organisation's identity provider.",
  token_expired: "Your sign-in has expired: sign in again.",
  token_revoked: "The principal's access tokens were revoked: exchange its API key again (POST /iam/auth/token) for a new token.",
  role_in_use: "Remove the role's assignments (listed on the role's page) before deleting it.",
  role_name_taken: "Choose another role name: names are unique in the organisation, whatever their case.",
  role_read_only: "Built-in roles cannot be changed: create a custom role instead.",
  role_limit_reached: "Delete a custom role you no longer use first.",
  role_assignment_limit_reached: "Remove a role assignment from this principal first.",
  credential_limit_reached: "Revoke a credential this principal no longer uses, or raise the credential cap in Settings.",
  member_exists: "This subject is already a member of the organisation.",
  trust_audience_taken: "Another workload trust of this organisation accepts this issuer for that audience: use another audience, or change that trust.",
  trust_limit_reached: "Delete a workload trust you no longer use first.",
  version_mismatch: "Someone changed this meanwhile: reload the page and make your change again.",
  not_linked: "This organisation is not linked to an Infuse IoT organisation yet: ask your administrator.",
  not_found: "It no longer exists, or you are in another organisation: reload the list.",
  service_unavailable: "The service is busy: try again in a few seconds.",
  network_error: "The service could not be reached: check your connection and try again.",
};

/** The fix for a refusal, from the seed's table where it has one. */
export function fixFor(code: string): string | null {
  return BY_CODE[code] ?? null;
}

/** Plain words for a failure, for people: the code and the fix come with it. */
export function describe(err: unknown): { code: string; message: string; fix: string | null; fields: { field: string; message: string }[] } {
  if (err instanceof ApiProblem) {
    return { code: err.code, message: err.detail ?? err.title, fix: fixFor(err.code), fields: err.fields };
  }
  return { code: "console_error", message: String(err), fix: null, fields: [] };
}

/** The seed's table, as the Troubleshoot page shows it whole. */
export const COMMON_FIXES: [string, string][] = [
  ["Token exchange fails", "Confirm the API key value is complete, the principal is active, and the credential is not expired or revoked."],
  ["Infuse IoT rejects an IAM API key", "Use the legacy organisation-level admin token from /admin/developer."],
  ["Direct API-key request fails", "Confirm direct API-key auth is enabled for the organisation, or exchange the key for a bearer token."],
  ["API call returns forbidden", "Confirm the principal has a role assignment that includes the required permission."],
  ["API-key role is not available", "Confirm the role supports ApiKey principals."],
  ["Member cannot access a workflow", "Confirm the member is in the current organisation and has the required role assignment."],
];
