//! Fault injection on every write path: DynamoDB throttling, 500s, timeouts and cancelled
//! transactions answer 503 with Retry-After (or, for a lost condition, the decision made again),
//! and the table holds the whole change or none of it.

use std::time::Duration;

use iam_tests::TestApp;
use iam_tests::faults::Fault;
use serde_json::{Value, json};

struct Write {
    name: &'static str,
    method: &'static str,
    path: String,
    body: Option<Value>,
}

async fn writes(app: &TestApp) -> Vec<Write> {
    let (principal, key) = app.principal_with_key("target").await;
    let member = app.add_member("member", None).await;
    app.assign(&principal, "iam-viewer").await;
    let spare = app
        .owner_call(
            "POST",
            &app.org_path("/roles"),
            Some(json!({"name": "spare", "principalTypes": ["ApiKey"], "permissions": [{"action": "x:y:z", "resource": "*"}]})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let w = |name, method, path: String, body| Write { name, method, path, body };
    vec![
        w("create principal", "POST", app.org_path("/api-keys"), Some(json!({"displayName": "x"}))),
        w(
            "change principal",
            "PATCH",
            app.org_path(&format!("/api-keys/{principal}")),
            Some(json!({"status": "Suspended"})),
        ),
        w(
            "issue credential",
            "POST",
            app.org_path(&format!("/api-keys/{principal}/credentials")),
            Some(json!({"name": "x"})),
        ),
        w(
            "edit credential",
            "PATCH",
            app.org_path(&format!("/api-keys/{principal}/credentials/{}", &key[3..23])),
            Some(json!({"name": "renamed"})),
        ),
        w(
            "roll credential",
            "POST",
            app.org_path(&format!("/api-keys/{principal}/credentials/{}/roll", &key[3..23])),
            Some(json!({"expireOldAfterSeconds": 0})),
        ),
        w(
            "revoke credential",
            "POST",
            app.org_path(&format!("/api-keys/{principal}/credentials/{}/revoke", &key[3..23])),
            None,
        ),
        w(
            "create role",
            "POST",
            app.org_path("/roles"),
            Some(
                json!({"name": "r", "principalTypes": ["ApiKey"], "permissions": [{"action": "iam:apiKeys:read", "resource": "*"}]}),
            ),
        ),
        w("change role", "PATCH", app.org_path(&format!("/roles/{spare}")), Some(json!({"name": "renamed"}))),
        w("delete role", "DELETE", app.org_path(&format!("/roles/{spare}")), None),
        w("assign role", "PUT", app.org_path(&format!("/principals/{principal}/role-assignments/iam-admin")), None),
        w(
            "remove assignment",
            "DELETE",
            app.org_path(&format!("/principals/{principal}/role-assignments/iam-viewer")),
            None,
        ),
        w("change settings", "PATCH", app.org_path("/settings"), Some(json!({"accessTokenTtlSeconds": 600}))),
        w("add member", "POST", app.org_path("/members"), Some(json!({"subject": "newcomer"}))),
        w("remove member", "DELETE", app.org_path(&format!("/members/{member}")), None),
    ]
}

async fn every_write_fails_cleanly(fault: Fault) {
    let app = TestApp::new().await;
    let writes = writes(&app).await;
    // Warm up: authentication's throttled lastUsedAt write is behind us.
    assert_eq!(app.admin_call("GET", &app.org_path("/api-keys"), None).await.status, 200);
    for write in writes {
        let before = app.table_items().await;
        app.faults.arm("TransactWriteItems", fault, 1000);
        let r = app.admin_call(write.method, &write.path, write.body.clone()).await;
        app.faults.disarm();
        assert_eq!((r.status, r.code()), (503, "service_unavailable"), "{} under {fault:?}: {:?}", write.name, r.body);
        assert!(!r.header("retry-after").is_empty(), "{}: Retry-After", write.name);
        assert_eq!(app.table_items().await, before, "{} under {fault:?} wrote something", write.name);
    }
}

#[tokio::test]
async fn throttling_answers_503_and_writes_nothing() {
    every_write_fails_cleanly(Fault::Throttle).await;
}

#[tokio::test]
async fn dynamodb_500s_answer_503_and_write_nothing() {
    every_write_fails_cleanly(Fault::Internal).await;
}

#[tokio::test]
async fn persistent_transaction_conflicts_answer_503_and_write_nothing() {
    every_write_fails_cleanly(Fault::Conflict).await;
}

/// A conflict with a concurrent transaction decides nothing: every write path tries again and
/// succeeds (the answer a client would have had without the conflict).
#[tokio::test]
async fn a_passing_transaction_conflict_is_tried_again_on_every_write_path() {
    let app = TestApp::new().await;
    let writes = writes(&app).await;
    assert_eq!(app.admin_call("GET", &app.org_path("/api-keys"), None).await.status, 200);
    for write in writes {
        app.faults.arm("TransactWriteItems", Fault::Conflict, 1);
        let r = app.admin_call(write.method, &write.path, write.body.clone()).await;
        app.faults.disarm();
        assert!((200..300).contains(&r.status), "{} after one conflict: {} {:?}", write.name, r.status, r.body);
    }
}

#[tokio::test]
async fn a_timeout_answers_503_and_writes_nothing() {
    let app = TestApp::new().await;
    // The container under test gives up on a DynamoDB attempt after 2 s; the failing server never
    // answers the write, so the timeout fires however fast or slow the machine is. (Were a read to
    // time out first on a loaded machine, the answer and the table would be the same.)
    let hasty = app.container_with_attempt_timeout(Duration::from_secs(2)).await;
    // Warmed through the patient container: the credential's throttled lastUsedAt is written now.
    assert_eq!(app.admin_call("GET", &app.org_path("/api-keys"), None).await.status, 200);
    let before = app.table_items().await;
    app.faults.arm("TransactWriteItems", Fault::Timeout, 1000);
    let r = hasty.admin_call("POST", &app.org_path("/api-keys"), Some(json!({"displayName": "slow"}))).await;
    app.faults.disarm();
    assert_eq!((r.status, r.code()), (503, "service_unavailable"), "{:?}", r.body);
    assert_eq!(app.table_items().await, before);
}

#[tokio::test]
async fn a_container_that_cannot_read_its_pepper_answers_503_until_it_can() {
    let app = TestApp::new().await;
    // A container starting while its pepper cannot be read (here: not there yet) still starts...
    let late_id = format!("{}-late", app.app.config.pepper_secret_id);
    let late = app.container_with(|c| c.pepper_secret_id = late_id.clone()).await;
    let path = app.org_path("/api-keys");
    // ...and what needs the pepper (an API key's verification) answers 503 with Retry-After (not a
    // failed start, which API Gateway shows as a 500).
    let r = late.admin_call("GET", &path, None).await;
    assert_eq!((r.status, r.code()), (503, "service_unavailable"), "{:?}", r.body);
    assert!(!r.header("retry-after").is_empty());
    // Each secret is read where it is used: the JWKS needs only the signing keys, and is served.
    assert_eq!(late.call("GET", "/iam/.well-known/jwks.json", None, None).await.status, 200);
    // Behind the tenant authorizer, the failure is API Gateway's 500 (the authorizer failed), not a 403.
    let r = late.admin_call("GET", "/demo/whoami", None).await;
    assert_eq!((r.status, r.body["message"].as_str()), (500, Some("Internal Server Error")), "{:?}", r.body);
    // Requests that need no secret are served meanwhile.
    assert_eq!(late.call("GET", "/iam/openapi.json", None, None).await.status, 200);
    // Once the secret can be read, the next request after the retry interval reads it and is served
    // (within the interval the container does not ask Secrets Manager again).
    app.secrets().await.create_secret().name(&late_id).secret_string(app.pepper().await).send().await.unwrap();
    assert_eq!(late.admin_call("GET", &path, None).await.status, 503);
    late.app.clock.advance(shared::app::KEYS_RETRY_SECONDS);
    assert_eq!(late.admin_call("GET", &path, None).await.status, 200);
}

#[tokio::test]
async fn a_container_reads_each_secret_only_when_a_request_needs_it() {
    let app = TestApp::new().await;
    // Signing keys that cannot be read: what signs or verifies tokens answers 503...
    let missing = format!("{}-missing", app.app.config.signing_keys_secret_id.as_deref().unwrap());
    let keyless = app.container_with(|c| c.signing_keys_secret_id = Some(missing.clone())).await;
    let r = keyless.call("GET", "/iam/.well-known/jwks.json", None, None).await;
    assert_eq!((r.status, r.code()), (503, "service_unavailable"), "{:?}", r.body);
    let r = keyless.call("POST", "/iam/auth/token", None, Some(json!({"apiKey": app.admin_key.clone()}))).await;
    assert_eq!((r.status, r.code()), (503, "service_unavailable"), "{:?}", r.body);
    // ...while a call with an API key needs only the pepper, and is served.
    assert_eq!(keyless.admin_call("GET", &app.org_path("/api-keys"), None).await.status, 200);
    // Nothing is read at start, nor by a request that needs no secret: a container started before
    // its pepper existed has not tried (and failed) to read it, so the first request that needs the
    // pepper after it appears is served at once, without the retry interval a failed read sets.
    let later_id = format!("{}-later", app.app.config.pepper_secret_id);
    let later = app.container_with(|c| c.pepper_secret_id = later_id.clone()).await;
    assert_eq!(later.call("GET", "/iam/openapi.json", None, None).await.status, 200);
    assert_eq!(later.call("GET", "/iam/.well-known/jwks.json", None, None).await.status, 200);
    app.secrets().await.create_secret().name(&later_id).secret_string(app.pepper().await).send().await.unwrap();
    assert_eq!(later.admin_call("GET", &app.org_path("/api-keys"), None).await.status, 200);
}

#[tokio::test]
async fn a_read_that_fails_answers_503_too() {
    let app = TestApp::new().await;
    app.faults.arm("GetItem", Fault::Throttle, 1000);
    let r = app.admin_call("GET", &app.org_path("/api-keys"), None).await;
    app.faults.disarm();
    assert_eq!((r.status, r.code()), (503, "service_unavailable"));
}

#[tokio::test]
async fn a_lost_condition_is_decided_again_from_a_fresh_read() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_key("target").await;
    // The first transaction's condition fails (another writer won); the retry sees the real state.
    // Issuance: the principal's condition (position 1: its version, status or cap moved).
    app.faults.arm("TransactWriteItems", Fault::ConditionFailed(1), 1);
    let r = app
        .admin_call("POST", &app.org_path(&format!("/api-keys/{principal}/credentials")), Some(json!({"name": "x"})))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let listed = app.admin_call("GET", &app.org_path(&format!("/api-keys/{principal}/credentials")), None).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2, "exactly one new credential");
    // Revocation and a principal's change: the item itself (position 0) moved.
    app.faults.arm("TransactWriteItems", Fault::ConditionFailed(0), 1);
    let r = app
        .admin_call("POST", &app.org_path(&format!("/api-keys/{principal}/credentials/{}/revoke", &key[3..23])), None)
        .await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("Revoked")), "{:?}", r.body);
    app.faults.arm("TransactWriteItems", Fault::ConditionFailed(0), 1);
    let r = app
        .admin_call("PATCH", &app.org_path(&format!("/api-keys/{principal}")), Some(json!({"displayName": "renamed"})))
        .await;
    assert_eq!((r.status, r.body["version"].as_u64()), (200, Some(2)), "{:?}", r.body);
}
