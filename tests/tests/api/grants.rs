//! No principal can grant what it does not hold (Kubernetes RBAC's escalation rule), and the smaller
//! holes a security review found: each finding replayed and refused, each legitimate grant still made.

use iam_tests::{IDP_AUDIENCE, IDP_ISSUER, TestApp};
use serde_json::{Value, json};

async fn role_as(app: &TestApp, authorization: &str, name: &str, types: &[&str], permissions: Value) -> (u16, Value) {
    let body = json!({"name": name, "principalTypes": types, "permissions": permissions});
    let r = app.request("POST", &app.org_path("/roles"), Some(authorization.to_string()), Some(body)).await;
    (r.status, r.body)
}

/// A role made by the owner, and an API-key principal holding it: the principal's id and key.
async fn holder_of(app: &TestApp, name: &str, permissions: Value) -> (String, String) {
    let role = app.custom_role(name, &["ApiKey", "User"], permissions).await;
    app.principal_with_role(name, Some(&role)).await
}

fn assignment(app: &TestApp, principal: &str, role: &str) -> String {
    app.org_path(&format!("/principals/{principal}/role-assignments/{role}"))
}

#[tokio::test]
async fn a_principal_cannot_assign_itself_a_role_it_does_not_hold() {
    let app = TestApp::new().await;
    let (me, key) = app.principal_with_role("self-granter", None).await;
    // Only `iam:roleAssignments:assign` on itself, exactly as the finding had it.
    let owner = format!("Bearer {}", app.user_token(iam_tests::OWNER_SUBJECT));
    let (_, narrow) = role_as(
        &app,
        &owner,
        "assign self only",
        &["ApiKey"],
        json!([{"action": "iam:roleAssignments:assign", "resource": format!("iam:principals/{me}")}]),
    )
    .await;
    app.assign(&me, narrow["id"].as_str().unwrap()).await;

    let r = app.call("PUT", &assignment(&app, &me, "iam-admin"), Some(&key), None).await;
    assert_eq!((r.status, r.code()), (403, "escalation_denied"), "{:?}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("iam:* on *"), "names the permission: {:?}", r.body);
    let r = app.call("POST", &app.org_path("/api-keys"), Some(&key), Some(json!({"displayName": "x"}))).await;
    assert_eq!((r.status, r.code()), (403, "permission_denied"), "still not allowed");
    let held = app.admin_call("GET", &app.org_path(&format!("/principals/{me}/role-assignments")), None).await;
    assert_eq!(held.body["items"].as_array().unwrap().len(), 1, "nothing was assigned: {:?}", held.body);
}

#[tokio::test]
async fn a_principal_cannot_widen_its_own_role_but_may_narrow_it() {
    let app = TestApp::new().await;
    let permissions = json!([
        {"action": "iam:roles:update", "resource": "iam:roles/*"},
        {"action": "iam:roles:read", "resource": "*"},
    ]);
    let (_, key) = holder_of(&app, "role editor", permissions).await;
    let roles = app.admin_call("GET", &app.org_path("/roles?principalType=ApiKey"), None).await;
    let mine = roles.body["items"].as_array().unwrap().iter().find(|r| r["name"] == "role editor").unwrap();
    let path = app.org_path(&format!("/roles/{}", mine["id"].as_str().unwrap()));

    let everything = json!({"permissions": [{"action": "*", "resource": "*"}]});
    let r = app.call("PATCH", &path, Some(&key), Some(everything)).await;
    assert_eq!((r.status, r.code()), (403, "escalation_denied"), "{:?}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("* on *"));
    let r = app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await;
    assert_eq!((r.status, r.code()), (403, "permission_denied"), "listing API keys is still refused");
    // Narrowing (and renaming) never is.
    let narrower = json!({"name": "role editor (narrow)", "permissions": [{"action": "iam:roles:update", "resource": "iam:roles/*"}]});
    let r = app.call("PATCH", &path, Some(&key), Some(narrower)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test]
async fn an_iam_admin_key_cannot_reach_the_developer_page_through_a_member() {
    let app = TestApp::new().await;
    let page = app.org_path("").replace("/iam/orgs/", "/admin/developer?orgId=");
    // It may add a member whose subject the attacker controls...
    let r = app.admin_call("POST", &app.org_path("/members"), Some(json!({"subject": "mallory"}))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let mallory = r.body["id"].as_str().unwrap().to_string();
    // ...but not give it what iam-admin (iam:*) does not hold.
    for role in ["developer", "owner"] {
        let r = app.admin_call("PUT", &assignment(&app, &mallory, role), None).await;
        assert_eq!((r.status, r.code()), (403, "escalation_denied"), "{role}: {:?}", r.body);
    }
    let admin_star = json!([{"action": "admin:*", "resource": "*"}]);
    let (status, body) = role_as(&app, &format!("ApiKey {}", app.admin_key), "backdoor", &["User"], admin_star).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("escalation_denied")), "{body:?}");
    let r = app.bearer_call("GET", &page, &app.user_token("mallory"), None).await;
    assert_eq!((r.status, r.code()), (403, "no_role_assignment"));

    // A member holding only iam-admin cannot make itself owner either.
    let ivan = app.add_member("ivan", Some("iam-admin")).await;
    let r = app.bearer_call("PUT", &assignment(&app, &ivan, "owner"), &app.user_token("ivan"), None).await;
    assert_eq!((r.status, r.code()), (403, "escalation_denied"), "{:?}", r.body);
    let r = app.bearer_call("GET", &page, &app.user_token("ivan"), None).await;
    assert_eq!((r.status, r.code()), (403, "permission_denied"));
}

#[tokio::test]
async fn legitimate_grants_still_work() {
    let app = TestApp::new().await;
    // The owner assigns developer.
    let dev = app.add_member("devon", None).await;
    let r = app.owner_call("PUT", &assignment(&app, &dev, "developer"), None).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // iam-admin assigns iam-viewer (and iam-admin: it holds iam:*).
    let (viewer, _) = app.principal_with_role("viewer-to-be", None).await;
    for role in ["iam-viewer", "iam-admin"] {
        let r = app.admin_call("PUT", &assignment(&app, &viewer, role), None).await;
        assert_eq!(r.status, 201, "{role}: {:?}", r.body);
    }
    // A principal holding demo:* creates a demo:* role and assigns it; no more than it holds.
    let permissions = json!([
        {"action": "demo:*", "resource": "*"},
        {"action": "iam:roles:create", "resource": "*"},
        {"action": "iam:roleAssignments:assign", "resource": "*"},
    ]);
    let (_, operator) = holder_of(&app, "demo operator", permissions).await;
    let demo = json!([{"action": "demo:whoami:read", "resource": "route:/demo/*"}]);
    let (status, role) = role_as(&app, &format!("ApiKey {operator}"), "demo caller", &["ApiKey"], demo).await;
    assert_eq!(status, 201, "{role:?}");
    let (caller, caller_key) = app.principal_with_role("demo client", None).await;
    let r = app.call("PUT", &assignment(&app, &caller, role["id"].as_str().unwrap()), Some(&operator), None).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(app.call("GET", "/demo/whoami", Some(&caller_key), None).await.status, 200);
    let wider = json!([{"action": "demo:*", "resource": "*"}, {"action": "iam:apiKeys:create", "resource": "*"}]);
    let (status, body) = role_as(&app, &format!("ApiKey {operator}"), "too much", &["ApiKey"], wider).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("escalation_denied")));
    assert!(body["detail"].as_str().unwrap().contains("iam:apiKeys:create on *"), "{body:?}");
}

#[tokio::test]
async fn removing_assignments_and_deleting_roles_are_never_escalation() {
    let app = TestApp::new().await;
    let (target, _) = app.principal_with_role("target", Some("iam-admin")).await;
    let permissions = json!([
        {"action": "iam:roleAssignments:remove", "resource": "*"},
        {"action": "iam:roles:delete", "resource": "*"},
    ]);
    let (_, remover) = holder_of(&app, "remover", permissions).await;
    let r = app.call("DELETE", &assignment(&app, &target, "iam-admin"), Some(&remover), None).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let owner = format!("Bearer {}", app.user_token(iam_tests::OWNER_SUBJECT));
    let (_, everything) =
        role_as(&app, &owner, "everything", &["ApiKey"], json!([{"action": "*", "resource": "*"}])).await;
    let r = app
        .call("DELETE", &app.org_path(&format!("/roles/{}", everything["id"].as_str().unwrap())), Some(&remover), None)
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
}

#[tokio::test]
async fn the_explainer_shows_the_grant_check() {
    let app = TestApp::new().await;
    let permissions =
        json!([{"action": "iam:roleAssignments:assign", "resource": "*"}, {"action": "demo:*", "resource": "*"}]);
    let (granter, _) = holder_of(&app, "granter", permissions).await;
    let ask = |role: &str| json!({"principalId": granter, "action": "iam:roleAssignments:assign", "resource": "iam:principals/*", "roleId": role});
    let r = app.admin_call("POST", &app.org_path("/authorize"), Some(ask("iam-viewer"))).await;
    assert_eq!(
        (r.body["decision"].as_str(), r.body["code"].as_str()),
        (Some("Deny"), Some("escalation_denied")),
        "{:?}",
        r.body
    );
    let last = r.body["checks"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["check"].as_str(), last["passed"].as_bool()), (Some("grant"), Some(false)));
    assert!(last["detail"].as_str().unwrap().contains("iam:apiKeys:read on *"), "the first not held: {last}");

    let owner = format!("Bearer {}", app.user_token(iam_tests::OWNER_SUBJECT));
    let (_, demo) = role_as(&app, &owner, "demo", &["ApiKey"], json!([{"action": "demo:x:y", "resource": "*"}])).await;
    let r = app.admin_call("POST", &app.org_path("/authorize"), Some(ask(demo["id"].as_str().unwrap()))).await;
    assert_eq!(r.body["decision"].as_str(), Some("Allow"), "{:?}", r.body);
    assert_eq!(r.body["checks"].as_array().unwrap().last().unwrap()["check"], "grant");

    // Only with the assign action; an unknown role is not found.
    let mut wrong = ask("iam-viewer");
    wrong["action"] = json!("iam:apiKeys:read");
    let r = app.admin_call("POST", &app.org_path("/authorize"), Some(wrong)).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (400, Some("roleId")));
    let r = app.admin_call("POST", &app.org_path("/authorize"), Some(ask("role_01J00000000000000000000000"))).await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
}

#[tokio::test]
async fn member_tokens_are_refused_before_their_nbf() {
    let app = TestApp::new().await;
    app.add_member("nadia", Some("iam-viewer")).await;
    let now = app.app.clock.now().unix();
    let token = |nbf: i64| {
        let claims =
            json!({"iss": IDP_ISSUER, "aud": IDP_AUDIENCE, "sub": "nadia", "iat": now, "nbf": nbf, "exp": now + 7200});
        app.idp.sign(jsonwebtoken::Algorithm::ES256, &claims).unwrap()
    };
    let path = app.org_path("/api-keys");
    let r = app.bearer_call("GET", &path, &token(now + 3600), None).await;
    assert_eq!((r.status, r.code()), (401, "invalid_token"));
    assert_eq!(app.bearer_call("GET", &path, &token(now + 30), None).await.status, 200, "30 s of leeway, as for exp");
    assert_eq!(app.bearer_call("GET", &path, &token(now + 31), None).await.code(), "invalid_token");
    app.app.clock.advance(3600);
    assert_eq!(app.bearer_call("GET", &path, &token(now + 3600), None).await.status, 200, "valid from its nbf");
}

#[tokio::test]
async fn no_credential_is_issued_to_an_expired_principal() {
    let app = TestApp::new().await;
    let principal = app.create_principal("short-lived").await;
    let id = principal["id"].as_str().unwrap();
    let r = app
        .admin_call("PATCH", &app.org_path(&format!("/api-keys/{id}")), Some(json!({"expiresAt": app.at(60)})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    app.app.clock.advance(61);
    let before = app.table_items().await;
    let path = app.org_path(&format!("/api-keys/{id}/credentials"));
    let r = app.admin_call("POST", &path, Some(json!({"name": "too late"}))).await;
    assert_eq!((r.status, r.code()), (409, "principal_expired"), "{:?}", r.body);
    assert_eq!(app.table_items().await, before, "nothing written");
}

#[tokio::test]
async fn a_body_with_a_duplicate_key_is_refused_and_changes_nothing() {
    let app = TestApp::new().await;
    let (id, _) = app.principal_with_role("twice", None).await;
    let before = app.table_items().await;
    let r = app
        .send(local_stack::event::IncomingRequest {
            method: "PATCH".into(),
            path: app.org_path(&format!("/api-keys/{id}")),
            headers: vec![
                ("Authorization".into(), format!("ApiKey {}", app.admin_key)),
                ("Content-Type".into(), "application/json".into()),
            ],
            body: br#"{"status":"Suspended","status":"Active"}"#.to_vec(),
            source_ip: "198.51.100.7".into(),
            ..Default::default()
        })
        .await;
    assert_eq!((r.status, r.code()), (400, "malformed_json"), "{:?}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains(r#"duplicate key "status""#), "{:?}", r.body);
    // (The admin key's lastUsedAt may move; nothing of the principal did.)
    let principal = |items: &[std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>]| {
        items.iter().find(|i| i["SK"].as_s().is_ok_and(|sk| sk.ends_with(&id))).cloned()
    };
    assert_eq!(principal(&app.table_items().await), principal(&before));
}

#[tokio::test]
async fn role_names_that_look_alike_are_taken() {
    let app = TestApp::new().await;
    let permissions = json!([{"action": "iam:apiKeys:read", "resource": "*"}]);
    // A Cyrillic е in "owner", full-width letters, and another case of a custom role's name.
    for name in ["own\u{0435}r", "\u{FF4F}\u{FF57}\u{FF4E}\u{FF45}\u{FF52}", "IAM-Admin"] {
        let (status, body) =
            role_as(&app, &format!("ApiKey {}", app.admin_key), name, &["ApiKey"], permissions.clone()).await;
        assert_eq!((status, body["code"].as_str()), (409, Some("role_name_taken")), "{name}: {body:?}");
    }
    let admin = format!("ApiKey {}", app.admin_key);
    let (status, deployers) = role_as(&app, &admin, "deployers", &["ApiKey"], permissions.clone()).await;
    assert_eq!(status, 201);
    let (status, body) = role_as(&app, &admin, "d\u{0435}pl\u{043E}yers", &["ApiKey"], permissions.clone()).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("role_name_taken")), "{body:?}");
    // Renamed to a look-alike of its own name, a role keeps its name guard; to another's, it is refused.
    let path = app.org_path(&format!("/roles/{}", deployers["id"].as_str().unwrap()));
    let r = app.admin_call("PATCH", &path, Some(json!({"name": "Depl\u{043E}yers"}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (_, auditors) = role_as(&app, &admin, "auditors", &["ApiKey"], permissions).await;
    let other = app.org_path(&format!("/roles/{}", auditors["id"].as_str().unwrap()));
    let r = app.admin_call("PATCH", &other, Some(json!({"name": "DEPLOYERS"}))).await;
    assert_eq!((r.status, r.code()), (409, "role_name_taken"), "{:?}", r.body);
    let r = app.admin_call("DELETE", &other, None).await;
    assert_eq!(r.status, 204);
    let r = app.admin_call("DELETE", &other, None).await;
    assert_eq!((r.status, r.code()), (404, "not_found"), "deleting it again");
}

#[tokio::test]
async fn a_key_of_a_principal_is_everything_it_may_do_so_issuing_one_is_a_grant() {
    let app = TestApp::new().await;
    let role = app.custom_role("demo operator", &["ApiKey"], json!([{"action": "demo:*", "resource": "*"}])).await;
    let (operator, _) = app.principal_with_role("demo operator", Some(&role)).await;
    let credentials = app.org_path(&format!("/api-keys/{operator}/credentials"));
    // The iam-admin key may not mint a key that can do demo:* (it does not hold it)...
    let r = app.admin_call("POST", &credentials, Some(json!({"name": "stolen"}))).await;
    assert_eq!((r.status, r.code()), (403, "escalation_denied"), "{:?}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("demo:* on *"), "{:?}", r.body);
    // ...nor make such a principal Active again once it is suspended; the owner may do both.
    let principal = app.org_path(&format!("/api-keys/{operator}"));
    assert_eq!(app.owner_call("PATCH", &principal, Some(json!({"status": "Suspended"}))).await.status, 200);
    let r = app.admin_call("PATCH", &principal, Some(json!({"status": "Active"}))).await;
    assert_eq!((r.status, r.code()), (403, "escalation_denied"), "{:?}", r.body);
    assert_eq!(app.owner_call("PATCH", &principal, Some(json!({"status": "Active"}))).await.status, 200);
    assert_eq!(app.owner_call("POST", &credentials, Some(json!({"name": "rightful"}))).await.status, 201);
    // A principal of IAM roles only: the iam-admin key issues its keys as before.
    let (viewer, _) = app.principal_with_key("viewer").await;
    let r = app
        .admin_call("POST", &app.org_path(&format!("/api-keys/{viewer}/credentials")), Some(json!({"name": "ok"})))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

#[tokio::test]
async fn an_api_key_never_grants_the_member_only_developer_page_even_holding_everything() {
    let app = TestApp::new().await;
    let everything = app.custom_role("everything", &["ApiKey"], json!([{"action": "*", "resource": "*"}])).await;
    let (_, key) = app.principal_with_role("almighty key", Some(&everything)).await;
    let r = app.call("POST", &app.org_path("/members"), Some(&key), Some(json!({"subject": "puppet"}))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let puppet = r.body["id"].as_str().unwrap().to_string();
    let r = app.call("PUT", &assignment(&app, &puppet, "developer"), Some(&key), None).await;
    assert_eq!((r.status, r.code()), (403, "escalation_denied"), "{:?}", r.body);
    let r = app.call("PUT", &assignment(&app, &puppet, "owner"), Some(&key), None).await;
    assert_eq!((r.status, r.code()), (403, "escalation_denied"), "{:?}", r.body);
    // The owner, a member, may.
    assert_eq!(app.owner_call("PUT", &assignment(&app, &puppet, "developer"), None).await.status, 201);
}
