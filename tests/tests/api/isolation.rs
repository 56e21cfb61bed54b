//! Tenant isolation: a caller of org B can neither see nor change org A's principals or credentials.

use iam_tests::TestApp;
use serde_json::{Value, json};

#[tokio::test]
async fn a_caller_from_another_org_is_refused_on_every_route_and_changes_nothing() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_key("victim").await;
    let key_id = key[3..23].to_string();
    let role_id = app.custom_role("victim role", &["ApiKey"], json!([{"action": "*", "resource": "*"}])).await;
    let trust = json!({
        "name": "victim trust", "issuer": app.workload_issuer, "audiences": [format!("urn:infuse:iam:{}", app.org)],
        "conditions": [{"claim": "sub", "equals": "repo:acme/app:ref:refs/heads/main"}], "principalId": principal,
    });
    let r = app.owner_call("POST", &app.org_path("/workload-trusts"), Some(trust)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let trust_id = r.body["id"].as_str().unwrap().to_string();
    let intruder = app.another_org(true).await;
    // Warm the intruder's and the admin's lastUsedAt so the snapshot below is stable.
    app.call("GET", &format!("/iam/orgs/{}/api-keys", intruder.org_id), Some(&intruder.api_key), None).await;
    app.admin_call("GET", &app.org_path("/api-keys"), None).await;
    let before = app.table_items().await;

    let org = app.org.to_string();
    let body_for = |method: &str, path: &str| -> Option<Value> {
        match (method, path.ends_with("/credentials"), path.ends_with("/api-keys")) {
            ("POST", true, _) => Some(json!({"name": "stolen"})),
            ("POST", _, true) => Some(json!({"displayName": "planted"})),
            ("POST", _, _) if path.ends_with("/roles") => Some(
                json!({"name": "planted", "principalTypes": ["ApiKey"], "permissions": [{"action": "*", "resource": "*"}]}),
            ),
            ("POST", _, _) if path.ends_with("/authorize") => Some(json!({"action": "iam:roles:read"})),
            ("PATCH", _, _) if path.ends_with("/settings") => Some(json!({"directApiKeyAuth": false})),
            ("PATCH", _, _) if path.contains("/roles/") => Some(json!({"name": "hijacked"})),
            ("PATCH", _, _) if path.contains("/workload-trusts/") => Some(json!({"principalId": principal})),
            ("POST", _, _) if path.ends_with("/test") => Some(json!({"token": "a.b.c"})),
            ("POST", _, _) if path.ends_with("/workload-trusts") => Some(json!({"name": "planted"})),
            ("PATCH", _, _) => Some(json!({"status": "Revoked"})),
            _ => None,
        }
    };
    // Every org-scoped route of the template, with org A's ids filled in.
    for route in app.template.routes.iter().filter(|r| r.path.contains("{orgId}")) {
        let path = route
            .path
            .replace("{orgId}", &org)
            .replace("{principalId}", &principal)
            .replace("{keyId}", &key_id)
            .replace("{roleId}", &role_id)
            .replace("{trustId}", &trust_id);
        assert!(!path.contains('{'), "a path parameter the matrix does not fill: {path}");
        let r = app.call(&route.method, &path, Some(&intruder.api_key), body_for(&route.method, &path)).await;
        assert_eq!((r.status, r.code()), (403, "org_mismatch"), "{} {}", route.method, route.path);
        let text = String::from_utf8(r.raw.clone()).unwrap();
        assert!(
            !text.contains(&principal) && !text.contains("victim") && !text.contains(&role_id),
            "nothing of org A is seen: {text}"
        );
    }
    assert_eq!(app.table_items().await, before, "org A is unchanged");
    assert_eq!(app.call("GET", &app.org_path(&format!("/api-keys/{principal}")), Some(&key), None).await.status, 200);
}

#[tokio::test]
async fn a_principal_of_one_org_is_not_found_through_another_orgs_path() {
    let app = TestApp::new().await;
    let (principal, _) = app.principal_with_key("mine").await;
    let other = app.another_org(true).await;
    let r =
        app.call("GET", &format!("/iam/orgs/{}/api-keys/{principal}", other.org_id), Some(&other.api_key), None).await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    let r = app
        .call(
            "GET",
            &format!("/iam/orgs/{}/api-keys/{principal}/credentials", other.org_id),
            Some(&other.api_key),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
}
