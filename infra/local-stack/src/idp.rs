//! A development identity provider: an ES256 key whose JWKS the local stack serves, member tokens
//! signed with it (`make user-token`), and the browser sign-in the console uses (OpenID Connect
//! discovery, the authorization code flow with PKCE S256, a token endpoint). Any subject signs in,
//! without a password. Local only: a deployed stack trusts the real provider.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use shared::domain::Timestamp;

use crate::event::IncomingRequest;

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
/// The scopes the provider knows; others asked for are left out of what it grants.
const SCOPES: [&str; 3] = ["openid", "profile", "email"];
/// The headers of the provider's HTML pages: nothing but the page itself may run or frame it, and
/// the form posts only back to the provider.
const PAGE_HEADERS: [(&str, &str); 6] = [
    ("content-type", "text/html; charset=utf-8"),
    ("cache-control", "no-store"),
    ("content-security-policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
];

/// The provider's signing key.
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

    /// The provider's JWKS document.
    pub fn jwks(&self) -> Value {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &self.pkcs8).expect("a P-256 key");
        let point = pair.public_key().as_ref();
        let (x, y) = (&point[1..33], &point[33..65]);
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
        }]})
    }

    /// A member token for `subject`, issued at `now` (unix seconds) and valid for `ttl_seconds`.
    pub fn token(
        &self,
        issuer: &str,
        audience: &str,
        subject: &str,
        now: i64,
        ttl_seconds: i64,
    ) -> anyhow::Result<String> {
        let claims = json!({
            "iss": issuer, "aud": audience, "sub": subject, "iat": now, "nbf": now, "exp": now + ttl_seconds,
        });
        self.sign(jsonwebtoken::Algorithm::ES256, &claims)
    }

    /// Signs arbitrary claims (tests forge tokens with it).
    pub fn sign(&self, alg: jsonwebtoken::Algorithm, claims: &Value) -> anyhow::Result<String> {
        let mut header = jsonwebtoken::Header::new(alg);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_ec_der(&self.pkcs8))?)
    }
}

/// The development provider as a browser and the console see it, at `{api}/_local/idp`: discovery,
/// the JWKS, the sign-in page, one-time authorization codes, and tokens. Times come from the
/// caller (the stack's clock), so that tests can move them.
pub struct LocalIdp {
    key: Arc<DevIdp>,
    api: String,
    /// Codes issued and not yet redeemed (nor expired), by the code.
    codes: Mutex<HashMap<String, PendingCode>>,
}

impl std::fmt::Debug for LocalIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalIdp").field("issuer", &self.issuer()).finish_non_exhaustive()
    }
}

/// What a code was issued for: the token request must repeat the client and redirect URI, and prove
/// the PKCE verifier of the challenge.
struct PendingCode {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    subject: String,
    nonce: Option<String>,
    scope: String,
    signed_in_at: i64,
    expires_at: i64,
}

/// An authorization request's parameters (the sign-in page's query, then its form).
struct AuthorizeParams {
    response_type: String,
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    code_challenge_method: String,
    state: Option<String>,
    scope: Option<String>,
    nonce: Option<String>,
}

/// A parameter given twice (RFC 6749 §3.1: parameters must not be repeated).
struct Repeated(String);

/// The parameters of a query string or form body; every name at most once.
fn parameters(encoded: &[u8]) -> Result<HashMap<String, String>, Repeated> {
    let mut out = HashMap::new();
    for (name, value) in form_urlencoded::parse(encoded) {
        if out.insert(name.to_string(), value.into_owned()).is_some() {
            return Err(Repeated(name.into_owned()));
        }
    }
    Ok(out)
}

impl AuthorizeParams {
    fn taken_from(mut p: HashMap<String, String>) -> Self {
        let mut take = |name: &str| p.remove(name);
        Self {
            response_type: take("response_type").unwrap_or_default(),
            client_id: take("client_id").unwrap_or_default(),
            redirect_uri: take("redirect_uri").unwrap_or_default(),
            code_challenge: take("code_challenge").unwrap_or_default(),
            code_challenge_method: take("code_challenge_method").unwrap_or_default(),
            state: take("state"),
            scope: take("scope"),
            nonce: take("nonce"),
        }
    }

    /// The hidden fields that carry the request through the sign-in form.
    fn hidden_fields(&self) -> String {
        let mut fields = vec![
            ("response_type", self.response_type.as_str()),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
        ];
        for (name, value) in [("state", &self.state), ("scope", &self.scope), ("nonce", &self.nonce)] {
            if let Some(value) = value {
                fields.push((name, value));
            }
        }
        fields
            .iter()
            .map(|(name, value)| format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(value)))
            .collect::<Vec<_>>()
            .join("\n      ")
    }
}

/// A PKCE S256 challenge or verifier: RFC 7636's unreserved characters, `min..=128` of them.
fn pkce_shaped(text: &str, min: usize) -> bool {
    (min..=128).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Text for HTML content and quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn response(status: u16, headers: &[(&str, &str)], body: Vec<u8>) -> http::Response<Vec<u8>> {
    let mut builder = http::Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body).expect("valid response")
}

fn page(status: u16, title: &str, main: &str) -> http::Response<Vec<u8>> {
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n  \
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n  \
         <title>{title} · development identity provider</title>\n</head>\n<body>\n  <main>\n{main}\n  </main>\n</body>\n</html>\n"
    );
    response(status, &PAGE_HEADERS, body.into_bytes())
}

/// 400: a request the provider will not send anywhere (an unknown client, a redirect URI it does
/// not allow, no PKCE): said on a page, never by redirecting.
fn refusal_page(reason: &str) -> http::Response<Vec<u8>> {
    let main = format!(
        "    <h1>Sign-in request refused</h1>\n    <p>{}</p>\n    \
         <p>The development identity provider signs in only its registered client, <code>{CONSOLE_CLIENT_ID}</code>, \
         back to its registered redirect URI, with a PKCE S256 challenge.</p>",
        escape(reason)
    );
    page(400, "Sign-in request refused", &main)
}

/// RFC 6749 §5.2: a token request's error, 400, as JSON.
fn token_error(error: &str, description: &str) -> http::Response<Vec<u8>> {
    let body = json!({"error": error, "error_description": description}).to_string();
    let headers = [("content-type", "application/json"), ("cache-control", "no-store"), ("pragma", "no-cache")];
    response(400, &headers, body.into_bytes())
}

fn json_response(value: &Value, headers: &[(&str, &str)]) -> http::Response<Vec<u8>> {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    response(200, &all, value.to_string().into_bytes())
}

impl LocalIdp {
    /// The provider of the stack at `api` (`http://127.0.0.1:<port>`), signing with `key`.
    pub fn new(key: Arc<DevIdp>, api: impl Into<String>) -> Self {
        Self { key, api: api.into(), codes: Mutex::new(HashMap::new()) }
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

    /// The OpenID Connect discovery document.
    pub fn discovery(&self) -> Value {
        let issuer = self.issuer();
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{}{JWKS_PATH}", self.api),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "subject_types_supported": ["public"],
            "scopes_supported": SCOPES,
            "token_endpoint_auth_methods_supported": ["none"],
            "claims_supported": ["iss", "sub", "aud", "iat", "exp", "auth_time", "nonce"],
        })
    }

    /// The request's parameters (and the form's subject, if any) if the provider may act on it;
    /// else why not (for the 400 page).
    fn authorization_request(&self, encoded: &[u8]) -> Result<(AuthorizeParams, Option<String>), String> {
        let mut all = parameters(encoded).map_err(|Repeated(name)| format!("The parameter {name} is repeated."))?;
        let subject = all.remove("subject");
        let params = AuthorizeParams::taken_from(all);
        let Some(allowed) = self.redirect_uris(&params.client_id) else {
            return Err(format!("Unknown client_id {:?}.", params.client_id));
        };
        if !allowed.contains(&params.redirect_uri) {
            return Err(format!("The redirect_uri {:?} is not registered for this client.", params.redirect_uri));
        }
        if params.response_type != "code" {
            return Err("Only response_type=code is supported.".into());
        }
        if params.code_challenge_method != "S256" || params.code_challenge.is_empty() {
            return Err("PKCE is required: code_challenge with code_challenge_method=S256.".into());
        }
        // S256: BASE64URL(SHA-256(verifier)), 43 characters.
        if params.code_challenge.len() != 43 || !pkce_shaped(&params.code_challenge, 43) {
            return Err("The code_challenge is not an S256 challenge (43 base64url characters).".into());
        }
        Ok((params, subject))
    }

    /// `GET /authorize`: the sign-in page, or a 400 page.
    fn sign_in_page(&self, query: &[u8]) -> http::Response<Vec<u8>> {
        match self.authorization_request(query) {
            Ok((params, _)) => self.form(200, &params, "", None),
            Err(reason) => refusal_page(&reason),
        }
    }

    fn form(
        &self,
        status: u16,
        params: &AuthorizeParams,
        subject: &str,
        error: Option<&str>,
    ) -> http::Response<Vec<u8>> {
        let (alert, described) = match error {
            Some(error) => (
                format!("    <p id=\"subject-error\" role=\"alert\">{}</p>\n", escape(error)),
                " aria-describedby=\"subject-error\" aria-invalid=\"true\"",
            ),
            None => (String::new(), ""),
        };
        let main = format!(
            "    <h1>Sign in to the development identity provider</h1>\n    \
             <p>Local only: any subject signs in, without a password. Use a member's subject (the demo \
             organisation's owner is <code>demo-owner</code>).</p>\n{alert}    \
             <form method=\"post\" action=\"{ISSUER_PATH}/authorize\">\n      {hidden}\n      \
             <label for=\"subject\">Subject</label>\n      \
             <input id=\"subject\" name=\"subject\" type=\"text\" required autocomplete=\"username\" \
             spellcheck=\"false\" value=\"{value}\"{described}>\n      \
             <button type=\"submit\">Sign in</button>\n    </form>",
            hidden = params.hidden_fields(),
            value = escape(subject),
        );
        page(status, "Sign in", &main)
    }

    /// `POST /authorize`: the sign-in form. A subject gets a one-time code, sent back to the
    /// client's redirect URI with the request's `state`.
    fn sign_in(&self, body: &[u8], now: Timestamp) -> http::Response<Vec<u8>> {
        let (params, given) = match self.authorization_request(body) {
            Ok(found) => found,
            Err(reason) => return refusal_page(&reason),
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
            return self.form(400, &params, &given, Some(problem));
        }
        let mut random = [0u8; 32];
        if getrandom::fill(&mut random).is_err() {
            return page(500, "Sign-in failed", "    <h1>Sign-in failed</h1>\n    <p>No randomness for a code.</p>");
        }
        let code = URL_SAFE_NO_PAD.encode(random);
        let scope = granted_scope(params.scope.as_deref());
        let pending = PendingCode {
            client_id: params.client_id.clone(),
            redirect_uri: params.redirect_uri.clone(),
            code_challenge: params.code_challenge.clone(),
            subject: subject.to_string(),
            nonce: params.nonce.clone(),
            scope,
            signed_in_at: now.unix(),
            expires_at: now.unix() + CODE_TTL_SECONDS,
        };
        {
            let mut codes = self.codes.lock().expect("codes lock");
            codes.retain(|_, c| c.expires_at > now.unix());
            codes.insert(code.clone(), pending);
        }
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
        let form = incoming.headers.iter().any(|(name, value)| {
            name.eq_ignore_ascii_case("content-type")
                && value
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
        if !form {
            return token_error("invalid_request", "the body must be application/x-www-form-urlencoded");
        }
        let mut p = match parameters(&incoming.body) {
            Ok(p) => p,
            Err(Repeated(name)) => return token_error("invalid_request", &format!("{name} is repeated")),
        };
        let mut required = |name: &str| p.remove(name).filter(|v| !v.is_empty());
        let grant_type = required("grant_type");
        let (client_id, code, redirect_uri, verifier) =
            (required("client_id"), required("code"), required("redirect_uri"), required("code_verifier"));
        match grant_type.as_deref() {
            None => return token_error("invalid_request", "grant_type is required"),
            Some("authorization_code") => {}
            Some(_) => return token_error("unsupported_grant_type", "only grant_type=authorization_code is supported"),
        }
        let Some(client_id) = client_id else { return token_error("invalid_request", "client_id is required") };
        if self.redirect_uris(&client_id).is_none() {
            return token_error("invalid_client", "unknown client_id");
        }
        let (Some(code), Some(redirect_uri), Some(verifier)) = (code, redirect_uri, verifier) else {
            return token_error("invalid_request", "code, redirect_uri and code_verifier are required");
        };
        if !pkce_shaped(&verifier, 43) {
            return token_error("invalid_request", "code_verifier must be 43 to 128 unreserved characters (RFC 7636)");
        }
        let Some(pending) = self.codes.lock().expect("codes lock").remove(&code) else {
            return token_error("invalid_grant", "the code is unknown, already used or expired");
        };
        if pending.expires_at <= now.unix() {
            return token_error("invalid_grant", "the code is unknown, already used or expired");
        }
        if pending.client_id != client_id || pending.redirect_uri != redirect_uri {
            return token_error("invalid_grant", "the code was issued to another client or redirect_uri");
        }
        let challenge =
            URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()));
        if aws_lc_rs::constant_time::verify_slices_are_equal(challenge.as_bytes(), pending.code_challenge.as_bytes())
            .is_err()
        {
            return token_error("invalid_grant", "the code_verifier does not match the code_challenge");
        }
        match self.tokens(&pending, now) {
            Ok(body) => json_response(&body, &[("cache-control", "no-store"), ("pragma", "no-cache")]),
            Err(err) => {
                tracing::error!(error = format!("{err:#}"), "the development provider could not sign tokens");
                let headers = [("content-type", "application/json"), ("cache-control", "no-store")];
                response(500, &headers, json!({"error": "server_error"}).to_string().into_bytes())
            }
        }
    }

    /// The access token (a member token, exactly as [`DevIdp::token`] makes it) and the ID token.
    fn tokens(&self, pending: &PendingCode, now: Timestamp) -> anyhow::Result<Value> {
        let issuer = self.issuer();
        let access_token = self.key.token(&issuer, AUDIENCE, &pending.subject, now.unix(), TOKEN_TTL_SECONDS)?;
        let mut claims = json!({
            "iss": issuer, "sub": pending.subject, "aud": pending.client_id,
            "iat": now.unix(), "exp": now.unix() + TOKEN_TTL_SECONDS, "auth_time": pending.signed_in_at,
        });
        if let Some(nonce) = &pending.nonce {
            claims["nonce"] = Value::String(nonce.clone());
        }
        let id_token = self.key.sign(jsonwebtoken::Algorithm::ES256, &claims)?;
        Ok(json!({
            "access_token": access_token, "id_token": id_token, "token_type": "Bearer",
            "expires_in": TOKEN_TTL_SECONDS, "scope": pending.scope,
        }))
    }
}

/// The scopes asked for that the provider knows, in the order asked; `openid` when none.
fn granted_scope(asked: Option<&str>) -> String {
    let mut granted: Vec<&str> = Vec::new();
    for scope in asked.unwrap_or_default().split(' ').filter(|s| SCOPES.contains(s)) {
        if !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    if granted.is_empty() { "openid".into() } else { granted.join(" ") }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_scopes_are_granted_each_once() {
        assert_eq!(granted_scope(Some("openid profile email")), "openid profile email");
        assert_eq!(granted_scope(Some("email openid offline_access email")), "email openid");
        assert_eq!(granted_scope(Some("offline_access")), "openid");
        assert_eq!(granted_scope(None), "openid");
    }

    #[test]
    fn pkce_values_are_unreserved_characters_of_the_right_length() {
        assert!(pkce_shaped("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", 43));
        assert!(pkce_shaped(&"a.b~".repeat(32), 43));
        assert!(!pkce_shaped(&"a".repeat(42), 43));
        assert!(!pkce_shaped(&"a".repeat(129), 43));
        assert!(!pkce_shaped(&format!("{}+", "a".repeat(42)), 43));
    }

    #[test]
    fn page_text_is_escaped() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
