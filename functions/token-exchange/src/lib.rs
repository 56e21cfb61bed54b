//! Token exchange, introspection, revocation and the public documents: `POST /iam/auth/token`,
//! `POST /iam/auth/introspect` (RFC 7662), `POST /iam/auth/revoke` (RFC 7009), `GET /iam/.well-known/jwks.json`,
//! `GET /iam/.well-known/oauth-authorization-server` (RFC 8414), `GET /iam/openapi.json`.
//!
//! The key arrives as JSON `{"apiKey"}`, as `Authorization: ApiKey …`, or as an OAuth 2.0
//! client-credentials request (form body, client secret in the body or as HTTP Basic); OAuth
//! requests get OAuth's response and error shapes (RFC 6749 §5.1, §5.2). A keyless workload sends
//! its own OIDC token instead, as an RFC 8693 token exchange or an RFC 7523 JWT bearer grant (form
//! bodies), which a workload trust of its organisation must accept.

use base64::Engine;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use shared::App;
use shared::auth::{Action, ApiKey, AuthFailure, Caller, Identity, resources};
use shared::http::body::{MAX_BODY_BYTES, request_bytes};
use shared::http::{ApiError, FieldError, RequestCtx, json_body, json_with, no_store, response};
use shared::service::{federation, tokens};

/// RFC 8693's grant type.
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// RFC 7523's grant type.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The subject token types a token exchange takes (RFC 8693 §3): a JWT, or an OIDC ID token.
const SUBJECT_TOKEN_TYPES: [&str; 2] =
    ["urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:id_token"];
/// What a token exchange issues (RFC 8693 §3).
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

shared::routes! {
    "POST /iam/auth/token" => token, own;
    "GET /iam/.well-known/jwks.json" => jwks, own;
    "GET /iam/.well-known/oauth-authorization-server" => metadata, own;
    "GET /.well-known/oauth-authorization-server/iam" => metadata, own;
    "POST /iam/auth/introspect" => introspect, own;
    "POST /iam/auth/revoke" => revoke, own;
    "GET /iam/openapi.json" => openapi, own;
}

/// The token endpoint: an OAuth request gets OAuth's response and error shapes, a JSON one the API's.
async fn token(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    if !is_oauth(req) {
        return exchange(app, ctx, req).await;
    }
    let used_basic = scheme(req).is_some_and(|(s, _)| s.eq_ignore_ascii_case("basic"));
    Ok(oauth_exchange(app, ctx, req).await.unwrap_or_else(|e| e.into_oauth_response(&ctx.request_id, used_basic)))
}

/// The `Authorization` header as `(scheme, credentials)`, read by the one parser of the header.
fn scheme(req: &Request) -> Option<(&str, &str)> {
    shared::auth::authorization(req.headers())
}

fn media_type(req: &Request) -> String {
    let value = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// An OAuth token request: a form body, or HTTP Basic client authentication.
fn is_oauth(req: &Request) -> bool {
    media_type(req) == "application/x-www-form-urlencoded"
        || scheme(req).is_some_and(|(s, _)| s.eq_ignore_ascii_case("basic"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ExchangeRequest {
    /// Absent when the key comes in the `Authorization: ApiKey` header.
    #[serde(default)]
    api_key: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    audience: Option<String>,
}

/// `resource` (RFC 8707) and `audience` (RFC 8693) name the same thing here: one, or both alike.
fn target(resource: Option<String>, audience: Option<String>) -> Result<Option<String>, ApiError> {
    match (resource, audience) {
        (Some(r), Some(a)) if r != a => Err(invalid("audience", "differs from resource; send one of them")),
        (r, a) => Ok(r.or(a)),
    }
}

fn parse_key(text: &str) -> Result<ApiKey, ApiError> {
    ApiKey::parse(text).map_err(|_| AuthFailure::ApiKeyMalformed.into())
}

/// JSON `{"apiKey"}` or `Authorization: ApiKey`, exactly one of them.
async fn exchange(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let (key, request) = json_client_request(req)?;
    let token = tokens::exchange_for(app, &key, &request, ctx).await?;
    let mut body = serde_json::json!({
        "accessToken": token.token,
        "tokenType": "Bearer",
        "expiresIn": token.expires_in,
        "expiresAt": token.expires_at,
    });
    if let Some(scope) = token.scope {
        body["scope"] = scope.into();
    }
    Ok(json_with(200, &body, &no_store()))
}

/// The key of a JSON-form exchange (no I/O): the body's `apiKey` or the `ApiKey` header, never both.
pub fn json_client_key(req: &Request) -> Result<ApiKey, ApiError> {
    json_client_request(req).map(|(key, _)| key)
}

/// A JSON-form exchange (no I/O): the key (the body's `apiKey` or the `ApiKey` header, never both)
/// and what the body asks beyond it (`scope`, `resource` or `audience`).
fn json_client_request(req: &Request) -> Result<(ApiKey, tokens::TokenRequest), ApiError> {
    let header_key = match scheme(req) {
        Some((s, key)) if s.eq_ignore_ascii_case("apikey") && !key.is_empty() => Some(key.to_string()),
        _ => None,
    };
    let has_body = !request_bytes(req).iter().all(u8::is_ascii_whitespace);
    let body = if has_body { Some(json_body::<ExchangeRequest>(req)?) } else { None };
    let (body_key, scope, resource, audience) = match body {
        Some(b) => (b.api_key, b.scope, b.resource, b.audience),
        None => (None, None, None, None),
    };
    let text = match (header_key, body_key) {
        (Some(_), Some(_)) => {
            return Err(ApiError::InvalidRequest(vec![FieldError::new(
                "apiKey",
                "send the key either in the body or in the Authorization header, not both",
            )]));
        }
        (Some(key), None) | (None, Some(key)) => key,
        (None, None) if has_body => return Err(invalid("apiKey", "is required")),
        (None, None) => return Err(AuthFailure::MissingCredentials.into()),
    };
    Ok((parse_key(&text)?, tokens::TokenRequest { scope, resource: target(resource, audience)? }))
}

/// An OAuth token request: RFC 6749 §4.4 client credentials (`grant_type=client_credentials`,
/// `client_id=ik_<keyId>`, `client_secret=<keySecret>`, the pair in the body or as HTTP Basic, RFC
/// 6749 §2.3.1, never both), or a workload's own token: RFC 8693 (`subject_token`) or RFC 7523
/// (`assertion`).
async fn oauth_exchange(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let (token, issued_token_type) = match oauth_request(req)? {
        OAuthGrant::ClientCredentials(key, request) => (tokens::exchange_for(app, &key, &request, ctx).await?, None),
        OAuthGrant::Workload { token, request, exchange } => {
            (federation::exchange(app, &token, &request, ctx).await?, exchange.then_some(ACCESS_TOKEN_TYPE))
        }
    };
    let mut body = serde_json::json!({
        "access_token": token.token,
        "token_type": "Bearer",
        "expires_in": token.expires_in,
    });
    if let Some(issued) = issued_token_type {
        body["issued_token_type"] = issued.into();
    }
    if let Some(scope) = token.scope {
        body["scope"] = scope.into();
    }
    Ok(json_with(200, &body, &no_store()))
}

/// What an OAuth token request asks for.
enum OAuthGrant {
    ClientCredentials(ApiKey, tokens::TokenRequest),
    /// A workload's own token: `exchange` for RFC 8693 (whose answer names the issued token's
    /// type), else RFC 7523.
    Workload {
        token: String,
        request: tokens::TokenRequest,
        exchange: bool,
    },
}

/// The key of an OAuth client-credentials request (no I/O); another grant is 400.
pub fn oauth_client_key(req: &Request) -> Result<ApiKey, ApiError> {
    match oauth_request(req)? {
        OAuthGrant::ClientCredentials(key, _) => Ok(key),
        OAuthGrant::Workload { .. } => Err(invalid("grant_type", "is not client_credentials")),
    }
}

/// An OAuth token request (no I/O): its grant, and `scope`, `resource` or `audience`.
fn oauth_request(req: &Request) -> Result<OAuthGrant, ApiError> {
    let raw = request_bytes(req);
    if raw.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut params: Vec<(String, String)> = Vec::new();
    for (name, value) in form_urlencoded::parse(raw) {
        if params.iter().any(|(n, _)| *n == name) {
            return Err(invalid(&name, "must not be repeated"));
        }
        params.push((name.into_owned(), value.into_owned()));
    }
    let param = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let owned = |name: &str| param(name).map(String::from);
    let request = || -> Result<tokens::TokenRequest, ApiError> {
        Ok(tokens::TokenRequest { scope: owned("scope"), resource: target(owned("resource"), owned("audience"))? })
    };
    match param("grant_type") {
        None => return Err(invalid("grant_type", "is required")),
        Some("client_credentials") => {}
        Some(grant @ (TOKEN_EXCHANGE | JWT_BEARER)) => {
            // The workload's token is its credential: no client authenticates beside it.
            if scheme(req).is_some_and(|(s, _)| s.eq_ignore_ascii_case("basic")) || param("client_secret").is_some() {
                return Err(invalid(
                    "client_secret",
                    "this grant takes no client authentication: the workload's token is the credential",
                ));
            }
            let exchange = grant == TOKEN_EXCHANGE;
            let token = if exchange {
                if param("actor_token").is_some() {
                    return Err(invalid("actor_token", "delegation is not supported"));
                }
                match param("subject_token_type") {
                    None => return Err(invalid("subject_token_type", "is required")),
                    Some(t) if SUBJECT_TOKEN_TYPES.contains(&t) => {}
                    Some(_) => {
                        return Err(invalid(
                            "subject_token_type",
                            "must be urn:ietf:params:oauth:token-type:jwt or :id_token",
                        ));
                    }
                }
                if param("requested_token_type").is_some_and(|t| t != ACCESS_TOKEN_TYPE) {
                    return Err(invalid(
                        "requested_token_type",
                        "only urn:ietf:params:oauth:token-type:access_token is issued",
                    ));
                }
                param("subject_token")
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| invalid("subject_token", "is required"))?
            } else {
                param("assertion").filter(|t| !t.is_empty()).ok_or_else(|| invalid("assertion", "is required"))?
            };
            return Ok(OAuthGrant::Workload { token: token.to_string(), request: request()?, exchange });
        }
        Some(_) => return Err(ApiError::UnsupportedGrantType),
    }
    let basic = match scheme(req) {
        Some((s, encoded)) if s.eq_ignore_ascii_case("basic") => Some(decode_basic(encoded)?),
        _ => None,
    };
    let (client_id, client_secret) = match (basic, param("client_secret")) {
        (Some(_), Some(_)) => {
            return Err(invalid("client_secret", "use one client authentication method, not two"));
        }
        (Some((id, secret)), None) => {
            if param("client_id").is_some_and(|body_id| body_id != id) {
                return Err(invalid("client_id", "differs from the one in the Authorization header"));
            }
            (id, secret)
        }
        (None, Some(secret)) => match param("client_id") {
            Some(id) => (id.to_string(), secret.to_string()),
            None => return Err(invalid("client_id", "is required with client_secret")),
        },
        (None, None) => return Err(AuthFailure::MissingCredentials.into()),
    };
    let key = parse_key(&format!("{client_id}.{client_secret}"))?;
    Ok(OAuthGrant::ClientCredentials(key, request()?))
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::InvalidRequest(vec![FieldError::new(field, message)])
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`; an undecodable value is a failed client
/// authentication, not a malformed request.
fn decode_basic(encoded: &str) -> Result<(String, String), ApiError> {
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| AuthFailure::MissingCredentials)?;
    let text = String::from_utf8(bytes).map_err(|_| AuthFailure::MissingCredentials)?;
    let (id, secret) = text.split_once(':').ok_or(AuthFailure::MissingCredentials)?;
    let decode = |s: &str| form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Ok((decode(id).unwrap_or_default(), decode(secret).unwrap_or_default()))
}

/// Every public key that may still verify a live token; verifiers may cache it for five minutes.
async fn jwks(app: &App, _: &RequestCtx, _: &Request) -> Result<Response<Body>, ApiError> {
    let now = app.clock.now();
    let keys = app.token_keys().await?.get(now).await;
    let max_age = shared::auth::tokens::JWKS_MAX_AGE_SECONDS;
    Ok(json_with(200, &keys.jwks(now), &[("cache-control", format!("public, max-age={max_age}"))]))
}

/// The OpenAPI document of every route (built into the binary; no I/O).
async fn openapi(_: &App, _: &RequestCtx, _: &Request) -> Result<Response<Body>, ApiError> {
    Ok(response::builder(200)
        .header("content-type", "application/json")
        .header("cache-control", "public, max-age=300")
        .body(Body::from(shared::http::openapi::DOCUMENT))
        .expect("valid response"))
}

/// RFC 8414 authorization-server metadata, from the configured issuer (no I/O). Served at
/// `<issuer>/.well-known/oauth-authorization-server`, beside the JWKS (the issuer has a path, `/iam`).
async fn metadata(app: &App, _: &RequestCtx, _: &Request) -> Result<Response<Body>, ApiError> {
    let issuer = app.config.token_issuer.trim_end_matches('/');
    let body = serde_json::json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/auth/token"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "introspection_endpoint": format!("{issuer}/auth/introspect"),
        "revocation_endpoint": format!("{issuer}/auth/revoke"),
        "grant_types_supported": ["client_credentials", TOKEN_EXCHANGE, JWT_BEARER],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["bearer"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "bearer"],
        "service_documentation": format!("{issuer}/openapi.json"),
    });
    Ok(json_with(200, &body, &[("cache-control", "public, max-age=300".to_string())]))
}

/// RFC 7662 token introspection for a resource server: the caller (an API key, directly or by its
/// access token) holds `iam:tokens:introspect`; the form body names the token. A token of another
/// org, or one that is not valid, is `{"active": false}`.
async fn introspect(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = match app.authenticate(req.headers(), ctx).await? {
        Identity::Principal(caller) => caller,
        Identity::Member { .. } => {
            return Err(ApiError::PrincipalTypeNotAllowed {
                why: "members cannot introspect; resource servers call it with an API key or its access token",
            });
        }
    };
    app.authorize(&caller, Action::TOKENS_INTROSPECT, resources::TOKENS, ctx).await?;
    let token = token_form(req)?;
    let answer = tokens::introspect(app, &caller.org_id, &token).await?;
    Ok(json_with(200, &answer, &no_store()))
}

/// RFC 7009 revocation of one access token. The client authenticates as at the token endpoint's
/// OAuth form (HTTP Basic with its key id and secret) or as on every IAM route (`ApiKey`, or
/// `Bearer` with an access token, which may be the token itself, or a member's token); the form
/// body names the token. 200 with no body, whether or not there was anything to revoke (§2.2).
async fn revoke(app: &App, ctx: &RequestCtx, req: &Request) -> Result<Response<Body>, ApiError> {
    let identity = match scheme(req) {
        Some((s, encoded)) if s.eq_ignore_ascii_case("basic") => {
            let (id, secret) = decode_basic(encoded)?;
            let standing = app.verify_api_key(&parse_key(&format!("{id}.{secret}"))?).await?;
            let record = standing.record;
            Identity::Principal(Caller {
                principal_id: record.credential.principal_id,
                principal_type: standing.principal.principal_type,
                org_id: record.org_id,
                key_id: Some(record.credential.id),
                scope: None,
                rate: None,
            })
        }
        _ => app.authenticate(req.headers(), ctx).await?,
    };
    let token = token_form(req)?;
    tokens::revoke_token(app, identity, &token, ctx).await?;
    let builder = no_store().into_iter().fold(response::builder(200), |b, (name, value)| b.header(name, value));
    Ok(builder.body(Body::Empty).expect("valid response parts"))
}

/// The `token` of an RFC 7662 or RFC 7009 form body (`token_type_hint` is accepted and ignored:
/// only access tokens exist here).
fn token_form(req: &Request) -> Result<String, ApiError> {
    if media_type(req) != "application/x-www-form-urlencoded" {
        return Err(ApiError::UnsupportedMediaType);
    }
    let raw = request_bytes(req);
    if raw.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut token = None;
    for (name, value) in form_urlencoded::parse(raw) {
        match name.as_ref() {
            "token" if token.is_some() => return Err(invalid("token", "must not be repeated")),
            "token" => token = Some(value.into_owned()),
            "token_type_hint" => {}
            other => return Err(invalid(other, "is not a known field")),
        }
    }
    token.filter(|t| !t.is_empty()).ok_or_else(|| invalid("token", "is required"))
}
