import { type AuditEvent, ok } from "../api";
import { useSession } from "../context";
import { ErrorNotice, Table, formatTime, usePaged } from "../ui/kit";

function actorText(actor: AuditEvent["actor"]): string {
  if (actor.type === "ApiKey") return `API key ${actor.principalId}${actor.keyId ? ` (credential ${actor.keyId})` : ""}`;
  if (actor.type === "User") return `Member ${actor.principalId}`;
  return `System ${"name" in actor ? actor.name : ""}`.trim();
}

/** Audit log: every change in the organisation, newest first. */
export function AuditPage() {
  const { api, org } = useSession();
  const { page, error, pager } = usePaged<AuditEvent>(
    (cursor) => ok(api.GET("/iam/orgs/{orgId}/audit-events", { params: { path: { orgId: org.orgId }, query: { cursor, limit: 25 } } })),
    [api, org.orgId],
  );
  return (
    <>
      <h1>Audit log</h1>
      <p class="lead">Newest first. Secrets never appear here.</p>
      <ErrorNotice error={error} />
      {page && (
        <Table caption="Audit events" columns={["Time", "Action", "Target", "Actor", "Details"]}>
          {page.items.map((e) => (
              <tr key={e.id}>
                <td>{formatTime(e.time)}</td>
                <td>
                  <code>{e.action}</code>
                </td>
                <td>
                  <code>{e.target}</code>
                </td>
                <td>{actorText(e.actor)}</td>
                <td>
                  <code class="json">{JSON.stringify(e.details)}</code>
                </td>
              </tr>
            ))}
        </Table>
      )}
      {pager}
    </>
  );
}
