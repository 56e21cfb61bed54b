//! The credential report: one row per credential of the org, paged, as JSON or CSV; never another
//! org's, never a secret; out of policy flagged against the org's current lifetime policy.

use std::collections::BTreeSet;

use iam_tests::{TestApp, TestResponse};
use local_stack::event::IncomingRequest;
use serde_json::{Value, json};

const DAY: i64 = 86_400;

/// `GET .../credential-report` (query string included) as the administrator, with this `Accept`.
async fn report(app: &TestApp, query: &str, accept: Option<&str>) -> TestResponse {
    let mut headers = vec![("Authorization".to_string(), format!("ApiKey {}", app.admin_key))];
    if let Some(accept) = accept {
        headers.push(("Accept".to_string(), accept.to_string()));
    }
    app.send(IncomingRequest {
        method: "GET".into(),
        path: app.org_path("/credential-report"),
        query: query.into(),
        headers,
        source_ip: "198.51.100.7".into(),
        ..Default::default()
    })
    .await
}

/// Every row of the JSON report, following `nextCursor` with pages of `limit`; also how many pages.
async fn all_rows(app: &TestApp, limit: usize) -> (Vec<Value>, usize) {
    let (mut rows, mut pages, mut cursor) = (Vec::new(), 0, String::new());
    loop {
        let r = report(app, &format!("limit={limit}{cursor}"), None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.header("vary"), "Accept");
        pages += 1;
        rows.extend(r.body["items"].as_array().unwrap().iter().cloned());
        match r.body["nextCursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return (rows, pages),
        }
    }
}

fn row<'a>(rows: &'a [Value], key_id: &str) -> &'a Value {
    rows.iter().find(|r| r["keyId"] == key_id).unwrap_or_else(|| panic!("no row for {key_id}: {rows:?}"))
}

/// RFC 4180 as the report writes it: CRLF rows, quoted cells with doubled quotes.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => assert_eq!(chars.next(), Some('\n'), "rows end with CRLF"),
            (false, '\n') => panic!("a bare LF ends a row"),
            (false, c) => cell.push(c),
        }
        if !quoted && c == '\r' {
            row.push(std::mem::take(&mut cell));
            rows.push(std::mem::take(&mut row));
        }
    }
    assert!(row.is_empty() && cell.is_empty(), "the document ends with a row's CRLF");
    rows
}

#[tokio::test]
async fn one_row_per_credential_of_the_org_and_nothing_of_another() {
    let app = TestApp::new().await;
    let (p1, key1) = app.principal_with_key("billing sync").await;
    let (second, _) = app.issue(&p1, "second").await;
    let revoke = app.org_path(&format!("/api-keys/{p1}/credentials/{}/revoke", second["id"].as_str().unwrap()));
    assert_eq!(app.admin_call("POST", &revoke, None).await.status, 200);
    let p2 = app.create_principal("device onboarding").await["id"].as_str().unwrap().to_string();
    let path = app.org_path(&format!("/api-keys/{p2}/credentials"));
    let r = app.admin_call("POST", &path, Some(json!({"name": "short", "expiresAt": app.at(DAY)}))).await;
    let short = r.body["credential"]["id"].as_str().unwrap().to_string();
    app.create_principal("no credentials").await;
    let intruder = app.another_org(true).await;
    assert_eq!(
        app.call("GET", &format!("/iam/orgs/{}/api-keys", intruder.org_id), Some(&intruder.api_key), None).await.status,
        200
    );
    app.app.clock.advance(3 * DAY);

    let (rows, _) = all_rows(&app, 50).await;
    let keys: BTreeSet<&str> = rows.iter().map(|r| r["keyId"].as_str().unwrap()).collect();
    let expected: BTreeSet<&str> =
        [&app.admin_key[3..23], &key1[3..23], second["id"].as_str().unwrap(), short.as_str()].into_iter().collect();
    assert_eq!(keys, expected, "the org's four credentials, the other org's none");
    let text = serde_json::to_string(&rows).unwrap();
    assert!(!text.contains(&intruder.api_key[3..23]) && !text.contains(intruder.org_id.as_str()));
    assert!(!text.contains(&key1[24..]) && !text.contains("argon2"), "never a secret or its hash");

    let used = row(&rows, &key1[3..23]);
    assert_eq!(used["principalId"], p1.as_str());
    assert_eq!(used["principalName"], "billing sync");
    assert_eq!(used["credentialName"], "main");
    assert_eq!(used["status"], "Active");
    assert_eq!(used["ageDays"], 3);
    assert_eq!(used["outOfPolicy"], false);
    assert_eq!(row(&rows, second["id"].as_str().unwrap())["status"], "Revoked");
    let expired = row(&rows, &short);
    assert_eq!(
        (expired["status"].as_str(), expired["principalName"].as_str()),
        (Some("Expired"), Some("device onboarding"))
    );
    assert_eq!(expired["lastUsedAt"], Value::Null);
    // The administrator's key has been used by this very request's predecessors.
    let admin = row(&rows, &app.admin_key[3..23]);
    assert_eq!((admin["lastUsedIp"].as_str(), admin["lastUsedRoute"].as_str().is_some()), (Some("198.51.100.7"), true));
}

#[tokio::test]
async fn credentials_issued_before_a_policy_are_out_of_policy() {
    let app = TestApp::new().await;
    let id = app.create_principal("ci").await["id"].as_str().unwrap().to_string();
    let path = app.org_path(&format!("/api-keys/{id}/credentials"));
    let issue = |body: Value| app.admin_call("POST", &path, Some(body));
    let forever = issue(json!({"name": "forever"})).await.body["credential"]["id"].as_str().unwrap().to_string();
    let long = issue(json!({"name": "long", "expiresAt": app.at(200 * DAY)})).await.body["credential"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ended = issue(json!({"name": "ended"})).await.body["credential"]["id"].as_str().unwrap().to_string();
    assert_eq!(app.admin_call("POST", &format!("{path}/{ended}/revoke"), None).await.status, 200);
    let (rows, _) = all_rows(&app, 50).await;
    assert!(rows.iter().all(|r| r["outOfPolicy"] == false), "no policy, nothing out of it");

    let r = app.admin_call("PATCH", &app.org_path("/settings"), Some(json!({"maxCredentialLifetimeDays": 90}))).await;
    assert_eq!(r.status, 200);
    let within = issue(json!({"name": "within", "expiresAt": app.at(90 * DAY)})).await.body["credential"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Days later an expiry 90 days from its creation is still within the policy: it counts from creation.
    app.app.clock.advance(10 * DAY);
    let (rows, _) = all_rows(&app, 50).await;
    let flag = |key: &str| row(&rows, key)["outOfPolicy"].as_bool().unwrap();
    assert!(flag(&forever), "no expiry, while the policy asks for one");
    assert!(flag(&long), "200 days from its creation, over 90");
    assert!(flag(&app.admin_key[3..23]), "the bootstrap key has no expiry");
    assert!(!flag(&within));
    assert!(!flag(&ended), "a revoked credential is never out of policy");
}

#[tokio::test]
async fn pages_go_through_every_principal_and_credential_once() {
    let app = TestApp::new().await;
    let mut expected = BTreeSet::from([app.admin_key[3..23].to_string()]);
    for (name, credentials) in [("one", 1), ("none", 0), ("three", 3), ("two", 2)] {
        let id = app.create_principal(name).await["id"].as_str().unwrap().to_string();
        for n in 0..credentials {
            let path = app.org_path(&format!("/api-keys/{id}/credentials"));
            let r = app.admin_call("POST", &path, Some(json!({"name": format!("{name} {n}")}))).await;
            expected.insert(r.body["credential"]["id"].as_str().unwrap().to_string());
        }
    }
    for limit in [1, 2, 4, 100] {
        let (rows, pages) = all_rows(&app, limit).await;
        let keys: Vec<String> = rows.iter().map(|r| r["keyId"].as_str().unwrap().to_string()).collect();
        assert_eq!(keys.len(), expected.len(), "limit {limit}: each credential once: {keys:?}");
        assert_eq!(keys.iter().cloned().collect::<BTreeSet<_>>(), expected, "limit {limit}");
        assert!(pages >= expected.len().div_ceil(limit), "limit {limit}: {pages} pages");
        // Grouped by principal, oldest principal first.
        let principals: Vec<&str> = rows.iter().map(|r| r["principalName"].as_str().unwrap()).collect();
        let mut grouped = principals.clone();
        grouped.dedup();
        assert_eq!(grouped.len(), 4, "limit {limit}: {principals:?}");
    }

    // A cursor is this org's report's only.
    let first = report(&app, "limit=1", None).await;
    let cursor = first.body["nextCursor"].as_str().unwrap().to_string();
    let flipped = if cursor.as_bytes()[10] == b'A' { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &cursor[..10], &cursor[11..]);
    for query in [format!("cursor={tampered}"), "limit=0".into(), "limit=101".into()] {
        let r = report(&app, &query, None).await;
        assert_eq!(r.status, 400, "{query}: {:?}", r.body);
    }
    let elsewhere = app.admin_call("GET", &app.org_path(&format!("/audit-events?cursor={cursor}")), None).await;
    assert_eq!((elsewhere.status, elsewhere.code()), (400, "invalid_cursor"));
    let other = app.another_org(true).await;
    let path = format!("/iam/orgs/{}/credential-report?cursor={cursor}", other.org_id);
    let r = app.call("GET", &path, Some(&other.api_key), None).await;
    assert_eq!((r.status, r.code()), (400, "invalid_cursor"), "another org's report");
}

#[tokio::test]
async fn as_csv_it_escapes_cells_and_neutralises_formulas() {
    let app = TestApp::new().await;
    let r = app
        .admin_call(
            "POST",
            &app.org_path("/api-keys"),
            Some(json!({"displayName": "=HYPERLINK(\"https://evil\",\"x\")"})),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let path = app.org_path(&format!("/api-keys/{id}/credentials"));
    let r = app.admin_call("POST", &path, Some(json!({"name": "prod, \"eu\"", "expiresAt": app.at(DAY)}))).await;
    let key_id = r.body["credential"]["id"].as_str().unwrap().to_string();
    let json_rows = all_rows(&app, 100).await.0;

    let r = report(&app, "", Some("text/csv")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "text/csv; charset=utf-8; header=present");
    assert_eq!(r.header("vary"), "Accept");
    assert_eq!(r.header("x-next-cursor"), "", "one page");
    let text = String::from_utf8(r.raw.clone()).unwrap();
    assert!(text.contains("\"'=HYPERLINK(\"\"https://evil\"\",\"\"x\"\")\""), "{text}");
    let rows = parse_csv(&text);
    assert_eq!(
        rows[0],
        [
            "principalId",
            "principalName",
            "keyId",
            "credentialName",
            "status",
            "createdAt",
            "expiresAt",
            "lastUsedAt",
            "lastUsedIp",
            "lastUsedRoute",
            "ageDays",
            "outOfPolicy"
        ]
    );
    assert_eq!(rows.len(), 1 + json_rows.len());
    let line = rows.iter().find(|r| r[2] == key_id).unwrap();
    assert_eq!(line[1], "'=HYPERLINK(\"https://evil\",\"x\")", "starts with an apostrophe, never a formula");
    assert_eq!(line[3], "prod, \"eu\"");
    assert_eq!((line[4].as_str(), line[7].as_str(), line[10].as_str(), line[11].as_str()), ("Active", "", "0", "no"));
    assert_eq!(line[6], row(&json_rows, &key_id)["expiresAt"].as_str().unwrap());

    // The next page's cursor is a header; text/csv wins only when preferred.
    let first = report(&app, "limit=1", Some("application/json;q=0.5, text/csv")).await;
    assert_eq!(parse_csv(&String::from_utf8(first.raw.clone()).unwrap()).len(), 2);
    let next = first.header("x-next-cursor").to_string();
    assert!(!next.is_empty());
    let second = report(&app, &format!("limit=1&cursor={next}"), Some("text/csv")).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.header("x-next-cursor"), "", "two credentials, two pages");
    for accept in ["*/*", "text/csv, application/json", "text/html"] {
        assert_eq!(report(&app, "", Some(accept)).await.header("content-type"), "application/json", "{accept}");
    }
}

#[tokio::test]
async fn viewers_may_read_it_and_a_role_without_the_action_may_not() {
    let app = TestApp::new().await;
    let (_, viewer) = app.principal_with_key("viewer").await;
    let path = app.org_path("/credential-report");
    let r = app.call("GET", &path, Some(&viewer), None).await;
    assert_eq!(r.status, 200, "iam-viewer holds iam:credentials:report: {:?}", r.body);
    let lister =
        app.custom_role("lister", &["ApiKey"], json!([{"action": "iam:credentials:list", "resource": "*"}])).await;
    let (_, key) = app.principal_with_role("lister", Some(&lister)).await;
    let r = app.call("GET", &path, Some(&key), None).await;
    assert_eq!((r.status, r.code()), (403, "permission_denied"));
    assert!(r.body["detail"].as_str().unwrap().contains("iam:credentials:report"), "{:?}", r.body);
    let r = app.owner_call("GET", &path, None).await;
    assert_eq!(r.status, 200, "a member holding owner");
}

#[tokio::test]
async fn a_page_reads_a_bounded_number_of_principals_that_never_held_a_credential() {
    let app = TestApp::new().await;
    // 60 principals without credentials (beyond five pages of ten), then one with a credential.
    for n in 0..60 {
        app.create_principal(&format!("idle {n}")).await;
    }
    let busy = app.create_principal("busy").await["id"].as_str().unwrap().to_string();
    app.issue(&busy, "the one").await;
    let first = report(&app, "limit=10", None).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert!(first.body["nextCursor"].is_string(), "a page stops after its budget of principal pages");
    let (rows, _) = all_rows(&app, 10).await;
    let bootstrap_and_busy: Vec<&str> = rows.iter().filter_map(|r| r["principalId"].as_str()).collect();
    assert!(bootstrap_and_busy.contains(&busy.as_str()), "following the cursor reaches it: {bootstrap_and_busy:?}");
}
