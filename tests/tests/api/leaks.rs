//! Leaked-key reports in GitHub's secret-scanning partner format: a signed report revokes the live
//! credentials it names (and their principal's issued tokens), audits and publishes them; a bad
//! signature changes nothing; unknown and malformed strings cost no write (malformed: no read).

use iam_tests::{TestApp, forged_key};
use local_stack::scanner::DevScanner;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn reported(token: &str) -> Value {
    json!({"token": token, "type": "infuse_iam_api_key", "url": "https://github.com/octo/repo/blob/main/.env", "source": "content"})
}

async fn principal_with_key(app: &TestApp) -> (String, String) {
    let principal = app.create_principal("uploader").await["id"].as_str().unwrap().to_string();
    let (_, key) = app.issue(&principal, "ci").await;
    (principal, key)
}

#[tokio::test]
async fn a_signed_report_revokes_a_live_key_and_its_tokens_audits_and_publishes_it() {
    let app = TestApp::new().await;
    let (principal, key) = principal_with_key(&app).await;
    let token = app.exchange(&key).await.body["accessToken"].as_str().unwrap().to_string();
    app.app.clock.advance(5);
    let unknown = forged_key("zzzzzzzzzzzzzzzzzzzz");
    let report = json!([reported(&key), reported("ik_not-a-key"), reported(&unknown)]);
    let r = app.leak_report(&report).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!([
            {"token_hash": hash(&key), "token_type": "infuse_iam_api_key", "label": "true_positive"},
            {"token_hash": hash("ik_not-a-key"), "token_type": "infuse_iam_api_key", "label": "false_positive"},
            {"token_hash": hash(&unknown), "token_type": "infuse_iam_api_key", "label": "false_positive"},
        ])
    );
    assert!(!r.raw.windows(key.len()).any(|w| w == key.as_bytes()), "the key is never echoed");

    let used = app.exchange(&key).await;
    assert_eq!((used.status, used.body["code"].as_str()), (401, Some("credential_revoked")));
    let bearer = app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await;
    assert_eq!((bearer.status, bearer.body["code"].as_str()), (401, Some("token_revoked")), "its tokens end too");

    let audit = app.admin_call("GET", &app.org_path("/audit-events"), None).await;
    let event = &audit.body["items"][0];
    assert_eq!(event["action"], "iam:credentials:revoke");
    assert_eq!(event["actor"], json!({"type": "System", "name": "leak-report"}));
    assert_eq!(event["details"]["url"], "https://github.com/octo/repo/blob/main/.env");
    assert_eq!(event["details"]["reason"], "leaked");
    assert_eq!(event["event"]["type"], "credential.leaked");

    let events = app.drain_events().await;
    let leaked: Vec<&Value> = events.iter().filter(|e| e["detail-type"] == "credential.leaked").collect();
    assert_eq!(leaked.len(), 1, "{events:?}");
    let detail = &leaked[0]["detail"];
    assert_eq!(
        (detail["principalId"].as_str(), detail["keyId"].as_str(), detail["url"].as_str(), detail["source"].as_str()),
        (
            Some(principal.as_str()),
            Some(&key[3..23]),
            Some("https://github.com/octo/repo/blob/main/.env"),
            Some("content")
        )
    );
    let file = std::fs::read_to_string(app.events_file.path()).unwrap();
    assert!(!file.contains(&key[24..]), "no secret in an event");

    // The same report again: still ours, nothing more written or published.
    app.calls.reset();
    let again = app.leak_report(&json!([reported(&key)])).await;
    assert_eq!(again.body[0]["label"], "true_positive");
    assert!(!app.calls.names().iter().any(|n| n != "GetItem"), "{:?}", app.calls.names());
    assert_eq!(app.drain_events().await.len(), events.len());
}

#[tokio::test]
async fn a_report_with_a_bad_signature_is_401_and_changes_nothing() {
    let app = TestApp::new().await;
    let (_, key) = principal_with_key(&app).await;
    let raw = json!([reported(&key)]).to_string().into_bytes();
    let other = DevScanner::generate().unwrap();
    let cases = [
        ("another body's signature", app.scanner.key_identifier().to_string(), app.scanner.sign(b"[]")),
        ("another key's signature", app.scanner.key_identifier().to_string(), other.sign(&raw)),
        ("a key the scanner does not publish", other.key_identifier().to_string(), other.sign(&raw)),
        ("not base64", app.scanner.key_identifier().to_string(), "%%%".to_string()),
        ("no signature", app.scanner.key_identifier().to_string(), String::new()),
    ];
    for (case, key_id, signature) in cases {
        // An unknown key id is refused once the keys have been fetched again (at most once a minute).
        app.app.clock.advance(60);
        app.calls.reset();
        let r = app.leak_report_signed(raw.clone(), &key_id, &signature).await;
        assert_eq!((r.status, r.body["code"].as_str()), (401, Some("invalid_signature")), "{case}: {:?}", r.body);
        assert_eq!(app.calls.count(), 0, "{case}: no read, no write");
    }
    assert_eq!(app.exchange(&key).await.status, 200, "the key still works");
    assert!(app.drain_events().await.is_empty());
}

#[tokio::test]
async fn malformed_strings_cost_no_read_and_unknown_ones_no_write() {
    let app = TestApp::new().await;
    let (_, key) = principal_with_key(&app).await;
    // A real key with its last character changed: its checksum no longer holds.
    let mut mistyped = key.clone();
    let last = mistyped.pop().unwrap();
    mistyped.push(if last == 'A' { 'B' } else { 'A' });
    app.calls.reset();
    let r = app.leak_report(&json!([reported(&mistyped), reported("password123"), reported("")])).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body.as_array().unwrap().iter().all(|l| l["label"] == "false_positive"));
    assert_eq!(app.calls.count(), 0, "refused before any read: {:?}", app.calls.names());

    // Well formed but unknown, and a known key id with another secret: one read each, no write.
    let wrong_secret = forged_key(&key[3..23]);
    let r = app.leak_report(&json!([reported(&forged_key("abcdefghij0123456789")), reported(&wrong_secret)])).await;
    assert!(r.body.as_array().unwrap().iter().all(|l| l["label"] == "false_positive"), "{:?}", r.body);
    assert_eq!(app.calls.names(), vec!["GetItem", "GetItem"]);
    assert_eq!(app.exchange(&key).await.status, 200);
}

#[tokio::test]
async fn a_report_naming_an_ended_key_is_ours_and_ends_only_the_tokens_that_may_still_live() {
    let app = TestApp::new().await;
    let (principal, key) = principal_with_key(&app).await;
    let path = app.org_path(&format!("/api-keys/{principal}/credentials/{}/revoke", &key[3..23]));
    assert_eq!(app.admin_call("POST", &path, None).await.status, 200);
    let published = app.drain_events().await.len();
    let r = app.leak_report(&json!([reported(&key)])).await;
    assert_eq!(r.body[0]["label"], "true_positive");
    assert_eq!(app.drain_events().await.len(), published, "no credential.leaked for a key already revoked");
    // Revoked a moment ago, so tokens exchanged with it may still be live: they end.
    let audit = app.admin_call("GET", &app.org_path("/audit-events"), None).await;
    assert_eq!(audit.body["items"][0]["action"], "iam:apiKeys:revokeTokens");
    assert_eq!(audit.body["items"][0]["actor"], json!({"type": "System", "name": "leak-report"}));

    // Reported again: those tokens are already ended, nothing is written.
    app.calls.reset();
    assert_eq!(app.leak_report(&json!([reported(&key)])).await.body[0]["label"], "true_positive");
    assert!(!app.calls.names().iter().any(|n| n == "TransactWriteItems"), "{:?}", app.calls.names());
    // Ended longer ago than any token lives: nothing is written.
    app.app.clock.advance(3600 + 31);
    app.calls.reset();
    let r = app.leak_report(&json!([reported(&key)])).await;
    assert_eq!(r.body[0]["label"], "true_positive");
    assert_eq!(app.calls.names(), vec!["GetItem", "GetItem"], "the check, then the revocation's fresh read");
}

#[tokio::test]
async fn reports_signed_by_a_new_scanner_key_verify_after_one_refetch() {
    let app = TestApp::new().await;
    let (_, key) = principal_with_key(&app).await;
    assert_eq!(app.leak_report(&json!([reported("x")])).await.status, 200);
    let fetched = app.scanner_fetches.load(std::sync::atomic::Ordering::SeqCst);
    // The scanner rotates its key: the report names a key this container has not seen (a minute
    // after its last fetch, which was the first).
    app.app.clock.advance(60);
    let rotated = DevScanner::generate().unwrap();
    *app.scanner_keys.write().unwrap() = rotated.public_keys();
    let raw = json!([reported(&key)]).to_string().into_bytes();
    let r = app.leak_report_signed(raw.clone(), rotated.key_identifier(), &rotated.sign(&raw)).await;
    assert_eq!((r.status, r.body[0]["label"].as_str()), (200, Some("true_positive")), "{:?}", r.body);
    assert_eq!(app.scanner_fetches.load(std::sync::atomic::Ordering::SeqCst), fetched + 1);
    // Unknown ids do not make the container fetch more than once a minute: within that minute they
    // are 503 with Retry-After (the scanner may have rotated again: it sends again), reading nothing.
    let unknown = DevScanner::generate().unwrap();
    for _ in 0..3 {
        app.calls.reset();
        let r = app.leak_report_signed(raw.clone(), unknown.key_identifier(), &unknown.sign(&raw)).await;
        assert_eq!((r.status, r.code(), r.header("retry-after").is_empty()), (503, "service_unavailable", false));
        assert_eq!(app.calls.count(), 0);
    }
    assert_eq!(app.scanner_fetches.load(std::sync::atomic::Ordering::SeqCst), fetched + 1);
    app.app.clock.advance(60);
    let r = app.leak_report_signed(raw.clone(), unknown.key_identifier(), &unknown.sign(&raw)).await;
    assert_eq!((r.status, r.code()), (401, "invalid_signature"), "still unknown after a fresh fetch");
    assert_eq!(app.scanner_fetches.load(std::sync::atomic::Ordering::SeqCst), fetched + 2);
}

#[tokio::test]
async fn a_report_that_is_not_a_list_of_reported_strings_is_400_and_too_many_strings_are_refused() {
    let app = TestApp::new().await;
    for (body, code) in [
        (json!({"token": "x"}), "invalid_request"),
        (json!([{"token": "x"}]), "invalid_request"),
        (json!([{"token": "x", "type": "t", "url": "u", "source": "s", "extra": 1}]), "invalid_request"),
    ] {
        let r = app.leak_report(&body).await;
        assert_eq!((r.status, r.body["code"].as_str()), (400, Some(code)), "{body}");
    }
    let many: Vec<Value> = (0..1001).map(|i| reported(&format!("s{i}"))).collect();
    let r = app.leak_report(&Value::Array(many)).await;
    assert_eq!((r.status, r.body["code"].as_str()), (400, Some("invalid_request")), "{:?}", r.body);
    let raw = b"[{\"token\": ".to_vec();
    let r = app.leak_report_signed(raw.clone(), app.scanner.key_identifier(), &app.scanner.sign(&raw)).await;
    assert_eq!((r.status, r.body["code"].as_str()), (400, Some("malformed_json")));
}
