import { type Api, type Role, ok } from "./api";

/** Every role available to the organisation (built-in and custom), optionally only those supporting a principal type. */
export async function allRoles(api: Api, orgId: string, principalType?: "ApiKey" | "User"): Promise<Role[]> {
  const roles: Role[] = [];
  let cursor: string | undefined;
  do {
    const page = await ok(
      api.GET("/iam/orgs/{orgId}/roles", { params: { path: { orgId }, query: { principalType, cursor, limit: 100 } } }),
    );
    roles.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return roles;
}
