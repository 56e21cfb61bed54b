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
    // A well-formed key with the right id and a wrong secret reaches argon2 and fails there.
    let wrong = iam_tests::forged_key(key_id);
    assert_eq!(app.call("GET", &app.org_path("/api-keys"), Some(&wrong), None).await.code(), "invalid_api_key");
    // Exchanges in every form, a bearer call, a refused bearer token.
    let token = app.token_for(&key).await;
    let (id, secret) = key.split_once('.').unwrap();
    let basic = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{id}:{secret}"));
    app.send(local_stack::event::IncomingRequest {
        method: "POST".into(),
        path: "/iam/auth/token".into(),
        headers: vec![
            ("Authorization".into(), format!("Basic {basic}")),
            ("Content-Type".into(), "application/x-www-form-urlencoded".into()),
        ],
        body: b"grant_type=client_credentials".to_vec(),
        ..Default::default()
    })
    .await;
    app.send(local_stack::event::IncomingRequest {
        method: "POST".into(),
        path: "/iam/auth/token".into(),
        headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())],
        body: format!("grant_type=client_credentials&client_id={id}&client_secret={secret}").into_bytes(),
        ..Default::default()
    })
    .await;
    app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await;
    app.bearer_call("GET", &app.org_path("/api-keys"), &format!("{token}x"), None).await;
    let signing = app.signing_keys().await;
    // The legacy developer page, read by a member.
    let sdk = local_stack::admin::emulator_sdk_config(&iam_tests::emulator_url()).await;
    let secrets_manager = aws_sdk_secretsmanager::Client::new(&sdk);
    let infuse_key = "infuse-admin-key-never-logged-7f3a";
    local_stack::admin::link_infuse_iot(&secrets_manager, &app.app.config, app.org.as_str(), "infuse-org", infuse_key)
        .await
        .unwrap();
    app.add_member("dev", Some("developer")).await;
    let page = format!("/admin/developer?orgId={}", app.org);
    assert_eq!(app.bearer_call("GET", &page, &app.user_token("dev"), None).await.status, 200);
    let user_token = app.user_token("dev");
    app.bearer_call("GET", &app.org_path("/api-keys"), &user_token, None).await;
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
    assert!(!logs.contains(&token[token.len() - 40..]), "an access token reached the logs");
    let private =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, signing.current.pkcs8_der().unwrap());
    assert!(!logs.contains(&private[20..60]), "a signing key reached the logs");
    assert!(!logs.contains(&pepper), "the pepper reached the logs");
    assert!(!logs.contains(infuse_key), "the Infuse IoT admin key reached the logs");
    assert!(!logs.contains(&user_token[user_token.len() - 40..]), "a member token reached the logs");
}
