//! Credential lifecycle beyond issue and revoke: roll with a grace period, and edit (a name, an
//! earlier expiry).

use iam_tests::TestApp;
use iam_tests::faults::Fault;
use serde_json::json;
use shared::service::sweep::Deadline;

struct Unbounded;

impl Deadline for Unbounded {
    fn reached(&self) -> bool {
        false
    }
}

/// A credential of `principal` expiring `seconds` from now: its key.
async fn issue_expiring(app: &TestApp, principal: &str, name: &str, seconds: i64) -> String {
    let r = app
        .admin_call(
            "POST",
            &app.org_path(&format!("/api-keys/{principal}/credentials")),
            Some(json!({"name": name, "expiresAt": app.at(seconds)})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["apiKey"].as_str().unwrap().to_string()
}

async fn roll(app: &TestApp, principal: &str, key: &str, body: serde_json::Value) -> iam_tests::TestResponse {
    app.admin_call("POST", &credential_path(app, principal, key, "/roll"), Some(body)).await
}

fn credential_path(app: &TestApp, principal: &str, key: &str, rest: &str) -> String {
    app.org_path(&format!("/api-keys/{principal}/credentials/{}{rest}", &key[3..23]))
}

#[tokio::test]
async fn a_roll_issues_a_successor_and_the_old_key_works_until_the_grace_period_ends() {
    let app = TestApp::new().await;
    let principal = app.create_principal("billing sync").await["id"].as_str().unwrap().to_string();
    let old_key = issue_expiring(&app, &principal, "production", 30 * 86_400).await;
    app.app.clock.advance(3600);
    let r = roll(&app, &principal, &old_key, json!({"expireOldAfterSeconds": 600})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.header("cache-control"), "no-store");
    let new_key = r.body["apiKey"].as_str().unwrap().to_string();
    assert_eq!(r.body["replaces"], &old_key[3..23]);
    assert_eq!(r.body["credential"]["name"], "production (rolled)");
    // The same lifetime (30 days), counted from the roll.
    assert_eq!(r.body["credential"]["expiresAt"], app.at(30 * 86_400));

    assert_eq!(app.exchange(&new_key).await.status, 200);
    assert_eq!(app.exchange(&old_key).await.status, 200, "within the grace period");
    let listed = app.admin_call("GET", &app.org_path(&format!("/api-keys/{principal}/credentials")), None).await;
    let old = listed.body["items"].as_array().unwrap().iter().find(|c| c["id"] == old_key[3..23]).unwrap().clone();
    assert_eq!(
        (old["replacedBy"].as_str(), old["expiresAt"].as_str()),
        (Some(&new_key[3..23]), Some(app.at(600).as_str()))
    );

    app.app.clock.advance(600);
    assert_eq!(app.exchange(&old_key).await.code(), "credential_expired");
    assert_eq!(app.exchange(&new_key).await.status, 200);
    // The sweep marks it Expired: the new expiry moved it in the expiry index.
    let report = expiry_sweep::handle(&app.app, &Unbounded, "sweep").await.unwrap();
    assert_eq!(report.expired, 1);
    let events = app.admin_call("GET", &app.org_path("/audit-events"), None).await;
    let actions: Vec<&str> =
        events.body["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"iam:credentials:roll"), "{actions:?}");

    // Rolled once: the old one cannot be rolled again.
    let again = roll(&app, &principal, &old_key, json!({"expireOldAfterSeconds": 0})).await;
    assert_eq!((again.status, again.code()), (409, "credential_not_active"));
}

#[tokio::test]
async fn a_roll_needs_a_place_under_the_cap_as_an_issuance_does_and_without_grace_stops_the_old_key_at_once() {
    let app = TestApp::new().await;
    let r =
        app.admin_call("PATCH", &app.org_path("/settings"), Some(json!({"maxActiveCredentialsPerPrincipal": 2}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.app.clock.advance(60);
    let principal = app.create_principal("at the cap").await["id"].as_str().unwrap().to_string();
    let (_, first) = app.issue(&principal, "first").await;
    let (_, second) = app.issue(&principal, "second").await;
    let r = app
        .admin_call(
            "POST",
            &app.org_path(&format!("/api-keys/{principal}/credentials")),
            Some(json!({"name": "third"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "credential_limit_reached"));

    // Every path that creates a credential is held by the same cap: the successor needs a place.
    let r = roll(&app, &principal, &first, json!({"expireOldAfterSeconds": 0})).await;
    assert_eq!((r.status, r.code()), (409, "credential_limit_reached"), "{:?}", r.body);
    assert_eq!(app.exchange(&first).await.status, 200, "a refused roll changes nothing");

    let r = app.admin_call("POST", &credential_path(&app, &principal, &second, "/revoke"), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = roll(&app, &principal, &first, json!({"expireOldAfterSeconds": 0})).await;
    assert_eq!(r.status, 201, "with a place free, the roll succeeds: {:?}", r.body);
    assert_eq!(app.exchange(&first).await.code(), "credential_expired");
    assert_eq!(app.exchange(r.body["apiKey"].as_str().unwrap()).await.status, 200);
    // The old credential holds its place until it is marked Expired: the next issuance marks it
    // (as the sweep would) and takes it.
    let (_, third) = app.issue(&principal, "third").await;
    assert_eq!(app.exchange(&third).await.status, 200);
}

#[tokio::test]
async fn a_failed_roll_leaves_both_credentials_as_they_were() {
    let app = TestApp::new().await;
    let principal = app.create_principal("crash").await["id"].as_str().unwrap().to_string();
    let (_, key) = app.issue(&principal, "only").await;
    let before = app.table_items().await.len();
    // Every attempt fails (the SDK retries a 500 itself).
    app.faults.arm("TransactWriteItems", Fault::Internal, 1000);
    let r = roll(&app, &principal, &key, json!({"expireOldAfterSeconds": 0})).await;
    app.faults.disarm();
    assert_eq!((r.status, r.code()), (503, "service_unavailable"));
    assert_eq!(app.table_items().await.len(), before, "no successor, no audit event");
    assert_eq!(app.exchange(&key).await.status, 200, "the old key is untouched");
    let listed = app.admin_call("GET", &app.org_path(&format!("/api-keys/{principal}/credentials")), None).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert!(listed.body["items"][0].get("replacedBy").is_none());
}

#[tokio::test]
async fn a_roll_checks_its_body_and_its_credential() {
    let app = TestApp::new().await;
    let principal = app.create_principal("checks").await["id"].as_str().unwrap().to_string();
    let (_, key) = app.issue(&principal, "k").await;
    for bad in [
        json!({}),
        json!({"expireOldAfterSeconds": -1}),
        json!({"expireOldAfterSeconds": 604_801}),
        json!({"expireOldAfterSeconds": 1.5}),
    ] {
        let r = app.admin_call("POST", &credential_path(&app, &principal, &key, "/roll"), Some(bad.clone())).await;
        assert_eq!((r.status, r.code()), (400, "invalid_request"), "{bad}");
    }
    app.admin_call("POST", &credential_path(&app, &principal, &key, "/revoke"), None).await;
    let r = roll(&app, &principal, &key, json!({"expireOldAfterSeconds": 0})).await;
    assert_eq!((r.status, r.code()), (409, "credential_not_active"));
}

#[tokio::test]
async fn an_edit_renames_and_brings_the_expiry_earlier_but_never_extends_it() {
    let app = TestApp::new().await;
    let principal = app.create_principal("edited").await["id"].as_str().unwrap().to_string();
    let key = issue_expiring(&app, &principal, "ci", 86_400).await;
    let path = credential_path(&app, &principal, &key, "");
    let later = app.admin_call("PATCH", &path, Some(json!({"expiresAt": app.at(2 * 86_400)}))).await;
    assert_eq!((later.status, later.code()), (400, "invalid_request"));

    let mut incoming =
        local_stack::event::IncomingRequest { method: "PATCH".into(), path: path.clone(), ..Default::default() };
    incoming.headers.push(("Authorization".into(), format!("ApiKey {}", app.admin_key)));
    incoming.headers.push(("Content-Type".into(), "application/json".into()));
    incoming.headers.push(("If-Match".into(), "\"1\"".into()));
    incoming.body = json!({"name": "ci (main)", "expiresAt": app.at(3600)}).to_string().into_bytes();
    let r = app.send(incoming.clone()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.header("etag"), "\"2\"");
    assert_eq!(
        (r.body["name"].as_str(), r.body["expiresAt"].as_str()),
        (Some("ci (main)"), Some(app.at(3600).as_str()))
    );
    let stale = app.send(incoming).await;
    assert_eq!((stale.status, stale.code()), (412, "version_mismatch"));

    app.app.clock.advance(3600);
    assert_eq!(app.exchange(&key).await.code(), "credential_expired", "the earlier expiry holds");
    let r = app.admin_call("PATCH", &path, Some(json!({"name": "too late"}))).await;
    assert_eq!((r.status, r.code()), (409, "credential_not_active"));
}

#[tokio::test]
async fn an_expiry_can_be_set_where_there_was_none() {
    let app = TestApp::new().await;
    let principal = app.create_principal("no expiry").await["id"].as_str().unwrap().to_string();
    let (_, key) = app.issue(&principal, "forever").await;
    let path = credential_path(&app, &principal, &key, "");
    let r = app.admin_call("PATCH", &path, Some(json!({"expiresAt": app.at(60)}))).await;
    assert_eq!((r.status, r.body["expiresAt"].as_str()), (200, Some(app.at(60).as_str())), "{:?}", r.body);
    app.app.clock.advance(60);
    let report = expiry_sweep::handle(&app.app, &Unbounded, "sweep").await.unwrap();
    assert_eq!(report.expired, 1, "the new expiry put it in the expiry index");
}

#[tokio::test]
async fn a_roll_keeps_to_the_orgs_lifetime_policy() {
    let app = TestApp::new().await;
    let principal = app.create_principal("old key").await["id"].as_str().unwrap().to_string();
    let (_, forever) = app.issue(&principal, "issued before the policy").await;
    let r = app.admin_call("PATCH", &app.org_path("/settings"), Some(json!({"maxCredentialLifetimeDays": 30}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.app.clock.advance(60);
    let r = roll(&app, &principal, &forever, json!({"expireOldAfterSeconds": 0})).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"), "a successor without expiry breaks the policy");
    assert!(r.body["errors"][0]["message"].as_str().unwrap().contains("maxCredentialLifetimeDays"), "{:?}", r.body);
    assert_eq!(app.exchange(&forever).await.status, 200, "the refused roll changed nothing");
}

/// A principal holding the most credentials the cap allows, one of them rolled and in its grace
/// period, is suspended, made Active again and revoked, each in one write of its own item (and an
/// audit event); every credential stops at once.
#[tokio::test]
async fn a_principal_at_the_largest_cap_is_suspended_and_revoked_in_one_write_and_every_key_stops() {
    let app = TestApp::new().await;
    let cap = 100;
    let r = app
        .admin_call("PATCH", &app.org_path("/settings"), Some(json!({"maxActiveCredentialsPerPrincipal": cap})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let principal = app.create_principal("a hundred keys").await["id"].as_str().unwrap().to_string();
    app.assign(&principal, "iam-viewer").await;
    let mut keys = Vec::new();
    for i in 0..cap - 1 {
        keys.push(app.issue(&principal, &format!("key {i}")).await.1);
    }
    let r = roll(&app, &principal, &keys[0], json!({"expireOldAfterSeconds": 3600})).await;
    assert_eq!(r.status, 201, "the last place goes to a roll's successor: {:?}", r.body);
    keys.push(r.body["apiKey"].as_str().unwrap().to_string());
    let r = roll(&app, &principal, &keys[1], json!({"expireOldAfterSeconds": 3600})).await;
    assert_eq!((r.status, r.code()), (409, "credential_limit_reached"), "at the cap a roll is refused: {:?}", r.body);
    let r = app
        .owner_call("POST", &app.org_path(&format!("/api-keys/{principal}/credentials")), Some(json!({"name": "x"})))
        .await;
    assert_eq!((r.status, r.code()), (409, "credential_limit_reached"));
    assert_eq!(keys.len(), cap);

    let path = app.org_path(&format!("/api-keys/{principal}"));
    for status in ["Suspended", "Active", "Revoked"] {
        let before = app.table_items().await;
        let r = app.owner_call("PATCH", &path, Some(json!({"status": status}))).await;
        assert_eq!(r.status, 200, "{status}: {:?}", r.body);
        let after = app.table_items().await;
        let changed = after.iter().filter(|item| !before.contains(item)).count();
        assert_eq!(changed, 2, "{status}: the principal item and one audit event, whatever its credentials");
        let expected = match status {
            "Suspended" => (401, "principal_suspended"),
            "Revoked" => (401, "principal_revoked"),
            _ => (200, ""),
        };
        for key in &keys {
            let r = app.call("GET", &path, Some(key), None).await;
            assert_eq!((r.status, r.code()), expected, "{status}");
        }
    }
}
