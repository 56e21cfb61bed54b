import { useRoute } from "preact-iso";
import { useEffect, useState } from "preact/hooks";
import { type Credential, type Principal, ok } from "../api";
import { may } from "../access";
import { href, useSession } from "../context";
import { Dialog, ErrorNotice, FormActions, LastUsed, StatusBadge, Table, expiryFromDate, formatTime, useConfirm, useFormSubmit, usePaged } from "../ui/kit";
import { RoleAssignments } from "./assignments";
import { RecentRequests, UsagePanel } from "./usage";

type CredentialFilter = "Active" | "Revoked" | "Expired" | "all";

/** One API-key principal: details, status, credentials and role assignments. */
export function ApiKeyPage() {
  const { api, org } = useSession();
  const { params } = useRoute();
  const principalId = params.principalId;
  const [principal, setPrincipal] = useState<Principal | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [confirmation, confirm] = useConfirm();
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    ok(api.GET("/iam/orgs/{orgId}/api-keys/{principalId}", { params: { path: { orgId: org.orgId, principalId } } })).then(
      setPrincipal,
      setError,
    );
  }, [api, org.orgId, principalId]);

  const setStatus = async (status: "Active" | "Suspended" | "Revoked", question: string, label: string) => {
    if (!principal || !(await confirm(question, label))) return;
    setError(null);
    try {
      const updated = await ok(
        api.PATCH("/iam/orgs/{orgId}/api-keys/{principalId}", {
          params: { path: { orgId: org.orgId, principalId } },
          headers: { "If-Match": `"${principal.version}"` },
          body: { status },
        }),
      );
      setPrincipal(updated);
    } catch (err) {
      setError(err);
    }
  };

  const revokeTokens = async () => {
    const question =
      "Revoke every access token this principal holds now? Its API keys keep working: callers exchange them again for new tokens.";
    if (!(await confirm(question, "Revoke access tokens"))) return;
    setError(null);
    try {
      setPrincipal(
        await ok(api.POST("/iam/orgs/{orgId}/api-keys/{principalId}/revoke-tokens", { params: { path: { orgId: org.orgId, principalId } } })),
      );
      setNotice("The access tokens issued until now are revoked.");
    } catch (err) {
      setError(err);
    }
  };

  if (!principal) {
    return (
      <>
        <h1>API key</h1>
        {error ? <ErrorNotice error={error} /> : <p class="loading">Loading…</p>}
      </>
    );
  }
  const canUpdate = may(org, "iam:apiKeys:update");
  const revoked = principal.status === "Revoked";
  return (
    <>
      <p class="crumbs">
        <a href={href("api-keys")}>API Keys</a> /
      </p>
      <h1>{principal.displayName}</h1>
      {confirmation}
      <dl class="details">
        <dt>Principal id</dt>
        <dd>
          <code>{principal.id}</code>
        </dd>
        <dt>Status</dt>
        <dd>
          <StatusBadge status={principal.status} />
        </dd>
        <dt>Expiry date</dt>
        <dd>{formatTime(principal.expiresAt)}</dd>
        <dt>Created</dt>
        <dd>{formatTime(principal.createdAt)}</dd>
        <dt>Access tokens valid after</dt>
        <dd>{formatTime(principal.tokensValidAfter)}</dd>
        <dt>Organisation</dt>
        <dd>
          {org.name} <code>{principal.orgId}</code>
        </dd>
      </dl>
      <ErrorNotice error={error} />
      <p role="status">{notice}</p>
      {canUpdate && !revoked && (
        <div class="actions">
          {principal.status === "Active" ? (
            <button
              type="button"
              onClick={() =>
                setStatus("Suspended", "Suspend this principal? None of its credentials authenticate while it is suspended.", "Suspend")
              }
            >
              Suspend
            </button>
          ) : (
            <button type="button" onClick={() => setStatus("Active", "Activate this principal? Its active credentials authenticate again.", "Activate")}>
              Activate
            </button>
          )}
          {may(org, "iam:apiKeys:revokeTokens") && (
            <button type="button" onClick={revokeTokens}>
              Revoke access tokens
            </button>
          )}
          <button
            type="button"
            class="danger"
            onClick={() =>
              setStatus("Revoked", "Revoke this principal? It should no longer be used, and this cannot be undone.", "Revoke principal")
            }
          >
            Revoke
          </button>
        </div>
      )}
      {revoked && <p class="notice">This principal is revoked: it should no longer be used, and revocation is final.</p>}
      <CallPolicy principal={principal} editable={canUpdate && !revoked} onSaved={setPrincipal} />
      <Credentials principal={principal} />
      <RoleAssignments principalId={principal.id} principalType="ApiKey" disabled={revoked} />
      {/* Below the actions: the chart's height arrives with its data, and moves nothing above it. */}
      <UsagePanel principalId={principal.id} />
      <RecentRequests principalId={principal.id} />
    </>
  );
}

/** Where the principal's calls may come from and how many it may make: its keys and access tokens alike. */
function CallPolicy(props: { principal: Principal; editable: boolean; onSaved: (p: Principal) => void }) {
  const [editing, setEditing] = useState(false);
  const { allowedCidrs, rateLimit } = props.principal;
  return (
    <section aria-labelledby="policy-title">
      <h2 id="policy-title">Call policy</h2>
      <dl class="policy-details">
        <dt>Allowed networks</dt>
        <dd>{allowedCidrs?.length ? allowedCidrs.map((c) => <code key={c}>{c} </code>) : "Any address"}</dd>
        <dt>Rate limit</dt>
        <dd>{rateLimit ? describeLimit(rateLimit) : "The organisation's default (see Settings)"}</dd>
      </dl>
      <p class="hint">
        Calls from outside the allowed networks fail with <code>ip_not_allowed</code>, with the key or with access tokens
        exchanged from it; calls past the rate limit fail with <code>rate_limited</code> until the next window.
      </p>
      {props.editable && (
        <div class="actions">
          <button type="button" onClick={() => setEditing(true)}>
            Edit call policy
          </button>
        </div>
      )}
      <EditCallPolicy
        open={editing}
        principal={props.principal}
        onClose={() => setEditing(false)}
        onSaved={(p) => {
          setEditing(false);
          props.onSaved(p);
        }}
      />
    </section>
  );
}

/** "5 calls per 60 seconds". */
export function describeLimit(limit: { limit: number; periodSeconds: number }): string {
  return `${limit.limit} call${limit.limit === 1 ? "" : "s"} per ${limit.periodSeconds} second${limit.periodSeconds === 1 ? "" : "s"}`;
}

function EditCallPolicy(props: { open: boolean; principal: Principal; onClose: () => void; onSaved: (p: Principal) => void }) {
  const { api, org } = useSession();
  const p = props.principal;
  const { submit, error, busy } = useFormSubmit(async (form) => {
    const cidrs = String(form.get("allowedCidrs") ?? "")
      .split(/[\s,]+/)
      .filter((c) => c !== "");
    const own = form.get("limitKind") === "own";
    const updated = await ok(
      api.PATCH("/iam/orgs/{orgId}/api-keys/{principalId}", {
        params: { path: { orgId: org.orgId, principalId: p.id } },
        headers: { "If-Match": `"${p.version}"` },
        body: {
          allowedCidrs: cidrs,
          rateLimit: own ? { limit: Number(form.get("limit")), periodSeconds: Number(form.get("periodSeconds")) } : null,
        },
      }),
    );
    props.onSaved(updated);
  });
  const [own, setOwn] = useState(p.rateLimit != null);
  return (
    <Dialog title="Edit call policy" open={props.open} onClose={props.onClose}>
      <form onSubmit={submit}>
        <label>
          Allowed networks <span class="hint">(one CIDR per line, such as 203.0.113.0/24 or 2001:db8::/32; empty: any address)</span>
          <textarea name="allowedCidrs" rows={4} defaultValue={(p.allowedCidrs ?? []).join("\n")} autoComplete="off" spellcheck={false} />
        </label>
        <fieldset>
          <legend>Rate limit</legend>
          <label class="check">
            <input type="radio" name="limitKind" value="default" checked={!own} onChange={() => setOwn(false)} /> The organisation's
            default
          </label>
          <label class="check">
            <input type="radio" name="limitKind" value="own" checked={own} onChange={() => setOwn(true)} /> Its own limit
          </label>
          {own && (
            <div class="inline-fields">
              <label>
                Calls
                <input name="limit" type="number" min={1} max={1000000} required defaultValue={String(p.rateLimit?.limit ?? 100)} />
              </label>
              <label>
                Per (seconds)
                <input name="periodSeconds" type="number" min={1} max={86400} required defaultValue={String(p.rateLimit?.periodSeconds ?? 60)} />
              </label>
            </div>
          )}
        </fieldset>
        <ErrorNotice error={error} />
        <FormActions submit="Save call policy" busy={busy} onCancel={props.onClose} />
      </form>
    </Dialog>
  );
}

function Credentials(props: { principal: Principal }) {
  const { api, org } = useSession();
  const principalId = props.principal.id;
  const [filter, setFilter] = useState<CredentialFilter>("Active");
  const [issuing, setIssuing] = useState(false);
  const [issued, setIssued] = useState<{ name: string; apiKey: string } | null>(null);
  const [version, setVersion] = useState(0);
  const [confirmation, confirm] = useConfirm();
  const [rolling, setRolling] = useState<Credential | null>(null);
  const [editing, setEditing] = useState<Credential | null>(null);
  const { page, error, setError, pager, restart } = usePaged<Credential>(
    (cursor) =>
      ok(
        api.GET("/iam/orgs/{orgId}/api-keys/{principalId}/credentials", {
          params: { path: { orgId: org.orgId, principalId }, query: { status: filter, cursor, limit: 20 } },
        }),
      ),
    [api, org.orgId, principalId, filter, version],
  );

  const revoke = async (c: Credential) => {
    const question = `Revoke the credential ${c.name}? It stops authenticating at once. The principal and its other credentials are not changed.`;
    if (!(await confirm(question, "Revoke credential"))) return;
    setError(null);
    try {
      await ok(
        api.POST("/iam/orgs/{orgId}/api-keys/{principalId}/credentials/{keyId}/revoke", {
          params: { path: { orgId: org.orgId, principalId, keyId: c.id } },
        }),
      );
      setVersion(version + 1);
    } catch (err) {
      setError(err);
    }
  };

  const canIssue = may(org, "iam:credentials:issue") && props.principal.status !== "Revoked";
  const canRevoke = may(org, "iam:credentials:revoke");
  const canRoll = may(org, "iam:credentials:roll") && props.principal.status !== "Revoked";
  const canEdit = may(org, "iam:credentials:update");
  return (
    <section aria-labelledby="credentials-title">
      <h2 id="credentials-title">Credentials</h2>
      {confirmation}
      <div class="toolbar">
        <label>
          Show
          <select
            value={filter}
            onChange={(e) => {
              setFilter((e.target as HTMLSelectElement).value as CredentialFilter);
              restart();
            }}
          >
            <option value="Active">Active credentials</option>
            <option value="Revoked">Revoked</option>
            <option value="Expired">Expired</option>
            <option value="all">All</option>
          </select>
        </label>
        {canIssue && (
          <button type="button" class="primary" onClick={() => setIssuing(true)}>
            Issue API key
          </button>
        )}
      </div>
      <ErrorNotice error={error} />
      {page && (
        <Table
          caption="Credentials"
          columns={["Credential name", "Key id", "Status", "Expiry date", "Last used", ""]}
          empty={page.items.length === 0 && `No ${filter === "all" ? "" : `${filter.toLowerCase()} `}credentials.`}
        >
          {page.items.map((c) => (
              <tr key={c.id}>
                <td>{c.name}</td>
                <td>
                  <code>{c.id}</code>
                </td>
                <td>
                  <StatusBadge status={c.status} />
                </td>
                <td>{formatTime(c.expiresAt)}</td>
                <td>
                  <LastUsed at={c.lastUsedAt} ip={c.lastUsedIp} route={c.lastUsedRoute} />
                </td>
                <td class="row-actions">
                  {canRoll && c.status === "Active" && !c.replacedBy && (
                    <button type="button" onClick={() => setRolling(c)} aria-label={`Roll ${c.name}`}>
                      Roll
                    </button>
                  )}
                  {canEdit && c.status === "Active" && (
                    <button type="button" onClick={() => setEditing(c)} aria-label={`Edit ${c.name}`}>
                      Edit
                    </button>
                  )}
                  {canRevoke && c.status === "Active" && (
                    <button type="button" class="danger" onClick={() => revoke(c)} aria-label={`Revoke ${c.name}`}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
        </Table>
      )}
      {pager}
      <IssueApiKey
        open={issuing}
        principalId={principalId}
        onClose={() => setIssuing(false)}
        onIssued={(name, apiKey) => {
          setIssuing(false);
          setIssued({ name, apiKey });
          setVersion(version + 1);
        }}
      />
      <ShownOnce issued={issued} onClose={() => setIssued(null)} />
      <RollCredential
        credential={rolling}
        onClose={() => setRolling(null)}
        onRolled={(name, apiKey) => {
          setRolling(null);
          setIssued({ name, apiKey });
          setVersion(version + 1);
        }}
      />
      <EditCredential
        credential={editing}
        onClose={() => setEditing(null)}
        onSaved={() => {
          setEditing(null);
          setVersion(version + 1);
        }}
      />
      <p class="hint">
        A key expiring (7 days and 1 day ahead), expired, revoked or found leaked in public is published as a lifecycle
        event: see them in the <a href={href("audit-log")}>Audit log</a>. A leaked key is revoked at once.
      </p>
    </section>
  );
}

function IssueApiKey(props: { open: boolean; principalId: string; onClose: () => void; onIssued: (name: string, apiKey: string) => void }) {
  const { api, org } = useSession();
  const { submit, error, busy } = useFormSubmit(async (form) => {
    const issued = await ok(
        api.POST("/iam/orgs/{orgId}/api-keys/{principalId}/credentials", {
          params: { path: { orgId: org.orgId, principalId: props.principalId } },
          body: { name: String(form.get("name") ?? ""), expiresAt: expiryFromDate(String(form.get("expiry") ?? "")) },
        }),
      );
    props.onIssued(issued.credential.name, issued.apiKey);
  });
  return (
    <Dialog title="Issue API key" open={props.open} onClose={props.onClose}>
      <form onSubmit={submit}>
        <label>
          Credential name
          <input name="name" required maxLength={128} autoComplete="off" />
        </label>
        <label>
          Expiry date <span class="hint">(optional)</span>
          <input name="expiry" type="date" />
        </label>
        <ErrorNotice error={error} />
        <FormActions submit="Create credential" busy={busy} onCancel={props.onClose} />
      </form>
    </Dialog>
  );
}

/** The generated key, shown once; gone from the page and from the console's state when the dialog closes. */
function ShownOnce(props: { issued: { name: string; apiKey: string } | null; onClose: () => void }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    if (!props.issued) return;
    await navigator.clipboard.writeText(props.issued.apiKey);
    setCopied(true);
  };
  const close = () => {
    setCopied(false);
    props.onClose();
  };
  return (
    <Dialog title="Your new API key" open={props.issued !== null} onClose={close}>
      {props.issued && (
        <>
          <p class="warning" role="note">
            The generated API key is shown once. Store it immediately in a server-side secret manager. Do not expose API
            tokens in browser code, mobile apps, public repositories, or customer-visible examples.
          </p>
          <p>
            Credential <strong>{props.issued.name}</strong>. API keys use the format <code>ik_&lt;keyId&gt;.&lt;keySecret&gt;</code>.
          </p>
          <label>
            API key
            <input class="secret" readOnly value={props.issued.apiKey} onFocus={(e) => (e.target as HTMLInputElement).select()} />
          </label>
          <div class="actions">
            <button type="button" class="primary" onClick={copy}>
              Copy
            </button>
            <span role="status">{copied ? "Copied." : ""}</span>
            <button type="button" onClick={close}>
              Done
            </button>
          </div>
        </>
      )}
    </Dialog>
  );
}

/** Roll: a successor is issued and shown once; the old key keeps working for the grace period chosen. */
function RollCredential(props: { credential: Credential | null; onClose: () => void; onRolled: (name: string, apiKey: string) => void }) {
  const { api, org } = useSession();
  const c = props.credential;
  const { submit, error, busy } = useFormSubmit(async (form) => {
    if (!c) return;
    const rolled = await ok(
      api.POST("/iam/orgs/{orgId}/api-keys/{principalId}/credentials/{keyId}/roll", {
        params: { path: { orgId: org.orgId, principalId: c.principalId, keyId: c.id } },
        body: { expireOldAfterSeconds: Number(form.get("grace")) },
      }),
    );
    props.onRolled(rolled.credential.name, rolled.apiKey);
  });
  return (
    <Dialog title="Roll API key" open={c !== null} onClose={props.onClose}>
      {c && (
        <form onSubmit={submit}>
          <p>
            A new key replaces <strong>{c.name}</strong>, with the same lifetime. Deploy the new key, then let the old one
            expire.
          </p>
          <label>
            The old key keeps working
            <select name="grace" defaultValue="86400">
              <option value="0">No longer: it stops at once</option>
              <option value="3600">For 1 hour</option>
              <option value="86400">For 1 day</option>
              <option value="604800">For 7 days</option>
            </select>
          </label>
          <ErrorNotice error={error} />
          <FormActions submit="Roll API key" busy={busy} onCancel={props.onClose} />
        </form>
      )}
    </Dialog>
  );
}

/** Edit: a new name, or an earlier expiry (never a later one). */
function EditCredential(props: { credential: Credential | null; onClose: () => void; onSaved: () => void }) {
  const { api, org } = useSession();
  const c = props.credential;
  const { submit, error, busy } = useFormSubmit(async (form) => {
    if (!c) return;
    const expiry = expiryFromDate(String(form.get("expiry") ?? ""));
    await ok(
      api.PATCH("/iam/orgs/{orgId}/api-keys/{principalId}/credentials/{keyId}", {
        params: { path: { orgId: org.orgId, principalId: c.principalId, keyId: c.id } },
        body: { name: String(form.get("name") ?? ""), ...(expiry ? { expiresAt: expiry } : {}) },
      }),
    );
    props.onSaved();
  });
  return (
    <Dialog title="Edit API key" open={c !== null} onClose={props.onClose}>
      {c && (
        <form onSubmit={submit}>
          <label>
            Credential name
            <input name="name" required maxLength={128} defaultValue={c.name} autoComplete="off" />
          </label>
          <label>
            Expiry date <span class="hint">(optional; earlier than the current one, {formatTime(c.expiresAt)})</span>
            <input name="expiry" type="date" />
          </label>
          <ErrorNotice error={error} />
          <FormActions submit="Save" busy={busy} onCancel={props.onClose} />
        </form>
      )}
    </Dialog>
  );
}
