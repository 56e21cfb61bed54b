//! No log line ever carries a secret: every flow runs with logs captured, then the capture is searched.

use std::io::Write;
use std::sync::{Arc, Mutex};

use iam_tests::TestApp;
use serde_json::json;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_log_line_contains_a_key_secret_or_the_pepper() {
    let capture = Capture::default();
    let writer = capture.clone();
    // The production filter, with our own crates turned up to trace.
    let filter = format!(
        "{},shared=trace,principals=trace,credentials=trace,revocation=trace,local_stack=trace",
        shared::telemetry::DEFAULT_FILTER
    );
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(move || writer.clone())
        .init();

    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_key("logged").await;
    let key_id = &key[3..23];
    let mut secrets = vec![app.admin_key.clone(), key.clone()];
    // Every kind of request: good, refused, malformed, wrong secret, revoked, 404, conflict.
    app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await;
    app.call("GET", &app.org_path("/api-keys"), Some(&key[..40]), None).await;
    let wrong = format!("{}{}", &key[..30], "A".repeat(32));
    app.call("GET", &app.org_path("/api-keys"), Some(&wrong), None).await;
    let (_, another) = app.issue(&principal, "second").await;
    secrets.push(another);
    app.admin_call("POST", &app.org_path(&format!("/api-keys/{principal}/credentials/{key_id}/revoke")), None).await;
    app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await;
    app.admin_call("PATCH", &app.org_path(&format!("/api-keys/{principal}")), Some(json!({"status": "Suspended"})))
        .await;
    app.admin_call("POST", &app.org_path("/api-keys"), Some(json!({"displayName": ""}))).await;
    let other = app.another_org(false).await;
    secrets.push(other.api_key.clone());
    app.call("GET", &format!("/iam/orgs/{}/api-keys", other.org_id), Some(&other.api_key), None).await;

    let pepper = app.pepper().await;
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.lines().count() >= 5, "the flows above must have logged something:\n{logs}");
    for secret in &secrets {
        let secret_part = &secret[24..];
        assert!(!logs.contains(secret_part), "a key secret reached the logs");
        assert!(!logs.contains(&secret[..40]), "a key prefix with secret characters reached the logs");
    }
    assert!(!logs.contains("$argon2id$"), "a stored hash reached the logs");
    assert!(!logs.contains(&pepper), "the pepper reached the logs");
}
