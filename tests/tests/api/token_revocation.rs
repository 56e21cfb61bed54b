//! Revocation that reaches issued access tokens: a principal's `tokensValidAfter`, moved by
//! `revoke-tokens`, suspension and revocation, refuses older tokens on IAM routes and at the tenant
//! authorizer, within each container's cache bound (5 s of the clock the tests control).

use iam_tests::{TestApp, TestResponse};
use local_stack::event::IncomingRequest;
use serde_json::json;
use shared::app::TOKEN_REVOCATION_CACHE_SECONDS;

async fn revoke_tokens(app: &TestApp, principal: &str) -> TestResponse {
    app.admin_call("POST", &app.org_path(&format!("/api-keys/{principal}/revoke-tokens")), None).await
}

#[tokio::test]
async fn revoke_tokens_ends_issued_tokens_here_at_once_and_everywhere_within_the_bound() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_role("ci", Some("iam-viewer")).await;
    let token = app.token_for(&key).await;
    let other = app.second_container().await;
    // Each container has its own clock: the two move together.
    let advance = |seconds: i64| {
        app.app.clock.advance(seconds);
        other.app.clock.advance(seconds);
    };
    advance(1);
    assert_eq!(app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await.status, 200);
    // The other container reads the principal now, in the very second of the revocation.
    assert_eq!(other.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await.status, 200);
    let r = revoke_tokens(&app, &principal).await;
    assert_eq!((r.status, r.body["version"].as_u64()), (200, Some(2)), "{:?}", r.body);
    assert_eq!(r.body["tokensValidAfter"], app.at(0));

    // The container that wrote it sees it at once.
    let r = app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await;
    assert_eq!((r.status, r.code()), (401, "token_revoked"));
    // Another container within its cache bound (its read is at most 5 s old), and not a second more.
    advance(TOKEN_REVOCATION_CACHE_SECONDS - 1);
    assert_eq!(other.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await.status, 200);
    advance(1);
    let r = other.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await;
    assert_eq!((r.status, r.code()), (401, "token_revoked"));

    // The keys still work: a token issued after the revocation is good.
    let fresh = app.token_for(&key).await;
    assert_eq!(app.bearer_call("GET", &app.org_path("/api-keys"), &fresh, None).await.status, 200);
    assert_eq!(other.bearer_call("GET", &app.org_path("/api-keys"), &fresh, None).await.status, 200);

    let events = app.admin_call("GET", &app.org_path("/audit-events"), None).await;
    assert_eq!(events.body["items"][0]["action"], "iam:apiKeys:revokeTokens");
    assert_eq!(events.body["items"][0]["target"], format!("iam:api-keys/{principal}"));
}

#[tokio::test]
async fn a_token_of_the_very_second_of_the_revocation_is_refused_too() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_role("ci", Some("iam-viewer")).await;
    assert_eq!(revoke_tokens(&app, &principal).await.status, 200);
    let same_second = app.token_for(&key).await;
    let r = app.bearer_call("GET", &app.org_path("/api-keys"), &same_second, None).await;
    assert_eq!((r.status, r.code()), (401, "token_revoked"));
    app.app.clock.advance(1);
    let next = app.token_for(&key).await;
    assert_eq!(app.bearer_call("GET", &app.org_path("/api-keys"), &next, None).await.status, 200);
}

#[tokio::test]
async fn suspending_or_revoking_a_principal_ends_its_tokens_and_reactivating_does_not_revive_them() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_role("ci", Some("iam-viewer")).await;
    let token = app.token_for(&key).await;
    app.app.clock.advance(1);
    let path = app.org_path(&format!("/api-keys/{principal}"));
    let r = app.admin_call("PATCH", &path, Some(json!({"status": "Suspended"}))).await;
    assert_eq!((r.status, &r.body["tokensValidAfter"]), (200, &json!(app.at(0))));
    let r = app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await;
    assert_eq!((r.status, r.code()), (401, "token_revoked"));

    app.app.clock.advance(1);
    assert_eq!(app.admin_call("PATCH", &path, Some(json!({"status": "Active"}))).await.status, 200);
    let r = app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await;
    assert_eq!((r.status, r.code()), (401, "token_revoked"), "a token issued before the suspension stays refused");
    let fresh = app.token_for(&key).await;
    assert_eq!(app.bearer_call("GET", &app.org_path("/api-keys"), &fresh, None).await.status, 200);

    app.app.clock.advance(1);
    assert_eq!(app.admin_call("PATCH", &path, Some(json!({"status": "Revoked"}))).await.status, 200);
    let r = app.bearer_call("GET", &app.org_path("/api-keys"), &fresh, None).await;
    assert_eq!((r.status, r.code()), (401, "token_revoked"));
}

#[tokio::test]
async fn the_tenant_authorizer_refuses_a_revoked_token() {
    let app = TestApp::new().await;
    let permissions = json!([{"action": "demo:whoami:read", "resource": "route:/demo/*"}]);
    let role = app.custom_role("demo reader", &["ApiKey"], permissions).await;
    let (principal, key) = app.principal_with_role("tenant client", Some(&role)).await;
    let token = app.token_for(&key).await;
    assert_eq!(app.bearer_call("GET", "/demo/whoami", &token, None).await.status, 200);
    app.app.clock.advance(1);
    assert_eq!(revoke_tokens(&app, &principal).await.status, 200);
    let r = app.bearer_call("GET", "/demo/whoami", &token, None).await;
    assert_eq!((r.status, r.body["message"].as_str()), (403, Some("Forbidden")), "API Gateway's own refusal");
}

#[tokio::test]
async fn revoking_tokens_needs_its_own_action() {
    let app = TestApp::new().await;
    let (target, _) = app.principal_with_key("target").await;
    let (_, viewer) = app.principal_with_role("viewer", Some("iam-viewer")).await;
    let r = app.call("POST", &app.org_path(&format!("/api-keys/{target}/revoke-tokens")), Some(&viewer), None).await;
    assert_eq!((r.status, r.code()), (403, "permission_denied"));
    let r = revoke_tokens(&app, "akp_01JD5Z8Q2M3N4P5R6S7T8V9W0X").await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
}

// ---- RFC 7662 introspection and RFC 8414 metadata ------------------------------------------

/// A resource server of the org: an API key whose role grants `iam:tokens:introspect`.
async fn resource_server(app: &TestApp) -> String {
    let permissions = json!([{"action": "iam:tokens:introspect", "resource": "iam:tokens/*"}]);
    let role = app.custom_role("token introspection", &["ApiKey"], permissions).await;
    app.principal_with_role("resource server", Some(&role)).await.1
}

async fn introspect(app: &TestApp, authorization: Option<String>, content_type: &str, body: &str) -> TestResponse {
    let mut incoming =
        IncomingRequest { method: "POST".into(), path: "/iam/auth/introspect".into(), ..Default::default() };
    incoming.headers.push(("Content-Type".into(), content_type.into()));
    if let Some(value) = authorization {
        incoming.headers.push(("Authorization".into(), value));
    }
    incoming.body = body.as_bytes().to_vec();
    app.send(incoming).await
}

fn token_form(token: &str) -> String {
    form_urlencoded::Serializer::new(String::new()).append_pair("token", token).finish()
}

const FORM: &str = "application/x-www-form-urlencoded";

#[tokio::test]
async fn introspection_answers_active_with_the_claims_then_inactive_at_once_after_revocation() {
    let app = TestApp::new().await;
    let server = format!("ApiKey {}", resource_server(&app).await);
    let (principal, key) = app.principal_with_role("client", Some("iam-viewer")).await;
    let token = app.token_for(&key).await;
    let r = introspect(&app, Some(server.clone()), FORM, &token_form(&token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.header("cache-control"), "no-store");
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["sub"], principal.as_str());
    assert_eq!(r.body["client_id"], &key[3..23]);
    assert_eq!(r.body["org_id"], app.org.as_str());
    assert_eq!(r.body["token_type"], "Bearer");
    // Read fresh: another container knows at once, without the verifiers' 5 s cache.
    let other = app.second_container().await;
    app.app.clock.advance(1);
    other.app.clock.advance(1);
    assert_eq!(revoke_tokens(&app, &principal).await.status, 200);
    let r = introspect(&other, Some(server.clone()), FORM, &token_form(&token)).await;
    assert_eq!((r.status, &r.body), (200, &json!({"active": false})));
}

#[tokio::test]
async fn introspection_says_inactive_and_nothing_more_for_bad_expired_and_foreign_tokens() {
    let app = TestApp::new().await;
    let server = format!("ApiKey {}", resource_server(&app).await);
    let inactive = json!({"active": false});
    for bad in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
        let r = introspect(&app, Some(server.clone()), FORM, &token_form(bad)).await;
        assert_eq!((r.status, &r.body), (200, &inactive), "{bad}");
    }
    let other = app.another_org(true).await;
    let foreign = app.token_for(&other.api_key).await;
    let r = introspect(&app, Some(server.clone()), FORM, &token_form(&foreign)).await;
    assert_eq!((r.status, &r.body), (200, &inactive), "a token of another org");
    let (_, key) = app.principal_with_key("short lived").await;
    let token = app.token_for(&key).await;
    app.app.clock.advance(900 + 31);
    let r = introspect(&app, Some(server.clone()), FORM, &token_form(&token)).await;
    assert_eq!((r.status, &r.body), (200, &inactive), "expired");
}

#[tokio::test]
async fn introspection_needs_its_action_and_a_form_with_one_token() {
    let app = TestApp::new().await;
    let (_, key) = app.principal_with_key("client").await;
    let token = app.token_for(&key).await;
    let r = introspect(&app, None, FORM, &token_form(&token)).await;
    assert_eq!((r.status, r.code()), (401, "missing_credentials"));
    let (_, viewer) = app.principal_with_role("viewer", Some("iam-viewer")).await;
    let r = introspect(&app, Some(format!("ApiKey {viewer}")), FORM, &token_form(&token)).await;
    assert_eq!((r.status, r.code()), (403, "permission_denied"));
    let server = format!("ApiKey {}", resource_server(&app).await);
    let r = introspect(&app, Some(server.clone()), "application/json", &json!({"token": token}).to_string()).await;
    assert_eq!((r.status, r.code()), (415, "unsupported_media_type"));
    let r = introspect(&app, Some(server.clone()), FORM, "").await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"));
    let twice = format!("{}&{}", token_form(&token), token_form(&token));
    let r = introspect(&app, Some(server.clone()), FORM, &twice).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"));
    let r = introspect(&app, Some(format!("Bearer {}", app.user_token("test-owner"))), FORM, &token_form(&token)).await;
    assert_eq!(r.status, 403, "members are not resource servers");
}

#[tokio::test]
async fn the_metadata_document_names_the_endpoints_that_answer() {
    let app = TestApp::new().await;
    let r = app.call("GET", "/iam/.well-known/oauth-authorization-server", None, None).await;
    assert_eq!(r.status, 200);
    let issuer = app.app.config.token_issuer.trim_end_matches('/').to_string();
    assert_eq!(r.body["issuer"], issuer.as_str());
    assert_eq!(
        r.body["grant_types_supported"],
        json!([
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        ])
    );
    for (field, path) in [
        ("token_endpoint", "/iam/auth/token"),
        ("jwks_uri", "/iam/.well-known/jwks.json"),
        ("introspection_endpoint", "/iam/auth/introspect"),
        ("revocation_endpoint", "/iam/auth/revoke"),
    ] {
        let url = r.body[field].as_str().unwrap();
        assert_eq!(url.strip_prefix(issuer.trim_end_matches("/iam")), Some(path), "{field}: {url}");
    }
    // RFC 8414 §3's own location for an issuer with a path: the well-known segment inserted before it.
    let inserted = app.call("GET", "/.well-known/oauth-authorization-server/iam", None, None).await;
    assert_eq!((inserted.status, &inserted.body), (200, &r.body));
    // Discovered the way an OAuth client does (RFC 8414 §3: the issuer plus the well-known suffix), the
    // token endpoint exchanges a key with client credentials.
    let (_, key) = app.principal_with_key("discovered").await;
    let (id, secret) = key.split_once('.').unwrap();
    let mut incoming = IncomingRequest { method: "POST".into(), path: "/iam/auth/token".into(), ..Default::default() };
    incoming.headers.push(("Content-Type".into(), FORM.into()));
    incoming.body = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", id)
        .append_pair("client_secret", secret)
        .finish()
        .into_bytes();
    assert_eq!(app.send(incoming).await.status, 200);
}

#[tokio::test]
async fn introspection_says_inactive_once_the_principal_expires_or_is_suspended() {
    let app = TestApp::new().await;
    let server = format!("ApiKey {}", resource_server(&app).await);
    let (principal, key) = app.principal_with_role("expiring", Some("iam-viewer")).await;
    let path = app.org_path(&format!("/api-keys/{principal}"));
    assert_eq!(app.admin_call("PATCH", &path, Some(json!({"expiresAt": app.at(120)}))).await.status, 200);
    let token = app.token_for(&key).await;
    let r = introspect(&app, Some(server.clone()), FORM, &token_form(&token)).await;
    assert_eq!(r.body["active"], true);
    app.app.clock.advance(120);
    let r = introspect(&app, Some(server.clone()), FORM, &token_form(&token)).await;
    assert_eq!((r.status, &r.body), (200, &json!({"active": false})), "the principal expired");
}

#[tokio::test]
async fn a_warm_bearer_call_reads_nothing_for_its_token_and_once_per_bound_for_its_principal() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_role("ci", Some("iam-viewer")).await;
    let token = app.token_for(&key).await;
    let path = app.org_path(&format!("/api-keys/{principal}"));
    assert_eq!(app.bearer_call("GET", &path, &token, None).await.status, 200);
    app.calls.reset();
    assert_eq!(app.bearer_call("GET", &path, &token, None).await.status, 200);
    assert_eq!(app.calls.names(), vec!["GetItem"], "warm: only the route's own read of the principal");
    app.app.clock.advance(TOKEN_REVOCATION_CACHE_SECONDS);
    app.calls.reset();
    assert_eq!(app.bearer_call("GET", &path, &token, None).await.status, 200);
    assert_eq!(app.calls.names(), vec!["GetItem", "GetItem"], "past the bound: tokensValidAfter is read again");
}

async fn revoke_one(app: &TestApp, authorization: Option<String>, body: &str) -> TestResponse {
    let mut incoming = IncomingRequest { method: "POST".into(), path: "/iam/auth/revoke".into(), ..Default::default() };
    incoming.headers.push(("Content-Type".into(), FORM.into()));
    if let Some(value) = authorization {
        incoming.headers.push(("Authorization".into(), value));
    }
    incoming.body = body.as_bytes().to_vec();
    app.send(incoming).await
}

/// `Basic` client authentication with a key, as OAuth clients send it.
fn basic(key: &str) -> String {
    use base64::Engine;
    let (id, secret) = key.split_once('.').unwrap();
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
}

#[tokio::test]
async fn rfc_7009_revokes_one_token_at_once_here_within_the_bound_elsewhere_and_leaves_the_others() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_role("client", Some("iam-viewer")).await;
    let server = format!("ApiKey {}", resource_server(&app).await);
    let other = app.second_container().await;
    let first = app.token_for(&key).await;
    app.app.clock.advance(1);
    other.app.clock.advance(1);
    let second = app.token_for(&key).await;
    for token in [&first, &second] {
        assert_eq!(other.bearer_call("GET", &app.org_path("/api-keys"), token, None).await.status, 200);
    }
    // The client revokes its first token, authenticating as at the token endpoint.
    let r = revoke_one(&app, Some(basic(&key)), &format!("{}&token_type_hint=access_token", token_form(&first))).await;
    assert_eq!((r.status, r.raw.len()), (200, 0), "{:?}", r.body);
    assert_eq!(r.header("cache-control"), "no-store");
    let refused = app.bearer_call("GET", &app.org_path("/api-keys"), &first, None).await;
    assert_eq!((refused.status, refused.code()), (401, "token_revoked"), "at once in this container");
    assert_eq!(app.bearer_call("GET", &app.org_path("/api-keys"), &second, None).await.status, 200, "only that token");
    // Another container: within its cache bound.
    assert_eq!(other.bearer_call("GET", &app.org_path("/api-keys"), &first, None).await.status, 200);
    other.app.clock.advance(TOKEN_REVOCATION_CACHE_SECONDS);
    let r = other.bearer_call("GET", &app.org_path("/api-keys"), &first, None).await;
    assert_eq!((r.status, r.code()), (401, "token_revoked"));
    assert_eq!(other.bearer_call("GET", &app.org_path("/api-keys"), &second, None).await.status, 200);
    // Introspection knows at once.
    let r = introspect(&other, Some(server), FORM, &token_form(&first)).await;
    assert_eq!(r.body, json!({"active": false}));
    // A token revokes itself; a second revocation of it is the same 200.
    let r = revoke_one(&app, Some(format!("Bearer {second}")), &token_form(&second)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(revoke_one(&app, Some(basic(&key)), &token_form(&second)).await.status, 200);
    assert_eq!(app.bearer_call("GET", &app.org_path("/api-keys"), &second, None).await.status, 401);
    let events = app.admin_call("GET", &app.org_path("/audit-events"), None).await;
    assert_eq!(events.body["items"][0]["action"], "iam:tokens:revoke");
    assert_eq!(events.body["items"][0]["target"], format!("iam:api-keys/{principal}"));
}

#[tokio::test]
async fn rfc_7009_says_nothing_of_bad_or_foreign_tokens_and_needs_the_right_to_revoke_anothers() {
    let app = TestApp::new().await;
    let (_, key) = app.principal_with_role("client", Some("iam-viewer")).await;
    let (_, bystander) = app.principal_with_role("bystander", Some("iam-viewer")).await;
    let token = app.token_for(&key).await;
    // Not a token, and another org's token: 200, nothing done.
    assert_eq!(revoke_one(&app, Some(basic(&key)), &token_form("not-a-token")).await.status, 200);
    let foreign = app.another_org(true).await;
    let foreign_token = app.token_for(&foreign.api_key).await;
    let r = revoke_one(&app, Some(basic(&key)), &token_form(&foreign_token)).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        app.bearer_call("GET", &format!("/iam/orgs/{}/api-keys", foreign.org_id), &foreign_token, None).await.status,
        200
    );
    // Another principal of the org without iam:apiKeys:revokeTokens: 403, the token unharmed.
    let r = revoke_one(&app, Some(basic(&bystander)), &token_form(&token)).await;
    assert_eq!((r.status, r.code()), (403, "permission_denied"), "{:?}", r.body);
    assert_eq!(app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await.status, 200);
    // The org's administrator may.
    let r = revoke_one(&app, Some(format!("ApiKey {}", app.admin_key)), &token_form(&token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await.status, 401);
    // No client authentication, a wrong secret, a body without a token.
    assert_eq!(revoke_one(&app, None, &token_form(&token)).await.code(), "missing_credentials");
    let wrong = iam_tests::forged_key(&key[3..23]);
    assert_eq!(revoke_one(&app, Some(basic(&wrong)), &token_form(&token)).await.code(), "invalid_api_key");
    let r = revoke_one(&app, Some(basic(&key)), "token_type_hint=access_token").await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"));
}

#[tokio::test]
async fn a_principal_holds_a_bounded_number_of_revoked_tokens_and_expired_ones_make_room() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_role("client", Some("iam-viewer")).await;
    // Fill the principal's list directly (as 100 revocations would), with tokens that expire in 60 s.
    let expires = app.app.clock.now().plus_seconds(60).unix();
    let entries: Vec<String> = (0..shared::store::REVOKED_TOKENS_CAP).map(|i| format!("{expires}:jti{i}")).collect();
    app.set_principal_attribute(&principal, "revokedTokens", aws_sdk_dynamodb::types::AttributeValue::Ss(entries))
        .await;
    let token = app.token_for(&key).await;
    let r = revoke_one(&app, Some(basic(&key)), &token_form(&token)).await;
    assert_eq!((r.status, r.code()), (409, "revoked_tokens_limit_reached"), "{:?}", r.body);
    assert_eq!(app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await.status, 200);
    // Not while a verifier would still take them (`exp` + its 30 s leeway)...
    app.app.clock.advance(61);
    let token = app.token_for(&key).await;
    assert_eq!(revoke_one(&app, Some(basic(&key)), &token_form(&token)).await.status, 409);
    // ...but once past that, they are pruned and the revocation goes through.
    app.app.clock.advance(30);
    let token = app.token_for(&key).await;
    assert_eq!(revoke_one(&app, Some(basic(&key)), &token_form(&token)).await.status, 200);
    assert_eq!(app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await.status, 401);
}
