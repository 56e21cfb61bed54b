//! Credentials: issued once, listed without secrets, revoked idempotently, capped atomically.

use std::collections::HashMap;

use iam_tests::TestApp;
use serde_json::json;

#[tokio::test]
async fn an_issued_key_is_shown_once_and_never_again() {
    let app = TestApp::new().await;
    let id = app.create_principal("ci").await["id"].as_str().unwrap().to_string();
    let r = app
        .admin_call("POST", &app.org_path(&format!("/api-keys/{id}/credentials")), Some(json!({"name": "prod"})))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.header("cache-control"), "no-store");
    let key = r.body["apiKey"].as_str().unwrap();
    assert!(key.starts_with("ik_") && key.len() == 62, "{key}");
    let credential = &r.body["credential"];
    assert_eq!(credential["id"].as_str().unwrap(), &key[3..23]);
    assert_eq!(credential["principalId"].as_str().unwrap(), id);
    assert_eq!(credential["status"], "Active");
    assert_eq!(credential["lastUsedAt"], serde_json::Value::Null);
    let secret = &key[24..];

    let list = app.admin_call("GET", &app.org_path(&format!("/api-keys/{id}/credentials?status=all")), None).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    let listed = String::from_utf8(list.raw.clone()).unwrap();
    assert!(!listed.contains(secret) && !listed.contains("argon2") && !listed.contains("secretHash"), "{listed}");

    let stored = app.table_items().await;
    let everything = format!("{stored:?}");
    assert!(!everything.contains(secret), "the secret must not be stored, only its hash");
    let events = app.audit_events(&app.org).await;
    assert_eq!(events[0]["action"].as_s().unwrap(), "iam:credentials:issue");
    assert!(!format!("{events:?}").contains(secret));
}

#[tokio::test]
async fn revoking_a_credential_leaves_the_principal_and_its_other_credentials() {
    let app = TestApp::new().await;
    let id = app.create_principal("ci").await["id"].as_str().unwrap().to_string();
    app.assign(&id, "iam-viewer").await;
    let (first, first_key) = app.issue(&id, "first").await;
    let (_, second_key) = app.issue(&id, "second").await;
    let revoke = app.org_path(&format!("/api-keys/{id}/credentials/{}/revoke", first["id"].as_str().unwrap()));

    let r = app.admin_call("POST", &revoke, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "Revoked");
    let revoked_at = r.body["revokedAt"].clone();
    assert!(revoked_at.is_string());
    let again = app.admin_call("POST", &revoke, None).await;
    assert_eq!(again.status, 200, "revoking twice is fine");
    assert_eq!(again.body["revokedAt"], revoked_at, "and changes nothing");

    assert_eq!(app.call("GET", &app.org_path("/api-keys"), Some(&first_key), None).await.code(), "credential_revoked");
    assert_eq!(app.call("GET", &app.org_path("/api-keys"), Some(&second_key), None).await.status, 200);
    let principal = app.admin_call("GET", &app.org_path(&format!("/api-keys/{id}")), None).await;
    assert_eq!(principal.body["status"], "Active");

    let active = app.admin_call("GET", &app.org_path(&format!("/api-keys/{id}/credentials")), None).await;
    let names: Vec<_> = active.body["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["second"]);
    let revoked =
        app.admin_call("GET", &app.org_path(&format!("/api-keys/{id}/credentials?status=Revoked")), None).await;
    assert_eq!(revoked.body["items"][0]["name"], "first");
    let bad = app.admin_call("GET", &app.org_path(&format!("/api-keys/{id}/credentials?status=Gone")), None).await;
    assert_eq!((bad.status, bad.code()), (400, "invalid_request"));

    let revocations: Vec<_> = app
        .audit_events(&app.org)
        .await
        .into_iter()
        .filter(|e| e["action"].as_s().unwrap() == "iam:credentials:revoke")
        .collect();
    assert_eq!(revocations.len(), 1, "the idempotent second revoke is not a change");
}

#[tokio::test]
async fn a_revoked_credential_frees_its_place_under_the_cap() {
    let app = TestApp::new().await;
    let id = app.create_principal("ci").await["id"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(app.issue(&id, &format!("k{n}")).await.0["id"].as_str().unwrap().to_string());
    }
    let path = app.org_path(&format!("/api-keys/{id}/credentials"));
    let r = app.admin_call("POST", &path, Some(json!({"name": "eleventh"}))).await;
    assert_eq!((r.status, r.code()), (409, "credential_limit_reached"));
    app.admin_call("POST", &format!("{path}/{}/revoke", ids[0]), None).await;
    let r = app.admin_call("POST", &path, Some(json!({"name": "replacement"}))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

#[tokio::test]
async fn fifty_concurrent_issuances_against_a_cap_of_ten_issue_exactly_ten() {
    let app = TestApp::new().await;
    let id = app.create_principal("busy").await["id"].as_str().unwrap().to_string();
    let path = app.org_path(&format!("/api-keys/{id}/credentials"));
    let attempts = (0..50).map(|n| app.admin_call("POST", &path, Some(json!({"name": format!("c{n}")}))));
    let results = futures::future::join_all(attempts).await;

    let mut outcomes: HashMap<(u16, String), usize> = HashMap::new();
    for r in &results {
        *outcomes.entry((r.status, r.code().to_string())).or_default() += 1;
    }
    assert_eq!(outcomes.get(&(201, String::new())), Some(&10), "{outcomes:?}");
    assert_eq!(outcomes.get(&(409, "credential_limit_reached".into())), Some(&40), "{outcomes:?}");

    let mut listed = 0;
    let mut cursor = String::new();
    loop {
        let r = app.admin_call("GET", &format!("{path}?limit=3{cursor}"), None).await;
        listed += r.body["items"].as_array().unwrap().len();
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(listed, 10);
}

#[tokio::test]
async fn credential_bodies_are_validated() {
    let app = TestApp::new().await;
    let id = app.create_principal("ci").await["id"].as_str().unwrap().to_string();
    let path = app.org_path(&format!("/api-keys/{id}/credentials"));
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "é".repeat(129)}), "name"),
        (json!({"name": "tab\tname"}), "name"),
        (json!({"name": "ok", "expiresAt": "2020-01-01T00:00:00Z"}), "expiresAt"),
        (json!({"name": "ok", "secret": "mine"}), "secret"),
    ] {
        let r = app.admin_call("POST", &path, Some(body.clone())).await;
        assert_eq!((r.status, r.code()), (400, "invalid_request"), "{body}");
        assert_eq!(r.body["errors"][0]["field"], field, "{body}");
    }
    let unknown = format!("akp_{}", ulid::Ulid::new());
    let r = app
        .admin_call("POST", &app.org_path(&format!("/api-keys/{unknown}/credentials")), Some(json!({"name": "x"})))
        .await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    let r = app.admin_call("POST", &format!("{path}/aaaaaaaaaaaaaaaaaaaa/revoke"), None).await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
}

#[tokio::test]
async fn a_credential_is_found_only_under_its_own_principal() {
    let app = TestApp::new().await;
    let (owner, key) = app.principal_with_key("owner").await;
    let (stranger, _) = app.principal_with_key("stranger").await;
    let key_id = &key[3..23];
    let r =
        app.admin_call("POST", &app.org_path(&format!("/api-keys/{stranger}/credentials/{key_id}/revoke")), None).await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    assert_eq!(app.call("GET", &app.org_path(&format!("/api-keys/{owner}")), Some(&key), None).await.status, 200);
}

#[tokio::test]
async fn expired_credentials_free_their_places_under_the_cap() {
    let app = TestApp::new().await;
    let id = app.create_principal("ci").await["id"].as_str().unwrap().to_string();
    let path = app.org_path(&format!("/api-keys/{id}/credentials"));
    let soon = app.at(300);
    for n in 0..10 {
        let r = app.admin_call("POST", &path, Some(json!({"name": format!("k{n}"), "expiresAt": soon}))).await;
        assert_eq!(r.status, 201);
    }
    assert_eq!(app.admin_call("POST", &path, Some(json!({"name": "full"}))).await.code(), "credential_limit_reached");
    app.app.clock.advance(301);
    let active = app.admin_call("GET", &path, None).await;
    assert_eq!(active.body["items"], json!([]), "past their expiry they are not listed as Active");
    let r = app.admin_call("POST", &path, Some(json!({"name": "fresh"}))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let expired = app.admin_call("GET", &format!("{path}?status=Expired"), None).await;
    assert_eq!(expired.body["items"].as_array().unwrap().len(), 10);
    let audit = app.audit_events(&app.org).await;
    assert_eq!(audit.iter().filter(|e| e["action"].as_s().unwrap() == "iam:credentials:expire").count(), 10);
}
