//! Abuse limits: failed verifications of one key id back off per container. After 5 in a minute,
//! secrets of that key id not verified in this container are refused with 429 (no read, no argon2)
//! until the block ends; a key verified here keeps working throughout.

use iam_tests::{Form, TestApp, TestResponse, with_checksum};
use serde_json::json;

/// A well-formed key for `key_id` with the `n`-th wrong secret (an attacker varies them).
fn wrong(key_id: &str, n: usize) -> String {
    with_checksum(&format!("ik_{key_id}.{n:0>32}"))
}

fn key_id(key: &str) -> &str {
    &key[3..23]
}

/// argon2 verifications this container has run so far.
async fn verifications(app: &TestApp) -> u64 {
    app.app.hasher().await.expect("the pepper").verifications()
}

fn assert_too_many(r: &TestResponse, retry_after: u64) {
    assert_eq!((r.status, r.code()), (429, "too_many_failed_attempts"), "{:?}", r.body);
    assert_eq!(r.header("retry-after"), retry_after.to_string());
    assert_eq!(r.header("cache-control"), "no-store");
    assert_eq!(r.body["title"], "Too Many Requests");
}

/// A direct `ApiKey` call of an IAM route.
async fn direct(app: &TestApp, key: &str) -> TestResponse {
    app.call("GET", &app.org_path("/api-keys"), Some(key), None).await
}

#[tokio::test]
async fn five_wrong_secrets_then_429_without_a_read_or_argon2_in_every_exchange_form() {
    let app = TestApp::new().await;
    for form in [Form::Json, Form::ApiKeyHeader, Form::OAuthBody, Form::OAuthBasic] {
        let (_, key) = app.principal_with_key(&format!("{form:?}")).await;
        for n in 0..5 {
            let r = app.exchange_as(form, &wrong(key_id(&key), n)).await;
            assert_eq!((r.status, r.code()), (401, "invalid_api_key"), "{form:?} attempt {n}");
        }
        app.calls.reset();
        let before = verifications(&app).await;
        let r = app.exchange_as(form, &wrong(key_id(&key), 5)).await;
        assert_too_many(&r, 60);
        assert_eq!(app.calls.count(), 0, "{form:?}: refused before the credential is read");
        assert_eq!(verifications(&app).await, before, "{form:?}: refused without argon2");
        match form {
            Form::OAuthBody | Form::OAuthBasic => {
                assert_eq!(r.header("content-type"), "application/json", "{form:?}");
                assert_eq!(r.body["error"], "temporarily_unavailable", "{form:?}");
                assert!(r.header("www-authenticate").is_empty(), "{form:?}: not a failed client authentication");
            }
            Form::Json | Form::ApiKeyHeader => assert_eq!(r.header("content-type"), "application/problem+json"),
        }
    }
}

#[tokio::test]
async fn a_key_verified_here_before_the_flood_keeps_working_during_it() {
    let app = TestApp::new().await;
    let (_, key) = app.principal_with_key("holder").await;
    assert_eq!(direct(&app, &key).await.status, 200, "verified in this container");
    for n in 0..20 {
        direct(&app, &wrong(key_id(&key), n)).await;
    }
    assert_too_many(&direct(&app, &wrong(key_id(&key), 20)).await, 60);
    let before = verifications(&app).await;
    assert_eq!(direct(&app, &key).await.status, 200, "direct ApiKey call during the flood");
    assert_eq!(app.exchange(&key).await.status, 200, "exchange during the flood");
    assert_eq!(app.exchange_as(Form::OAuthBasic, &key).await.status, 200, "OAuth exchange during the flood");
    assert_eq!(verifications(&app).await, before, "served from the verified keys, not argon2");
}

#[tokio::test]
async fn a_right_secret_not_verified_here_waits_for_the_block_then_takes_its_one_verification() {
    let app = TestApp::new().await;
    let (_, key) = app.principal_with_key("holder").await;
    for n in 0..5 {
        direct(&app, &wrong(key_id(&key), n)).await;
    }
    // Refused like any secret this container has not verified: it cannot be told apart without argon2.
    assert_too_many(&direct(&app, &key).await, 60);
    app.app.clock.advance(60);
    // The block is over: the first secret presented is verified, and this one is right.
    assert_eq!(direct(&app, &key).await.status, 200);
    // The flood goes on: its next failure blocks the key id again, for twice as long...
    assert_eq!(direct(&app, &wrong(key_id(&key), 5)).await.code(), "invalid_api_key");
    assert_too_many(&direct(&app, &wrong(key_id(&key), 6)).await, 120);
    // ...and the holder, now verified here, is not affected.
    assert_eq!(direct(&app, &key).await.status, 200);
}

#[tokio::test]
async fn after_the_block_secrets_are_verified_again_and_a_failure_soon_after_doubles_it() {
    let app = TestApp::new().await;
    let (_, key) = app.principal_with_key("target").await;
    for n in 0..5 {
        direct(&app, &wrong(key_id(&key), n)).await;
    }
    app.app.clock.advance(59);
    assert_too_many(&direct(&app, &wrong(key_id(&key), 5)).await, 1);
    app.app.clock.advance(1);
    let before = verifications(&app).await;
    assert_eq!(direct(&app, &wrong(key_id(&key), 6)).await.code(), "invalid_api_key", "verified again");
    assert_eq!(verifications(&app).await, before + 1);
    assert_too_many(&direct(&app, &wrong(key_id(&key), 7)).await, 120);
    // Quiet for as long as the block lasted after it ended: the key id starts afresh (5 a minute).
    app.app.clock.advance(240);
    for n in 8..13 {
        assert_eq!(direct(&app, &wrong(key_id(&key), n)).await.code(), "invalid_api_key", "attempt {n}");
    }
    assert_too_many(&direct(&app, &wrong(key_id(&key), 13)).await, 60);
}

#[tokio::test]
async fn an_unknown_key_id_is_limited_exactly_like_a_wrong_secret() {
    let app = TestApp::new().await;
    let (_, key) = app.principal_with_key("known").await;
    let answers = |r: &TestResponse| {
        let mut body = r.body.clone();
        body.as_object_mut().unwrap().remove("requestId");
        let headers: Vec<_> = ["content-type", "cache-control", "retry-after", "www-authenticate"]
            .iter()
            .map(|h| r.header(h).to_string())
            .collect();
        (r.status, body, headers)
    };
    for n in 0..7 {
        let calls_before = app.calls.count();
        let known = direct(&app, &wrong(key_id(&key), n)).await;
        let known_calls = app.calls.count() - calls_before;
        let calls_before = app.calls.count();
        let unknown = direct(&app, &wrong("zzzzzzzzzzzzzzzzzzzz", n)).await;
        let unknown_calls = app.calls.count() - calls_before;
        assert_eq!(answers(&known), answers(&unknown), "attempt {n}");
        assert_eq!(known_calls, unknown_calls, "attempt {n}: the same reads");
        assert_eq!(known.status, if n < 5 { 401 } else { 429 }, "attempt {n}");
    }
}

#[tokio::test]
async fn the_tenant_authorizer_denies_a_blocked_key_id_and_lets_a_verified_key_through() {
    let app = TestApp::new().await;
    let permissions = json!([{"action": "demo:whoami:read", "resource": "route:/demo/*"}]);
    let role = app.custom_role("demo reader", &["ApiKey"], permissions).await;
    let (_, holder) = app.principal_with_role("tenant client", Some(&role)).await;
    assert_eq!(app.call("GET", "/demo/whoami", Some(&holder), None).await.status, 200);
    for n in 0..5 {
        app.call("GET", "/demo/whoami", Some(&wrong(key_id(&holder), n)), None).await;
    }
    let before = verifications(&app).await;
    // API Gateway answers an authorizer's denial itself: 403, no code, no Retry-After.
    let r = app.call("GET", "/demo/whoami", Some(&wrong(key_id(&holder), 5)), None).await;
    assert_eq!((r.status, r.body["message"].as_str()), (403, Some("Forbidden")));
    assert_eq!(verifications(&app).await, before, "denied without argon2");
    assert_eq!(app.call("GET", "/demo/whoami", Some(&holder), None).await.status, 200);
}
