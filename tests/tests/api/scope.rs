//! Down-scoped exchange (RFC 8693 `scope`, RFC 8707 `resource`): a token narrower than its
//! principal's roles, enforced by the IAM routes, the tenant authorizer, the grant rule and
//! explained by `/authorize`.

use iam_tests::{TestApp, TestResponse};
use local_stack::event::IncomingRequest;
use serde_json::{Value, json};

async fn scoped(app: &TestApp, key: &str, body: Value) -> TestResponse {
    let mut body = body;
    body["apiKey"] = key.into();
    app.call("POST", "/iam/auth/token", None, Some(body)).await
}

async fn scoped_token(app: &TestApp, key: &str, scope: &str) -> String {
    let r = scoped(app, key, json!({"scope": scope})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["scope"], scope);
    r.body["accessToken"].as_str().unwrap().to_string()
}

async fn oauth(app: &TestApp, key: &str, extra: &[(&str, &str)]) -> TestResponse {
    let (id, secret) = key.split_once('.').unwrap();
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials")
        .append_pair("client_id", id)
        .append_pair("client_secret", secret);
    for (k, v) in extra {
        form.append_pair(k, v);
    }
    let mut incoming = IncomingRequest { method: "POST".into(), path: "/iam/auth/token".into(), ..Default::default() };
    incoming.headers.push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
    incoming.body = form.finish().into_bytes();
    app.send(incoming).await
}

#[tokio::test]
async fn a_scoped_token_does_only_what_its_scope_names_within_its_roles() {
    let app = TestApp::new().await;
    let (_, key) = app.principal_with_role("narrow", Some("iam-admin")).await;
    let token = scoped_token(&app, &key, "iam:apiKeys:list iam:apiKeys:read").await;
    assert_eq!(app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await.status, 200);
    let r = app.bearer_call("POST", &app.org_path("/api-keys"), &token, Some(json!({"displayName": "x"}))).await;
    assert_eq!((r.status, r.code()), (403, "scope_not_granted"));
    assert!(r.body["detail"].as_str().unwrap().contains("iam:apiKeys:create"), "{:?}", r.body);
    // The same key unscoped still does everything its roles grant.
    let full = app.token_for(&key).await;
    let r = app.bearer_call("POST", &app.org_path("/api-keys"), &full, Some(json!({"displayName": "x"}))).await;
    assert_eq!(r.status, 201);
    // The OAuth form takes `scope` too and answers it.
    let r = oauth(&app, &key, &[("scope", "iam:*")]).await;
    assert_eq!((r.status, r.body["scope"].as_str()), (200, Some("iam:*")), "{:?}", r.body);
}

#[tokio::test]
async fn asking_for_more_than_the_roles_grant_is_invalid_scope() {
    let app = TestApp::new().await;
    let (_, key) = app.principal_with_role("viewer", Some("iam-viewer")).await;
    let r = scoped(&app, &key, json!({"scope": "iam:apiKeys:read iam:apiKeys:create"})).await;
    assert_eq!((r.status, r.code()), (400, "invalid_scope"));
    assert!(r.body["detail"].as_str().unwrap().contains("iam:apiKeys:create"));
    let r = scoped(&app, &key, json!({"scope": "iam:*"})).await;
    assert_eq!((r.status, r.code()), (400, "invalid_scope"), "a wider pattern than any granted");
    for bad in ["", "read", "iam::read"] {
        let r = scoped(&app, &key, json!({"scope": bad})).await;
        assert_eq!((r.status, r.code()), (400, "invalid_scope"), "{bad:?}");
    }
    let r = oauth(&app, &key, &[("scope", "iam:roles:delete")]).await;
    assert_eq!((r.status, r.body["error"].as_str(), r.code()), (400, Some("invalid_scope"), "invalid_scope"));
    // A scope within the roles: iam-viewer grants iam:apiKeys:read.
    scoped_token(&app, &key, "iam:apiKeys:read").await;
}

#[tokio::test]
async fn a_resource_or_audience_must_be_this_services() {
    let app = TestApp::new().await;
    let (_, key) = app.principal_with_role("client", Some("iam-viewer")).await;
    let audience = app.app.config.token_audience.clone();
    assert_eq!(scoped(&app, &key, json!({"resource": audience})).await.status, 200);
    assert_eq!(scoped(&app, &key, json!({"audience": audience})).await.status, 200);
    let r = scoped(&app, &key, json!({"resource": "https://elsewhere.example"})).await;
    assert_eq!((r.status, r.code()), (400, "invalid_target"));
    let r = scoped(&app, &key, json!({"resource": audience, "audience": "https://elsewhere.example"})).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"));
    let r = oauth(&app, &key, &[("resource", "https://elsewhere.example")]).await;
    assert_eq!((r.status, r.body["error"].as_str()), (400, Some("invalid_target")));
}

#[tokio::test]
async fn the_key_in_the_header_and_the_scope_in_the_body() {
    let app = TestApp::new().await;
    let (_, key) = app.principal_with_role("client", Some("iam-viewer")).await;
    let r = app.call("POST", "/iam/auth/token", Some(&key), Some(json!({"scope": "iam:apiKeys:read"}))).await;
    assert_eq!((r.status, r.body["scope"].as_str()), (200, Some("iam:apiKeys:read")), "{:?}", r.body);
    let r = app
        .call("POST", "/iam/auth/token", Some(&key), Some(json!({"apiKey": key, "scope": "iam:apiKeys:read"})))
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"), "the key in both places");
    let r = app.call("POST", "/iam/auth/token", None, Some(json!({"scope": "iam:apiKeys:read"}))).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"), "no key at all, but a body");
}

#[tokio::test]
async fn the_tenant_authorizer_enforces_the_scope() {
    let app = TestApp::new().await;
    let permissions = json!([
        {"action": "demo:whoami:read", "resource": "route:/demo/*"},
        {"action": "iam:apiKeys:read", "resource": "*"}
    ]);
    let role = app.custom_role("demo and read", &["ApiKey"], permissions).await;
    let (_, key) = app.principal_with_role("tenant client", Some(&role)).await;
    let demo = scoped_token(&app, &key, "demo:whoami:read").await;
    assert_eq!(app.bearer_call("GET", "/demo/whoami", &demo, None).await.status, 200);
    let iam_only = scoped_token(&app, &key, "iam:apiKeys:read").await;
    let r = app.bearer_call("GET", "/demo/whoami", &iam_only, None).await;
    assert_eq!((r.status, r.body["message"].as_str()), (403, Some("Forbidden")));
}

#[tokio::test]
async fn a_scoped_token_cannot_grant_beyond_its_scope() {
    let app = TestApp::new().await;
    let (_, key) = app.principal_with_role("assigner", Some("iam-admin")).await;
    let target = app.create_principal("target").await["id"].as_str().unwrap().to_string();
    let token = scoped_token(&app, &key, "iam:roleAssignments:assign").await;
    let path = app.org_path(&format!("/principals/{target}/role-assignments/iam-viewer"));
    let r = app.bearer_call("PUT", &path, &token, None).await;
    assert_eq!((r.status, r.code()), (403, "escalation_denied"), "iam-viewer's actions are outside the scope");
    let wide = scoped_token(&app, &key, "iam:roleAssignments:assign iam:apiKeys:* iam:credentials:* iam:roles:* iam:roleAssignments:* iam:members:* iam:settings:* iam:audit:* iam:workloadTrusts:*").await;
    assert_eq!(app.bearer_call("PUT", &path, &wide, None).await.status, 201);
}

#[tokio::test]
async fn authorize_explains_a_scope_denial() {
    let app = TestApp::new().await;
    let (asker, key) = app.principal_with_role("asker", Some("iam-admin")).await;
    let token = scoped_token(&app, &key, "iam:authorize:simulate iam:apiKeys:read").await;
    // Naming itself is asking about itself.
    let body = json!({"principalId": asker, "action": "iam:apiKeys:create"});
    let r = app.bearer_call("POST", &app.org_path("/authorize"), &token, Some(body)).await;
    assert_eq!(
        (r.status, r.body["decision"].as_str(), r.body["code"].as_str()),
        (200, Some("Deny"), Some("scope_not_granted")),
        "{:?}",
        r.body
    );
    let r = app
        .bearer_call("POST", &app.org_path("/authorize"), &token, Some(json!({"action": "iam:apiKeys:create"})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!((r.body["decision"].as_str(), r.body["code"].as_str()), (Some("Deny"), Some("scope_not_granted")));
    let last = r.body["checks"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["check"].as_str(), last["passed"].as_bool()), (Some("scope"), Some(false)));
    let r =
        app.bearer_call("POST", &app.org_path("/authorize"), &token, Some(json!({"action": "iam:apiKeys:read"}))).await;
    assert_eq!(r.body["decision"], "Allow", "{:?}", r.body);
}
