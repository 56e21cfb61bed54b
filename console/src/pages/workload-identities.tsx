import { useEffect, useState } from "preact/hooks";
import { type Principal, type Schemas, ok } from "../api";
import { may } from "../access";
import { useSession } from "../context";
import { Dialog, ErrorNotice, FormActions, Table, formatTime, useConfirm } from "../ui/kit";

type Trust = Schemas["WorkloadTrust"];
type Condition = Schemas["ClaimCondition"];
type TestResult = Schemas["WorkloadTrustTest"];

interface Row {
  claim: string;
  test: "equals" | "matches";
  value: string;
}

/** The claims whose value names one workload and cannot be taken over by another (the service's rule). */
const PINNING_CLAIMS = ["sub", "repository_id", "repository_owner_id", "project_id", "namespace_id"];

/** Whether a condition ties the trust to one workload: the service's rule, shown before it is sent. */
function pins(c: Row): boolean {
  if (!PINNING_CLAIMS.includes(c.claim.trim()) || !c.value) return false;
  if (c.test === "equals" || !/[*?]/.test(c.value)) return true;
  // The fixed start names something past a separator and ends at one (repo:acme/* pins; repo:acme* does not).
  const fixed = c.value.split(/[*?]/)[0];
  return /[:/].*[\p{L}\p{N}]/u.test(fixed) && /[:/]$/.test(fixed);
}

function describeCondition(c: Condition): string {
  return c.equals !== undefined ? `${c.claim} = ${c.equals}` : `${c.claim} matches ${c.matches}`;
}

function rowsOf(trust: Trust | null): Row[] {
  if (!trust) return [{ claim: "sub", test: "equals", value: "" }];
  return trust.conditions.map((c) => ({ claim: c.claim, test: c.equals !== undefined ? "equals" : "matches", value: c.equals ?? c.matches ?? "" }));
}

interface Draft {
  name: string;
  issuer: string;
  audiences: string[];
  conditions: Condition[];
  principalId: string;
  maxTokenLifetimeSeconds: number;
}

/** A trust's fields: issuer, audiences, conditions (with what they pin), the principal, the token lifetime. */
function TrustForm(props: {
  trust: Trust | null;
  orgId: string;
  principals: Principal[];
  submitLabel: string;
  error: unknown;
  onSubmit: (draft: Draft) => void;
  onCancel: () => void;
}) {
  const [rows, setRows] = useState<Row[]>(() => rowsOf(props.trust));
  const set = (i: number, field: keyof Row, value: string) => setRows(rows.map((r, j) => (j === i ? { ...r, [field]: value } : r)));
  const pinned = rows.filter(pins);
  const submit = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    props.onSubmit({
      name: String(form.get("name") ?? ""),
      issuer: String(form.get("issuer") ?? "").trim(),
      audiences: String(form.get("audiences") ?? "")
        .split("\n")
        .map((a) => a.trim())
        .filter(Boolean),
      conditions: rows.map((r) => ({ claim: r.claim.trim(), [r.test]: r.value })),
      principalId: String(form.get("principalId") ?? ""),
      maxTokenLifetimeSeconds: Number(form.get("maxTokenLifetimeSeconds") ?? 3600),
    });
  };
  return (
    <form onSubmit={submit}>
      <label>
        Name
        <input name="name" required maxLength={128} defaultValue={props.trust?.name ?? ""} autoComplete="off" placeholder="deploy from main" />
      </label>
      <label>
        Issuer <span class="hint">(the tokens' iss, exactly: https://token.actions.githubusercontent.com for GitHub Actions)</span>
        <input name="issuer" required type="url" defaultValue={props.trust?.issuer ?? ""} autoComplete="off" />
      </label>
      <label>
        Audiences <span class="hint">(one per line; each contains the organisation id)</span>
        <textarea name="audiences" required rows={2} defaultValue={(props.trust?.audiences ?? [`urn:infuse:iam:${props.orgId}`]).join("\n")} />
      </label>
      <fieldset>
        <legend>Conditions (all must hold)</legend>
        {rows.map((r, i) => (
          <div class="permission-row" key={i}>
            <label>
              Claim
              <input value={r.claim} required placeholder="sub" onInput={(e) => set(i, "claim", (e.target as HTMLInputElement).value)} />
            </label>
            <label>
              Test
              <select value={r.test} onChange={(e) => set(i, "test", (e.target as HTMLSelectElement).value)}>
                <option value="equals">equals</option>
                <option value="matches">matches (glob)</option>
              </select>
            </label>
            <label>
              Value
              <input value={r.value} required placeholder="repo:acme/app:ref:refs/heads/main" onInput={(e) => set(i, "value", (e.target as HTMLInputElement).value)} />
            </label>
            <button type="button" onClick={() => setRows(rows.filter((_, j) => j !== i))} disabled={rows.length === 1} aria-label={`Remove condition ${i + 1}`}>
              Remove
            </button>
          </div>
        ))}
        <button type="button" onClick={() => setRows([...rows, { claim: "repository_id", test: "equals", value: "" }])}>
          Add condition
        </button>
        <p class="hint" aria-live="polite" data-testid="pin-preview">
          {pinned.length > 0
            ? `Pins the workload by ${pinned.map((r) => `${r.claim} ${r.test === "equals" ? "=" : "matching"} ${r.value}`).join(" and ")}.`
            : "Nothing pins the workload yet: add sub or an id claim (repository_id, project_id) with equals, or a glob such as repo:acme/app:*."}
        </p>
      </fieldset>
      <label>
        API-key principal <span class="hint">(what the workload becomes; you must hold every permission of its roles)</span>
        <select name="principalId" required defaultValue={props.trust?.principalId ?? ""}>
          <option value="" disabled>
            Choose a principal
          </option>
          {props.principals.map((p) => (
            <option key={p.id} value={p.id}>
              {p.displayName} ({p.id})
            </option>
          ))}
        </select>
      </label>
      <label>
        Longest token lifetime (seconds)
        <input name="maxTokenLifetimeSeconds" type="number" min={60} max={3600} required defaultValue={String(props.trust?.maxTokenLifetimeSeconds ?? 3600)} />
      </label>
      <ErrorNotice error={props.error} />
      <FormActions submit={props.submitLabel} onCancel={props.onCancel} />
    </form>
  );
}

/** Test a workload token against a trust: every check, in order, as an exchange would make them. */
function TestTrust(props: { trust: Trust; onClose: () => void }) {
  const { api, org } = useSession();
  const [result, setResult] = useState<TestResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const token = String(new FormData(e.target as HTMLFormElement).get("token") ?? "").trim();
    try {
      setResult(
        await ok(
          api.POST("/iam/orgs/{orgId}/workload-trusts/{trustId}/test", {
            params: { path: { orgId: org.orgId, trustId: props.trust.id } },
            body: { token },
          }),
        ),
      );
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form onSubmit={submit}>
      <label>
        Workload token <span class="hint">(a JWT; it is checked, never stored)</span>
        <textarea name="token" required rows={4} autoComplete="off" spellcheck={false} />
      </label>
      <ErrorNotice error={error} />
      {result && (
        <>
          <p role="status">
            {result.accepted ? "Accepted: an exchange through this trust would succeed." : `Refused: ${result.code}`}
          </p>
          <Table caption="Checks" columns={["Check", "Result", "Detail"]}>
            {result.checks.map((c, i) => (
              <tr key={i}>
                <td>{c.check}</td>
                <td>
                  {c.result}
                  {c.code && <code class="code">{c.code}</code>}
                </td>
                <td>{c.detail}</td>
              </tr>
            ))}
          </Table>
        </>
      )}
      <div class="actions">
        <button type="submit" class="primary">
          Test token
        </button>
        <button type="button" onClick={props.onClose}>
          Close
        </button>
      </div>
    </form>
  );
}

/** Access > Workload identities: trusts that exchange a CI job's or a cloud workload's own token for an access token. */
export function WorkloadIdentitiesPage() {
  const { api, org } = useSession();
  const [trusts, setTrusts] = useState<Trust[] | null>(null);
  const [principals, setPrincipals] = useState<Principal[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState<Trust | "new" | null>(null);
  const [formError, setFormError] = useState<unknown>(null);
  const [testing, setTesting] = useState<Trust | null>(null);
  const [confirmation, confirm] = useConfirm();

  const load = () => ok(api.GET("/iam/orgs/{orgId}/workload-trusts", { params: { path: { orgId: org.orgId } } })).then((p) => setTrusts(p.items), setError);
  useEffect(() => {
    load();
    if (may(org, "iam:apiKeys:list")) {
      ok(api.GET("/iam/orgs/{orgId}/api-keys", { params: { path: { orgId: org.orgId }, query: { limit: 100, status: "Active" } } })).then(
        (p) => setPrincipals(p.items),
        setError,
      );
    }
  }, [api, org.orgId]);

  const save = async (draft: Draft) => {
    setFormError(null);
    try {
      if (editing === "new") {
        await ok(api.POST("/iam/orgs/{orgId}/workload-trusts", { params: { path: { orgId: org.orgId } }, body: draft }));
      } else if (editing) {
        await ok(
          api.PATCH("/iam/orgs/{orgId}/workload-trusts/{trustId}", {
            params: { path: { orgId: org.orgId, trustId: editing.id } },
            headers: { "If-Match": `"${editing.version}"` },
            body: draft,
          }),
        );
      }
      setEditing(null);
      await load();
    } catch (err) {
      setFormError(err);
    }
  };
  const setEnabled = async (trust: Trust, enabled: boolean) => {
    setError(null);
    try {
      await ok(
        api.PATCH("/iam/orgs/{orgId}/workload-trusts/{trustId}", {
          params: { path: { orgId: org.orgId, trustId: trust.id } },
          headers: { "If-Match": `"${trust.version}"` },
          body: { enabled },
        }),
      );
      await load();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (trust: Trust) => {
    if (!(await confirm(`Delete the workload trust ${trust.name}? Its workloads can no longer get tokens.`, "Delete trust"))) return;
    setError(null);
    try {
      await ok(api.DELETE("/iam/orgs/{orgId}/workload-trusts/{trustId}", { params: { path: { orgId: org.orgId, trustId: trust.id } } }));
      await load();
    } catch (err) {
      setError(err);
    }
  };
  const names = new Map(principals.map((p) => [p.id, p.displayName]));

  return (
    <>
      <h1>Workload identities</h1>
      <p class="lead">
        A CI job or a cloud workload can get an access token with its own OIDC token, with no API key to store or leak. A trust
        names the issuer, the audiences and the conditions a token must meet, and the API-key principal it becomes.
      </p>
      {may(org, "iam:workloadTrusts:create") && (
        <div class="toolbar">
          <button type="button" class="primary" onClick={() => setEditing("new")}>
            Create workload trust
          </button>
        </div>
      )}
      <ErrorNotice error={error} />
      {trusts && (
        <Table caption="Workload trusts" columns={["Trust", "Conditions", "Principal", "Status", "Last used", ""]} empty={trusts.length === 0 && "No workload trusts yet."}>
          {trusts.map((t) => (
            <tr key={t.id}>
              <td>
                {t.name}
                <div class="hint">
                  <code>{t.issuer}</code>
                </div>
                <div class="hint">for {t.audiences.join(", ")}</div>
              </td>
              <td>{t.conditions.map(describeCondition).join("; ")}</td>
              <td>
                {names.get(t.principalId) ?? ""} <code>{t.principalId}</code>
              </td>
              <td>{t.enabled ? "Enabled" : "Disabled"}</td>
              <td>
                {formatTime(t.lastUsedAt)}
                {t.lastUsedSubject && <div class="hint">by {t.lastUsedSubject}</div>}
              </td>
              <td class="row-actions">
                {may(org, "iam:workloadTrusts:test") && (
                  <button type="button" onClick={() => setTesting(t)} aria-label={`Test a token against ${t.name}`}>
                    Test token
                  </button>
                )}
                {may(org, "iam:workloadTrusts:update") && (
                  <>
                    <button type="button" onClick={() => setEditing(t)} aria-label={`Edit ${t.name}`}>
                      Edit
                    </button>
                    <button type="button" onClick={() => setEnabled(t, !t.enabled)} aria-label={`${t.enabled ? "Disable" : "Enable"} ${t.name}`}>
                      {t.enabled ? "Disable" : "Enable"}
                    </button>
                  </>
                )}
                {may(org, "iam:workloadTrusts:delete") && (
                  <button type="button" class="danger" onClick={() => remove(t)} aria-label={`Delete ${t.name}`}>
                    Delete
                  </button>
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
      <Dialog title={editing === "new" ? "Create workload trust" : "Edit workload trust"} open={editing !== null} onClose={() => setEditing(null)}>
        <TrustForm
          trust={editing === "new" ? null : editing}
          orgId={org.orgId}
          principals={principals}
          submitLabel={editing === "new" ? "Create trust" : "Save"}
          error={formError}
          onSubmit={save}
          onCancel={() => setEditing(null)}
        />
      </Dialog>
      <Dialog title="Test a workload token" open={testing !== null} onClose={() => setTesting(null)}>
        {testing && <TestTrust trust={testing} onClose={() => setTesting(null)} />}
      </Dialog>
      {confirmation}
    </>
  );
}
