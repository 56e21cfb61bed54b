//! The org's credential lifetime policy: `maxCredentialLifetimeDays` and `requireCredentialExpiry`
//! in the settings, enforced at issuance (400 naming the setting), within the settings cache's bound.

use iam_tests::TestApp;
use serde_json::{Value, json};

const DAY: i64 = 86_400;

async fn set_policy(app: &TestApp, body: Value) -> Value {
    let r = app.admin_call("PATCH", &app.org_path("/settings"), Some(body)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

/// The refusal of an issuance: 400 invalid_request on `expiresAt`, its message.
fn policy_refusal(r: &iam_tests::TestResponse) -> String {
    assert_eq!((r.status, r.code()), (400, "invalid_request"), "{:?}", r.body);
    assert_eq!(r.body["errors"][0]["field"], "expiresAt", "{:?}", r.body);
    r.body["errors"][0]["message"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_policy_is_in_the_settings_validated_and_cleared_with_null() {
    let app = TestApp::new().await;
    let r = app.admin_call("GET", &app.org_path("/settings"), None).await;
    assert_eq!(
        (r.body["maxCredentialLifetimeDays"].clone(), r.body["requireCredentialExpiry"].clone()),
        (json!(null), json!(false))
    );

    for (body, field) in [
        (json!({"maxCredentialLifetimeDays": 0}), "maxCredentialLifetimeDays"),
        (json!({"maxCredentialLifetimeDays": 3651}), "maxCredentialLifetimeDays"),
        (json!({"maxCredentialLifetimeDays": 1.5}), "maxCredentialLifetimeDays"),
        (json!({"maxCredentialLifetimeDays": "90"}), "maxCredentialLifetimeDays"),
        (json!({"requireCredentialExpiry": "yes"}), "requireCredentialExpiry"),
    ] {
        let r = app.admin_call("PATCH", &app.org_path("/settings"), Some(body.clone())).await;
        assert_eq!((r.status, r.code()), (400, "invalid_request"), "{body}");
        assert_eq!(r.body["errors"][0]["field"], field, "{body}: {:?}", r.body);
    }

    let set = set_policy(&app, json!({"maxCredentialLifetimeDays": 90.0, "requireCredentialExpiry": true})).await;
    assert_eq!(
        (set["maxCredentialLifetimeDays"].clone(), set["requireCredentialExpiry"].clone()),
        (json!(90), json!(true))
    );
    // Absent leaves a setting; null leaves requireCredentialExpiry but removes the maximum lifetime.
    let kept = set_policy(&app, json!({"accessTokenTtlSeconds": 600, "requireCredentialExpiry": null})).await;
    assert_eq!(
        (kept["maxCredentialLifetimeDays"].clone(), kept["requireCredentialExpiry"].clone()),
        (json!(90), json!(true))
    );
    let cleared = set_policy(&app, json!({"maxCredentialLifetimeDays": null})).await;
    assert_eq!(
        (cleared["maxCredentialLifetimeDays"].clone(), cleared["requireCredentialExpiry"].clone()),
        (json!(null), json!(true))
    );
    let read = app.admin_call("GET", &app.org_path("/settings"), None).await;
    assert_eq!(read.body, cleared);

    let change = &app.audit_events(&app.org).await[0];
    assert_eq!(change["action"].as_s().unwrap(), "iam:settings:update");
}

#[tokio::test]
async fn a_maximum_lifetime_refuses_a_later_expiry_or_none_and_names_the_setting() {
    let app = TestApp::new().await;
    set_policy(&app, json!({"maxCredentialLifetimeDays": 90})).await;
    let id = app.create_principal("ci").await["id"].as_str().unwrap().to_string();
    let path = app.org_path(&format!("/api-keys/{id}/credentials"));
    let audited = app.audit_events(&app.org).await.len();

    let none = app.admin_call("POST", &path, Some(json!({"name": "forever"}))).await;
    let expected = "the organisation's policy requires an expiry at most 90 days away (maxCredentialLifetimeDays)";
    assert_eq!(policy_refusal(&none), expected);
    let late = app.admin_call("POST", &path, Some(json!({"name": "late", "expiresAt": app.at(90 * DAY + 1)}))).await;
    assert_eq!(policy_refusal(&late), expected);
    assert_eq!(app.audit_events(&app.org).await.len(), audited, "a refused issuance writes nothing");
    let listed = app.admin_call("GET", &format!("{path}?status=all"), None).await;
    assert_eq!(listed.body["items"], json!([]));

    let r = app.admin_call("POST", &path, Some(json!({"name": "within", "expiresAt": app.at(90 * DAY)}))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

#[tokio::test]
async fn a_required_expiry_may_be_any_length() {
    let app = TestApp::new().await;
    set_policy(&app, json!({"requireCredentialExpiry": true})).await;
    let id = app.create_principal("ci").await["id"].as_str().unwrap().to_string();
    let path = app.org_path(&format!("/api-keys/{id}/credentials"));
    let r = app.admin_call("POST", &path, Some(json!({"name": "forever"}))).await;
    assert_eq!(policy_refusal(&r), "the organisation's policy requires an expiry (requireCredentialExpiry)");
    let r = app.admin_call("POST", &path, Some(json!({"name": "ten years", "expiresAt": app.at(3650 * DAY)}))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);

    // Lifting the policy lets credentials without an expiry be issued again.
    set_policy(&app, json!({"requireCredentialExpiry": false})).await;
    let r = app.admin_call("POST", &path, Some(json!({"name": "forever"}))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

#[tokio::test]
async fn another_container_applies_a_new_policy_within_sixty_seconds() {
    let app = TestApp::new().await;
    let other = app.second_container().await;
    let id = app.create_principal("ci").await["id"].as_str().unwrap().to_string();
    let path = app.org_path(&format!("/api-keys/{id}/credentials"));
    // The other container has read the settings (no policy) and caches them.
    assert_eq!(other.admin_call("POST", &path, Some(json!({"name": "before"}))).await.status, 201);

    set_policy(&app, json!({"requireCredentialExpiry": true})).await;
    assert_eq!(app.admin_call("POST", &path, Some(json!({"name": "here"}))).await.status, 400, "at once here");
    other.app.clock.advance(59);
    assert_eq!(other.admin_call("POST", &path, Some(json!({"name": "stale"}))).await.status, 201, "cached");
    other.app.clock.advance(1);
    let r = other.admin_call("POST", &path, Some(json!({"name": "after"}))).await;
    assert!(policy_refusal(&r).contains("requireCredentialExpiry"));
}
