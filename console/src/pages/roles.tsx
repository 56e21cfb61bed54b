import { useLocation } from "preact-iso";
import { useEffect, useState } from "preact/hooks";
import { type Role, ok } from "../api";
import { may } from "../access";
import { href, useSession } from "../context";
import { allRoles } from "../roles-data";
import { Dialog, ErrorNotice, Table } from "../ui/kit";
import { type RoleDraft, RoleForm } from "./role-form";

/** Access > Roles: built-in and custom roles; create a custom role. */
export function RolesPage() {
  const { api, org } = useSession();
  const { route } = useLocation();
  const [roles, setRoles] = useState<Role[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);
  const [createError, setCreateError] = useState<unknown>(null);

  useEffect(() => {
    allRoles(api, org.orgId).then(setRoles, setError);
  }, [api, org.orgId]);

  const create = async (draft: RoleDraft) => {
    setCreateError(null);
    try {
      const role = await ok(
        api.POST("/iam/orgs/{orgId}/roles", {
          params: { path: { orgId: org.orgId } },
          body: { ...draft, description: draft.description ?? undefined },
        }),
      );
      setCreating(false);
      route(href(`roles/${role.id}`));
    } catch (err) {
      setCreateError(err);
    }
  };

  return (
    <>
      <h1>Roles</h1>
      <p class="lead">
        Use Access &gt; Roles to inspect role permissions and member assignments. API-key principals need roles that support
        ApiKey.
      </p>
      {may(org, "iam:roles:create") && (
        <div class="toolbar">
          <button type="button" class="primary" onClick={() => setCreating(true)}>
            Create role
          </button>
        </div>
      )}
      <ErrorNotice error={error} />
      {roles && (
        <Table caption="Roles" columns={["Role", "Kind", "Principal types", "Permissions"]}>
          {roles.map((r) => (
              <tr key={r.id}>
                <td>
                  <a href={href(`roles/${r.id}`)}>{r.name}</a>
                  {r.description && <div class="hint">{r.description}</div>}
                </td>
                <td>{r.builtIn ? "Built-in" : "Custom"}</td>
                <td>{r.principalTypes.join(", ")}</td>
                <td>{r.permissions.map((p) => p.action).join(", ")}</td>
              </tr>
            ))}
        </Table>
      )}
      <Dialog title="Create role" open={creating} onClose={() => setCreating(false)}>
        <RoleForm role={null} submitLabel="Create role" error={createError} onSubmit={create} onCancel={() => setCreating(false)} />
      </Dialog>
    </>
  );
}
