import type { User, UserManager } from "oidc-client-ts";
import { LocationProvider, Route, Router, useLocation } from "preact-iso";
import { useEffect, useMemo, useState } from "preact/hooks";
import { type Me, apiClient, ok } from "./api";
import { bearerOf, userManager } from "./auth";
import { type ConsoleConfig, loadConfig } from "./config";
import { SessionContext, href } from "./context";
import { may } from "./access";
import { ErrorNotice } from "./ui/kit";
import { ApiKeysPage } from "./pages/api-keys";
import { ApiKeyPage } from "./pages/api-key";
import { RolesPage } from "./pages/roles";
import { RolePage } from "./pages/role";
import { MembersPage } from "./pages/members";
import { SettingsPage } from "./pages/settings";
import { AuditPage } from "./pages/audit";
import { TroubleshootPage } from "./pages/troubleshoot";
import { DeveloperPage } from "./pages/developer";
import { WorkloadIdentitiesPage } from "./pages/workload-identities";

const ORG_KEY = "iam-console.org";

export function App() {
  const [config, setConfig] = useState<ConsoleConfig | null>(null);
  const [manager, setManager] = useState<UserManager | null>(null);
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    (async () => {
      const config = await loadConfig();
      const manager = userManager(config);
      setConfig(config);
      setManager(manager);
      if (window.location.pathname === href("callback")) {
        const signedIn = await manager.signinRedirectCallback();
        // The code and state leave the address bar and the history at once.
        const back = typeof signedIn.state === "string" && signedIn.state.startsWith(href("")) ? signedIn.state : href("api-keys");
        window.history.replaceState(null, "", back);
        setUser(signedIn);
      } else {
        setUser(await manager.getUser());
      }
    })().catch((err) => {
      setError(err);
      setUser(null);
    });
  }, []);

  if (user === undefined || !config || !manager) {
    return error ? <SignIn manager={manager} error={error} /> : <p class="loading">Loading…</p>;
  }
  if (!user || user.expired) return <SignIn manager={manager} error={error} />;
  return (
    <LocationProvider>
      <Signed config={config} manager={manager} user={user} />
    </LocationProvider>
  );
}

function SignIn(props: { manager: UserManager | null; error: unknown }) {
  return (
    <main class="signin">
      <h1>IAM &amp; Access</h1>
      <p>Sign in with your organisation's identity provider to manage API keys, roles and members.</p>
      <ErrorNotice error={props.error} />
      <button
        type="button"
        class="primary"
        disabled={!props.manager}
        onClick={() => props.manager?.signinRedirect({ state: window.location.pathname === href("callback") ? href("api-keys") : window.location.pathname })}
      >
        Sign in
      </button>
    </main>
  );
}

function Signed(props: { config: ConsoleConfig; manager: UserManager; user: User }) {
  const api = useMemo(() => apiClient(props.config.apiBaseUrl, () => bearerOf(props.user, props.config)), [props.user]);
  const [me, setMe] = useState<Me | null>(null);
  const [orgId, setOrgId] = useState<string | null>(() => window.sessionStorage.getItem(ORG_KEY));
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    ok(api.GET("/iam/me")).then(setMe, setError);
  }, [api]);
  const signOut = async () => {
    window.sessionStorage.removeItem(ORG_KEY);
    await props.manager.removeUser();
    window.location.assign(href(""));
  };
  if (error || !me) {
    return (
      <main class="signin">
        {error ? <ErrorNotice error={error} /> : <p class="loading">Loading…</p>}
        {error ? (
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        ) : null}
      </main>
    );
  }
  const org = me.organisations.find((o) => o.orgId === orgId) ?? me.organisations[0];
  if (!org) {
    return (
      <main class="signin">
        <h1>IAM &amp; Access</h1>
        <p>
          You are signed in as <code>{me.subject}</code>, but you are not a member of any organisation. Member cannot access a
          workflow: confirm the member is in the current organisation and has the required role assignment.
        </p>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </main>
    );
  }
  const chooseOrg = (id: string) => {
    window.sessionStorage.setItem(ORG_KEY, id);
    setOrgId(id);
  };
  return (
    <SessionContext.Provider value={{ api, me, org }}>
      <div class="shell">
        <header class="top">
          <a class="brand" href={href("api-keys")}>
            IAM &amp; Access
          </a>
          <label class="org-select">
            Organisation
            <select value={org.orgId} onChange={(e) => chooseOrg((e.target as HTMLSelectElement).value)}>
              {me.organisations.map((o) => (
                <option key={o.orgId} value={o.orgId}>
                  {o.name} ({o.orgId})
                </option>
              ))}
            </select>
          </label>
          <span class="who">
            Signed in as <code>{me.subject}</code>
          </span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </header>
        <Nav />
        <main id="main" class="content" key={org.orgId}>
          <Router>
            <Route path={href("")} component={ApiKeysPage} />
            <Route path={href("api-keys")} component={ApiKeysPage} />
            <Route path={href("api-keys/:principalId")} component={ApiKeyPage} />
            <Route path={href("roles")} component={RolesPage} />
            <Route path={href("roles/:roleId")} component={RolePage} />
            <Route path={href("members")} component={MembersPage} />
            <Route path={href("workload-identities")} component={WorkloadIdentitiesPage} />
            <Route path={href("settings")} component={SettingsPage} />
            <Route path={href("audit-log")} component={AuditPage} />
            <Route path={href("troubleshoot")} component={TroubleshootPage} />
            <Route path={href("developer")} component={DeveloperPage} />
            <Route default component={NotFound} />
          </Router>
        </main>
      </div>
    </SessionContext.Provider>
  );
}

function Nav() {
  const { path } = useLocation();
  const item = (to: string, label: string) => {
    const target = href(to);
    const current = path === target || path.startsWith(`${target}/`);
    return (
      <li>
        <a href={target} aria-current={current ? "page" : undefined}>
          {label}
        </a>
      </li>
    );
  };
  return (
    <nav class="side" aria-label="Console">
      <p class="section" id="nav-access">
        Access
      </p>
      <ul aria-labelledby="nav-access">
        {item("api-keys", "API Keys")}
        {item("roles", "Roles")}
        {item("members", "Members")}
        {item("workload-identities", "Workload identities")}
      </ul>
      <ul>
        {item("settings", "Settings")}
        {item("audit-log", "Audit log")}
        {item("troubleshoot", "Troubleshoot")}
        {item("developer", "Developer")}
      </ul>
    </nav>
  );
}

function NotFound() {
  return (
    <>
      <h1>Not found</h1>
      <p>
        This page does not exist. Go to <a href={href("api-keys")}>API Keys</a>.
      </p>
    </>
  );
}

export { may };
