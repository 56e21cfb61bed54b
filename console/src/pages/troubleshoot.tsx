import { useState } from "preact/hooks";
import { type SimulateResponse, ok } from "../api";
import { useSession } from "../context";
import { COMMON_FIXES, fixFor } from "../fixes";
import { ErrorNotice } from "../ui/kit";

/** The checks in the seed's order, with the seed's words. */
const CHECK_NAMES: Record<SimulateResponse["checks"][number]["check"], string> = {
  credential: "The credential is valid",
  principal_in_org: "The principal belongs to the organisation you expect",
  principal_active: "The API-key principal is Active",
  principal_not_expired: "The principal has not expired",
  ip_allowed: "The call comes from a network the API-key principal allows",
  org_match: "The assignment belongs to the correct organisation",
  role_assignment: "The principal has a role assignment",
  role_supports_principal_type: "The assigned role supports the principal type",
  permission_for_action: "The role includes a permission for the action being requested",
  resource_scope: "The resource scope on the role matches the request",
  conditions: "Any condition on the role matches the request",
  scope: "The token's scope includes the action",
  grant: "The principal holds every permission of the role it would grant",
};

/** Troubleshoot: the /authorize explainer as a form, and the seed's Common Fixes. */
export function TroubleshootPage() {
  const { api, org } = useSession();
  const [answer, setAnswer] = useState<SimulateResponse | null>(null);
  const [error, setError] = useState<unknown>(null);
  const run = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const optional = (name: string) => String(form.get(name) ?? "").trim() || undefined;
    setError(null);
    setAnswer(null);
    try {
      setAnswer(
        await ok(
          api.POST("/iam/orgs/{orgId}/authorize", {
            params: { path: { orgId: org.orgId } },
            body: {
              principalId: optional("principalId"),
              action: String(form.get("action") ?? "").trim(),
              resource: optional("resource"),
              sourceIp: optional("sourceIp"),
            },
          }),
        ),
      );
    } catch (err) {
      setError(err);
    }
  };
  const fix = answer?.code ? fixFor(answer.code) : null;
  return (
    <>
      <h1>Troubleshoot</h1>
      <p class="lead">
        Authentication failures mean the caller is not recognised (401). Authorization failures mean the caller is
        recognised but does not have permission for the requested action (403). Ask whether a principal may do something,
        and see every check in order.
      </p>
      <form onSubmit={run} class="grid-form">
        <label>
          Principal id <span class="hint">(akp_… or usr_…; empty: you)</span>
          <input name="principalId" autoComplete="off" />
        </label>
        <label>
          Action
          <input name="action" required placeholder="iot:devices:read" autoComplete="off" />
        </label>
        <label>
          Resource <span class="hint">(optional)</span>
          <input name="resource" placeholder="iot:sites/site-1/devices/d-42" autoComplete="off" />
        </label>
        <label>
          Source IP <span class="hint">(optional)</span>
          <input name="sourceIp" placeholder="203.0.113.7" autoComplete="off" />
        </label>
        <div class="actions">
          <button type="submit" class="primary">
            Check access
          </button>
        </div>
      </form>
      <ErrorNotice error={error} />
      {answer && (
        <section aria-labelledby="result-title" class="result">
          <h2 id="result-title">
            Decision: <span class={answer.decision === "Allow" ? "allow" : "deny"}>{answer.decision}</span>
            {answer.code && (
              <>
                {" "}
                <code class="code">{answer.code}</code>
              </>
            )}
          </h2>
          <ol class="checks">
            {answer.checks.map((c) => (
              <li key={c.check} class={c.passed ? "passed" : "failed"}>
                <strong>{c.passed ? "Passed" : "Failed"}</strong>: {CHECK_NAMES[c.check] ?? c.check}. <span class="hint">{c.detail}</span>
              </li>
            ))}
          </ol>
          {answer.matched && (
            <p>
              Allowed by role <strong>{answer.matched.roleName}</strong>: <code>{answer.matched.permission.action}</code> on{" "}
              <code>{answer.matched.permission.resource}</code>.
            </p>
          )}
          {fix && <p class="fix">Fix: {fix}</p>}
        </section>
      )}
      <section aria-labelledby="fixes-title">
        <h2 id="fixes-title">Common Fixes</h2>
        <table>
          <thead>
            <tr>
              <th scope="col">Symptom</th>
              <th scope="col">Check</th>
            </tr>
          </thead>
          <tbody>
            {COMMON_FIXES.map(([symptom, check]) => (
              <tr key={symptom}>
                <td>{symptom}</td>
                <td>{check}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}
