import { useState } from "preact/hooks";
import { type AuditEvent, ok } from "../api";
import { useSession } from "../context";
import { ErrorNotice, Table, formatTime, usePaged } from "../ui/kit";

function actorText(actor: AuditEvent["actor"]): string {
  if (actor.type === "ApiKey") return `API key ${actor.principalId}${actor.keyId ? ` (credential ${actor.keyId})` : ""}`;
  if (actor.type === "User") return `Member ${actor.principalId}`;
  return `System ${"name" in actor ? actor.name : ""}`.trim();
}

/** What each lifecycle event means, for its badge's title. */
const EVENT_MEANING: Record<NonNullable<AuditEvent["event"]>["type"], string> = {
  "credential.expiring": "The key expires soon (7 days, then 1 day, before its expiry date)",
  "credential.expired": "The key reached its expiry date",
  "credential.revoked": "The key was revoked",
  "credential.leaked": "The key was found in public and revoked at once, with the tokens exchanged with it",
  "principal.suspended": "The API key was suspended",
  "principal.revoked": "The API key was revoked",
  "principal.rateLimited": "The API key's calls were refused for its rate limit again and again",
  "credential.failingFromNewAddress": "The key was refused again and again from an address it did not last work from",
};

/** Audit log: every change in the organisation, newest first, with the lifecycle events they published. */
export function AuditPage() {
  const { api, org } = useSession();
  const [onlyEvents, setOnlyEvents] = useState(false);
  const { page, error, pager } = usePaged<AuditEvent>(
    (cursor) => ok(api.GET("/iam/orgs/{orgId}/audit-events", { params: { path: { orgId: org.orgId }, query: { cursor, limit: 25 } } })),
    [api, org.orgId],
  );
  const items = page ? page.items.filter((e) => !onlyEvents || e.event) : [];
  return (
    <>
      <h1>Audit log</h1>
      <p class="lead">
        Newest first. Secrets never appear here. A change marked with a lifecycle event (a key expiring, expired, revoked
        or found leaked; an API key suspended or revoked) was also published to your organisation's event bus, for
        automation to act on.
      </p>
      <p>
        <label>
          <input type="checkbox" checked={onlyEvents} onChange={(e) => setOnlyEvents((e.target as HTMLInputElement).checked)} /> Lifecycle
          events only (on this page)
        </label>
      </p>
      <ErrorNotice error={error} />
      {page && (
        <Table caption="Audit events" columns={["Time", "Action", "Event", "Target", "Actor", "Details"]} empty={items.length === 0 && (onlyEvents ? "No lifecycle events on this page." : "No changes yet.")}>
          {items.map((e) => (
            <tr key={e.id}>
              <td>{formatTime(e.time)}</td>
              <td>
                <code>{e.action}</code>
              </td>
              <td>
                {e.event ? (
                  <span class={`badge badge-event${e.event.type === "credential.leaked" ? " badge-revoked" : ""}`} title={EVENT_MEANING[e.event.type]}>
                    {e.event.type}
                  </span>
                ) : (
                  "—"
                )}
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
