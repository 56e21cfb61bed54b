//! Usage per key and recent requests: every call of an API-key principal counted by outcome, the
//! refusals kept with their codes, written by the container that answered (here when the test
//! flushes; deployed, every 10 s).

use iam_tests::TestApp;
use serde_json::{Value, json};

#[tokio::test]
async fn usage_counts_each_outcome_and_recent_requests_show_the_refusals_with_their_codes() {
    let app = TestApp::new().await;
    let permissions = json!([{"action": "demo:whoami:read", "resource": "route:/demo/*"}]);
    let demo = app.custom_role("demo reader", &["ApiKey"], permissions).await;
    let (principal, key) = app.principal_with_key("observed").await;
    app.assign(&principal, &demo).await;
    let path = app.org_path(&format!("/api-keys/{principal}"));
    let r = app.admin_call("PATCH", &path, Some(json!({"rateLimit": {"limit": 6, "periodSeconds": 60}}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let now = app.app.clock.now().unix();
    app.app.clock.advance(60 - now.rem_euclid(60));

    // 6 calls within the limit: 4 allowed reads, a tenant route through the authorizer, a refused
    // write (permission_denied); then 2 past it (rate_limited).
    for _ in 0..4 {
        assert_eq!(app.call("GET", &path, Some(&key), None).await.status, 200);
    }
    assert_eq!(app.call("GET", "/demo/whoami", Some(&key), None).await.status, 200);
    let denied =
        app.call("POST", &app.org_path("/roles"), Some(&key), Some(json!({"name": "x", "permissions": []}))).await;
    assert_eq!(denied.code(), "permission_denied");
    for _ in 0..2 {
        assert_eq!(app.call("GET", &path, Some(&key), None).await.code(), "rate_limited");
    }
    // Revoked: the key is still recognised as this principal's, and its refusal is counted.
    let key_id = &key[3..23];
    app.admin_call("POST", &app.org_path(&format!("/api-keys/{principal}/credentials/{key_id}/revoke")), None).await;
    assert_eq!(app.call("GET", &path, Some(&key), None).await.code(), "credential_revoked");

    app.app.flush_outcomes().await;
    let usage = app.admin_call("GET", &app.org_path(&format!("/api-keys/{principal}/usage")), None).await;
    assert_eq!(usage.status, 200, "{:?}", usage.body);
    let expected = json!({"allowed": 5, "permission_denied": 1, "rate_limited": 2, "credential_revoked": 1});
    assert_eq!(usage.body["totals"], expected);
    assert_eq!(usage.body["keys"], json!([{"keyId": key_id, "counts": expected}]));
    assert_eq!(usage.body["granularity"], "hour");
    let buckets = usage.body["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 25, "every hour of the last day, and this one");
    assert_eq!(buckets.last().unwrap()["counts"], expected, "all in this hour");
    let by_day =
        app.admin_call("GET", &app.org_path(&format!("/api-keys/{principal}/usage?granularity=day")), None).await;
    assert_eq!(by_day.body["totals"], expected);
    assert_eq!(by_day.body["buckets"].as_array().unwrap().last().unwrap()["counts"], expected);

    // The org's view: this key is its most-refused, and among its busiest.
    let top = app.admin_call("GET", &app.org_path("/usage/top-keys?days=1"), None).await;
    assert_eq!(top.status, 200, "{:?}", top.body);
    assert_eq!(top.body["mostRefused"][0]["keyId"], key_id, "{:?}", top.body);
    assert_eq!(
        (top.body["mostRefused"][0]["refused"].as_u64(), top.body["mostRefused"][0]["total"].as_u64()),
        (Some(4), Some(9))
    );
    assert!(
        top.body["busiest"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["keyId"] == key_id && k["principalId"] == principal.as_str())
    );
    let bad = app.admin_call("GET", &app.org_path("/usage/top-keys?days=32"), None).await;
    assert_eq!((bad.status, bad.body["errors"][0]["field"].as_str()), (400, Some("days")));
    let recent = app.admin_call("GET", &app.org_path(&format!("/api-keys/{principal}/recent-requests")), None).await;
    assert_eq!(recent.status, 200, "{:?}", recent.body);
    assert!(!recent.raw.windows(10).any(|w| w == &key.as_bytes()[24..34]), "never a secret");
    let items = recent.body["items"].as_array().unwrap();
    let codes: Vec<&str> = items.iter().map(|i| i["code"].as_str().unwrap()).collect();
    // Every refusal (the identical ones as one entry with their count), and one allowed call of the
    // minute (sampled); newest first (same second: by request id).
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(sorted, ["allowed", "credential_revoked", "permission_denied", "rate_limited"], "{items:?}");
    let limited = items.iter().find(|i| i["code"] == "rate_limited").unwrap();
    assert_eq!(limited["count"], 2, "both refusals, as one entry: {limited}");
    let refusal = items.iter().find(|i| i["code"] == "permission_denied").unwrap();
    assert_eq!(refusal["route"], "POST /iam/orgs/{orgId}/roles");
    assert_eq!(refusal["sourceIp"], "198.51.100.7");
    assert_eq!(refusal["keyId"], key_id);
    assert!(refusal["requestId"].as_str().is_some_and(|r| !r.is_empty()));
}

#[tokio::test]
async fn bad_ranges_are_400_and_another_orgs_principal_is_not_found() {
    let app = TestApp::new().await;
    let (principal, _) = app.principal_with_key("observed").await;
    for (query, field) in [
        ("granularity=week", "granularity"),
        ("from=yesterday", "from"),
        ("from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z", "from"),
        ("from=2026-03-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
    ] {
        let r = app.admin_call("GET", &app.org_path(&format!("/api-keys/{principal}/usage?{query}")), None).await;
        assert_eq!((r.status, r.code()), (400, "invalid_request"), "{query}: {:?}", r.body);
        assert_eq!(r.body["errors"][0]["field"], field, "{query}");
    }
    let other = app.another_org(true).await;
    let foreign = app.org_path(&format!("/api-keys/{}/usage", other.principal_id));
    assert_eq!(app.admin_call("GET", &foreign, None).await.status, 404);
    let r = app.admin_call("GET", &app.org_path(&format!("/api-keys/{principal}/recent-requests")), None).await;
    assert_eq!((r.status, &r.body["items"]), (200, &Value::Array(vec![])));
}
