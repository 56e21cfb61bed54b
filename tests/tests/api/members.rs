//! Members: User principals authenticated by the organisation's identity provider, and the legacy
//! developer page that only they may read.

use std::sync::atomic::Ordering;

use iam_tests::{IDP_AUDIENCE, IDP_ISSUER, TestApp};
use serde_json::json;

#[tokio::test]
async fn a_member_with_the_right_role_manages_api_keys() {
    let app = TestApp::new().await;
    let alice = app.add_member("alice", Some("iam-admin")).await;
    let token = app.user_token("alice");
    let r = app
        .bearer_call("POST", &app.org_path("/api-keys"), &token, Some(json!({"displayName": "made by alice"})))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let events = app.audit_events(&app.org).await;
    assert_eq!(events[0]["actor"].as_m().unwrap()["principalId"].as_s().unwrap(), &alice);
    let members = app.bearer_call("GET", &app.org_path("/members"), &token, None).await;
    let listed = members.body["items"].as_array().unwrap().iter().find(|m| m["id"] == alice.as_str()).unwrap();
    assert_eq!((listed["type"].as_str(), listed["subject"].as_str()), (Some("User"), Some("alice")));
    let r = app.admin_call("POST", &app.org_path("/members"), Some(json!({"subject": "alice"}))).await;
    assert_eq!((r.status, r.code()), (409, "member_exists"));
    let r = app.bearer_call("GET", &app.org_path("/api-keys"), &app.user_token("bob"), None).await;
    assert_eq!((r.status, r.code()), (403, "org_mismatch"), "a subject that is no member of the org");
}

#[tokio::test]
async fn any_valid_subject_makes_a_member_with_a_name_to_show() {
    let app = TestApp::new().await;
    // Found in review: a subject that is valid but not a valid display name (too long for one) was
    // a 500.
    let long = "s".repeat(200);
    let r = app.admin_call("POST", &app.org_path("/members"), Some(json!({"subject": long}))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["displayName"].as_str().unwrap().chars().count(), 128);
    assert_eq!(r.body["subject"], long.as_str());
    let r = app.admin_call("POST", &app.org_path("/members"), Some(json!({"subject": "  auth0|5f7c8e  "}))).await;
    assert_eq!((r.status, r.body["displayName"].as_str()), (201, Some("auth0|5f7c8e")), "{:?}", r.body);
}

#[tokio::test]
async fn a_subject_that_reorders_or_hides_text_is_refused_naming_the_subject() {
    let app = TestApp::new().await;
    let right_to_left = "must not contain the bidirectional control character U+202E";
    for (subject, message) in [
        ("alice\u{202e}nimda", right_to_left),
        ("\u{202e}", right_to_left),
        ("ali\u{200b}ce", "must not contain the invisible (default-ignorable) character U+200B"),
    ] {
        // With a display name of its own too: the subject itself is refused, not only as a name.
        for body in [json!({"subject": subject}), json!({"subject": subject, "displayName": "Alice"})] {
            let r = app.admin_call("POST", &app.org_path("/members"), Some(body)).await;
            assert_eq!((r.status, r.code()), (400, "invalid_request"), "{subject:?}: {:?}", r.body);
            assert_eq!(r.body["errors"], json!([{"field": "subject", "message": message}]), "{subject:?}");
        }
    }
    let members = app.admin_call("GET", &app.org_path("/members?limit=100"), None).await;
    let subjects: Vec<&str> =
        members.body["items"].as_array().unwrap().iter().filter_map(|m| m["subject"].as_str()).collect();
    assert_eq!(subjects, vec![iam_tests::OWNER_SUBJECT], "nothing was added");
}

#[tokio::test]
async fn a_principal_holds_at_most_twenty_roles_and_a_member_with_all_of_them_can_be_removed() {
    let app = TestApp::new().await;
    let cap = shared::service::assignments::MAX_ROLES_PER_PRINCIPAL;
    let member = app.add_member("dana", Some("owner")).await;
    let mut roles: Vec<String> = ["iam-admin", "iam-viewer", "developer"].map(String::from).to_vec();
    for i in 0..cap + 2 - 4 {
        let body = json!({"name": format!("r{i}"), "principalTypes": ["User"], "permissions": [{"action": "x:y:z", "resource": "*"}]});
        let r = app.owner_call("POST", &app.org_path("/roles"), Some(body)).await;
        roles.push(r.body["id"].as_str().unwrap().to_string());
    }
    // One role short of the cap (the owner role counts), then three at once: one fits.
    let app_ref = &app;
    let assign = |role: &str| {
        let path = app_ref.org_path(&format!("/principals/{member}/role-assignments/{role}"));
        async move { app_ref.owner_call("PUT", &path, None).await }
    };
    for role in &roles[..cap - 2] {
        assert_eq!(assign(role).await.status, 201);
    }
    let results = futures::future::join_all(roles[cap - 2..].iter().map(|r| assign(r))).await;
    let statuses: Vec<_> = results.iter().map(|r| (r.status, r.code().to_string())).collect();
    assert_eq!(results.iter().filter(|r| r.status == 201).count(), 1, "{statuses:?}");
    assert!(
        results.iter().filter(|r| r.status != 201).all(|r| r.code() == "role_assignment_limit_reached"),
        "{statuses:?}"
    );
    let held =
        app.admin_call("GET", &app.org_path(&format!("/principals/{member}/role-assignments?limit=100")), None).await;
    assert_eq!(held.body["items"].as_array().unwrap().len(), cap);
    // Found in review: removing a member deletes every assignment in one transaction, which more
    // than ~48 custom roles would have overflowed (a 500); at 20 it fits.
    let r = app.admin_call("DELETE", &app.org_path(&format!("/members/{member}")), None).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    for role in &roles[3..] {
        let r = app.admin_call("GET", &app.org_path(&format!("/roles/{role}/assignments")), None).await;
        assert_eq!(r.body["items"], json!([]), "{role}");
        assert_eq!(app.admin_call("DELETE", &app.org_path(&format!("/roles/{role}")), None).await.status, 204);
    }
}

#[tokio::test]
async fn members_are_not_listed_as_api_keys() {
    // Found by Schemathesis: the by-status index of API-key principals held members too.
    let app = TestApp::new().await;
    app.add_member("carol", Some("iam-viewer")).await;
    for query in ["", "?status=Active"] {
        let r = app.admin_call("GET", &app.org_path(&format!("/api-keys{query}")), None).await;
        assert_eq!(r.status, 200);
        let items = r.body["items"].as_array().unwrap();
        assert!(!items.is_empty() && items.iter().all(|p| p["type"] == "ApiKey"), "{query}: {items:?}");
    }
}

#[tokio::test]
async fn a_member_of_one_org_is_refused_on_another() {
    let app = TestApp::new().await;
    app.add_member("carol", Some("owner")).await;
    let other = app.another_org(true).await;
    let r =
        app.bearer_call("GET", &format!("/iam/orgs/{}/api-keys", other.org_id), &app.user_token("carol"), None).await;
    assert_eq!((r.status, r.code()), (403, "org_mismatch"));
}

#[tokio::test]
async fn a_removed_member_is_refused_and_its_assignments_are_gone() {
    let app = TestApp::new().await;
    let role_id = app.custom_role("readers", &["User"], json!([{"action": "iam:*:list", "resource": "*"}])).await;
    let dave = app.add_member("dave", Some(&role_id)).await;
    app.assign(&dave, "iam-viewer").await;
    let token = app.user_token("dave");
    assert_eq!(app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await.status, 200);
    let r = app.admin_call("DELETE", &app.org_path(&format!("/members/{dave}")), None).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = app.bearer_call("GET", &app.org_path("/api-keys"), &token, None).await;
    assert_eq!((r.status, r.code()), (403, "org_mismatch"));
    let r = app.admin_call("GET", &app.org_path(&format!("/principals/{dave}/role-assignments")), None).await;
    assert_eq!(r.status, 404, "the principal is gone");
    let r = app.admin_call("GET", &app.org_path(&format!("/roles/{role_id}/assignments")), None).await;
    assert_eq!(r.body["items"], json!([]));
    assert_eq!(
        app.admin_call("DELETE", &app.org_path(&format!("/roles/{role_id}")), None).await.status,
        204,
        "no longer in use"
    );
    let r = app.admin_call("DELETE", &app.org_path(&format!("/members/{}", app.admin)), None).await;
    assert_eq!(r.status, 404, "an API-key principal is not a member");
}

#[tokio::test]
async fn member_tokens_are_verified_strictly() {
    let app = TestApp::new().await;
    app.add_member("erin", Some("owner")).await;
    let path = app.org_path("/api-keys");
    let now = app.app.clock.now().unix();
    let claims =
        |iss: &str, aud: &str, exp: i64| json!({"iss": iss, "aud": aud, "sub": "erin", "iat": now, "exp": exp});
    assert_eq!(app.bearer_call("GET", &path, &app.user_token("erin"), None).await.status, 200);

    let wrong_issuer =
        app.idp.sign(jsonwebtoken::Algorithm::ES256, &claims("https://evil.invalid", IDP_AUDIENCE, now + 600)).unwrap();
    assert_eq!(app.bearer_call("GET", &path, &wrong_issuer, None).await.code(), "invalid_token");
    let wrong_audience =
        app.idp.sign(jsonwebtoken::Algorithm::ES256, &claims(IDP_ISSUER, "urn:other", now + 600)).unwrap();
    assert_eq!(app.bearer_call("GET", &path, &wrong_audience, None).await.code(), "invalid_token");
    let expired = app.idp.sign(jsonwebtoken::Algorithm::ES256, &claims(IDP_ISSUER, IDP_AUDIENCE, now - 120)).unwrap();
    assert_eq!(app.bearer_call("GET", &path, &expired, None).await.code(), "token_expired");
    // An algorithm the provider does not publish: HS256 keyed with anything at all.
    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.kid = app.idp_jwks.read().unwrap()["keys"][0]["kid"].as_str().map(String::from);
    let hs_token = jsonwebtoken::encode(
        &hs,
        &claims(IDP_ISSUER, IDP_AUDIENCE, now + 600),
        &jsonwebtoken::EncodingKey::from_secret(b"x"),
    )
    .unwrap();
    assert_eq!(app.bearer_call("GET", &path, &hs_token, None).await.code(), "invalid_token");

    // A key the provider has not published: one re-fetch, then 401; no second fetch within the minute.
    let stranger = local_stack::idp::DevIdp::generate().unwrap();
    let unknown = stranger.token(IDP_ISSUER, IDP_AUDIENCE, "erin", now, 600).unwrap();
    let before = app.idp_fetches.load(Ordering::SeqCst);
    assert_eq!(app.bearer_call("GET", &path, &unknown, None).await.code(), "invalid_token");
    assert_eq!(app.idp_fetches.load(Ordering::SeqCst), before + 1);
    assert_eq!(app.bearer_call("GET", &path, &unknown, None).await.code(), "invalid_token");
    assert_eq!(app.idp_fetches.load(Ordering::SeqCst), before + 1);
    // Once the provider publishes it (key rotation at the provider), it verifies after the minute.
    *app.idp_jwks.write().unwrap() = stranger.jwks();
    app.app.clock.advance(60);
    assert_eq!(app.bearer_call("GET", &path, &unknown, None).await.status, 200);
}

#[tokio::test]
async fn the_developer_page_is_for_members_with_the_developer_role() {
    let app = TestApp::new().await;
    let link = |org: &str| {
        let org = org.to_string();
        let config = app.app.config.clone();
        async move {
            let sdk = local_stack::admin::emulator_sdk_config(&iam_tests::emulator_url()).await;
            let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
            local_stack::admin::link_infuse_iot(&secrets, &config, &org, "infuse-org-42", "infuse-admin-key-SECRET-42")
                .await
                .unwrap();
        }
    };
    link(app.org.as_str()).await;
    app.add_member("frank", Some("developer")).await;
    app.add_member("grace", Some("iam-viewer")).await;
    let page = app.org_path("").replace("/iam/orgs/", "/admin/developer?orgId=");

    let r = app.bearer_call("GET", &page, &app.user_token("frank"), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"infuseIotOrganisationId": "infuse-org-42", "infuseIotAdminApiKey": "infuse-admin-key-SECRET-42"})
    );
    assert_eq!(r.header("cache-control"), "no-store");
    let events = app.audit_events(&app.org).await;
    assert_eq!(events[0]["action"].as_s().unwrap(), "admin:developer:read");
    assert!(!format!("{events:?}").contains("SECRET-42"), "the audit event never holds the key");

    let r = app.bearer_call("GET", &page, &app.user_token("grace"), None).await;
    assert_eq!((r.status, r.code()), (403, "permission_denied"));
    let r = app.admin_call("GET", &page, None).await;
    assert_eq!((r.status, r.code()), (403, "principal_type_not_allowed"));
    let token = app.token_for(&app.admin_key).await;
    let r = app.bearer_call("GET", &page, &token, None).await;
    assert_eq!((r.status, r.code()), (403, "principal_type_not_allowed"), "an IAM access token either");

    // Frank is a developer of an unlinked org too (its operator made him one: an iam-admin key may
    // not grant `developer`, which it does not hold).
    let other = app.another_org(true).await;
    local_stack::admin::add_member(&app.app, &other.org_id, "frank", "developer").await.unwrap();
    let r = app
        .bearer_call("GET", &format!("/admin/developer?orgId={}", other.org_id), &app.user_token("frank"), None)
        .await;
    assert_eq!((r.status, r.code()), (404, "not_linked"));
    let r = app.bearer_call("GET", "/admin/developer", &app.user_token("frank"), None).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"));
    let r = app.bearer_call("GET", &page, &app.user_token("nobody"), None).await;
    assert_eq!((r.status, r.code()), (403, "org_mismatch"));
}

#[tokio::test]
async fn the_explainer_covers_members() {
    let app = TestApp::new().await;
    let heidi = app.add_member("heidi", Some("developer")).await;
    let ask = |action: &str| json!({"principalId": heidi, "action": action});
    let r = app.admin_call("POST", &app.org_path("/authorize"), Some(ask("admin:developer:read"))).await;
    assert_eq!((r.body["decision"].as_str(), r.body["matched"]["roleId"].as_str()), (Some("Allow"), Some("developer")));
    let r = app.admin_call("POST", &app.org_path("/authorize"), Some(ask("iam:apiKeys:create"))).await;
    assert_eq!((r.body["decision"].as_str(), r.body["code"].as_str()), (Some("Deny"), Some("permission_denied")));
    let r = app
        .bearer_call(
            "POST",
            &app.org_path("/authorize"),
            &app.user_token("heidi"),
            Some(json!({"action": "admin:developer:read"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "permission_denied"), "the developer role cannot simulate");
}

/// The permissions of `role` in the app's org, as `GET .../roles/{roleId}` shows them.
async fn permissions_of(app: &TestApp, role: &str) -> Vec<serde_json::Value> {
    let r = app.admin_call("GET", &app.org_path(&format!("/roles/{role}")), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["permissions"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_member_sees_each_of_its_organisations_and_what_it_may_do_there() {
    let app = TestApp::new().await;
    let other = app.another_org(false).await;
    let there = local_stack::admin::add_member(&app.app, &other.org_id, "ivan", "iam-admin").await.unwrap();
    app.app.clock.advance(5);
    let auditors = app
        .custom_role("auditors", &["User"], json!([{"action": "iam:audit:read", "resource": "iam:audit-events"}]))
        .await;
    let here = app.add_member("ivan", Some("iam-viewer")).await;
    app.assign(&here, &auditors).await;

    let r = app.bearer_call("GET", "/iam/me", &app.user_token("ivan"), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["subject"], "ivan");
    let orgs = r.body["organisations"].as_array().unwrap();
    assert_eq!(orgs.len(), 2, "{orgs:?}");
    // Oldest membership first, whatever the orgs' own ages.
    let first = &orgs[0];
    assert_eq!(
        (first["orgId"].as_str(), first["name"].as_str(), first["principalId"].as_str()),
        (Some(other.org_id.as_str()), Some("other org"), Some(there.as_str()))
    );
    assert_eq!(first["roleIds"], json!(["iam-admin"]));
    assert_eq!(first["permissions"], json!(permissions_of(&app, "iam-admin").await));
    let second = &orgs[1];
    assert_eq!(
        (second["orgId"].as_str(), second["name"].as_str(), second["principalId"].as_str()),
        (Some(app.org.as_str()), Some("test org"), Some(here.as_str()))
    );
    let mut role_ids: Vec<&str> = second["roleIds"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    role_ids.sort();
    let mut expected = vec!["iam-viewer", auditors.as_str()];
    expected.sort();
    assert_eq!(role_ids, expected);
    let mut union = permissions_of(&app, "iam-viewer").await;
    union.extend(permissions_of(&app, &auditors).await);
    let held = second["permissions"].as_array().unwrap();
    assert_eq!(held.len(), union.len(), "{held:?}");
    assert!(union.iter().all(|p| held.contains(p)), "{held:?} vs {union:?}");

    let r = app.bearer_call("GET", "/iam/me", &app.user_token("nobody"), None).await;
    assert_eq!((r.status, &r.body), (200, &json!({"subject": "nobody", "organisations": []})));
}

#[tokio::test]
async fn a_removed_members_organisation_is_no_longer_listed() {
    let app = TestApp::new().await;
    let other = app.another_org(false).await;
    local_stack::admin::add_member(&app.app, &other.org_id, "judy", "iam-viewer").await.unwrap();
    let judy = app.add_member("judy", Some("iam-viewer")).await;
    let orgs = |r: &iam_tests::TestResponse| -> Vec<String> {
        r.body["organisations"].as_array().unwrap().iter().map(|o| o["orgId"].as_str().unwrap().to_string()).collect()
    };
    let r = app.bearer_call("GET", "/iam/me", &app.user_token("judy"), None).await;
    assert_eq!(orgs(&r).len(), 2, "{:?}", r.body);

    let removed = app.admin_call("DELETE", &app.org_path(&format!("/members/{judy}")), None).await;
    assert_eq!(removed.status, 204, "{:?}", removed.body);
    let r = app.bearer_call("GET", "/iam/me", &app.user_token("judy"), None).await;
    assert_eq!((r.status, orgs(&r)), (200, vec![other.org_id.to_string()]));
    // Added again, the org is back, now the newest membership (it went with the member, and came
    // back with it).
    app.app.clock.advance(5);
    app.add_member("judy", None).await;
    let r = app.bearer_call("GET", "/iam/me", &app.user_token("judy"), None).await;
    assert_eq!(orgs(&r), vec![other.org_id.to_string(), app.org.to_string()]);
    assert_eq!(r.body["organisations"][1]["roleIds"], json!([]));
    assert_eq!(r.body["organisations"][1]["permissions"], json!([]));
}

#[tokio::test]
async fn only_a_member_token_lists_organisations() {
    let app = TestApp::new().await;
    let r = app.request("GET", "/iam/me", None, None).await;
    assert_eq!((r.status, r.code()), (401, "missing_credentials"));
    let r = app.admin_call("GET", "/iam/me", None).await;
    assert_eq!((r.status, r.code()), (403, "principal_type_not_allowed"), "an API key is no member");
    let token = app.token_for(&app.admin_key).await;
    let r = app.bearer_call("GET", "/iam/me", &token, None).await;
    assert_eq!((r.status, r.code()), (403, "principal_type_not_allowed"), "nor is an IAM access token");
    let r = app.bearer_call("GET", "/iam/me", "not-a-token", None).await;
    assert_eq!((r.status, r.code()), (401, "invalid_token"));
}
