import { useLocation, useRoute } from "preact-iso";
import { useEffect, useState } from "preact/hooks";
import { type Assignment, type Role, ok } from "../api";
import { may } from "../access";
import { href, useSession } from "../context";
import { Dialog, ErrorNotice, Table, formatTime, useConfirm } from "../ui/kit";
import { type RoleDraft, RoleForm, conditionText } from "./role-form";

/** One role: its permissions (action, resource, condition) and the principals assigned it; edit and delete custom roles. */
export function RolePage() {
  const { api, org } = useSession();
  const { params } = useRoute();
  const { route } = useLocation();
  const roleId = params.roleId;
  const [role, setRole] = useState<Role | null>(null);
  const [assigned, setAssigned] = useState<Assignment[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState(false);
  const [editError, setEditError] = useState<unknown>(null);
  const [confirmation, confirm] = useConfirm();

  useEffect(() => {
    ok(api.GET("/iam/orgs/{orgId}/roles/{roleId}", { params: { path: { orgId: org.orgId, roleId } } })).then(setRole, setError);
    ok(
      api.GET("/iam/orgs/{orgId}/roles/{roleId}/assignments", {
        params: { path: { orgId: org.orgId, roleId }, query: { limit: 100 } },
      }),
    ).then((page) => setAssigned(page.items), setError);
  }, [api, org.orgId, roleId]);

  const save = async (draft: RoleDraft) => {
    if (!role) return;
    setEditError(null);
    try {
      const updated = await ok(
        api.PATCH("/iam/orgs/{orgId}/roles/{roleId}", {
          params: { path: { orgId: org.orgId, roleId } },
          headers: { "If-Match": `"${role.version}"` },
          body: draft,
        }),
      );
      setRole(updated);
      setEditing(false);
    } catch (err) {
      setEditError(err);
    }
  };
  const remove = async () => {
    if (!role || !(await confirm(`Delete the role ${role.name}? This cannot be undone.`, "Delete role"))) return;
    setError(null);
    try {
      await ok(api.DELETE("/iam/orgs/{orgId}/roles/{roleId}", { params: { path: { orgId: org.orgId, roleId } } }));
      route(href("roles"));
    } catch (err) {
      setError(err);
    }
  };

  if (!role) {
    return (
      <>
        <h1>Role</h1>
        {error ? <ErrorNotice error={error} /> : <p class="loading">Loading…</p>}
      </>
    );
  }
  return (
    <>
      <p class="crumbs">
        <a href={href("roles")}>Roles</a> /
      </p>
      <h1>{role.name}</h1>
      {confirmation}
      {role.description && <p class="lead">{role.description}</p>}
      <dl class="details">
        <dt>Role id</dt>
        <dd>
          <code>{role.id}</code>
        </dd>
        <dt>Kind</dt>
        <dd>{role.builtIn ? "Built-in (read-only)" : "Custom"}</dd>
        <dt>Principal types</dt>
        <dd>{role.principalTypes.join(", ")}</dd>
        {!role.builtIn && (
          <>
            <dt>Updated</dt>
            <dd>{formatTime(role.updatedAt)}</dd>
          </>
        )}
      </dl>
      <ErrorNotice error={error} />
      {!role.builtIn && (
        <div class="actions">
          {may(org, "iam:roles:update") && (
            <button type="button" onClick={() => setEditing(true)}>
              Edit role
            </button>
          )}
          {may(org, "iam:roles:delete") && (
            <button type="button" class="danger" onClick={remove}>
              Delete role
            </button>
          )}
        </div>
      )}
      <section aria-labelledby="permissions-title">
        <h2 id="permissions-title">Permissions</h2>
        <Table caption="Permissions" columns={["Action", "Resource", "Condition"]}>
          {role.permissions.map((p, i) => (
              <tr key={i}>
                <td>
                  <code>{p.action}</code>
                </td>
                <td>
                  <code>{p.resource}</code>
                </td>
                <td>{conditionText(p)}</td>
              </tr>
            ))}
        </Table>
      </section>
      <section aria-labelledby="assigned-title">
        <h2 id="assigned-title">Assigned to</h2>
        {assigned && (
          <Table
            caption="Principals assigned this role"
            columns={["Principal", "Type", "Assigned"]}
            empty={assigned.length === 0 && "No principal holds this role."}
          >
            {assigned.map((a) => (
                <tr key={a.principalId}>
                  <td>
                    {a.principalId.startsWith("akp_") ? (
                      <a href={href(`api-keys/${a.principalId}`)}>
                        <code>{a.principalId}</code>
                      </a>
                    ) : (
                      <a href={href("members")}>
                        <code>{a.principalId}</code>
                      </a>
                    )}
                  </td>
                  <td>{a.principalId.startsWith("akp_") ? "API key" : "Member"}</td>
                  <td>{formatTime(a.createdAt)}</td>
                </tr>
              ))}
          </Table>
        )}
      </section>
      <Dialog title="Edit role" open={editing} onClose={() => setEditing(false)}>
        <RoleForm role={role} submitLabel="Save role" error={editError} onSubmit={save} onCancel={() => setEditing(false)} />
      </Dialog>
    </>
  );
}
