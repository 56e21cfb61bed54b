import { useEffect, useState } from "preact/hooks";
import { type Assignment, type Role, ok } from "../api";
import { may } from "../access";
import { href, useSession } from "../context";
import { allRoles } from "../roles-data";
import { ErrorNotice, Table, formatTime, useConfirm } from "../ui/kit";

/**
 * Role assignments of one principal: choose a role that supports its principal type and save the
 * assignment; remove one. Only roles available to the organisation and supporting the type are offered.
 */
export function RoleAssignments(props: { principalId: string; principalType: "ApiKey" | "User"; disabled?: boolean }) {
  const { api, org } = useSession();
  const [assignments, setAssignments] = useState<Assignment[] | null>(null);
  const [roles, setRoles] = useState<Role[]>([]);
  const [offered, setOffered] = useState<Role[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [choice, setChoice] = useState("");
  const [version, setVersion] = useState(0);
  const [confirmation, confirm] = useConfirm();

  useEffect(() => {
    ok(
      api.GET("/iam/orgs/{orgId}/principals/{principalId}/role-assignments", {
        params: { path: { orgId: org.orgId, principalId: props.principalId }, query: { limit: 100 } },
      }),
    ).then((page) => setAssignments(page.items), setError);
    allRoles(api, org.orgId).then(setRoles, setError);
    allRoles(api, org.orgId, props.principalType).then(setOffered, setError);
  }, [api, org.orgId, props.principalId, version]);

  const name = (roleId: string) => roles.find((r) => r.id === roleId)?.name ?? roleId;
  const held = new Set((assignments ?? []).map((a) => a.roleId));
  const canAssign = may(org, "iam:roleAssignments:assign") && !props.disabled;
  const canRemove = may(org, "iam:roleAssignments:remove");

  const save = async (e: Event) => {
    e.preventDefault();
    if (!choice) return;
    setError(null);
    try {
      await ok(
        api.PUT("/iam/orgs/{orgId}/principals/{principalId}/role-assignments/{roleId}", {
          params: { path: { orgId: org.orgId, principalId: props.principalId, roleId: choice } },
        }),
      );
      setChoice("");
      setVersion(version + 1);
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (roleId: string) => {
    if (!(await confirm(`Remove the role ${name(roleId)} from this principal?`, "Remove assignment"))) return;
    setError(null);
    try {
      await ok(
        api.DELETE("/iam/orgs/{orgId}/principals/{principalId}/role-assignments/{roleId}", {
          params: { path: { orgId: org.orgId, principalId: props.principalId, roleId } },
        }),
      );
      setVersion(version + 1);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section aria-labelledby="assignments-title">
      <h2 id="assignments-title">Role assignments</h2>
      {confirmation}
      {props.principalType === "ApiKey" && (
        <p class="hint">
          API-key principals need role assignments before they can call protected APIs. Only roles that support ApiKey
          principals are offered.
        </p>
      )}
      <ErrorNotice error={error} />
      {assignments && (
        <Table caption="Role assignments" columns={["Role", "Assigned", ""]} empty={assignments.length === 0 && "No role assignments."}>
          {assignments.map((a) => (
              <tr key={a.roleId}>
                <td>
                  <a href={href(`roles/${a.roleId}`)}>{name(a.roleId)}</a>
                </td>
                <td>{formatTime(a.createdAt)}</td>
                <td>
                  {canRemove && (
                    <button type="button" onClick={() => remove(a.roleId)} aria-label={`Remove ${name(a.roleId)}`}>
                      Remove
                    </button>
                  )}
                </td>
              </tr>
            ))}
        </Table>
      )}
      {canAssign && (
        <form class="inline" onSubmit={save}>
          <label>
            Role
            <select value={choice} onChange={(e) => setChoice((e.target as HTMLSelectElement).value)}>
              <option value="">Choose a role…</option>
              {offered
                .filter((r) => !held.has(r.id))
                .map((r) => (
                  <option key={r.id} value={r.id}>
                    {r.name}
                  </option>
                ))}
            </select>
          </label>
          <button type="submit" class="primary" disabled={!choice}>
            Save assignment
          </button>
        </form>
      )}
    </section>
  );
}
