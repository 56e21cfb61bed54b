import { useEffect, useState } from "preact/hooks";
import { type Schemas, ok } from "../api";
import { useSession } from "../context";
import { ErrorNotice } from "../ui/kit";

/** The legacy /admin/developer page: the linked Infuse IoT organisation and its admin API key. */
export function DeveloperPage() {
  const { api, org } = useSession();
  const [link, setLink] = useState<Schemas["DeveloperLink"] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [revealed, setRevealed] = useState(false);
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    ok(api.GET("/admin/developer", { params: { query: { orgId: org.orgId } } })).then(setLink, setError);
    return () => setLink(null);
  }, [api, org.orgId]);
  const copy = async () => {
    if (!link) return;
    await navigator.clipboard.writeText(link.infuseIotAdminApiKey);
    setCopied(true);
  };
  return (
    <>
      <h1>Developer</h1>
      <p class="notice">
        Current Infuse IoT token limitation: IAM API-key credentials from Access &gt; API Keys will not authenticate current
        Infuse IoT API requests. Use the legacy organisation-level admin token below.
      </p>
      <p>
        The /admin/developer page is a legacy developer key flow. It exposes the linked Infuse IoT organisation id and the
        Infuse IoT admin API key used by current Infuse IoT API flows.
      </p>
      <ErrorNotice error={error} />
      {link && (
        <dl class="details">
          <dt>Infuse IoT organisation id</dt>
          <dd>
            <code>{link.infuseIotOrganisationId}</code>
          </dd>
          <dt id="admin-key-label">Infuse IoT admin API key</dt>
          <dd>
            <code aria-labelledby="admin-key-label" class="secret">
              {revealed ? link.infuseIotAdminApiKey : "•".repeat(24)}
            </code>{" "}
            <button type="button" onClick={() => setRevealed(!revealed)} aria-pressed={revealed}>
              {revealed ? "Hide" : "Reveal"}
            </button>{" "}
            <button type="button" onClick={copy}>
              Copy
            </button>
            <span role="status">{copied ? " Copied." : ""}</span>
          </dd>
        </dl>
      )}
      <section aria-labelledby="which-title">
        <h2 id="which-title">Which Token to Use</h2>
        <table>
          <thead>
            <tr>
              <th scope="col">Need</th>
              <th scope="col">Use</th>
            </tr>
          </thead>
          <tbody>
            <tr>
              <td>Manage IAM API-key principals and role assignments in the tenant console</td>
              <td>Access &gt; API Keys</td>
            </tr>
            <tr>
              <td>Authenticate current Infuse IoT API calls</td>
              <td>Legacy organisation-level admin token from /admin/developer</td>
            </tr>
            <tr>
              <td>Exchange an IAM API key for a short-lived bearer token</td>
              <td>
                <code>POST /iam/auth/token</code>, where supported by the API you are calling
              </td>
            </tr>
          </tbody>
        </table>
      </section>
    </>
  );
}
