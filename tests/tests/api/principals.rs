//! API-key principals: create, read, list, change; the state machine and optimistic concurrency.

use iam_tests::TestApp;
use local_stack::event::IncomingRequest;
use serde_json::{Value, json};

#[tokio::test]
async fn a_created_principal_reads_back_as_the_contract_shapes_it() {
    let app = TestApp::new().await;
    let r = app
        .admin_call(
            "POST",
            &app.org_path("/api-keys"),
            Some(json!({"displayName": "  billing sync ", "status": "Suspended"})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let created = r.body.clone();
    assert!(created["id"].as_str().unwrap().starts_with("akp_"));
    assert_eq!(created["orgId"], json!(app.org.to_string()));
    assert_eq!(created["type"], "ApiKey");
    assert_eq!(created["displayName"], "billing sync");
    assert_eq!(created["status"], "Suspended");
    assert_eq!(created["expiresAt"], Value::Null);
    assert_eq!(created["version"], 1);
    assert_eq!(r.header("location"), app.org_path(&format!("/api-keys/{}", created["id"].as_str().unwrap())));

    let got = app.admin_call("GET", r.header("location"), None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, created);
    assert_eq!(got.header("etag"), "\"1\"");

    let events = app.audit_events(&app.org).await;
    let newest = &events[0];
    assert_eq!(newest["action"].as_s().unwrap(), "iam:apiKeys:create");
    assert_eq!(newest["target"].as_s().unwrap(), &format!("iam:api-keys/{}", created["id"].as_str().unwrap()));
    assert!(newest["requestId"].as_s().is_ok());
}

#[tokio::test]
async fn an_unknown_or_impossible_principal_is_not_found() {
    let app = TestApp::new().await;
    let unknown = format!("akp_{}", ulid::Ulid::new());
    for id in [unknown.as_str(), "akp_nope", "usr_01J0000000000000000000000"] {
        let r = app.admin_call("GET", &app.org_path(&format!("/api-keys/{id}")), None).await;
        assert_eq!((r.status, r.code()), (404, "not_found"), "{id}");
    }
}

#[tokio::test]
async fn the_status_moves_between_active_and_suspended_and_revoked_is_final() {
    let app = TestApp::new().await;
    let id = app.create_principal("ci").await["id"].as_str().unwrap().to_string();
    let path = app.org_path(&format!("/api-keys/{id}"));
    for (status, version) in [("Suspended", 2), ("Active", 3), ("Revoked", 4)] {
        let r = app.admin_call("PATCH", &path, Some(json!({"status": status}))).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!((r.body["status"].as_str().unwrap(), r.body["version"].as_u64().unwrap()), (status, version));
    }
    for change in [json!({"status": "Active"}), json!({"status": "Revoked"}), json!({"displayName": "renamed"})] {
        let r = app.admin_call("PATCH", &path, Some(change)).await;
        assert_eq!((r.status, r.code()), (409, "principal_revoked"));
    }
    let r = app.admin_call("POST", &format!("{path}/credentials"), Some(json!({"name": "late"}))).await;
    assert_eq!((r.status, r.code()), (409, "principal_revoked"));
    assert_eq!(app.admin_call("GET", &path, None).await.body["version"], 4);
}

#[tokio::test]
async fn a_stale_if_match_is_refused_and_changes_nothing() {
    let app = TestApp::new().await;
    let id = app.create_principal("ci").await["id"].as_str().unwrap().to_string();
    let path = app.org_path(&format!("/api-keys/{id}"));
    let patch = |if_match: &str, body: Value| IncomingRequest {
        method: "PATCH".into(),
        path: path.clone(),
        headers: vec![
            ("Authorization".into(), format!("ApiKey {}", app.admin_key)),
            ("If-Match".into(), if_match.into()),
            ("Content-Type".into(), "application/json".into()),
        ],
        body: body.to_string().into_bytes(),
        ..Default::default()
    };
    let r = app.send(patch("\"1\"", json!({"displayName": "first"}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.header("etag"), "\"2\"");
    let r = app.send(patch("1", json!({"displayName": "second"}))).await;
    assert_eq!((r.status, r.code()), (412, "version_mismatch"));
    assert_eq!(r.header("etag"), "\"2\"");
    let r = app.send(patch("yesterday", json!({"displayName": "third"}))).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"));
    let now = app.admin_call("GET", &path, None).await;
    assert_eq!((now.body["displayName"].as_str().unwrap(), now.body["version"].as_u64().unwrap()), ("first", 2));
}

#[tokio::test]
async fn expiry_can_be_set_and_cleared_with_null() {
    let app = TestApp::new().await;
    let id = app.create_principal("ci").await["id"].as_str().unwrap().to_string();
    let path = app.org_path(&format!("/api-keys/{id}"));
    let at = app.at(3600);
    let r = app.admin_call("PATCH", &path, Some(json!({"expiresAt": at}))).await;
    assert_eq!(r.status, 200);
    assert!(r.body["expiresAt"].is_string());
    let r = app.admin_call("PATCH", &path, Some(json!({"displayName": "kept"}))).await;
    assert!(r.body["expiresAt"].is_string(), "an absent field is left as it is");
    let r = app.admin_call("PATCH", &path, Some(json!({"expiresAt": null}))).await;
    assert_eq!(r.body["expiresAt"], Value::Null);
}

#[tokio::test]
async fn a_patch_that_changes_nothing_writes_nothing() {
    let app = TestApp::new().await;
    let id = app.create_principal("ci").await["id"].as_str().unwrap().to_string();
    let path = app.org_path(&format!("/api-keys/{id}"));
    let r = app.admin_call("PATCH", &path, Some(json!({"status": "Active", "displayName": "ci"}))).await;
    assert_eq!((r.status, r.body["version"].as_u64()), (200, Some(1)));
}

#[tokio::test]
async fn suspension_reaches_every_active_credential_in_the_same_write() {
    let app = TestApp::new().await;
    let id = app.create_principal("fleet").await["id"].as_str().unwrap().to_string();
    app.assign(&id, "iam-viewer").await;
    let mut keys = Vec::new();
    for n in 0..4 {
        keys.push(app.issue(&id, &format!("key {n}")).await.1);
    }
    let r =
        app.admin_call("PATCH", &app.org_path(&format!("/api-keys/{id}")), Some(json!({"status": "Suspended"}))).await;
    assert_eq!(r.status, 200);
    for key in &keys {
        let r = app.call("GET", &app.org_path("/api-keys"), Some(key), None).await;
        assert_eq!(r.code(), "principal_suspended");
    }
    app.admin_call("PATCH", &app.org_path(&format!("/api-keys/{id}")), Some(json!({"status": "Active"}))).await;
    for key in &keys {
        assert_eq!(app.call("GET", &app.org_path("/api-keys"), Some(key), None).await.status, 200);
    }
}

#[tokio::test]
async fn principals_list_by_status_in_pages_with_cursors() {
    let app = TestApp::new().await;
    for n in 0..5 {
        let p = app.create_principal(&format!("p{n}")).await;
        if n % 2 == 0 {
            let path = app.org_path(&format!("/api-keys/{}", p["id"].as_str().unwrap()));
            app.admin_call("PATCH", &path, Some(json!({"status": "Suspended"}))).await;
        }
    }
    // All: the bootstrap administrator and five more, two at a time.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("/api-keys?limit=2&cursor={c}"),
            None => "/api-keys?limit=2".to_string(),
        };
        let r = app.admin_call("GET", &app.org_path(&query), None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert!(r.body["items"].as_array().unwrap().len() <= 2);
        seen.extend(r.body["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_string()));
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "oldest first");

    let r = app.admin_call("GET", &app.org_path("/api-keys?status=Suspended"), None).await;
    let statuses: Vec<_> = r.body["items"].as_array().unwrap().iter().map(|p| p["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["Suspended"; 3]);
    let r = app.admin_call("GET", &app.org_path("/api-keys?status=Lost"), None).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"));
    for limit in ["0", "101", "ten"] {
        let r = app.admin_call("GET", &app.org_path(&format!("/api-keys?limit={limit}")), None).await;
        assert_eq!((r.status, r.code()), (400, "invalid_request"), "limit={limit}");
    }
}

#[tokio::test]
async fn a_cursor_altered_or_used_on_another_query_is_invalid() {
    let app = TestApp::new().await;
    for n in 0..3 {
        app.create_principal(&format!("p{n}")).await;
    }
    let r = app.admin_call("GET", &app.org_path("/api-keys?limit=1"), None).await;
    let cursor = r.body["nextCursor"].as_str().unwrap().to_string();
    // Encrypted: it shows nothing of the table's keys (it used to be readable base64 JSON).
    let decoded = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &cursor).unwrap();
    for shown in ["ORG#", "PRINCIPAL#", app.org.as_str(), "akp_"] {
        assert!(!String::from_utf8_lossy(&decoded).contains(shown), "{shown} shows in the cursor");
    }

    let mut altered = cursor.clone().into_bytes();
    altered[5] = if altered[5] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let r = app.admin_call("GET", &app.org_path(&format!("/api-keys?limit=1&cursor={altered}")), None).await;
    assert_eq!((r.status, r.code()), (400, "invalid_cursor"));

    let r = app.admin_call("GET", &app.org_path(&format!("/api-keys?status=Active&cursor={cursor}")), None).await;
    assert_eq!((r.status, r.code()), (400, "invalid_cursor"), "another filter");

    let other = app.another_org(true).await;
    let r = app
        .call("GET", &format!("/iam/orgs/{}/api-keys?cursor={cursor}", other.org_id), Some(&other.api_key), None)
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_cursor"), "another org");

    // A credentials cursor replayed on another principal's credentials.
    let (p1, _) = app.principal_with_key("one").await;
    app.issue(&p1, "two").await;
    let (p2, _) = app.principal_with_key("other").await;
    let r = app.admin_call("GET", &app.org_path(&format!("/api-keys/{p1}/credentials?limit=1")), None).await;
    let cred_cursor = r.body["nextCursor"].as_str().unwrap().to_string();
    let r =
        app.admin_call("GET", &app.org_path(&format!("/api-keys/{p2}/credentials?cursor={cred_cursor}")), None).await;
    assert_eq!((r.status, r.code()), (400, "invalid_cursor"), "another principal");
    let r = app
        .admin_call("GET", &app.org_path(&format!("/api-keys/{p1}/credentials?limit=1&cursor={cred_cursor}")), None)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn bad_bodies_get_clear_errors_and_change_nothing() {
    let app = TestApp::new().await;
    let path = app.org_path("/api-keys");
    // Authenticate once first, so that the throttled lastUsedAt write is behind us.
    assert_eq!(app.admin_call("GET", &path, None).await.status, 200);
    let before = app.table_items().await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"displayName": ""}), "displayName"),
        (json!({"displayName": "   "}), "displayName"),
        (json!({"displayName": "x".repeat(129)}), "displayName"),
        (json!({"displayName": "bell\u{7}"}), "displayName"),
        (json!({"displayName": "invoice\u{202e}fdp.exe"}), "displayName"),
        (json!({"displayName": "c\u{200b}i"}), "displayName"),
        (json!({"displayName": "ci\u{e0041}"}), "displayName"),
        (json!({"displayName": "ci\u{f8ff}"}), "displayName"),
        (json!({"displayName": "ci\u{fdd0}"}), "displayName"),
        (json!({"displayName": "ok", "expiresAt": "2001-01-01T00:00:00Z"}), "expiresAt"),
        (json!({"displayName": "ok", "expiresAt": "soon"}), "expiresAt"),
        (json!({"displayName": "ok", "status": "Revoked"}), "status"),
        (json!({"displayName": "ok", "colour": "blue"}), "colour"),
        (json!({"displayName": 42}), "displayName"),
        (json!({}), "displayName"),
    ];
    for (body, field) in cases {
        let r = app.admin_call("POST", &path, Some(body.clone())).await;
        assert_eq!((r.status, r.code()), (400, "invalid_request"), "{body}");
        let fields: Vec<_> =
            r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&field), "{body}: {fields:?}");
    }

    let raw = |body: Vec<u8>, content_type: &str| IncomingRequest {
        method: "POST".into(),
        path: path.clone(),
        headers: vec![
            ("Authorization".into(), format!("ApiKey {}", app.admin_key)),
            ("Content-Type".into(), content_type.into()),
        ],
        body,
        ..Default::default()
    };
    let r = app.send(raw(b"{\"displayName\": ".to_vec(), "application/json")).await;
    assert_eq!((r.status, r.code()), (400, "malformed_json"));
    let r = app.send(raw(Vec::new(), "application/json")).await;
    assert_eq!((r.status, r.code()), (400, "malformed_json"));
    let r = app.send(raw(b"[1, 2]".to_vec(), "application/json")).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"));
    let big = format!("{{\"displayName\": \"{}\"}}", "x".repeat(64 * 1024));
    let r = app.send(raw(big.into_bytes(), "application/json")).await;
    assert_eq!((r.status, r.code()), (413, "payload_too_large"));
    let r = app.send(raw(b"displayName=x".to_vec(), "application/x-www-form-urlencoded")).await;
    assert_eq!((r.status, r.code()), (415, "unsupported_media_type"));

    assert_eq!(app.table_items().await, before, "no bad request may write anything");
}
