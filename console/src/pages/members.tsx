import { useState } from "preact/hooks";
import { type Member, ok } from "../api";
import { may } from "../access";
import { useSession } from "../context";
import { Dialog, ErrorNotice, FormActions, StatusBadge, Table, formatTime, useConfirm, usePaged } from "../ui/kit";
import { RoleAssignments } from "./assignments";

/** Access > Members: the organisation's members (people who sign in at its identity provider). */
export function MembersPage() {
  const { api, org, me } = useSession();
  const [adding, setAdding] = useState(false);
  const [addError, setAddError] = useState<unknown>(null);
  const [selected, setSelected] = useState<Member | null>(null);
  const [version, setVersion] = useState(0);
  const [confirmation, confirm] = useConfirm();
  const { page, error, setError, pager } = usePaged<Member>(
    (cursor) => ok(api.GET("/iam/orgs/{orgId}/members", { params: { path: { orgId: org.orgId }, query: { cursor, limit: 20 } } })),
    [api, org.orgId, version],
  );

  const add = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const optional = (name: string) => String(form.get(name) ?? "").trim() || undefined;
    setAddError(null);
    try {
      await ok(
        api.POST("/iam/orgs/{orgId}/members", {
          params: { path: { orgId: org.orgId } },
          body: { subject: String(form.get("subject") ?? ""), email: optional("email"), displayName: optional("displayName") },
        }),
      );
      setAdding(false);
      setVersion(version + 1);
    } catch (err) {
      setAddError(err);
    }
  };
  const remove = async (m: Member) => {
    if (!(await confirm(`Remove ${m.displayName} from ${org.name}? Their role assignments here are removed too.`, "Remove member"))) return;
    setError(null);
    try {
      await ok(api.DELETE("/iam/orgs/{orgId}/members/{principalId}", { params: { path: { orgId: org.orgId, principalId: m.id } } }));
      if (selected?.id === m.id) setSelected(null);
      setVersion(version + 1);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <>
      <h1>Members</h1>
      <p class="lead">People of {org.name}, as your identity provider names them (their subject). Roles give them access.</p>
      {confirmation}
      {may(org, "iam:members:add") && (
        <div class="toolbar">
          <button type="button" class="primary" onClick={() => setAdding(true)}>
            Add member
          </button>
        </div>
      )}
      <ErrorNotice error={error} />
      {page && (
        <Table caption="Members" columns={["Name", "Subject", "E-mail", "Status", "Added", ""]}>
          {page.items.map((m) => (
              <tr key={m.id}>
                <td>{m.displayName}</td>
                <td>
                  <code>{m.subject}</code>
                  {m.subject === me.subject && <span class="hint"> (you)</span>}
                </td>
                <td>{m.email ?? "—"}</td>
                <td>
                  <StatusBadge status={m.status} />
                </td>
                <td>{formatTime(m.createdAt)}</td>
                <td class="row-actions">
                  <button type="button" onClick={() => setSelected(m)} aria-label={`Role assignments of ${m.displayName}`}>
                    Role assignments
                  </button>
                  {may(org, "iam:members:remove") && (
                    <button type="button" class="danger" onClick={() => remove(m)} aria-label={`Remove ${m.displayName}`}>
                      Remove
                    </button>
                  )}
                </td>
              </tr>
            ))}
        </Table>
      )}
      {pager}
      {selected && (
        <div class="panel">
          <p>
            Member <strong>{selected.displayName}</strong> (<code>{selected.subject}</code>)
          </p>
          <RoleAssignments key={selected.id} principalId={selected.id} principalType="User" />
        </div>
      )}
      <Dialog title="Add member" open={adding} onClose={() => setAdding(false)}>
        <form onSubmit={add}>
          <label>
            Subject <span class="hint">(the member's sub at your identity provider)</span>
            <input name="subject" required maxLength={255} autoComplete="off" />
          </label>
          <label>
            E-mail <span class="hint">(optional)</span>
            <input name="email" type="email" autoComplete="off" />
          </label>
          <label>
            Display name <span class="hint">(optional)</span>
            <input name="displayName" maxLength={128} autoComplete="off" />
          </label>
          <ErrorNotice error={addError} />
          <FormActions submit="Add member" onCancel={() => setAdding(false)} />
        </form>
      </Dialog>
    </>
  );
}
