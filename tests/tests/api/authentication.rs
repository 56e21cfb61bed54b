//! The contract's 401 table for `Authorization: ApiKey`, in its order, against moto.

use iam_tests::{TestApp, forged_key};
use local_stack::event::IncomingRequest;
use serde_json::json;

fn with_authorization(app: &TestApp, value: &str) -> IncomingRequest {
    IncomingRequest {
        method: "GET".into(),
        path: app.org_path("/api-keys"),
        headers: vec![("Authorization".into(), value.into())],
        source_ip: "198.51.100.7".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_request_without_usable_authorization_is_missing_credentials() {
    let app = TestApp::new().await;
    let none = app.call("GET", &app.org_path("/api-keys"), None, None).await;
    assert_eq!((none.status, none.code()), (401, "missing_credentials"));
    assert!(none.header("www-authenticate").contains("ApiKey"));
    assert_eq!(none.header("content-type"), "application/problem+json");
    for value in ["Basic dXNlcjpwYXNz", "ApiKey", "Token abc"] {
        let r = app.send(with_authorization(&app, value)).await;
        assert_eq!((r.status, r.code()), (401, "missing_credentials"), "{value}");
    }
}

#[tokio::test]
async fn a_truncated_or_mistyped_key_is_malformed_before_any_read() {
    let app = TestApp::new().await;
    let truncated = &app.admin_key[..app.admin_key.len() - 1];
    let mut typo = app.admin_key.clone().into_bytes();
    let last = typo.len() - 10;
    typo[last] = if typo[last] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    app.calls.reset();
    for key in [truncated, typo.as_str(), "ik_short.secret", "not-a-key"] {
        let r = app.call("GET", &app.org_path("/api-keys"), Some(key), None).await;
        assert_eq!((r.status, r.code()), (401, "api_key_malformed"), "{key}");
    }
    assert_eq!(app.calls.count(), 0, "a malformed key must not reach the table");
}

#[tokio::test]
async fn unknown_key_id_and_wrong_secret_answer_the_same_bytes() {
    let app = TestApp::new().await;
    let key_id = &app.admin_key[3..23];
    let wrong_secret = forged_key(key_id);
    let unknown_id = forged_key("zzzzzzzzzzzzzzzzzzzz");
    assert!(shared::auth::ApiKey::parse(&wrong_secret).is_ok(), "the forged key must pass the format check");

    let a = app.call("GET", &app.org_path("/api-keys"), Some(&wrong_secret), None).await;
    let b = app.call("GET", &app.org_path("/api-keys"), Some(&unknown_id), None).await;
    assert_eq!((a.status, a.code()), (401, "invalid_api_key"));
    assert_eq!((b.status, b.code()), (401, "invalid_api_key"));
    let strip = |r: &iam_tests::TestResponse| {
        let mut body = r.body.clone();
        body.as_object_mut().unwrap().remove("requestId");
        serde_json::to_vec(&body).unwrap()
    };
    assert_eq!(strip(&a), strip(&b));
    assert_eq!(a.raw.len(), b.raw.len());
    let headers = |r: &iam_tests::TestResponse| {
        let mut names: Vec<_> = r.headers.iter().map(|(k, v)| format!("{k}:{v:?}")).collect();
        names.sort();
        names
    };
    assert_eq!(headers(&a), headers(&b));
}

#[tokio::test]
async fn a_revoked_credential_is_credential_revoked() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_key("ci").await;
    let key_id = &key[3..23];
    let r = app
        .admin_call("POST", &app.org_path(&format!("/api-keys/{principal}/credentials/{key_id}/revoke")), None)
        .await;
    assert_eq!(r.status, 200);
    let r = app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await;
    assert_eq!((r.status, r.code()), (401, "credential_revoked"));
}

#[tokio::test]
async fn a_credential_past_its_expiry_is_credential_expired_without_the_sweep() {
    let app = TestApp::new().await;
    let principal = app.create_principal("ci").await;
    app.assign(principal["id"].as_str().unwrap(), "iam-viewer").await;
    let expires = app.at(3600);
    let path = app.org_path(&format!("/api-keys/{}/credentials", principal["id"].as_str().unwrap()));
    let r = app.admin_call("POST", &path, Some(json!({"name": "short", "expiresAt": expires}))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let key = r.body["apiKey"].as_str().unwrap().to_string();
    assert_eq!(app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await.status, 200);
    app.app.clock.advance(3601);
    let r = app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await;
    assert_eq!((r.status, r.code()), (401, "credential_expired"));
}

#[tokio::test]
async fn principal_states_are_checked_after_the_credential() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_key("ci").await;
    let path = app.org_path(&format!("/api-keys/{principal}"));

    let r = app.admin_call("PATCH", &path, Some(json!({"status": "Suspended"}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await;
    assert_eq!((r.status, r.code()), (401, "principal_suspended"));

    let expires = app.at(600);
    let r = app.admin_call("PATCH", &path, Some(json!({"status": "Active", "expiresAt": expires}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await.status, 200);
    app.app.clock.advance(601);
    let r = app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await;
    assert_eq!((r.status, r.code()), (401, "principal_expired"));
    app.app.clock.advance(-601);

    let r = app.admin_call("PATCH", &path, Some(json!({"status": "Revoked"}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await;
    assert_eq!((r.status, r.code()), (401, "principal_revoked"));
}

#[tokio::test]
async fn a_revoked_credential_of_a_suspended_principal_is_credential_revoked() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_key("ci").await;
    let revoke = app.org_path(&format!("/api-keys/{principal}/credentials/{}/revoke", &key[3..23]));
    assert_eq!(app.admin_call("POST", &revoke, None).await.status, 200);
    let path = app.org_path(&format!("/api-keys/{principal}"));
    assert_eq!(app.admin_call("PATCH", &path, Some(json!({"status": "Suspended"}))).await.status, 200);
    let r = app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await;
    assert_eq!((r.status, r.code()), (401, "credential_revoked"), "the credential is checked before the principal");
}

#[tokio::test]
async fn credential_and_principal_codes_are_revealed_only_after_the_secret_verifies() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_key("ci").await;
    app.admin_call("PATCH", &app.org_path(&format!("/api-keys/{principal}")), Some(json!({"status": "Revoked"}))).await;
    let wrong = forged_key(&key[3..23]);
    let r = app.call("GET", &app.org_path("/api-keys"), Some(&wrong), None).await;
    assert_eq!((r.status, r.code()), (401, "invalid_api_key"));
}

#[tokio::test]
async fn direct_api_key_calls_need_the_org_setting() {
    let app = TestApp::new().await;
    let other = app.another_org(false).await;
    let r = app.call("GET", &format!("/iam/orgs/{}/api-keys", other.org_id), Some(&other.api_key), None).await;
    assert_eq!((r.status, r.code()), (401, "direct_api_key_auth_disabled"));
    assert!(r.body["detail"].as_str().unwrap().contains("/iam/auth/token"));
}

#[tokio::test]
async fn a_bearer_token_that_is_not_ours_is_invalid_token() {
    let app = TestApp::new().await;
    let r = app.send(with_authorization(&app, "Bearer eyJhbGciOiJub25lIn0.e30.")).await;
    assert_eq!((r.status, r.code()), (401, "invalid_token"));
}

#[tokio::test]
async fn a_warm_api_key_authentication_costs_one_dynamodb_call() {
    let app = TestApp::new().await;
    let path = app.org_path(&format!("/api-keys/{}", app.admin));
    // Cold: the org's settings are read and cached; lastUsedAt is recorded.
    assert_eq!(app.admin_call("GET", &path, None).await.status, 200);
    assert_eq!(app.admin_call("GET", &path, None).await.status, 200);
    app.calls.reset();
    let r = app.admin_call("GET", &path, None).await;
    assert_eq!(r.status, 200);
    // The route's own read of the principal is the second call; authentication is the first: the
    // credential and its principal in one round trip.
    assert_eq!(app.calls.names(), vec!["BatchGetItem", "GetItem"], "authentication: 1 BatchGetItem; route: 1 GetItem");

    app.calls.reset();
    let caller = app
        .app
        .authenticate(
            &[(http::header::AUTHORIZATION, format!("ApiKey {}", app.admin_key).parse().unwrap())]
                .into_iter()
                .collect(),
            &shared::auth::RequestCtx { route_key: String::new(), request_id: "t".into(), source_ip: None },
        )
        .await
        .unwrap();
    let shared::auth::Identity::Principal(caller) = caller else { panic!("an API key is a principal") };
    assert_eq!(caller.principal_id, app.admin);
    assert_eq!(app.calls.count(), 1, "a warm ApiKey authentication is one round trip (BatchGetItem)");
}

#[tokio::test]
async fn last_used_at_is_written_at_most_once_per_interval() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_key("ci").await;
    let list = app.org_path(&format!("/api-keys/{principal}/credentials"));
    let before = app.admin_call("GET", &list, None).await;
    assert_eq!(before.body["items"][0]["lastUsedAt"], serde_json::Value::Null);

    app.calls.reset();
    for _ in 0..5 {
        assert_eq!(app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await.status, 200);
    }
    let writes = app.calls.names().iter().filter(|n| *n == "UpdateItem").count();
    assert_eq!(writes, 1, "{:?}", app.calls.names());
    let after = app.admin_call("GET", &list, None).await;
    assert!(after.body["items"][0]["lastUsedAt"].is_string());

    app.app.clock.advance(301);
    app.calls.reset();
    assert_eq!(app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await.status, 200);
    assert_eq!(app.calls.names().iter().filter(|n| *n == "UpdateItem").count(), 1);
}
