import { UserManager, WebStorageStateStore, type User } from "oidc-client-ts";
import type { ConsoleConfig } from "./config";

/**
 * Sign-in at the organisation's identity provider: OIDC authorization code flow with PKCE
 * (oidc-client-ts). The member's tokens and the flow's state live in session storage only: never
 * in local storage, never in a URL (the code in the callback URL is removed at once).
 */
export function userManager(config: ConsoleConfig): UserManager {
  const origin = window.location.origin;
  return new UserManager({
    authority: config.issuer,
    client_id: config.clientId,
    redirect_uri: config.redirectUri,
    post_logout_redirect_uri: `${origin}${import.meta.env.BASE_URL}`,
    response_type: "code",
    scope: "openid profile email",
    userStore: new WebStorageStateStore({ store: window.sessionStorage }),
    stateStore: new WebStorageStateStore({ store: window.sessionStorage }),
    automaticSilentRenew: false,
    loadUserInfo: false,
  });
}

/** The token the API takes from a member: the provider's access token, or its ID token where configured so. */
export function bearerOf(user: User | null, config: ConsoleConfig): string | null {
  if (!user || user.expired) return null;
  return config.apiToken === "id" ? (user.id_token ?? null) : user.access_token;
}
