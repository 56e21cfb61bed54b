//! Revocation that reaches issued access tokens: a principal's `tokensValidAfter`, moved by
//! `revoke-tokens`, suspension and revocation, refuses older tokens on IAM routes and at the tenant
//! authorizer, within each container's cache bound (5 s of the clock the tests control).

use iam_tests::TestApp;
use serde_json::json;
use shared::app::TOKEN_REVOCATION_CACHE_SECONDS;

async fn revoke_tokens(app: &TestApp, principal: &str) -> iam_tests::TestResponse {
    app.admin_call("POST", &app.org_path(&format!("/api-keys/{principal}/revoke-tokens")), None).await
}

#[tokio::test]
async fn revoke_tokens_ends_issued_tokens_here_at_once_and_everywhere_within_the_bound() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_role("ci", Some("iam-viewer")).await;
    let token = app.token_for(&key).await;
    let other = app.second_container().await;
    assert_eq!(app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await.status, 200);
    assert_eq!(other.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await.status, 200);

    // Each container has its own clock: the two move together.
    let advance = |seconds: i64| {
        app.app.clock.advance(seconds);
        other.app.clock.advance(seconds);
    };
    advance(1);
    let r = revoke_tokens(&app, &principal).await;
    assert_eq!((r.status, r.body["version"].as_u64()), (200, Some(2)), "{:?}", r.body);
    assert_eq!(r.body["tokensValidAfter"], app.at(0));

    // The container that wrote it sees it at once.
    let r = app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await;
    assert_eq!((r.status, r.code()), (401, "token_revoked"));
    // Another container within its cache bound, and no later.
    assert_eq!(other.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await.status, 200);
    advance(TOKEN_REVOCATION_CACHE_SECONDS);
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
