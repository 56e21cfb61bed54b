//! Every JSON request body, through the same code the handlers run before any I/O: size, media
//! type, syntax, shape (`json_body`), then each body's `check` into its typed command; plus the
//! token exchange's JSON and OAuth-form key readers. Every refusal is rendered as the response the
//! client would get.
//!
//! Input framing (so seeds stay readable): byte 0 picks the body (mod 10, in the order of `KINDS`),
//! byte 1 the Content-Type (mod 5), then the body. For the token exchange the body's first line is
//! the Authorization header value (empty: none) and the rest is the body.
//!
//! Properties: nothing panics; every refusal is a 400, 401, 413 or 415 problem with its stable
//! code; a body the exchange readers accept holds a well-formed key; an accepted display name or
//! member subject holds no code point names refuse (controls, bidirectional controls, invisible,
//! private-use, noncharacters).

#![no_main]

use lambda_http::{Body, Request};
use libfuzzer_sys::fuzz_target;
use shared::domain::{NameError, Timestamp};
use shared::http::{ApiError, json_body};
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

/// An accepted name or subject holds no code point a name may not hold.
fn clean(text: &str) {
    assert!(text.chars().all(|c| NameError::for_char(c).is_none()), "accepted: {text:?}");
}

fn validate(kind: usize, content_type: Option<&str>, data: &[u8], now: Timestamp) -> Result<(), ApiError> {
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
    // Each body's one parser: its shape (`json_body`), then its `check` into a typed command,
    // exactly as the services run them.
    match kind {
        0 => clean(json_body::<CreatePrincipal>(&req)?.check(now)?.display_name.as_str()),
        1 => drop(json_body::<UpdatePrincipal>(&req)?.check(now)?),
        2 => drop(json_body::<IssueCredential>(&req)?.check(now)?),
        3 => drop(json_body::<CreateRole>(&req)?.check()?),
        4 => drop(json_body::<UpdateRole>(&req)?.check()?),
        5 => {
            let member = json_body::<AddMember>(&req)?.check()?;
            clean(&member.subject);
            clean(member.shown.as_str());
        }
        6 => {
            json_body::<UpdateSettings>(&req)?.check()?;
        }
        _ => drop(json_body::<Simulate>(&req)?.check(Some("198.51.100.7"))?),
    }
    Ok(())
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
