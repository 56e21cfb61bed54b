import { useEffect, useState } from "preact/hooks";
import { type CredentialReportPage, type CredentialReportRow, type Settings, ok } from "../api";
import { may } from "../access";
import { href, useSession } from "../context";
import { ErrorNotice, LastUsed, StatusBadge, Table, formatTime, usePaged } from "../ui/kit";

/** Settings: direct API-key auth, access-token lifetime, the credential cap and lifetime policy; the credential report. */
export function SettingsPage() {
  const { api, org } = useSession();
  const [settings, setSettings] = useState<Settings | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    ok(api.GET("/iam/orgs/{orgId}/settings", { params: { path: { orgId: org.orgId } } })).then(setSettings, setError);
  }, [api, org.orgId]);

  const save = async (e: Event) => {
    e.preventDefault();
    if (!settings) return;
    const form = new FormData(e.target as HTMLFormElement);
    const lifetime = String(form.get("maxCredentialLifetimeDays") ?? "").trim();
    setError(null);
    setSaved(false);
    try {
      const updated = await ok(
        api.PATCH("/iam/orgs/{orgId}/settings", {
          params: { path: { orgId: org.orgId } },
          headers: { "If-Match": `"${settings.version}"` },
          body: {
            directApiKeyAuth: form.get("directApiKeyAuth") === "on",
            accessTokenTtlSeconds: Number(form.get("accessTokenTtlSeconds")),
            maxActiveCredentialsPerPrincipal: Number(form.get("maxActiveCredentialsPerPrincipal")),
            maxCredentialLifetimeDays: lifetime === "" ? null : Number(lifetime),
            requireCredentialExpiry: form.get("requireCredentialExpiry") === "on",
            directApiKeyCacheSeconds: Number(form.get("directApiKeyCacheSeconds")),
            defaultRateLimit:
              form.get("defaultLimit") === "" || form.get("defaultLimit") == null
                ? null
                : { limit: Number(form.get("defaultLimit")), periodSeconds: Number(form.get("defaultPeriodSeconds") || 60) },
          },
        }),
      );
      setSettings(updated);
      setSaved(true);
    } catch (err) {
      setError(err);
    }
  };
  const editable = may(org, "iam:settings:update");
  return (
    <>
      <h1>Settings</h1>
      <ErrorNotice error={error} />
      {settings && (
        <form onSubmit={save} key={settings.version}>
          <fieldset disabled={!editable}>
            <legend>Authentication</legend>
            <label class="check">
              <input type="checkbox" name="directApiKeyAuth" defaultChecked={settings.directApiKeyAuth} /> Allow direct API-key auth
            </label>
            <p class="hint">
              Lets callers send the key itself, <code>Authorization: ApiKey ik_&lt;keyId&gt;.&lt;keySecret&gt;</code>, to the
              organisation's APIs. When it is off, a direct API-key request fails: callers exchange the key for a bearer
              token with <code>POST /iam/auth/token</code> and send <code>Authorization: Bearer &lt;accessToken&gt;</code>.
            </p>
            <label>
              Direct API-key cache (seconds)
              <input
                name="directApiKeyCacheSeconds"
                type="number"
                min={0}
                max={60}
                required
                aria-describedby="direct-cache-hint"
                defaultValue={String(settings.directApiKeyCacheSeconds)}
              />
            </label>
            <p class="hint" id="direct-cache-hint">
              0 checks every direct API-key request against the key's current state. Up to 60 lets a busy key skip that check
              for that many seconds: a revoked or suspended key then keeps working for at most that long on direct requests.
            </p>
            <label>
              Default rate limit (calls)
              <input
                name="defaultLimit"
                type="number"
                min={1}
                max={1000000}
                aria-describedby="rate-limit-hint"
                defaultValue={settings.defaultRateLimit ? String(settings.defaultRateLimit.limit) : ""}
              />
            </label>
            <label>
              Default rate limit window (seconds)
              <input
                name="defaultPeriodSeconds"
                type="number"
                min={1}
                max={86400}
                aria-describedby="rate-limit-hint"
                defaultValue={String(settings.defaultRateLimit?.periodSeconds ?? 60)}
              />
            </label>
            <p class="hint" id="rate-limit-hint">
              Every API-key principal without a limit of its own may make this many calls per window, with its keys and its
              access tokens together; past it, calls fail with <code>rate_limited</code> until the next window. Leave the calls
              empty for no default limit.
            </p>
            <label>
              Access-token lifetime (seconds)
              <input name="accessTokenTtlSeconds" type="number" min={60} max={3600} required defaultValue={String(settings.accessTokenTtlSeconds)} />
            </label>
            <label>
              Credential cap (active credentials per API-key principal)
              <input
                name="maxActiveCredentialsPerPrincipal"
                type="number"
                min={1}
                max={100}
                required
                defaultValue={String(settings.maxActiveCredentialsPerPrincipal)}
              />
            </label>
          </fieldset>
          <fieldset disabled={!editable}>
            <legend>Credential lifetime</legend>
            <label>
              Maximum credential lifetime (days)
              <input
                name="maxCredentialLifetimeDays"
                type="number"
                min={1}
                max={3650}
                aria-describedby="lifetime-hint"
                defaultValue={settings.maxCredentialLifetimeDays == null ? "" : String(settings.maxCredentialLifetimeDays)}
              />
            </label>
            <p class="hint" id="lifetime-hint">
              New API keys must expire within this many days of being issued, so each needs an expiry date. Leave it empty for
              no limit.
            </p>
            <label class="check">
              <input
                type="checkbox"
                name="requireCredentialExpiry"
                aria-describedby="expiry-hint"
                defaultChecked={settings.requireCredentialExpiry}
              />{" "}
              Require an expiry date on new API keys
            </label>
            <p class="hint" id="expiry-hint">
              When it is on, issuing an API key without an expiry date fails. Keys issued before a policy keep working: the
              credential report below marks those that break it as out of policy, so you can replace or revoke them.
            </p>
            {editable && (
              <div class="actions">
                <button type="submit" class="primary">
                  Save settings
                </button>
                <span role="status">{saved ? "Saved." : ""}</span>
              </div>
            )}
          </fieldset>
        </form>
      )}
      {may(org, "iam:credentials:report") && <CredentialReport settingsVersion={settings?.version} />}
    </>
  );
}

/** Every credential of the organisation, a page at a time, and the whole report as a CSV file; read again when the settings (the policy) change. */
function CredentialReport(props: { settingsVersion: number | undefined }) {
  const { api, org } = useSession();
  const [downloading, setDownloading] = useState(false);
  const [downloadError, setDownloadError] = useState<unknown>(null);
  const { page, error, pager } = usePaged<CredentialReportRow>(
    (cursor) =>
      ok(
        api.GET("/iam/orgs/{orgId}/credential-report", {
          params: { path: { orgId: org.orgId }, query: { cursor, limit: 25 }, header: { Accept: "application/json" } },
        }),
      ).then((json) => json as CredentialReportPage),
    [api, org.orgId, props.settingsVersion],
  );

  /** Reads every page as CSV with the member's token, joins them under one header row, and saves the file. */
  const download = async () => {
    setDownloading(true);
    setDownloadError(null);
    try {
      const lines: string[] = [];
      let cursor: string | undefined;
      do {
        const { data, error: problem, response } = await api.GET("/iam/orgs/{orgId}/credential-report", {
          params: { path: { orgId: org.orgId }, query: { cursor, limit: 100 }, header: { Accept: "text/csv" } },
          parseAs: "text",
        });
        if (!response.ok) await ok(Promise.resolve({ error: problem, response }));
        const rows = String(data).split("\r\n").filter((row) => row !== "");
        lines.push(...(lines.length === 0 ? rows : rows.slice(1)));
        cursor = response.headers.get("X-Next-Cursor") ?? undefined;
      } while (cursor);
      const url = URL.createObjectURL(new Blob([lines.map((l) => `${l}\r\n`).join("")], { type: "text/csv" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = `credential-report-${org.orgId}.csv`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (err) {
      setDownloadError(err);
    } finally {
      setDownloading(false);
    }
  };

  return (
    <section aria-labelledby="report-title">
      <h2 id="report-title">Credential report</h2>
      <p class="lead">
        Every API key of the organisation: when it was last used, from where, and whether it breaks the credential lifetime
        policy. Keys that are never used, or not for a long time, are candidates to revoke.
      </p>
      <div class="toolbar">
        <button type="button" onClick={download} disabled={downloading}>
          Download CSV
        </button>
        <span role="status">{downloading ? "Preparing the report…" : ""}</span>
      </div>
      <ErrorNotice error={downloadError ?? error} />
      {page && (
        <Table
          caption="Credential report"
          columns={["API key", "Credential name", "Key id", "Status", "Created", "Expiry date", "Last used", "Age (days)", "Out of policy"]}
          empty={page.items.length === 0 && "No credentials."}
        >
          {page.items.map((r) => (
            <tr key={r.keyId}>
              <td>
                <a href={href(`api-keys/${r.principalId}`)}>{r.principalName}</a>
              </td>
              <td>{r.credentialName}</td>
              <td>
                <code>{r.keyId}</code>
              </td>
              <td>
                <StatusBadge status={r.status} />
              </td>
              <td>{formatTime(r.createdAt)}</td>
              <td>{formatTime(r.expiresAt)}</td>
              <td>
                <LastUsed at={r.lastUsedAt} ip={r.lastUsedIp} route={r.lastUsedRoute} />
              </td>
              <td>{r.ageDays}</td>
              <td>{r.outOfPolicy ? <strong>Yes</strong> : "No"}</td>
            </tr>
          ))}
        </Table>
      )}
      {pager}
    </section>
  );
}
