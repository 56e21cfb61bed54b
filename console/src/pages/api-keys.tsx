import { useLocation } from "preact-iso";
import { useEffect, useState } from "preact/hooks";
import { type Principal, type TopKeys, ok } from "../api";
import { may } from "../access";
import { href, useSession } from "../context";
import { Dialog, ErrorNotice, FormActions, StatusBadge, Table, expiryFromDate, formatTime, useFormSubmit, usePaged } from "../ui/kit";

type StatusFilter = "" | "Active" | "Suspended" | "Revoked";

/** Access > API Keys: the organisation's API-key principals, and Create API key. */
export function ApiKeysPage() {
  const { api, org } = useSession();
  const [status, setStatus] = useState<StatusFilter>("");
  const [creating, setCreating] = useState(false);
  const { page, error, pager, restart } = usePaged<Principal>(
    (cursor) =>
      ok(
        api.GET("/iam/orgs/{orgId}/api-keys", {
          params: { path: { orgId: org.orgId }, query: { status: status || undefined, cursor, limit: 20 } },
        }),
      ),
    [api, org.orgId, status],
  );

  return (
    <>
      <h1>API Keys</h1>
      <p class="lead">
        Create API-key principals and issue credentials for backend integrations. API tokens are credentials issued to
        API-key principals: use them for backend integrations that need to call Infuse APIs without a signed-in user.
      </p>
      <p class="notice">
        Current Infuse IoT token limitation: API-key credentials issued here do not currently work with Infuse IoT APIs.
        Infuse IoT still uses legacy organisation-level admin tokens from <a href={href("developer")}>/admin/developer</a>.
      </p>
      <div class="toolbar">
        <label>
          Status
          <select
            value={status}
            onChange={(e) => {
              setStatus((e.target as HTMLSelectElement).value as StatusFilter);
              restart();
            }}
          >
            <option value="">All</option>
            <option value="Active">Active</option>
            <option value="Suspended">Suspended</option>
            <option value="Revoked">Revoked</option>
          </select>
        </label>
        {may(org, "iam:apiKeys:create") && (
          <button type="button" class="primary" onClick={() => setCreating(true)}>
            Create API key
          </button>
        )}
      </div>
      <ErrorNotice error={error} />
      {page && (
        <Table
          caption="API-key principals"
          columns={["Display name", "Status", "Expiry date", "Created"]}
          empty={page.items.length === 0 && `No API-key principals${status ? ` with status ${status}` : ""}.`}
        >
          {page.items.map((p) => (
              <tr key={p.id}>
                <td>
                  <a href={href(`api-keys/${p.id}`)}>{p.displayName}</a>
                </td>
                <td>
                  <StatusBadge status={p.status} />
                </td>
                <td>{formatTime(p.expiresAt)}</td>
                <td>{formatTime(p.createdAt)}</td>
              </tr>
            ))}
        </Table>
      )}
      {pager}
      <CreateApiKey open={creating} onClose={() => setCreating(false)} />
      <TopKeysPanel />
    </>
  );
}

/** The organisation's busiest and most-refused keys over the last 7 days. */
function TopKeysPanel() {
  const { api, org } = useSession();
  const [top, setTop] = useState<TopKeys | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    ok(api.GET("/iam/orgs/{orgId}/usage/top-keys", { params: { path: { orgId: org.orgId }, query: { days: 7 } } })).then(setTop, setError);
  }, [api, org.orgId]);
  const rows = (keys: TopKeys["busiest"], empty: string, caption: string) => (
    <Table caption={caption} columns={["Key id", "API-key principal", "Calls", "Refused"]} empty={keys.length === 0 && empty}>
      {keys.map((k) => (
        <tr key={k.principalId + k.keyId}>
          <td>
            <code>{k.keyId}</code>
          </td>
          <td>
            <a href={href(`api-keys/${k.principalId}`)}>{k.principalId}</a>
          </td>
          <td>{k.total}</td>
          <td>{k.refused}</td>
        </tr>
      ))}
    </Table>
  );
  return (
    <section aria-labelledby="top-keys-title">
      <h2 id="top-keys-title">Busiest and most-refused keys (last 7 days)</h2>
      <ErrorNotice error={error} />
      {top && (
        <>
          <h3>Busiest keys</h3>
          {rows(top.busiest, "No calls in the last 7 days.", "Busiest keys")}
          <h3>Most-refused keys</h3>
          {rows(top.mostRefused, "No refused calls in the last 7 days.", "Most-refused keys")}
        </>
      )}
    </section>
  );
}

function CreateApiKey(props: { open: boolean; onClose: () => void }) {
  const { api, org } = useSession();
  const { route } = useLocation();
  const { submit, error, busy } = useFormSubmit(async (form) => {
    const created = await ok(
        api.POST("/iam/orgs/{orgId}/api-keys", {
          params: { path: { orgId: org.orgId } },
          body: {
            displayName: String(form.get("displayName") ?? ""),
            status: form.get("status") === "Suspended" ? "Suspended" : "Active",
            expiresAt: expiryFromDate(String(form.get("expiry") ?? "")),
          },
        }),
      );
    props.onClose();
    route(href(`api-keys/${created.id}`));
  });
  return (
    <Dialog title="Create API key" open={props.open} onClose={props.onClose}>
      <form onSubmit={submit}>
        <p>The principal belongs to the current organisation, {org.name}.</p>
        <label>
          Display name
          <input name="displayName" required maxLength={128} autoComplete="off" />
        </label>
        <label>
          Status
          <select name="status">
            <option value="Active">Active</option>
            <option value="Suspended">Suspended</option>
          </select>
        </label>
        <label>
          Expiry date <span class="hint">(optional)</span>
          <input name="expiry" type="date" />
        </label>
        <ErrorNotice error={error} />
        <FormActions submit="Create" busy={busy} onCancel={props.onClose} />
      </form>
    </Dialog>
  );
}
