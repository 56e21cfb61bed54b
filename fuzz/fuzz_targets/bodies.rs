//! Every JSON request body, through the same code the handlers run before any I/O: size, media
//! type, syntax, shape (`json_body`), then the field checks of `service::Validation`; plus the
//! token exchange's JSON and OAuth-form key readers. Every refusal is rendered as the response the
//! client would get.
//!
//! Input framing (so seeds stay readable): byte 0 picks the body (mod 10, in the order of `KINDS`),
//! byte 1 the Content-Type (mod 5), then the body. For the token exchange the body's first line is
//! the Authorization header value (empty: none) and the rest is the body.
//!
//! Properties: nothing panics; every refusal is a 400, 401, 413 or 415 problem with its stable
//! code; a body the exchange readers accept holds a well-formed key.

#![no_main]

use lambda_http::{Body, Request};
use libfuzzer_sys::fuzz_target;
use shared::domain::Timestamp;
use shared::http::{ApiError, Patch, json_body};
use shared::service::Validation;
use shared::service::credentials::IssueCredential;
use shared::service::members::AddMember;
use shared::service::principals::{CreatePrincipal, UpdatePrincipal};
use shared::service::roles::{CreateRole, UpdateRole};
use shared::service::settings::UpdateSettings;
use shared::service::simulate::Simulate;

const KINDS: [&str; 10] = [
    "createApiKey",
    "updateApiKey",
    "issueCredential",
    "createRole",
    "updateRole",
    "addMember",
    "updateSettings",
    "simulateAuthorization",
    "exchangeToken (JSON)",
    "exchangeToken (OAuth form)",
];

const CONTENT_TYPES: [Option<&str>; 5] = [
    Some("application/json"),
    None,
    Some("application/x-www-form-urlencoded"),
    Some("text/plain"),
    Some("application/merge-patch+json; charset=utf-8"),
];

fn request(content_type: Option<&str>, authorization: Option<&[u8]>, body: &[u8]) -> Request {
    let mut builder = http::Request::builder().method("POST").uri("https://iam.fuzz.test/iam/x");
    if let Some(ct) = content_type {
        builder = builder.header("content-type", ct);
    }
    if let Some(value) = authorization.filter(|a| !a.is_empty()).and_then(|a| http::HeaderValue::from_bytes(a).ok()) {
        builder = builder.header("authorization", value);
    }
    let body = match std::str::from_utf8(body) {
        Ok(text) => Body::Text(text.to_string()),
        Err(_) => Body::Binary(body.to_vec()),
    };
    builder.body(body).expect("request")
}

fn validate(kind: usize, content_type: Option<&str>, data: &[u8], now: Timestamp) -> Result<(), ApiError> {
    let mut v = Validation::default();
    if kind >= 8 {
        let (authorization, body) = match data.iter().position(|&b| b == b'\n') {
            Some(i) => (Some(&data[..i]), &data[i + 1..]),
            None => (None, data),
        };
        let req = request(content_type, authorization, body);
        let key =
            if kind == 8 { token_exchange::json_client_key(&req)? } else { token_exchange::oauth_client_key(&req)? };
        assert_eq!(key.key_id().to_string().len(), 20);
        return Ok(());
    }
    let req = request(content_type, None, data);
    match kind {
        0 => {
            let b: CreatePrincipal = json_body(&req)?;
            v.name("displayName", &b.display_name);
            if let Some(t) = &b.expires_at {
                v.future_time("expiresAt", t, now);
            }
        }
        1 => {
            let b: UpdatePrincipal = json_body(&req)?;
            if let Some(n) = &b.display_name {
                v.name("displayName", n);
            }
            if let Patch::Value(t) = &b.expires_at {
                v.future_time("expiresAt", t, now);
            }
        }
        2 => {
            let b: IssueCredential = json_body(&req)?;
            v.name("name", &b.name);
            if let Some(t) = &b.expires_at {
                v.future_time("expiresAt", t, now);
            }
        }
        3 => {
            let b: CreateRole = json_body(&req)?;
            v.role_name(&b.name);
            if let Some(d) = &b.description {
                v.description(d);
            }
            v.principal_types(&b.principal_types);
            v.permissions(&b.permissions);
        }
        4 => {
            let b: UpdateRole = json_body(&req)?;
            if let Some(n) = &b.name {
                v.role_name(n);
            }
            if let Patch::Value(d) = &b.description {
                v.description(d);
            }
            if let Some(t) = &b.principal_types {
                v.principal_types(t);
            }
            if let Some(p) = &b.permissions {
                v.permissions(p);
            }
        }
        5 => {
            let b: AddMember = json_body(&req)?;
            v.member(&b);
        }
        6 => {
            let b: UpdateSettings = json_body(&req)?;
            b.check()?;
        }
        _ => {
            let b: Simulate = json_body(&req)?;
            b.check(Some("198.51.100.7"))?;
        }
    }
    v.finish()
}

fuzz_target!(|data: &[u8]| {
    let [kind, content_type, body @ ..] = data else { return };
    let kind = *kind as usize % KINDS.len();
    let content_type = CONTENT_TYPES[*content_type as usize % CONTENT_TYPES.len()];
    if let Err(err) = validate(kind, content_type, body, Timestamp::now()) {
        let (status, code) = (err.status(), err.code());
        assert!(matches!(status, 400 | 401 | 413 | 415), "{}: {status} {code}", KINDS[kind]);
        let response = err.into_response("fuzz");
        let problem: serde_json::Value = serde_json::from_slice(response.body()).expect("problem JSON");
        assert_eq!(problem["code"], code);
        assert_eq!(problem["status"], status);
    }
});
