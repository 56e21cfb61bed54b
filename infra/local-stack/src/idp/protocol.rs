//! The OAuth 2.0 and OpenID Connect pieces of the provider: the parameters of authorization and token
//! requests and their checks, PKCE S256, the scopes granted, the tokens it mints (member tokens and
//! ID tokens), its token errors, and its discovery and JWKS documents.

use std::collections::HashMap;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use shared::domain::Timestamp;

use super::codes::Grant;
use super::{AUDIENCE, DevIdp, JWKS_PATH, LocalIdp, TOKEN_TTL_SECONDS, response};
use crate::event::IncomingRequest;

/// The scopes the provider knows; others asked for are left out of what it grants.
const SCOPES: [&str; 3] = ["openid", "profile", "email"];

impl DevIdp {
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

impl LocalIdp {
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
    pub(super) fn authorization_request(&self, encoded: &[u8]) -> Result<(AuthorizeParams, Option<String>), String> {
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

    /// A token request's parameters if they are all there, for a known client, with a verifier of
    /// PKCE's shape; else the error to answer with. Nothing here spends a code.
    pub(super) fn token_request(&self, incoming: &IncomingRequest) -> Result<TokenRequest, TokenError> {
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
            return Err(TokenError::new("invalid_request", "the body must be application/x-www-form-urlencoded"));
        }
        let mut p = parameters(&incoming.body)
            .map_err(|Repeated(name)| TokenError::new("invalid_request", format!("{name} is repeated")))?;
        let mut required = |name: &str| p.remove(name).filter(|v| !v.is_empty());
        let grant_type = required("grant_type");
        let (client_id, code, redirect_uri, code_verifier) =
            (required("client_id"), required("code"), required("redirect_uri"), required("code_verifier"));
        match grant_type.as_deref() {
            None => return Err(TokenError::new("invalid_request", "grant_type is required")),
            Some("authorization_code") => {}
            Some(_) => {
                return Err(TokenError::new(
                    "unsupported_grant_type",
                    "only grant_type=authorization_code is supported",
                ));
            }
        }
        let Some(client_id) = client_id else {
            return Err(TokenError::new("invalid_request", "client_id is required"));
        };
        if self.redirect_uris(&client_id).is_none() {
            return Err(TokenError::new("invalid_client", "unknown client_id"));
        }
        let (Some(code), Some(redirect_uri), Some(code_verifier)) = (code, redirect_uri, code_verifier) else {
            return Err(TokenError::new("invalid_request", "code, redirect_uri and code_verifier are required"));
        };
        if !pkce_shaped(&code_verifier, 43) {
            return Err(TokenError::new(
                "invalid_request",
                "code_verifier must be 43 to 128 unreserved characters (RFC 7636)",
            ));
        }
        Ok(TokenRequest { client_id, code, redirect_uri, code_verifier })
    }

    /// The access token (a member token, exactly as [`DevIdp::token`] makes it) and the ID token.
    pub(super) fn tokens(&self, grant: &Grant, now: Timestamp) -> anyhow::Result<Value> {
        let issuer = self.issuer();
        let access_token = self.key.token(&issuer, AUDIENCE, &grant.subject, now.unix(), TOKEN_TTL_SECONDS)?;
        let mut claims = json!({
            "iss": issuer, "sub": grant.subject, "aud": grant.client_id,
            "iat": now.unix(), "exp": now.unix() + TOKEN_TTL_SECONDS, "auth_time": grant.signed_in_at,
        });
        if let Some(nonce) = &grant.nonce {
            claims["nonce"] = Value::String(nonce.clone());
        }
        let id_token = self.key.sign(jsonwebtoken::Algorithm::ES256, &claims)?;
        Ok(json!({
            "access_token": access_token, "id_token": id_token, "token_type": "Bearer",
            "expires_in": TOKEN_TTL_SECONDS, "scope": grant.scope,
        }))
    }
}

/// An authorization request's parameters (the sign-in page's query, then its form).
pub(super) struct AuthorizeParams {
    pub(super) response_type: String,
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    pub(super) code_challenge: String,
    pub(super) code_challenge_method: String,
    pub(super) state: Option<String>,
    pub(super) scope: Option<String>,
    pub(super) nonce: Option<String>,
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
}

/// A token request's parameters (authorization code grant with PKCE), each given and not empty.
pub(super) struct TokenRequest {
    pub(super) client_id: String,
    pub(super) code: String,
    pub(super) redirect_uri: String,
    pub(super) code_verifier: String,
}

/// RFC 6749 §5.2: why a token request is refused, an `error` code and its description.
pub(super) struct TokenError {
    error: &'static str,
    description: String,
}

impl TokenError {
    pub(super) fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self { error, description: description.into() }
    }

    /// The error's answer: 400, as JSON.
    pub(super) fn response(&self) -> http::Response<Vec<u8>> {
        let body = json!({"error": self.error, "error_description": self.description}).to_string();
        let headers = [("content-type", "application/json"), ("cache-control", "no-store"), ("pragma", "no-cache")];
        response(400, &headers, body.into_bytes())
    }
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

/// A PKCE S256 challenge or verifier: RFC 7636's unreserved characters, `min..=128` of them.
fn pkce_shaped(text: &str, min: usize) -> bool {
    (min..=128).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `challenge` is the S256 challenge of `verifier`, BASE64URL(SHA-256(verifier)), compared
/// in constant time.
pub(super) fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()));
    aws_lc_rs::constant_time::verify_slices_are_equal(computed.as_bytes(), challenge.as_bytes()).is_ok()
}

/// The scopes asked for that the provider knows, in the order asked; `openid` when none.
pub(super) fn granted_scope(asked: Option<&str>) -> String {
    let mut granted: Vec<&str> = Vec::new();
    for scope in asked.unwrap_or_default().split(' ').filter(|s| SCOPES.contains(s)) {
        if !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    if granted.is_empty() { "openid".into() } else { granted.join(" ") }
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
    fn the_s256_challenge_is_checked_against_the_verifier() {
        // RFC 7636 appendix B.
        let (verifier, challenge) =
            ("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(pkce_s256_matches(verifier, challenge));
        assert!(!pkce_s256_matches(&"a".repeat(43), challenge));
        assert!(!pkce_s256_matches(verifier, &challenge[..42]));
    }

    #[test]
    fn a_repeated_parameter_is_named() {
        let Err(Repeated(name)) = parameters(b"a=1&b=2&a=3") else { panic!("a repeated parameter is refused") };
        assert_eq!(name, "a");
        assert_eq!(parameters(b"a=1&b=x%20y").ok().and_then(|p| p.get("b").cloned()).as_deref(), Some("x y"));
    }
}
