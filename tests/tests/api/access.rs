//! Access control: roles, assignments, the 403 table, settings, the audit log, and the explainer's
//! agreement with the real routes.

use iam_tests::TestApp;
use serde_json::{Value, json};

#[tokio::test]
async fn each_403_of_the_contract_in_order() {
    let app = TestApp::new().await;
    let (target, _) = app.principal_with_role("target", None).await;
    let read_target = app.org_path(&format!("/api-keys/{target}"));

    let (_, none) = app.principal_with_role("no roles", None).await;
    let r = app.call("GET", &read_target, Some(&none), None).await;
    assert_eq!((r.status, r.code()), (403, "no_role_assignment"));

    let (_, viewer) = app.principal_with_role("viewer", Some("iam-viewer")).await;
    let r = app.call("POST", &app.org_path("/api-keys"), Some(&viewer), Some(json!({"displayName": "x"}))).await;
    assert_eq!((r.status, r.code()), (403, "permission_denied"));
    assert!(r.body["detail"].as_str().unwrap().contains("iam:apiKeys:create"), "detail names the action");

    let elsewhere = app
        .custom_role(
            "reads another key",
            &["ApiKey"],
            json!([{"action": "iam:apiKeys:read", "resource": "iam:api-keys/akp_01J00000000000000000000000"}]),
        )
        .await;
    let (_, scoped) = app.principal_with_role("scoped", Some(&elsewhere)).await;
    let r = app.call("GET", &read_target, Some(&scoped), None).await;
    assert_eq!((r.status, r.code()), (403, "scope_mismatch"));

    // The test requests come from 198.51.100.7.
    let inside = app.custom_role("inside", &["ApiKey"], json!([{"action": "iam:apiKeys:read", "resource": "*", "condition": {"sourceIp": ["198.51.100.0/24", "2001:db8::/32"]}}])).await;
    let outside = app
        .custom_role(
            "outside",
            &["ApiKey"],
            json!([{"action": "iam:apiKeys:read", "resource": "*", "condition": {"sourceIp": ["10.0.0.0/8"]}}]),
        )
        .await;
    let (_, inside_key) = app.principal_with_role("inside", Some(&inside)).await;
    let (_, outside_key) = app.principal_with_role("outside", Some(&outside)).await;
    assert_eq!(app.call("GET", &read_target, Some(&inside_key), None).await.status, 200);
    let r = app.call("GET", &read_target, Some(&outside_key), None).await;
    assert_eq!((r.status, r.code()), (403, "condition_not_met"));

    let window = app.custom_role("later", &["ApiKey"], json!([{"action": "iam:apiKeys:read", "resource": "*", "condition": {"notBefore": app.at(3600), "notAfter": app.at(7200)}}])).await;
    let (_, later_key) = app.principal_with_role("later", Some(&window)).await;
    let r = app.call("GET", &read_target, Some(&later_key), None).await;
    assert_eq!((r.status, r.code()), (403, "condition_not_met"));
    app.app.clock.advance(3700);
    assert_eq!(app.call("GET", &read_target, Some(&later_key), None).await.status, 200);
    app.app.clock.advance(3600);
    assert_eq!(app.call("GET", &read_target, Some(&later_key), None).await.code(), "condition_not_met");
}

#[tokio::test]
async fn a_role_that_does_not_support_api_keys_is_refused_and_grants_nothing() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_role("ci", None).await;
    for role in ["owner", "developer"] {
        let r = app
            .admin_call("PUT", &app.org_path(&format!("/principals/{principal}/role-assignments/{role}")), None)
            .await;
        assert_eq!((r.status, r.code()), (422, "role_principal_type_unsupported"), "{role}");
    }
    let users_only = app.custom_role("users only", &["User"], json!([{"action": "*", "resource": "*"}])).await;
    let r = app
        .admin_call("PUT", &app.org_path(&format!("/principals/{principal}/role-assignments/{users_only}")), None)
        .await;
    assert_eq!(r.code(), "role_principal_type_unsupported");
    // A role that stops supporting ApiKey after assignment grants nothing any more.
    let both =
        app.custom_role("both", &["ApiKey", "User"], json!([{"action": "iam:apiKeys:list", "resource": "*"}])).await;
    app.assign(&principal, &both).await;
    assert_eq!(app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await.status, 200);
    let r = app
        .admin_call("PATCH", &app.org_path(&format!("/roles/{both}")), Some(json!({"principalTypes": ["User"]})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app.call("GET", &app.org_path("/api-keys"), Some(&key), None).await;
    assert_eq!((r.status, r.code()), (403, "permission_denied"));
    let unknown = app
        .admin_call(
            "PUT",
            &app.org_path(&format!("/principals/{principal}/role-assignments/role_01J00000000000000000000000")),
            None,
        )
        .await;
    assert_eq!((unknown.status, unknown.code()), (404, "not_found"));
}

#[tokio::test]
async fn built_in_roles_are_listed_and_read_only() {
    let app = TestApp::new().await;
    let r = app.admin_call("GET", &app.org_path("/roles"), None).await;
    let ids: Vec<_> =
        r.body["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, ["owner", "iam-admin", "iam-viewer", "developer"]);
    let r = app.admin_call("GET", &app.org_path("/roles?principalType=ApiKey"), None).await;
    let ids: Vec<_> =
        r.body["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, ["iam-admin", "iam-viewer"]);
    let r = app.admin_call("GET", &app.org_path("/roles?principalType=Robot"), None).await;
    assert_eq!(r.code(), "invalid_request");
    for role in ["owner", "iam-admin", "iam-viewer", "developer"] {
        let r = app.admin_call("PATCH", &app.org_path(&format!("/roles/{role}")), Some(json!({"name": "mine"}))).await;
        assert_eq!((r.status, r.code()), (409, "role_read_only"));
        let r = app.admin_call("DELETE", &app.org_path(&format!("/roles/{role}")), None).await;
        assert_eq!((r.status, r.code()), (409, "role_read_only"));
        assert_eq!(app.admin_call("GET", &app.org_path(&format!("/roles/{role}")), None).await.body["builtIn"], true);
    }
}

#[tokio::test]
async fn custom_roles_have_unique_names_and_an_assigned_one_cannot_be_deleted() {
    let app = TestApp::new().await;
    let id = app.custom_role("Deployers", &["ApiKey"], json!([{"action": "iam:apiKeys:*", "resource": "*"}])).await;
    for name in ["deployers", "IAM-ADMIN"] {
        let r = app
            .owner_call("POST", &app.org_path("/roles"), Some(json!({"name": name, "principalTypes": ["ApiKey"], "permissions": [{"action": "*", "resource": "*"}]})))
            .await;
        assert_eq!((r.status, r.code()), (409, "role_name_taken"), "{name}");
    }
    let (principal, _) = app.principal_with_role("ci", Some(&id)).await;
    let r = app.admin_call("GET", &app.org_path(&format!("/roles/{id}/assignments")), None).await;
    assert_eq!(r.body["items"][0]["principalId"], principal.as_str());
    let r = app.admin_call("DELETE", &app.org_path(&format!("/roles/{id}")), None).await;
    assert_eq!((r.status, r.code()), (409, "role_in_use"));
    let r =
        app.admin_call("DELETE", &app.org_path(&format!("/principals/{principal}/role-assignments/{id}")), None).await;
    assert_eq!(r.status, 204);
    let r = app.admin_call("GET", &app.org_path(&format!("/principals/{principal}/role-assignments")), None).await;
    assert_eq!(r.body["items"], json!([]));
    assert_eq!(app.admin_call("DELETE", &app.org_path(&format!("/roles/{id}")), None).await.status, 204);
    assert_eq!(app.admin_call("GET", &app.org_path(&format!("/roles/{id}")), None).await.status, 404);
    // The freed name can be used again.
    app.custom_role("deployers", &["ApiKey"], json!([{"action": "*", "resource": "*"}])).await;
}

#[tokio::test]
async fn the_custom_role_cap_holds_under_concurrent_creates() {
    // The cap is a condition on the org's role count in the create transaction (it was a count
    // read before the write, which concurrent creates could all pass, and which read every role).
    let app = TestApp::new().await;
    let cap = shared::service::roles::MAX_CUSTOM_ROLES;
    let permissions = json!([{"action": "iot:devices:read", "resource": "*"}]);
    app.custom_role("role 0", &["ApiKey"], permissions.clone()).await;
    // Two places left: the count the condition reads, as if cap - 2 roles had been created
    // (creating them one by one through the API takes most of a minute on the emulator).
    app.set_org_attribute("customRoles", aws_sdk_dynamodb::types::AttributeValue::N((cap - 2).to_string())).await;
    let path = app.org_path("/roles");
    let attempts = (0..6).map(|i| {
        let body = json!({"name": format!("late {i}"), "principalTypes": ["ApiKey"], "permissions": permissions});
        app.owner_call("POST", &path, Some(body))
    });
    let results = futures::future::join_all(attempts).await;
    let created = results.iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 2, "{:?}", results.iter().map(|r| (r.status, r.code().to_string())).collect::<Vec<_>>());
    assert!(results.iter().filter(|r| r.status != 201).all(|r| (r.status, r.code()) == (409, "role_limit_reached")));
    // A taken name is still told apart from the cap, and a deletion frees a place.
    let r = app
        .owner_call(
            "POST",
            &app.org_path("/roles"),
            Some(json!({"name": "role 0", "principalTypes": ["ApiKey"], "permissions": permissions})),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "role_name_taken"));
    let one_created = results.iter().find(|r| r.status == 201).unwrap().body["id"].as_str().unwrap().to_string();
    let r = app.admin_call("DELETE", &app.org_path(&format!("/roles/{one_created}")), None).await;
    assert_eq!(r.status, 204);
    app.custom_role("after a deletion", &["ApiKey"], permissions).await;
}

#[tokio::test]
async fn a_role_list_goes_on_when_the_role_its_cursor_names_is_deleted() {
    // Found in review: the next page was empty, with no cursor, and the remaining roles were lost.
    let app = TestApp::new().await;
    let permissions = json!([{"action": "x:y:z", "resource": "*"}]);
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        ids.push(app.custom_role(name, &["ApiKey"], permissions.clone()).await);
    }
    ids.sort(); // the list's order for custom roles
    let first = app.admin_call("GET", &app.org_path("/roles?limit=5"), None).await;
    assert_eq!(first.body["items"][4]["id"], ids[0].as_str(), "four built-ins, then the oldest custom role");
    let cursor = first.body["nextCursor"].as_str().unwrap().to_string();
    assert_eq!(app.admin_call("DELETE", &app.org_path(&format!("/roles/{}", ids[0])), None).await.status, 204);
    let next = app.admin_call("GET", &app.org_path(&format!("/roles?limit=5&cursor={cursor}")), None).await;
    let rest: Vec<_> = next.body["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(rest, [ids[1].as_str(), ids[2].as_str()]);
}

#[tokio::test]
async fn role_bodies_are_validated() {
    let app = TestApp::new().await;
    let good =
        json!({"name": "ok", "principalTypes": ["ApiKey"], "permissions": [{"action": "iam:*", "resource": "*"}]});
    for (change, field) in [
        (json!({"name": ""}), "name"),
        (json!({"principalTypes": []}), "principalTypes"),
        (json!({"principalTypes": ["Robot"]}), "principalTypes[0]"),
        (json!({"permissions": []}), "permissions"),
        (json!({"permissions": [{"action": "iam", "resource": "*"}]}), "permissions[0].action"),
        (json!({"permissions": [{"action": "iam:*", "resource": "has space"}]}), "permissions[0].resource"),
        (
            json!({"permissions": [{"action": "iam:*", "resource": "*", "condition": {"sourceIp": ["300.1.1.1/8"]}}]}),
            "permissions[0].condition.sourceIp[0]",
        ),
        (
            json!({"permissions": [{"action": "iam:*", "resource": "*", "condition": {"notBefore": app.at(100), "notAfter": app.at(0)}}]}),
            "permissions[0].condition",
        ),
        (
            json!({"permissions": [{"action": "iam:*", "resource": "*", "condition": {"colour": "red"}}]}),
            "permissions[0].condition.colour",
        ),
    ] {
        let mut body = good.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = app.admin_call("POST", &app.org_path("/roles"), Some(body.clone())).await;
        assert_eq!((r.status, r.code()), (400, "invalid_request"), "{body}");
        let fields: Vec<_> =
            r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_string()).collect();
        assert!(fields.iter().any(|f| f == field), "{body}: {fields:?}");
    }
}

#[tokio::test]
async fn settings_are_validated_versioned_and_take_effect() {
    let app = TestApp::new().await;
    let r = app.admin_call("GET", &app.org_path("/settings"), None).await;
    assert_eq!(
        r.body,
        json!({"directApiKeyAuth": true, "accessTokenTtlSeconds": 900, "maxActiveCredentialsPerPrincipal": 10,
            "maxCredentialLifetimeDays": null, "requireCredentialExpiry": false, "directApiKeyCacheSeconds": 0,
            "defaultRateLimit": null,
            "version": 1})
    );
    for body in [
        json!({"accessTokenTtlSeconds": 59}),
        json!({"accessTokenTtlSeconds": 3601}),
        json!({"maxActiveCredentialsPerPrincipal": 0}),
        json!({"maxActiveCredentialsPerPrincipal": 101}),
        json!({"directApiKeyAuth": "yes"}),
        json!({"unknown": 1}),
    ] {
        let r = app.admin_call("PATCH", &app.org_path("/settings"), Some(body.clone())).await;
        assert_eq!((r.status, r.code()), (400, "invalid_request"), "{body}");
    }
    let r = app.admin_call("PATCH", &app.org_path("/settings"), Some(json!({"accessTokenTtlSeconds": 600}))).await;
    assert_eq!((r.status, r.body["version"].as_u64()), (200, Some(2)), "{:?}", r.body);
    assert_eq!(app.exchange(&app.admin_key).await.body["expiresIn"], 600, "the changing container sees it at once");
    let stale = app
        .send(local_stack::event::IncomingRequest {
            method: "PATCH".into(),
            path: app.org_path("/settings"),
            headers: vec![
                ("Authorization".into(), format!("ApiKey {}", app.admin_key)),
                ("If-Match".into(), "1".into()),
                ("Content-Type".into(), "application/json".into()),
            ],
            body: json!({"directApiKeyAuth": false}).to_string().into_bytes(),
            ..Default::default()
        })
        .await;
    assert_eq!((stale.status, stale.code()), (412, "version_mismatch"));
    let r = app.admin_call("PATCH", &app.org_path("/settings"), Some(json!({"directApiKeyAuth": false}))).await;
    assert_eq!(r.status, 200);
    let r = app.admin_call("GET", &app.org_path("/settings"), None).await;
    assert_eq!((r.status, r.code()), (401, "direct_api_key_auth_disabled"));
    let token = app.token_for(&app.admin_key).await;
    assert_eq!(app.bearer_call("GET", &app.org_path("/settings"), &token, None).await.body["directApiKeyAuth"], false);
}

#[tokio::test]
async fn the_audit_log_lists_every_change_newest_first_without_secrets() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_key("audited").await;
    app.admin_call("PATCH", &app.org_path(&format!("/api-keys/{principal}")), Some(json!({"displayName": "renamed"})))
        .await;
    let mut actions = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = app.admin_call("GET", &app.org_path(&format!("/audit-events?limit=2{cursor}")), None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert!(!r.body.to_string().contains(&key[24..]));
        for e in r.body["items"].as_array().unwrap() {
            for field in ["actor", "action", "target", "time", "requestId"] {
                assert!(!e[field].is_null(), "{field} in {e}");
            }
            actions.push(e["action"].as_str().unwrap().to_string());
        }
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        actions,
        [
            "iam:apiKeys:update",
            "iam:credentials:issue",
            "iam:roleAssignments:assign",
            "iam:apiKeys:create",
            // The test org's owner member, then its administrator key, as the operator made them.
            "iam:roleAssignments:assign",
            "iam:members:add",
            "iam:credentials:issue",
            "iam:roleAssignments:assign",
            "iam:apiKeys:create",
            "iam:orgs:create"
        ]
    );
    let (_, viewer) = app.principal_with_key("viewer").await;
    assert_eq!(
        app.call("GET", &app.org_path("/audit-events"), Some(&viewer), None).await.status,
        200,
        "iam-viewer reads the audit log"
    );
}

#[tokio::test]
async fn a_role_change_reaches_other_containers_within_thirty_seconds() {
    let app = TestApp::new().await;
    let other = app.second_container().await;
    let (principal, key) = app.principal_with_role("ci", None).await;
    let path = app.org_path("/api-keys");
    assert_eq!(other.call("GET", &path, Some(&key), None).await.code(), "no_role_assignment");
    app.assign(&principal, "iam-viewer").await;
    assert_eq!(app.call("GET", &path, Some(&key), None).await.status, 200, "the changing container at once");
    assert_eq!(other.call("GET", &path, Some(&key), None).await.code(), "no_role_assignment", "cached ≤ 30 s");
    other.app.clock.advance(30);
    assert_eq!(other.call("GET", &path, Some(&key), None).await.status, 200);
}

/// A small deterministic generator, so a failing case can be replayed.
struct Lcg(u64);

impl Lcg {
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        &items[((self.0 >> 33) % items.len() as u64) as usize]
    }
}

/// The outcome the contract prescribes for one generated case, written out from the documented
/// rules (docs/security.md, Authorization) and not computed by the service's evaluator: the test
/// holds both the real route and the explainer to it, so a wrong decision fails even where the two
/// agree.
struct Expected<'a> {
    /// The route's action and resource.
    action: &'a str,
    resource: &'a str,
    /// The target principal's resource, `iam:api-keys/<target>`.
    target_key: &'a str,
}

impl Expected<'_> {
    /// The route actions each generated action pattern grants, by hand: `*` and `iam:*` every IAM
    /// action; `iam:apiKeys:*` the two apiKeys verbs; `iam:*:list` every list within one segment.
    fn grants(&self, pattern: &str) -> bool {
        let granted: &[&str] = match pattern {
            "*" | "iam:*" => &[
                "iam:apiKeys:read",
                "iam:apiKeys:list",
                "iam:credentials:list",
                "iam:roles:list",
                "iam:settings:read",
                "iam:roleAssignments:list",
            ],
            "iam:apiKeys:*" => &["iam:apiKeys:read", "iam:apiKeys:list"],
            "iam:apiKeys:read" => &["iam:apiKeys:read"],
            "iam:*:list" => &["iam:apiKeys:list", "iam:credentials:list", "iam:roles:list", "iam:roleAssignments:list"],
            "iam:settings:read" => &["iam:settings:read"],
            "iot:devices:read" => &[],
            other => panic!("no expectation written for the action pattern {other}"),
        };
        granted.contains(&self.action)
    }

    /// Resource patterns: `*` covers all; `iam:api-keys/*` covers the target's key and the list's
    /// `iam:api-keys/*`; any other pattern (no wildcard, or `iam:roles/*`) covers itself only.
    fn covers(&self, pattern: &str) -> bool {
        pattern == "*"
            || pattern == self.resource
            || (pattern == "iam:api-keys/*" && (self.resource == self.target_key || self.resource == "iam:api-keys/*"))
    }

    /// The 401 table before the 403 table; then no assignment, no role supporting ApiKey, no
    /// permission for the action, none on the resource, no condition holding.
    fn outcome(&self, case: &Case) -> &'static str {
        match case {
            _ if case.suspended => "principal_suspended",
            Case { role: CaseRole::None, .. } => "no_role_assignment",
            Case { role: CaseRole::Viewer, .. } => "Allow",
            Case { role: CaseRole::Custom { user_only: true, .. }, .. } => "permission_denied",
            Case { role: CaseRole::Custom { action, .. }, .. } if !self.grants(action) => "permission_denied",
            Case { role: CaseRole::Custom { resource, .. }, .. } if !self.covers(resource) => "scope_mismatch",
            Case { role: CaseRole::Custom { condition_holds: false, .. }, .. } => "condition_not_met",
            Case { role: CaseRole::Custom { .. }, .. } => "Allow",
        }
    }
}

/// What a generated case gave its principal.
struct Case {
    role: CaseRole,
    suspended: bool,
}

enum CaseRole {
    None,
    Viewer,
    /// One permission; `user_only`: the role stopped supporting ApiKey after the assignment.
    Custom {
        action: String,
        resource: String,
        condition_holds: bool,
        user_only: bool,
    },
}

#[tokio::test]
async fn the_explainer_and_the_real_routes_decide_generated_cases_as_the_contract_says() {
    let app = TestApp::new().await;
    let (target, _) = app.principal_with_role("target", None).await;
    let target_key = format!("iam:api-keys/{target}");
    // A seed whose 36 cases reach every outcome below, a condition that holds among them.
    let mut rng = Lcg(0x1a2b_444b);
    let routes: [(&str, &str, &str, String); 6] = [
        ("iam:apiKeys:read", "GET", "/api-keys/T", format!("iam:api-keys/{target}")),
        ("iam:apiKeys:list", "GET", "/api-keys", "iam:api-keys/*".into()),
        ("iam:credentials:list", "GET", "/api-keys/T/credentials", format!("iam:api-keys/{target}")),
        ("iam:roles:list", "GET", "/roles", "iam:roles/*".into()),
        ("iam:settings:read", "GET", "/settings", "iam:settings".into()),
        ("iam:roleAssignments:list", "GET", "/principals/T/role-assignments", format!("iam:principals/{target}")),
    ];
    let actions =
        ["*", "iam:*", "iam:apiKeys:*", "iam:apiKeys:read", "iam:*:list", "iam:settings:read", "iot:devices:read"];
    let resources = [
        "*".to_string(),
        "iam:api-keys/*".into(),
        format!("iam:api-keys/{target}"),
        "iam:api-keys/akp_01J00000000000000000000000".into(),
        "iam:roles/*".into(),
        "iam:settings".into(),
        format!("iam:principals/{target}"),
    ];
    // Each condition with whether it holds for a request from 198.51.100.7 now.
    let conditions = [
        (Value::Null, true),
        (json!({"sourceIp": ["198.51.100.0/24"]}), true),
        (json!({"sourceIp": ["203.0.113.0/24"]}), false),
        (json!({"notBefore": app.at(3600)}), false),
        (json!({"notAfter": app.at(-3600)}), false),
    ];
    let types = [json!(["ApiKey"]), json!(["ApiKey", "User"]), json!(["User"])];
    let statuses = ["Active", "Active", "Active", "Suspended"];
    let mut decisions = std::collections::HashMap::new();
    for case in 0..36 {
        let (principal, key) = app.principal_with_role(&format!("case {case}"), None).await;
        let role = match case % 4 {
            0 => CaseRole::None,
            1 => {
                app.assign(&principal, "iam-viewer").await;
                CaseRole::Viewer
            }
            _ => {
                let (action, resource) = (rng.pick(&actions), rng.pick(&resources));
                let mut permission = json!({"action": action, "resource": resource});
                let (condition, condition_holds) = rng.pick(&conditions);
                if !condition.is_null() {
                    permission["condition"] = condition.clone();
                }
                // A User-only role cannot be assigned to an API key; it can stop supporting
                // ApiKey after the assignment, and must then grant nothing.
                let chosen = types_as_strs(rng.pick(&types));
                let user_only = chosen == ["User"];
                let initial = if user_only { vec!["ApiKey", "User"] } else { chosen };
                let role = app.custom_role(&format!("role {case}"), &initial, json!([permission])).await;
                app.assign(&principal, &role).await;
                if user_only {
                    let path = app.org_path(&format!("/roles/{role}"));
                    let r = app.admin_call("PATCH", &path, Some(json!({"principalTypes": ["User"]}))).await;
                    assert_eq!(r.status, 200, "{:?}", r.body);
                }
                let (action, resource) = (action.to_string(), resource.clone());
                CaseRole::Custom { action, resource, condition_holds: *condition_holds, user_only }
            }
        };
        let status = rng.pick(&statuses);
        if *status != "Active" {
            let r = app
                .admin_call("PATCH", &app.org_path(&format!("/api-keys/{principal}")), Some(json!({"status": status})))
                .await;
            assert_eq!(r.status, 200, "{:?}", r.body);
        }
        let generated = Case { role, suspended: *status == "Suspended" };
        let (action, method, path, resource) = rng.pick(&routes);
        let expected = Expected { action, resource: resource.as_str(), target_key: &target_key }.outcome(&generated);
        let real = app.call(method, &app.org_path(&path.replace('T', &target)), Some(&key), None).await;
        let explained = app
            .admin_call("POST", &app.org_path("/authorize"), Some(json!({"principalId": principal, "action": action, "resource": resource, "sourceIp": "198.51.100.7"})))
            .await;
        assert_eq!(explained.status, 200, "{:?}", explained.body);
        let real_outcome = if real.status == 200 { "Allow".to_string() } else { real.code().to_string() };
        let explained_outcome = match explained.body["decision"].as_str().unwrap() {
            "Allow" => "Allow".to_string(),
            _ => explained.body["code"].as_str().unwrap().to_string(),
        };
        assert_eq!(real_outcome, expected, "case {case}, the route: {action} on {resource}: {:?}", real.body);
        assert_eq!(
            explained_outcome, expected,
            "case {case}, the explainer: {action} on {resource}: {}",
            explained.body
        );
        *decisions.entry(expected).or_insert(0) += 1;
    }
    // The generator reaches every outcome of the contract's order: each check can fail the test.
    let reached: std::collections::BTreeSet<&str> = decisions.keys().copied().collect();
    let every: std::collections::BTreeSet<&str> = [
        "Allow",
        "condition_not_met",
        "no_role_assignment",
        "permission_denied",
        "principal_suspended",
        "scope_mismatch",
    ]
    .into();
    assert_eq!(reached, every, "{decisions:?}");
}

fn types_as_strs(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect()
}

#[tokio::test]
async fn the_explainer_names_every_check_and_the_match() {
    let app = TestApp::new().await;
    let r = app
        .admin_call(
            "POST",
            &app.org_path("/authorize"),
            Some(json!({"action": "iam:roles:delete", "resource": "iam:roles/role_x"})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["decision"], "Allow");
    assert_eq!(r.body["code"], Value::Null);
    assert_eq!(r.body["matched"]["roleId"], "iam-admin");
    assert_eq!(r.body["matched"]["permission"]["action"], "iam:*");
    let names: Vec<_> = r.body["checks"].as_array().unwrap().iter().map(|c| c["check"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "credential",
            "ip_allowed",
            "org_match",
            "role_assignment",
            "role_supports_principal_type",
            "permission_for_action",
            "resource_scope",
            "conditions"
        ]
    );
    for (body, field) in
        [(json!({"action": "iam:*"}), "action"), (json!({"action": "iam:roles:read", "sourceIp": "here"}), "sourceIp")]
    {
        let r = app.admin_call("POST", &app.org_path("/authorize"), Some(body)).await;
        assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (400, Some(field)));
    }
    let unknown = app
        .admin_call(
            "POST",
            &app.org_path("/authorize"),
            Some(json!({"principalId": "akp_01J00000000000000000000000", "action": "iam:roles:read"})),
        )
        .await;
    assert_eq!(unknown.status, 404);
    let (_, viewer) = app.principal_with_key("viewer").await;
    let r =
        app.call("POST", &app.org_path("/authorize"), Some(&viewer), Some(json!({"action": "iam:roles:read"}))).await;
    assert_eq!((r.status, r.code()), (403, "permission_denied"), "iam-viewer cannot simulate");
}

#[tokio::test]
async fn the_audit_log_pages_through_its_shards_newest_first_each_event_once() {
    let app = TestApp::new().await;
    for n in 0..12 {
        app.create_principal(&format!("audited {n}")).await;
    }
    let stored = app.audit_events(&app.org).await;
    let shards: std::collections::HashSet<String> = stored.iter().map(|i| i["PK"].as_s().unwrap().clone()).collect();
    assert!(shards.len() > 1, "the events spread over the org's audit partitions: {shards:?}");
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = app.admin_call("GET", &app.org_path(&format!("/audit-events?limit=5{cursor}")), None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        ids.extend(r.body["items"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()));
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    let mut expected: Vec<String> =
        stored.iter().map(|i| i["SK"].as_s().unwrap().trim_start_matches("EVT#").to_string()).collect();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, expected, "every event once, newest first");
}
