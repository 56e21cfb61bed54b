//! Hot keys: an org's `directApiKeyCacheSeconds` lets a container answer direct `ApiKey` calls
//! from an earlier read of the key (no read), with revocation reaching them within that bound; and
//! the measurement, with a stand-in for DynamoDB's per-partition read limit, of what one key can
//! do per second on each path (`make bench` runs it; it asserts nothing about speed).

use std::time::{Duration, Instant};

use iam_tests::TestApp;
use serde_json::json;

/// A key whose role may call the demo tenant route (`demo:whoami:read`), and its principal.
async fn demo_client(app: &TestApp, name: &str) -> (String, String) {
    let permissions = json!([{"action": "demo:whoami:read", "resource": "route:/demo/*"}, {"action": "iam:apiKeys:list", "resource": "iam:api-keys/*"}]);
    let role = app.custom_role(&format!("{name} reader"), &["ApiKey"], permissions).await;
    app.principal_with_role(name, Some(&role)).await
}

async fn set_cache_seconds(app: &TestApp, seconds: i64) -> iam_tests::TestResponse {
    app.admin_call("PATCH", &app.org_path("/settings"), Some(json!({"directApiKeyCacheSeconds": seconds}))).await
}

#[tokio::test]
async fn direct_calls_read_nothing_within_the_orgs_cache_bound_and_see_a_revocation_after_it() {
    let app = TestApp::new().await;
    let r = set_cache_seconds(&app, 5).await;
    assert_eq!((r.status, r.body["directApiKeyCacheSeconds"].as_i64()), (200, Some(5)), "{:?}", r.body);
    let (principal, key) = demo_client(&app, "hot").await;
    let other = app.second_container().await;
    let advance = |seconds: i64| {
        app.app.clock.advance(seconds);
        other.app.clock.advance(seconds);
    };
    assert_eq!(app.call("GET", "/demo/whoami", Some(&key), None).await.status, 200);
    app.calls.reset();
    assert_eq!(app.call("GET", "/demo/whoami", Some(&key), None).await.status, 200);
    assert_eq!(app.calls.names(), Vec::<String>::new(), "a warm direct call within the bound reads nothing");
    // A wrong secret for the same key id never finds the entry.
    let wrong = iam_tests::forged_key(&key[3..23]);
    assert_eq!(app.call("GET", "/demo/whoami", Some(&wrong), None).await.status, 403, "the authorizer refuses it");
    assert_eq!(app.call("GET", &app.org_path("/api-keys"), Some(&wrong), None).await.code(), "invalid_api_key");

    // Revoked in another container: this one answers from its read for what is left of the bound.
    let path = app.org_path(&format!("/api-keys/{principal}/credentials/{}/revoke", &key[3..23]));
    assert_eq!(other.admin_call("POST", &path, None).await.status, 200);
    advance(4);
    assert_eq!(app.call("GET", "/demo/whoami", Some(&key), None).await.status, 200, "within 5 s");
    advance(1);
    let r = app.call("GET", "/demo/whoami", Some(&key), None).await;
    assert_eq!((r.status, r.body["message"].as_str()), (403, Some("Forbidden")), "the bound has passed");
    let r = app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await;
    assert_eq!((r.status, r.code()), (401, "credential_revoked"));
}

#[tokio::test]
async fn the_container_that_revokes_or_suspends_forgets_at_once_and_zero_means_every_call_reads() {
    let app = TestApp::new().await;
    assert_eq!(set_cache_seconds(&app, 60).await.status, 200);
    let (principal, key) = demo_client(&app, "hot").await;
    assert_eq!(app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await.status, 200);
    let r = app
        .admin_call("PATCH", &app.org_path(&format!("/api-keys/{principal}")), Some(json!({"status": "Suspended"})))
        .await;
    assert_eq!(r.status, 200);
    let r = app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await;
    assert_eq!((r.status, r.code()), (401, "principal_suspended"), "at once where it was written");

    // The default, 0: every direct call reads the credential.
    let fresh = TestApp::new().await;
    let (_, key) = demo_client(&fresh, "cold").await;
    assert_eq!(fresh.call("GET", "/demo/whoami", Some(&key), None).await.status, 200);
    fresh.calls.reset();
    assert_eq!(fresh.call("GET", "/demo/whoami", Some(&key), None).await.status, 200);
    assert_eq!(fresh.calls.names(), vec!["BatchGetItem"]);
}

#[tokio::test]
async fn the_cache_setting_takes_0_to_60_seconds() {
    let app = TestApp::new().await;
    for bad in [json!(-1), json!(61), json!(1.5), json!("5")] {
        let r =
            app.admin_call("PATCH", &app.org_path("/settings"), Some(json!({"directApiKeyCacheSeconds": bad}))).await;
        assert_eq!((r.status, r.code()), (400, "invalid_request"), "{bad}");
    }
    assert_eq!(app.admin_call("GET", &app.org_path("/settings"), None).await.body["directApiKeyCacheSeconds"], 0);
}

/// One key's calls per second through the tenant authorizer for `seconds` of wall clock, with 8
/// callers at once, on a table whose items each take `limit` reads a second: (answered 200, other).
async fn drive(app: &TestApp, authorization: &str, seconds: u64) -> (usize, usize) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (app, authorization) = (app.clone(), authorization.to_string());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut other) = (0, 0);
            while started.elapsed() < Duration::from_secs(seconds) {
                let r = app.request("GET", "/demo/whoami", Some(authorization.clone()), None).await;
                if r.status == 200 { ok += 1 } else { other += 1 }
            }
            (ok, other)
        }));
    }
    let mut totals = (0, 0);
    for task in tasks {
        let (ok, other) = task.await.unwrap();
        totals = (totals.0 + ok, totals.1 + other);
    }
    totals
}

#[tokio::test]
#[ignore = "a measurement for make bench; it asserts nothing about speed"]
async fn hot_key_calls_per_second_on_each_path_under_a_per_item_read_limit() {
    const LIMIT: usize = 20;
    const SECONDS: u64 = 4;
    let app = TestApp::new().await;
    let (_, key) = demo_client(&app, "hot").await;
    let token = app.token_for(&key).await;
    app.faults.limit_reads_per_key(Some(LIMIT));
    let mut lines = Vec::new();
    for (path, authorization, cache) in [
        ("direct ApiKey, directApiKeyCacheSeconds 0", format!("ApiKey {key}"), 0),
        ("direct ApiKey, directApiKeyCacheSeconds 5", format!("ApiKey {key}"), 5),
        ("Bearer (tokensValidAfter read once per 5 s)", format!("Bearer {token}"), 0),
    ] {
        app.faults.limit_reads_per_key(None);
        assert_eq!(set_cache_seconds(&app, cache).await.status, 200);
        app.faults.limit_reads_per_key(Some(LIMIT));
        let (ok, other) = drive(&app, &authorization, SECONDS).await;
        lines.push(format!(
            "hot key: {path}: {:.0} answered calls/s ({other} refused or failed) with {LIMIT} reads/s per item, {} reads throttled",
            ok as f64 / SECONDS as f64,
            app.faults.reads_throttled()
        ));
    }
    app.faults.limit_reads_per_key(None);
    for line in lines {
        println!("{line}");
    }
}
