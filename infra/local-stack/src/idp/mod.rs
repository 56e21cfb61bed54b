//! A development identity provider: an ES256 key whose JWKS the local stack serves, member tokens
//! signed with it (`make user-token`), and the browser sign-in the console uses (OpenID Connect
//! discovery, the authorization code flow with PKCE S256, a token endpoint). Any subject signs in,
//! without a password. Local only: a deployed stack trusts the real provider.
//!
//! Here: the key ([`DevIdp`]), the provider as the stack serves it ([`LocalIdp`]) and its routes;
//! `pages` holds its HTML, `protocol` the OAuth and OpenID Connect pieces (requests, PKCE, tokens,
//! documents) and `codes` its authorization codes.

mod codes;
mod pages;
mod protocol;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use shared::domain::Timestamp;

use crate::event::IncomingRequest;
use codes::{Codes, Grant};
use protocol::{TokenError, granted_scope};

/// Where the local stack serves the provider's keys, and the issuer it uses.
pub const JWKS_PATH: &str = "/_local/idp/jwks.json";
/// The issuer path under the stack's base URL.
pub const ISSUER_PATH: &str = "/_local/idp";
/// The audience of the development provider's tokens.
pub const AUDIENCE: &str = "urn:infuse:iam-console";
/// The console's client id at the provider (a public client: PKCE, no secret).
pub const CONSOLE_CLIENT_ID: &str = "iam-console";
/// Where the provider sends the console back, under the stack's base URL: its only redirect URI.
pub const CONSOLE_CALLBACK_PATH: &str = "/console/callback";
/// An authorization code is redeemable this long after sign-in, once.
pub const CODE_TTL_SECONDS: i64 = 60;
/// The lifetime of the tokens the token endpoint issues.
pub const TOKEN_TTL_SECONDS: i64 = 3600;

/// The provider's signing key (its JWKS and the tokens it signs: `protocol`).
pub struct DevIdp {
    kid: String,
    pkcs8: Vec<u8>,
}

impl DevIdp {
    /// A new P-256 key.
    pub fn generate() -> anyhow::Result<Self> {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| anyhow::anyhow!("generate a P-256 key"))?;
        let mut kid = [0u8; 9];
        getrandom::fill(&mut kid)?;
        Ok(Self { kid: format!("dev-{}", URL_SAFE_NO_PAD.encode(kid)), pkcs8: pkcs8.as_ref().to_vec() })
    }

    /// Saves the key (mode 0600) for `iam-admin user-token`.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let body = json!({"kid": self.kid, "privateKeyPkcs8": STANDARD.encode(&self.pkcs8)}).to_string();
        let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
        file.write_all(body.as_bytes())?;
        Ok(())
    }

    /// Loads a saved key.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {} (is make dev running?)", path.display()))?;
        let v: Value = serde_json::from_str(&text)?;
        let kid = v["kid"].as_str().context("kid")?.to_string();
        let pkcs8 = STANDARD.decode(v["privateKeyPkcs8"].as_str().context("privateKeyPkcs8")?)?;
        Ok(Self { kid, pkcs8 })
    }
}

/// The development provider as a browser and the console see it, at `{api}/_local/idp`: discovery,
/// the JWKS, the sign-in page, one-time authorization codes, and tokens. Times come from the
/// caller (the stack's clock), so that tests can move them.
pub struct LocalIdp {
    key: Arc<DevIdp>,
    api: String,
    /// Codes issued and not yet redeemed (nor expired), by the code.
    codes: Codes,
}

impl std::fmt::Debug for LocalIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalIdp").field("issuer", &self.issuer()).finish_non_exhaustive()
    }
}

impl LocalIdp {
    /// The provider of the stack at `api` (`http://127.0.0.1:<port>`), signing with `key`.
    pub fn new(key: Arc<DevIdp>, api: impl Into<String>) -> Self {
        Self { key, api: api.into(), codes: Codes::default() }
    }

    /// `{api}/_local/idp`.
    pub fn issuer(&self) -> String {
        format!("{}{ISSUER_PATH}", self.api)
    }

    /// The redirect URIs `client_id` may be sent back to; `None` for a client the provider does not know.
    fn redirect_uris(&self, client_id: &str) -> Option<Vec<String>> {
        (client_id == CONSOLE_CLIENT_ID).then(|| vec![format!("{}{CONSOLE_CALLBACK_PATH}", self.api)])
    }

    /// The provider's answer to `incoming`, when its path is one of the provider's; `now` is the
    /// stack's clock.
    pub fn answer(&self, incoming: &IncomingRequest, now: Timestamp) -> Option<http::Response<Vec<u8>>> {
        let rest = incoming.path.strip_prefix(ISSUER_PATH)?;
        Some(match (incoming.method.to_ascii_uppercase().as_str(), rest) {
            ("GET" | "HEAD", "/jwks.json") => json_response(&self.key.jwks(), &[]),
            ("GET" | "HEAD", "/.well-known/openid-configuration") => json_response(&self.discovery(), &[]),
            ("GET" | "HEAD", "/authorize") => self.sign_in_page(incoming.query.as_bytes()),
            ("POST", "/authorize") => self.sign_in(&incoming.body, now),
            ("POST", "/token") => self.token(incoming, now),
            _ => return None,
        })
    }

    /// `GET /authorize`: the sign-in page, or a 400 page.
    fn sign_in_page(&self, query: &[u8]) -> http::Response<Vec<u8>> {
        match self.authorization_request(query) {
            Ok((params, _)) => pages::sign_in_form(200, &params, "", None),
            Err(reason) => pages::refusal_page(&reason),
        }
    }

    /// `POST /authorize`: the sign-in form. A subject gets a one-time code, sent back to the
    /// client's redirect URI with the request's `state`.
    fn sign_in(&self, body: &[u8], now: Timestamp) -> http::Response<Vec<u8>> {
        let (params, given) = match self.authorization_request(body) {
            Ok(found) => found,
            Err(reason) => return pages::refusal_page(&reason),
        };
        let given = given.unwrap_or_default();
        let subject = given.trim();
        let problem = if subject.is_empty() {
            Some("Enter a subject.")
        } else if subject.len() > 255 {
            Some("A subject is at most 255 bytes.")
        } else if subject.chars().any(char::is_control) {
            Some("A subject holds no control characters.")
        } else {
            None
        };
        if let Some(problem) = problem {
            return pages::sign_in_form(400, &params, &given, Some(problem));
        }
        let grant = Grant {
            client_id: params.client_id.clone(),
            redirect_uri: params.redirect_uri.clone(),
            code_challenge: params.code_challenge.clone(),
            subject: subject.to_string(),
            nonce: params.nonce.clone(),
            scope: granted_scope(params.scope.as_deref()),
            signed_in_at: now.unix(),
        };
        let Ok(code) = self.codes.issue(grant, now) else { return pages::no_randomness_page() };
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("code", &code);
        if let Some(state) = &params.state {
            query.append_pair("state", state);
        }
        let location = format!("{}?{}", params.redirect_uri, query.finish());
        response(302, &[("location", &location), ("cache-control", "no-store")], Vec::new())
    }

    /// `POST /token`: an authorization code and its PKCE verifier for the member's tokens. The code
    /// is spent by the first request that names it, whatever that request's fate.
    fn token(&self, incoming: &IncomingRequest, now: Timestamp) -> http::Response<Vec<u8>> {
        let request = match self.token_request(incoming) {
            Ok(request) => request,
            Err(refusal) => return refusal.response(),
        };
        let redeemed =
            self.codes.redeem(&request.code, &request.client_id, &request.redirect_uri, &request.code_verifier, now);
        let grant = match redeemed {
            Ok(grant) => grant,
            Err(refused) => return TokenError::new("invalid_grant", refused.description()).response(),
        };
        match self.tokens(&grant, now) {
            Ok(body) => json_response(&body, &[("cache-control", "no-store"), ("pragma", "no-cache")]),
            Err(err) => {
                tracing::error!(error = format!("{err:#}"), "the development provider could not sign tokens");
                let headers = [("content-type", "application/json"), ("cache-control", "no-store")];
                response(500, &headers, json!({"error": "server_error"}).to_string().into_bytes())
            }
        }
    }
}

/// A response of `status` with `headers` and `body`.
fn response(status: u16, headers: &[(&str, &str)], body: Vec<u8>) -> http::Response<Vec<u8>> {
    let mut builder = http::Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body).expect("valid response")
}

/// 200: `value` as JSON, with `headers` besides the content type.
fn json_response(value: &Value, headers: &[(&str, &str)]) -> http::Response<Vec<u8>> {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    response(200, &all, value.to_string().into_bytes())
}

/// Serves one JWKS document at any path, counting requests (the tests' provider).
pub async fn serve_jwks(
    listener: tokio::net::TcpListener,
    jwks: Arc<std::sync::RwLock<Value>>,
    hits: Arc<AtomicUsize>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { return };
        let (jwks, hits) = (jwks.clone(), hits.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |_req| {
                hits.fetch_add(1, Ordering::SeqCst);
                let body = jwks.read().expect("jwks lock").to_string();
                async move {
                    Ok::<_, std::convert::Infallible>(
                        http::Response::builder()
                            .header("content-type", "application/json")
                            .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
                            .expect("valid response"),
                    )
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}
