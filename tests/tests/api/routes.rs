//! The template, the local stack and the functions agree on the routes.

use std::collections::BTreeSet;

use iam_tests::{Form, TestApp, TestResponse};
use local_stack::event::IncomingRequest;
use serde_json::json;

#[tokio::test]
async fn every_route_of_the_template_is_served_by_its_function() {
    let app = TestApp::new().await;
    for route in &app.template.routes {
        let path = route
            .path
            .replace("{orgId}", app.org.as_str())
            .replace("{principalId}", app.admin.as_str())
            .replace("{keyId}", &app.admin_key[3..23]);
        // Without credentials a served route answers 401 (the JWKS, metadata and OpenAPI documents
        // are public: 200); a function that does not serve the route it is wired to would answer 404
        // route_not_found.
        let r = app.call(&route.method, &path, None, None).await;
        let public = [
            "/iam/.well-known/jwks.json",
            "/iam/.well-known/oauth-authorization-server",
            "/.well-known/oauth-authorization-server/iam",
            "/iam/openapi.json",
        ];
        if public.contains(&route.path.as_str()) {
            assert_eq!(r.status, 200);
        } else if route.path == "/iam/secret-scanning/reports" {
            // The scanner's route authenticates by the report's signature.
            assert_eq!((r.status, r.code()), (401, "invalid_signature"));
        } else if route.authorizer.is_some() {
            assert_eq!((r.status, r.body["message"].as_str()), (401, Some("Unauthorized")), "{}", route.path);
        } else {
            assert_eq!((r.status, r.code()), (401, "missing_credentials"), "{} {}", route.method, route.path);
        }
    }
}

#[tokio::test]
async fn a_path_outside_the_template_gets_api_gateways_not_found() {
    let app = TestApp::new().await;
    for (method, path) in [("GET", "/iam/orgs"), ("DELETE", &*app.org_path("/api-keys")), ("GET", "/")] {
        let r = app.call(method, path, Some(&app.admin_key.clone()), None).await;
        assert_eq!(r.status, 404, "{method} {path}");
        assert_eq!(r.body["message"], "Not Found");
    }
}

/// Every answer a function gives, whatever its status, function or media type, carries
/// `X-Content-Type-Options: nosniff`: a browser never sniffs a JSON, problem+json or CSV body
/// into something it would render. (API Gateway's own answers are not the functions'.)
#[tokio::test]
async fn every_answer_of_the_functions_carries_nosniff() {
    let app = TestApp::new().await;
    let mut answers: Vec<(String, TestResponse)> = Vec::new();
    // Every route of every function, without credentials: 401s, and the public documents' 200s
    // (the JWKS, the authorization-server metadata, the OpenAPI document).
    for route in app.template.routes.iter().filter(|r| r.authorizer.is_none()) {
        let path = route
            .path
            .replace("{orgId}", app.org.as_str())
            .replace("{principalId}", app.admin.as_str())
            .replace("{keyId}", &app.admin_key[3..23]);
        let r = app.call(&route.method, &path, None, None).await;
        answers.push((format!("{} {} unauthenticated", route.method, route.path), r));
    }
    let api_keys = app.org_path("/api-keys");
    let created = app.admin_call("POST", &api_keys, Some(json!({"displayName": "ci"}))).await;
    let id = created.body["id"].as_str().expect("a created principal").to_string();
    let principal = app.org_path(&format!("/api-keys/{id}"));
    answers.push(("create a principal".into(), created));
    answers.push(("read it".into(), app.admin_call("GET", &principal, None).await));
    let bad_body = app.admin_call("POST", &api_keys, Some(json!({"displayName": 5}))).await;
    answers.push(("a body of the wrong shape".into(), bad_body));
    let malformed = app.call("GET", &principal, Some("ik_not_a_key"), None).await;
    answers.push(("a malformed key".into(), malformed));
    let (_, viewer) = app.principal_with_key("viewer").await;
    let denied = app.call("POST", &api_keys, Some(&viewer), Some(json!({"displayName": "x"}))).await;
    answers.push(("a viewer creating a principal".into(), denied));
    let unknown = app.org_path(&format!("/api-keys/akp_{}", ulid::Ulid::new()));
    answers.push(("an unknown principal".into(), app.admin_call("GET", &unknown, None).await));
    let stale = app
        .send(IncomingRequest {
            method: "PATCH".into(),
            path: principal.clone(),
            headers: vec![
                ("Authorization".into(), format!("ApiKey {}", app.admin_key)),
                ("If-Match".into(), "\"99\"".into()),
                ("Content-Type".into(), "application/json".into()),
            ],
            body: json!({"displayName": "stale"}).to_string().into_bytes(),
            ..Default::default()
        })
        .await;
    answers.push(("a stale If-Match".into(), stale));
    answers.push(("the JWKS".into(), app.call("GET", "/iam/.well-known/jwks.json", None, None).await));
    answers.push(("the OpenAPI document".into(), app.call("GET", "/iam/openapi.json", None, None).await));
    answers.push(("an exchange".into(), app.exchange(&app.admin_key.clone()).await));
    answers.push(("an OAuth refusal".into(), app.exchange_as(Form::OAuthBody, "ik_not_a_key").await));
    let revoke = app
        .send(IncomingRequest {
            method: "POST".into(),
            path: "/iam/auth/revoke".into(),
            headers: vec![
                ("Authorization".into(), format!("ApiKey {}", app.admin_key)),
                ("Content-Type".into(), "application/x-www-form-urlencoded".into()),
            ],
            body: b"token=not-a-token".to_vec(),
            ..Default::default()
        })
        .await;
    answers.push(("an RFC 7009 revocation (no body)".into(), revoke));
    let csv = app
        .send(IncomingRequest {
            method: "GET".into(),
            path: app.org_path("/credential-report"),
            headers: vec![
                ("Authorization".into(), format!("ApiKey {}", app.admin_key)),
                ("Accept".into(), "text/csv".into()),
            ],
            ..Default::default()
        })
        .await;
    answers.push(("the credential report as CSV".into(), csv));
    let member = app.add_member("nosniff-member", None).await;
    let removed = app.owner_call("DELETE", &app.org_path(&format!("/members/{member}")), None).await;
    answers.push(("a member removed (204)".into(), removed));
    // The tenant API behind the authorizer: the function's own answer.
    let reader = json!([{"action": "demo:whoami:read", "resource": "route:/demo/*"}]);
    let role = app.custom_role("demo reader", &["ApiKey"], reader).await;
    let (_, tenant) = app.principal_with_role("tenant client", Some(&role)).await;
    answers.push(("the tenant API".into(), app.call("GET", "/demo/whoami", Some(&tenant), None).await));

    let statuses: BTreeSet<u16> = answers.iter().map(|(_, r)| r.status).collect();
    for status in [200, 201, 204, 400, 401, 403, 404, 412] {
        assert!(statuses.contains(&status), "no answer was {status}: {statuses:?}");
    }
    assert_eq!(answers.iter().find(|(what, _)| what == "a stale If-Match").map(|(_, r)| r.status), Some(412));
    for (what, r) in &answers {
        assert_eq!(r.header("x-content-type-options"), "nosniff", "{what}: {} {:?}", r.status, r.body);
    }
}
