//! Token exchange in its three forms, bearer authentication, and the attacks a verifier must refuse.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use iam_tests::reads::Read;
use iam_tests::{FORMS, Form, ISSUER, TestApp, TestResponse, with_checksum};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use local_stack::event::IncomingRequest;
use serde_json::{Value, json};
use shared::auth::tokens::{StoredKey, StoredKeySet};

fn assert_refused(r: &TestResponse, form: Form, code: &str) {
    assert_eq!((r.status, r.code()), (401, code), "{form:?}: {:?}", r.body);
    match form {
        Form::OAuthBody | Form::OAuthBasic => {
            assert_eq!(r.body["error"], "invalid_client", "{form:?}");
            assert_eq!(r.header("content-type"), "application/json");
        }
        _ => assert_eq!(r.header("content-type"), "application/problem+json"),
    }
    if let Form::OAuthBasic = form {
        assert!(r.header("www-authenticate").starts_with("Basic"), "{form:?}");
    }
}

#[tokio::test]
async fn every_form_exchanges_a_key_for_a_token_that_works_on_the_org_routes() {
    let app = TestApp::new().await;
    for form in FORMS {
        let r = app.exchange_as(form, &app.admin_key).await;
        assert_eq!(r.status, 200, "{form:?}: {:?}", r.body);
        assert_eq!(r.header("cache-control"), "no-store");
        let token = match form {
            Form::Json | Form::ApiKeyHeader => {
                assert_eq!((r.body["tokenType"].as_str(), r.body["expiresIn"].as_u64()), (Some("Bearer"), Some(900)));
                assert!(r.body["expiresAt"].is_string());
                r.body["accessToken"].as_str().unwrap().to_string()
            }
            Form::OAuthBody | Form::OAuthBasic => {
                assert_eq!((r.body["token_type"].as_str(), r.body["expires_in"].as_u64()), (Some("Bearer"), Some(900)));
                r.body["access_token"].as_str().unwrap().to_string()
            }
        };
        let r = app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await;
        assert_eq!(r.status, 200, "{form:?}: {:?}", r.body);
    }
}

#[tokio::test]
async fn the_token_carries_the_rfc_9068_header_and_claims() {
    let app = TestApp::new().await;
    let token = app.token_for(&app.admin_key).await;
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!((header.alg, header.typ.as_deref()), (Algorithm::EdDSA, Some("at+jwt")));
    assert_eq!(header.kid.as_deref(), Some(app.signing_keys().await.current.kid.as_str()));
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], shared::Config::DEFAULT_AUDIENCE);
    assert_eq!(claims["sub"], app.admin.as_str());
    assert_eq!(claims["client_id"], &app.admin_key[3..23]);
    assert_eq!(claims["org_id"], app.org.as_str());
    assert_eq!(claims["principal_type"], "ApiKey");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);
    assert!(claims["jti"].as_str().unwrap().starts_with("at_"));
}

#[tokio::test]
async fn every_401_of_the_exchange_in_every_form() {
    let app = TestApp::new().await;
    // One principal and credential per failing state.
    let (_, revoked) = app.principal_with_key("revoked credential").await;
    let (p_revoked_cred, _) = (revoked[3..23].to_string(), ());
    let owner = app.admin_call("GET", &app.org_path("/api-keys?status=Active"), None).await;
    let revoked_owner = owner.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["displayName"] == "revoked credential")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.admin_call(
        "POST",
        &app.org_path(&format!("/api-keys/{revoked_owner}/credentials/{p_revoked_cred}/revoke")),
        None,
    )
    .await;

    let short = app.create_principal("short credential").await;
    app.assign(short["id"].as_str().unwrap(), "iam-viewer").await;
    let r = app
        .admin_call(
            "POST",
            &app.org_path(&format!("/api-keys/{}/credentials", short["id"].as_str().unwrap())),
            Some(json!({"name": "short", "expiresAt": app.at(3600)})),
        )
        .await;
    let expiring = r.body["apiKey"].as_str().unwrap().to_string();

    let (suspended_p, suspended) = app.principal_with_key("suspended").await;
    app.admin_call("PATCH", &app.org_path(&format!("/api-keys/{suspended_p}")), Some(json!({"status": "Suspended"})))
        .await;
    let (revoked_p, principal_revoked) = app.principal_with_key("principal revoked").await;
    app.admin_call("PATCH", &app.org_path(&format!("/api-keys/{revoked_p}")), Some(json!({"status": "Revoked"}))).await;
    let (expiring_p, principal_expiring) = app.principal_with_key("principal expiring").await;
    app.admin_call(
        "PATCH",
        &app.org_path(&format!("/api-keys/{expiring_p}")),
        Some(json!({"expiresAt": app.at(3600)})),
    )
    .await;
    let wrong_secret = format!("{}{}", &app.admin_key[..24], "0".repeat(38));
    let wrong_secret = with_checksum(&wrong_secret[..56]);
    let unknown = with_checksum(&format!("ik_{}.{}", "z".repeat(20), "A".repeat(32)));

    for form in FORMS {
        assert_refused(&app.exchange_as(form, &app.admin_key[..40]).await, form, "api_key_malformed");
        assert_refused(&app.exchange_as(form, &wrong_secret).await, form, "invalid_api_key");
        assert_refused(&app.exchange_as(form, &unknown).await, form, "invalid_api_key");
        assert_refused(&app.exchange_as(form, &revoked).await, form, "credential_revoked");
        assert_refused(&app.exchange_as(form, &suspended).await, form, "principal_suspended");
        assert_refused(&app.exchange_as(form, &principal_revoked).await, form, "principal_revoked");
    }
    app.app.clock.advance(3601);
    for form in FORMS {
        assert_refused(&app.exchange_as(form, &expiring).await, form, "credential_expired");
        assert_refused(&app.exchange_as(form, &principal_expiring).await, form, "principal_expired");
    }
    // Nothing presented at all.
    let none = app.call("POST", "/iam/auth/token", None, None).await;
    assert_eq!((none.status, none.code()), (401, "missing_credentials"));
    let oauth_without_client = app
        .send(IncomingRequest {
            method: "POST".into(),
            path: "/iam/auth/token".into(),
            headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())],
            body: b"grant_type=client_credentials".to_vec(),
            ..Default::default()
        })
        .await;
    assert_refused(&oauth_without_client, Form::OAuthBody, "missing_credentials");
}

#[tokio::test]
async fn oauth_requests_get_oauth_errors() {
    let app = TestApp::new().await;
    let form = |body: &str, basic: Option<&str>| {
        let mut headers = vec![("Content-Type".to_string(), "application/x-www-form-urlencoded".to_string())];
        if let Some(pair) = basic {
            headers.push(("Authorization".into(), format!("Basic {}", STANDARD.encode(pair))));
        }
        IncomingRequest {
            method: "POST".into(),
            path: "/iam/auth/token".into(),
            headers,
            body: body.as_bytes().to_vec(),
            ..Default::default()
        }
    };
    let (id, secret) = app.admin_key.split_once('.').unwrap();
    let r = app.send(form(&format!("client_id={id}&client_secret={secret}"), None)).await;
    assert_eq!((r.status, r.body["error"].as_str(), r.code()), (400, Some("invalid_request"), "invalid_request"));
    let r = app.send(form(&format!("grant_type=password&client_id={id}&client_secret={secret}"), None)).await;
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("unsupported_grant_type")));
    assert_eq!(r.code(), "unsupported_grant_type");
    let both = format!("grant_type=client_credentials&client_secret={secret}");
    let r = app.send(form(&both, Some(&format!("{id}:{secret}")))).await;
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("invalid_request")));
    let twice =
        format!("grant_type=client_credentials&grant_type=client_credentials&client_id={id}&client_secret={secret}");
    let r = app.send(form(&twice, None)).await;
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("invalid_request")));
    // JSON with the key in both places is ambiguous.
    let mut both_json = IncomingRequest {
        method: "POST".into(),
        path: "/iam/auth/token".into(),
        headers: vec![
            ("Authorization".into(), format!("ApiKey {}", app.admin_key)),
            ("Content-Type".into(), "application/json".into()),
        ],
        ..Default::default()
    };
    both_json.body = json!({"apiKey": app.admin_key}).to_string().into_bytes();
    let r = app.send(both_json).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"));
}

#[tokio::test]
async fn the_exchange_ignores_the_direct_api_key_setting() {
    let app = TestApp::new().await;
    let other = app.another_org(false).await;
    let token = app.token_for(&other.api_key).await;
    let r = app.bearer_call("GET", &format!("/iam/orgs/{}/api-keys", other.org_id), &token, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn a_warm_exchange_costs_one_strongly_consistent_read_and_no_write() {
    let app = TestApp::new().await;
    app.token_for(&app.admin_key).await;
    app.calls.reset();
    app.reads.reset();
    app.token_for(&app.admin_key).await;
    assert_eq!(app.calls.names(), vec!["BatchGetItem"], "one request (the credential and its principal), no write");
    // The request itself asks for strongly consistent reads: an eventually consistent one could
    // still see a credential or principal revoked a moment ago as Active.
    assert_eq!(app.reads.reads(), vec![Read::consistent("BatchGetItem")]);
}

#[tokio::test]
async fn a_containers_first_exchange_reads_the_credential_then_its_principal_and_settings_together() {
    let app = TestApp::new().await;
    // Used once already (its lastUsedAt is fresh): the new container has no write to make.
    app.token_for(&app.admin_key).await;
    let cold = app.second_container().await;
    let r = cold.exchange(&app.admin_key).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The credential (which names the principal and the org), then, once the secret verified, the
    // principal and the org's settings in one request: two round trips, not three.
    assert_eq!(cold.calls.names(), vec!["GetItem", "BatchGetItem"]);
    assert_eq!(cold.reads.reads(), vec![Read::consistent("GetItem"), Read::consistent("BatchGetItem")]);
    // The settings read filled the cache: the next exchange is the warm one.
    cold.calls.reset();
    cold.exchange(&app.admin_key).await;
    assert_eq!(cold.calls.names(), vec!["BatchGetItem"]);
}

#[tokio::test]
async fn revoking_stops_new_exchanges_at_once_and_issued_tokens_live_until_exp() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_key("ci").await;
    let token = app.token_for(&key).await;
    app.admin_call("POST", &app.org_path(&format!("/api-keys/{principal}/credentials/{}/revoke", &key[3..23])), None)
        .await;
    assert_eq!(app.exchange(&key).await.code(), "credential_revoked");
    assert_eq!(app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await.status, 200);
    app.app.clock.advance(900 + 30);
    let r = app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await;
    assert_eq!((r.status, r.code()), (401, "token_expired"));
}

#[tokio::test]
async fn the_token_lifetime_follows_the_org_setting() {
    let app = TestApp::new().await;
    app.set_org_attribute("settings.accessTokenTtlSeconds", aws_sdk_dynamodb::types::AttributeValue::N("120".into()))
        .await;
    // The container's settings cache holds the old value for at most a minute.
    assert_eq!(app.exchange(&app.admin_key).await.body["expiresIn"], 900);
    app.app.clock.advance(60);
    let r = app.exchange(&app.admin_key).await;
    assert_eq!(r.body["expiresIn"], 120, "{:?}", r.body);
}

// ---- attacks --------------------------------------------------------------------------------

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

async fn genuine_claims(app: &TestApp) -> (String, Value, Value) {
    let token = app.token_for(&app.admin_key).await;
    let mut parts = token.split('.');
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
    (token, header, claims)
}

/// Signs `claims` with our real current key but with `header` as given (alg EdDSA).
fn sign_with(stored: &StoredKey, header: Header, claims: &Value) -> String {
    let der = stored.pkcs8_der().unwrap();
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&der)).unwrap()
}

fn ed_header(typ: &str, kid: &str) -> Header {
    let mut h = Header::new(Algorithm::EdDSA);
    h.typ = Some(typ.into());
    h.kid = Some(kid.into());
    h
}

async fn refused_with(app: &TestApp, token: &str) -> String {
    let r = app.bearer_call("GET", &app.org_path("/api-keys"), token, None).await;
    assert_eq!(r.status, 401, "{:?}", r.body);
    r.code().to_string()
}

#[tokio::test]
async fn forged_and_altered_tokens_are_refused() {
    let app = TestApp::new().await;
    let keys = app.signing_keys().await;
    let kid = keys.current.kid.clone();
    let (token, header, claims) = genuine_claims(&app).await;
    assert_eq!(app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await.status, 200);

    // alg: none, no signature.
    let mut none = header.clone();
    none["alg"] = json!("none");
    assert_eq!(refused_with(&app, &format!("{}.{}.", b64(&none), b64(&claims))).await, "invalid_token");

    // HS256 keyed with the public key's bytes (the classic key-confusion attack).
    let der = keys.current.pkcs8_der().unwrap();
    let pair = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(&der).unwrap();
    let public = aws_lc_rs::signature::KeyPair::public_key(&pair).as_ref().to_vec();
    let mut hs = Header::new(Algorithm::HS256);
    hs.typ = Some("at+jwt".into());
    hs.kid = Some(kid.clone());
    let confused = jsonwebtoken::encode(&hs, &claims, &EncodingKey::from_secret(&public)).unwrap();
    assert_eq!(refused_with(&app, &confused).await, "invalid_token");
    let x = URL_SAFE_NO_PAD.encode(&public);
    let confused_x = jsonwebtoken::encode(&hs, &claims, &EncodingKey::from_secret(x.as_bytes())).unwrap();
    assert_eq!(refused_with(&app, &confused_x).await, "invalid_token");

    // Properly signed, but wrong in one thing each.
    assert_eq!(refused_with(&app, &sign_with(&keys.current, ed_header("JWT", &kid), &claims)).await, "invalid_token");
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("https://evil.invalid");
    assert_eq!(
        refused_with(&app, &sign_with(&keys.current, ed_header("at+jwt", &kid), &wrong_iss)).await,
        "invalid_token"
    );
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("urn:someone-else");
    assert_eq!(
        refused_with(&app, &sign_with(&keys.current, ed_header("at+jwt", &kid), &wrong_aud)).await,
        "invalid_token"
    );
    let mut expired = claims.clone();
    expired["exp"] = json!(claims["iat"].as_i64().unwrap() - 120);
    assert_eq!(
        refused_with(&app, &sign_with(&keys.current, ed_header("at+jwt", &kid), &expired)).await,
        "token_expired"
    );
    let mut exp_string = claims.clone();
    exp_string["exp"] = json!("99999999999");
    assert_eq!(
        refused_with(&app, &sign_with(&keys.current, ed_header("at+jwt", &kid), &exp_string)).await,
        "invalid_token"
    );
    let mut no_org = claims.clone();
    no_org.as_object_mut().unwrap().remove("org_id");
    assert_eq!(
        refused_with(&app, &sign_with(&keys.current, ed_header("at+jwt", &kid), &no_org)).await,
        "invalid_token"
    );
    assert_eq!(
        refused_with(&app, &sign_with(&keys.current, ed_header("at+jwt", "someone-elses-kid"), &claims)).await,
        "invalid_token"
    );

    // A key the token brings along itself is never trusted.
    let attacker = StoredKey::generate(shared::domain::Timestamp::from_unix(0)).unwrap();
    let mut with_jku = ed_header("at+jwt", &attacker.kid);
    with_jku.jku = Some("https://evil.invalid/jwks.json".into());
    assert_eq!(refused_with(&app, &sign_with(&attacker, with_jku, &claims)).await, "invalid_token");

    // The payload altered after signing (another org), signature kept.
    let mut parts: Vec<&str> = token.split('.').collect();
    let mut altered = claims.clone();
    altered["org_id"] = json!("org_01J00000000000000000000000");
    let altered_payload = b64(&altered);
    parts[1] = &altered_payload;
    assert_eq!(refused_with(&app, &parts.join(".")).await, "invalid_token");
}

#[tokio::test]
async fn a_token_of_another_org_is_refused_on_this_orgs_routes() {
    let app = TestApp::new().await;
    let other = app.another_org(false).await;
    let token = app.token_for(&other.api_key).await;
    let r = app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await;
    assert_eq!((r.status, r.code()), (403, "org_mismatch"));
}

#[tokio::test]
async fn a_token_verifies_with_an_independent_verifier_given_only_the_jwks() {
    let app = TestApp::new().await;
    let token = app.token_for(&app.admin_key).await;
    let jwks = app.call("GET", "/iam/.well-known/jwks.json", None, None).await;
    assert_eq!(jwks.status, 200);
    assert!(jwks.header("cache-control").contains("max-age"));
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    // Python's `cryptography` (a dependency of moto): Ed25519 over `header.payload`, the key found
    // by `kid` in the JWKS, then the header and claims checks of RFC 9068.
    let script = r#"
import base64, json, sys, time
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
jwks, token, issuer = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
d = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
h, p, s = token.split(".")
header, claims = json.loads(d(h)), json.loads(d(p))
assert header["alg"] == "EdDSA" and header["typ"] == "at+jwt", header
key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
assert key["kty"] == "OKP" and key["crv"] == "Ed25519"
Ed25519PublicKey.from_public_bytes(d(key["x"])).verify(d(s), f"{h}.{p}".encode())
assert claims["iss"] == issuer and claims["exp"] > time.time()
try:
    Ed25519PublicKey.from_public_bytes(d(key["x"])).verify(d(s), f"{h}.{p}x".encode())
    sys.exit("a tampered message verified")
except Exception:
    pass
print("verified", claims["sub"])
"#;
    let out = std::process::Command::new(python)
        .args(["-c", script, &jwks.body.to_string(), &token, ISSUER])
        .output()
        .expect("run the venv's python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.trim(), format!("verified {}", app.admin));
}

#[tokio::test]
async fn after_rotation_tokens_of_the_previous_key_verify_until_they_expire() {
    let app = TestApp::new().await;
    let old_token = app.token_for(&app.admin_key).await;
    let old = app.signing_keys().await;
    let now = app.app.clock.now();
    let mut retired = old.current.clone();
    retired.retired_at = Some(now);
    app.put_signing_keys(&StoredKeySet { current: StoredKey::generate(now).unwrap(), previous: Some(retired) }).await;
    // The container re-reads the key set after at most five minutes.
    app.app.clock.advance(301);

    let jwks = app.call("GET", "/iam/.well-known/jwks.json", None, None).await;
    let kids: Vec<_> =
        jwks.body["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect();
    let new = app.signing_keys().await;
    assert_eq!(kids, vec![new.current.kid.clone(), old.current.kid.clone()]);

    let new_token = app.token_for(&app.admin_key).await;
    assert_eq!(jsonwebtoken::decode_header(&new_token).unwrap().kid.unwrap(), new.current.kid);
    assert_eq!(app.bearer_call("GET", &app.org_path("/api-keys"), &old_token, None).await.status, 200);
    assert_eq!(app.bearer_call("GET", &app.org_path("/api-keys"), &new_token, None).await.status, 200);

    app.app.clock.advance(900);
    assert_eq!(refused_with(&app, &old_token).await, "token_expired");
}

#[tokio::test]
async fn a_container_that_has_not_seen_a_new_key_rereads_the_set_once_for_it() {
    let app = TestApp::new().await;
    let lagging = app.second_container().await;
    // The lagging container loads the set before the rotation (and would not re-read it for
    // five minutes).
    let old_token = app.token_for(&app.admin_key).await;
    assert_eq!(lagging.bearer_call("GET", &lagging.org_path("/api-keys"), &old_token, None).await.status, 200);
    let old = app.signing_keys().await;
    let now = app.app.clock.now();
    let mut retired = old.current.clone();
    retired.retired_at = Some(now);
    app.put_signing_keys(&StoredKeySet { current: StoredKey::generate(now).unwrap(), previous: Some(retired) }).await;
    // A container that loads the set now signs with the new key, at the same time.
    let signer = app.second_container().await;
    let new_token = signer.token_for(&app.admin_key).await;
    assert_ne!(
        jsonwebtoken::decode_header(&new_token).unwrap().kid,
        jsonwebtoken::decode_header(&old_token).unwrap().kid
    );
    // The unknown kid makes the lagging container re-read now.
    lagging.calls.reset();
    let r = lagging.bearer_call("GET", &lagging.org_path("/api-keys"), &new_token, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // A token with a kid nobody knows does not make it re-read again within the minute.
    let forged = sign_with(&StoredKey::generate(now).unwrap(), ed_header("at+jwt", "nobody"), &json!({}));
    assert_eq!(refused_with(&lagging, &forged).await, "invalid_token");
}

/// A function that only verifies (every one but token-exchange) is configured with the public half
/// of the signing keys alone: it verifies the tokens token-exchange signs, and cannot sign one.
#[tokio::test]
async fn a_function_that_only_verifies_holds_the_public_keys_and_cannot_sign() {
    let app = TestApp::new().await;
    let token = app.token_for(&app.admin_key).await;
    let verifier = app.container_with(|c| c.signing_keys_secret_id = None).await;
    let r = verifier.bearer_call("GET", &verifier.org_path("/api-keys"), &token, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let jwks = verifier.call("GET", "/iam/.well-known/jwks.json", None, None).await;
    assert_eq!(jwks.body, app.call("GET", "/iam/.well-known/jwks.json", None, None).await.body, "the same public keys");
    let keys = verifier.app.token_keys().await.unwrap().get(verifier.app.clock.now()).await;
    let claims = shared::auth::tokens::AccessClaims {
        iss: "i".into(),
        aud: "a".into(),
        sub: "s".into(),
        client_id: "c".into(),
        org_id: "o".into(),
        principal_type: "ApiKey".into(),
        iat: 0,
        exp: 1,
        jti: "j".into(),
        scope: None,
        act: None,
        allowed_cidrs: Vec::new(),
    };
    assert!(keys.sign(&claims).is_err(), "no private key to sign with");
}
