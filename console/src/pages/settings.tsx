import { useEffect, useState } from "preact/hooks";
import { type Settings, ok } from "../api";
import { may } from "../access";
import { useSession } from "../context";
import { ErrorNotice } from "../ui/kit";

/** Settings: direct API-key auth, access-token lifetime and the credential cap. */
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
              Access-token lifetime (seconds)
              <input name="accessTokenTtlSeconds" type="number" min={60} max={3600} required defaultValue={String(settings.accessTokenTtlSeconds)} />
            </label>
            <label>
              Credential cap (active credentials per API-key principal)
              <input
                name="maxActiveCredentialsPerPrincipal"
                type="number"
                min={1}
                max={98}
                required
                defaultValue={String(settings.maxActiveCredentialsPerPrincipal)}
              />
            </label>
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
    </>
  );
}
