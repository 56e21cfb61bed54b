/** What the deployment tells the console: its identity provider and where the API is. */
export interface ConsoleConfig {
  /** The OIDC issuer members sign in at. */
  issuer: string;
  /** The console's public client id at that provider (authorization code + PKCE). */
  clientId: string;
  /** The API's base URL: "" for the console's own origin. */
  apiBaseUrl: string;
  /** Where the provider sends the browser back: <origin>/console/callback. */
  redirectUri: string;
  /**
   * Which of the provider's tokens the API verifies (its `aud` must be the service's OidcAudience): the access
   * token (the default; Auth0, Okta, the local provider) or the ID token (Amazon Cognito, whose access tokens
   * carry no `aud`).
   */
  apiToken?: "access" | "id";
}

export async function loadConfig(): Promise<ConsoleConfig> {
  const response = await fetch(`${import.meta.env.BASE_URL}config.json`, { cache: "no-cache" });
  if (!response.ok) throw new Error(`config.json: ${response.status}`);
  return (await response.json()) as ConsoleConfig;
}
