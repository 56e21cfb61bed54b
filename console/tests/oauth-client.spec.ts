// A standard OAuth 2.0 client library, unchanged, against the running stack: oauth4webapi (a
// certified, spec-following implementation) discovers the endpoints from RFC 8414 metadata at the
// location RFC 8414 §3 gives an issuer with a path, exchanges a key with client credentials
// (client_secret_basic), calls the API with the token, then revokes it (RFC 7009) and sees it refused.
import { expect, test } from "@playwright/test";
import * as oauth from "oauth4webapi";
import { bootstrap } from "./support";

test("an OAuth client library discovers the endpoints, gets a token and revokes it", async () => {
  const b = bootstrap();
  const issuer = new URL(`${b.apiBaseUrl}/iam`);
  // The local stack speaks plain HTTP on loopback; a deployment is HTTPS only.
  const insecure = { [oauth.allowInsecureRequests]: true };
  const discovery = await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure });
  expect(new URL(discovery.url).pathname).toBe("/.well-known/oauth-authorization-server/iam");
  const as = await oauth.processDiscoveryResponse(issuer, discovery);
  expect(as.revocation_endpoint).toBe(`${b.apiBaseUrl}/iam/auth/revoke`);

  const [clientId, clientSecret] = [b.apiKey.slice(0, b.apiKey.indexOf(".")), b.apiKey.slice(b.apiKey.indexOf(".") + 1)];
  const client: oauth.Client = { client_id: clientId };
  const auth = oauth.ClientSecretBasic(clientSecret);
  const granted = await oauth.clientCredentialsGrantRequest(as, client, auth, new URLSearchParams(), insecure);
  const token = await oauth.processClientCredentialsResponse(as, client, granted);
  expect(token.token_type).toBe("bearer");

  const list = `${b.apiBaseUrl}/iam/orgs/${b.orgId}/api-keys`;
  const called = await oauth.protectedResourceRequest(token.access_token, "GET", new URL(list), undefined, undefined, insecure);
  expect(called.status).toBe(200);

  const revoked = await oauth.revocationRequest(as, client, auth, token.access_token, insecure);
  await oauth.processRevocationResponse(revoked);
  const refused = await fetch(list, { headers: { authorization: `Bearer ${token.access_token}` } });
  expect(refused.status).toBe(401);
  expect(((await refused.json()) as { code: string }).code).toBe("token_revoked");
});
