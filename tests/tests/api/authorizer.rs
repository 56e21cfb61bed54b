//! The tenant-API authorizer in front of `GET /demo/whoami`, as API Gateway runs it.

use iam_tests::TestApp;
use serde_json::json;

async fn demo_reader(app: &TestApp) -> String {
    let permissions = json!([{"action": "demo:whoami:read", "resource": "route:/demo/*"}]);
    app.custom_role("demo reader", &["ApiKey", "User"], permissions).await
}

#[tokio::test]
async fn an_allowed_caller_reaches_the_route_with_its_identity() {
    let app = TestApp::new().await;
    let role = demo_reader(&app).await;
    let (principal, key) = app.principal_with_role("tenant client", Some(&role)).await;
    let r = app.call("GET", "/demo/whoami", Some(&key), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["principalId"], principal.as_str());
    assert_eq!(r.body["orgId"], app.org.as_str());
    assert_eq!(r.body["principalType"], "ApiKey");
    assert_eq!(r.body["keyId"], &key[3..23]);
    let token = app.token_for(&key).await;
    assert_eq!(app.bearer_call("GET", "/demo/whoami", &token, None).await.status, 200);
}

#[tokio::test]
async fn refusals_are_api_gateways_own() {
    let app = TestApp::new().await;
    let r = app.call("GET", "/demo/whoami", None, None).await;
    assert_eq!((r.status, r.body["message"].as_str()), (401, Some("Unauthorized")), "no identity source");
    let (_, viewer) = app.principal_with_key("viewer").await;
    let r = app.call("GET", "/demo/whoami", Some(&viewer), None).await;
    assert_eq!((r.status, r.body["message"].as_str()), (403, Some("Forbidden")), "no permission for the route");
    let r = app.call("GET", "/demo/whoami", Some("ik_not_a_key"), None).await;
    assert_eq!(r.status, 403, "not authenticated");
}

#[tokio::test]
async fn direct_api_keys_need_the_org_setting_but_tokens_do_not() {
    let app = TestApp::new().await;
    let other = app.another_org(false).await;
    let r = app.call("GET", "/demo/whoami", Some(&other.api_key), None).await;
    assert_eq!(r.status, 403);
    let token = app.token_for(&other.api_key).await;
    // iam-admin does not grant the demo action: still 403, but now for want of permission.
    assert_eq!(app.bearer_call("GET", "/demo/whoami", &token, None).await.status, 403);
}

#[tokio::test]
async fn nothing_is_cached_so_revocation_applies_to_the_next_request() {
    let app = TestApp::new().await;
    let role = demo_reader(&app).await;
    let (principal, key) = app.principal_with_role("tenant client", Some(&role)).await;
    assert_eq!(app.call("GET", "/demo/whoami", Some(&key), None).await.status, 200);
    app.admin_call("POST", &app.org_path(&format!("/api-keys/{principal}/credentials/{}/revoke", &key[3..23])), None)
        .await;
    assert_eq!(app.call("GET", "/demo/whoami", Some(&key), None).await.status, 403);
}

#[tokio::test]
async fn a_route_without_a_configured_action_is_never_authorized() {
    let app = TestApp::new().await;
    let mut request = aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request::default();
    request.route_key = Some("GET /unmapped".into());
    request.headers.insert("authorization", format!("ApiKey {}", app.admin_key).parse().unwrap());
    let routes = authorizer::RouteActions::parse(r#"{"GET /demo/whoami": "demo:whoami:read"}"#).unwrap();
    assert!(!authorizer::handle(&app.app, &routes, request).await.unwrap().is_authorized);
}
