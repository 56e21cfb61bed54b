//! Last use: the time, the source address and the route, written together by one throttled
//! conditional update (at most one per credential per interval), so a warm request stays one read.

use iam_tests::{TestApp, TestResponse};
use local_stack::event::IncomingRequest;
use serde_json::{Value, json};

/// `GET /iam/orgs/<org>/api-keys` with `key`, from `ip`.
async fn list_from(app: &TestApp, key: &str, ip: &str) -> TestResponse {
    app.send(IncomingRequest {
        method: "GET".into(),
        path: app.org_path("/api-keys"),
        headers: vec![("Authorization".into(), format!("ApiKey {key}"))],
        source_ip: ip.into(),
        ..Default::default()
    })
    .await
}

/// The credential of `key` as the administrator lists it.
async fn credential(app: &TestApp, principal: &str, key: &str) -> Value {
    let r = app.admin_call("GET", &app.org_path(&format!("/api-keys/{principal}/credentials?status=all")), None).await;
    r.body["items"].as_array().unwrap().iter().find(|c| c["id"] == key[3..23]).unwrap().clone()
}

#[tokio::test]
async fn the_last_use_records_its_address_and_route_once_per_interval() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_key("ci").await;
    let fresh = credential(&app, &principal, &key).await;
    assert_eq!(
        (fresh["lastUsedAt"].clone(), fresh["lastUsedIp"].clone(), fresh["lastUsedRoute"].clone()),
        (Value::Null, Value::Null, Value::Null)
    );

    assert_eq!(list_from(&app, &key, "198.51.100.7").await.status, 200);
    let used = credential(&app, &principal, &key).await;
    assert_eq!(used["lastUsedAt"], app.at(0));
    assert_eq!(used["lastUsedIp"], "198.51.100.7");
    assert_eq!(used["lastUsedRoute"], "GET /iam/orgs/{orgId}/api-keys");

    // Within the interval nothing is written, whatever the address or route.
    app.app.clock.advance(60);
    app.calls.reset();
    assert_eq!(list_from(&app, &key, "203.0.113.9").await.status, 200);
    assert_eq!(app.exchange(&key).await.status, 200);
    assert!(!app.calls.names().iter().any(|n| n == "UpdateItem"), "{:?}", app.calls.names());
    assert_eq!(credential(&app, &principal, &key).await, used);

    // After it, the next use writes all three at once: one UpdateItem.
    app.app.clock.advance(300);
    app.calls.reset();
    let exchanged = app
        .send(IncomingRequest {
            method: "POST".into(),
            path: "/iam/auth/token".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: json!({"apiKey": key}).to_string().into_bytes(),
            source_ip: "2001:db8::1".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(exchanged.status, 200);
    assert_eq!(app.calls.names().iter().filter(|n| *n == "UpdateItem").count(), 1, "{:?}", app.calls.names());
    let again = credential(&app, &principal, &key).await;
    assert_eq!(
        (again["lastUsedAt"].as_str(), again["lastUsedIp"].as_str()),
        (Some(app.at(0).as_str()), Some("2001:db8::1"))
    );
    assert_eq!(again["lastUsedRoute"], "POST /iam/auth/token");
    let report = app.admin_call("GET", &app.org_path("/credential-report"), None).await;
    let row = report.body["items"].as_array().unwrap().iter().find(|r| r["keyId"] == key[3..23]).unwrap().clone();
    assert_eq!(
        (row["lastUsedIp"].clone(), row["lastUsedRoute"].clone()),
        (again["lastUsedIp"].clone(), again["lastUsedRoute"].clone())
    );
}

#[tokio::test]
async fn a_tenant_route_through_the_authorizer_is_recorded_as_that_route() {
    let app = TestApp::new().await;
    let permissions = json!([{"action": "demo:whoami:read", "resource": "route:/demo/*"}]);
    let role = app.custom_role("demo reader", &["ApiKey"], permissions).await;
    let (principal, key) = app.principal_with_role("tenant client", Some(&role)).await;
    assert_eq!(app.call("GET", "/demo/whoami", Some(&key), None).await.status, 200);
    let used = credential(&app, &principal, &key).await;
    assert_eq!(
        (used["lastUsedRoute"].as_str(), used["lastUsedIp"].as_str()),
        (Some("GET /demo/whoami"), Some("198.51.100.7"))
    );
}

#[tokio::test]
async fn a_warm_authentication_stays_one_read() {
    let app = TestApp::new().await;
    let (_, key) = app.principal_with_key("ci").await;
    assert_eq!(list_from(&app, &key, "198.51.100.7").await.status, 200);
    app.calls.reset();
    assert_eq!(list_from(&app, &key, "198.51.100.8").await.status, 200);
    // Authentication's one round trip, then the route's own query; no write.
    assert_eq!(app.calls.names(), vec!["BatchGetItem", "Query"]);
}
