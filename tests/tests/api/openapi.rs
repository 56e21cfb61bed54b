//! The OpenAPI document against the template, and as the stack serves it. (Every response of the
//! other integration tests is checked against it in `TestApp::send`.)

use std::collections::BTreeSet;

use iam_tests::TestApp;
use iam_tests::openapi::{DOCUMENT, check, schema_accepts};
use serde_json::json;

#[tokio::test]
async fn the_document_has_every_route_of_the_template_and_no_other() {
    let app = TestApp::new().await;
    let routes: BTreeSet<String> = app.template.routes.iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    let mut documented = BTreeSet::new();
    for (path, item) in DOCUMENT["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                documented.insert(format!("{} {path}", method.to_ascii_uppercase()));
            }
        }
    }
    let missing: Vec<_> = routes.difference(&documented).collect();
    assert!(missing.is_empty(), "template routes missing from the OpenAPI document: {missing:?}");
    let extra: Vec<_> = documented.difference(&routes).collect();
    assert!(extra.is_empty(), "documented routes the template does not have: {extra:?}");
}

#[tokio::test]
async fn the_stack_serves_the_document_and_it_is_openapi_3_1() {
    let app = TestApp::new().await;
    let r = app.call("GET", "/iam/openapi.json", None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.body, *DOCUMENT);
    assert_eq!(r.body["openapi"], "3.1.0");
    let schemes = &r.body["components"]["securitySchemes"];
    assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
    assert_eq!(
        (schemes["apiKeyAuth"]["type"].as_str(), schemes["apiKeyAuth"]["name"].as_str()),
        (Some("apiKey"), Some("Authorization"))
    );
}

#[tokio::test]
async fn every_operation_has_an_id_and_documents_its_failures() {
    let mut ids = BTreeSet::new();
    for (path, item) in DOCUMENT["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(ids.insert(id.to_string()), "operationId {id} is used twice");
            let responses = op["responses"].as_object().expect("responses");
            // API Gateway's stage throttle can answer any route (infra/template.yaml).
            assert!(responses.contains_key("429"), "{method} {path}: no 429");
            let public = op["security"].as_array().is_some_and(Vec::is_empty);
            if !public {
                assert!(responses.contains_key("401"), "{method} {path}: protected, but no 401");
                assert!(responses.contains_key("403"), "{method} {path}: protected, but no 403");
            }
        }
    }
}

#[test]
fn the_conformance_check_catches_what_it_should() {
    let json = |ct: &str| {
        let mut h = http::HeaderMap::new();
        h.insert("content-type", ct.parse().unwrap());
        h.insert("cache-control", "no-store".parse().unwrap());
        h.insert("www-authenticate", r#"Bearer realm="iam", ApiKey realm="iam""#.parse().unwrap());
        h
    };
    let path = "/iam/orgs/{orgId}/api-keys/{principalId}";
    let problem = |code: &str, status: u16| {
        serde_json::json!({"type": format!("urn:infuse:iam:problem:{code}"), "title": "Unauthorized", "status": status,
            "code": code, "detail": "d", "requestId": "r"})
        .to_string()
    };
    // A documented refusal conforms.
    let ok = check("GET", path, 401, &json("application/problem+json"), problem("missing_credentials", 401).as_bytes());
    assert_eq!(ok, Ok(()));
    // A code the route cannot answer, an undocumented status, a wrong media type, an undocumented route.
    let bad_code = check("GET", path, 401, &json("application/problem+json"), problem("no_such_code", 401).as_bytes());
    assert!(bad_code.is_err(), "{bad_code:?}");
    assert!(check("GET", path, 418, &json("application/problem+json"), b"{}").is_err());
    assert!(check("GET", path, 401, &json("text/html"), problem("missing_credentials", 401).as_bytes()).is_err());
    assert!(check("GET", "/iam/nowhere", 200, &json("application/json"), b"{}").is_err());
    // A whole principal conforms; the same with a field the principal object does not have does not.
    let mut headers = json("application/json");
    headers.insert("etag", "\"1\"".parse().unwrap());
    let mut principal = serde_json::json!({"id": "akp_01JC0000000000000000000000",
        "orgId": "org_01JC0000000000000000000000", "type": "ApiKey", "displayName": "ci", "status": "Active",
        "expiresAt": null, "createdAt": "2026-11-22T10:00:00Z", "updatedAt": "2026-11-22T10:00:00Z", "version": 1});
    let whole = check("GET", path, 200, &headers, principal.to_string().as_bytes());
    assert_eq!(whole, Ok(()));
    principal["unexpected"] = true.into();
    assert!(check("GET", path, 200, &headers, principal.to_string().as_bytes()).is_err());
    // A documented header whose value does not match its schema.
    headers.insert("etag", "W/1".parse().unwrap());
    principal.as_object_mut().unwrap().remove("unexpected");
    assert!(check("GET", path, 200, &headers, principal.to_string().as_bytes()).is_err());
}

/// Every request body the document shows as an example passes the body's one parser (its shape,
/// then its `check` into a typed command): the parser the services and the fuzz target run.
#[test]
fn every_documented_request_example_passes_its_body_parser() {
    use shared::domain::Timestamp;
    use shared::http::body::json_list;
    use shared::http::{ApiError, json_body};
    use shared::service::{credentials, federation, leaks, members, principals, roles, settings, simulate, trusts};

    let now = Timestamp::parse("2026-11-22T10:00:00Z").unwrap();
    let parse = |operation: &str, req: &lambda_http::Request| -> Result<(), ApiError> {
        match operation {
            "exchangeToken" => drop(token_exchange::json_client_key(req)?),
            "createApiKey" => drop(json_body::<principals::CreatePrincipal>(req)?.check(now)?),
            "updateApiKey" => drop(json_body::<principals::UpdatePrincipal>(req)?.check(now)?),
            "issueCredential" => drop(json_body::<credentials::IssueCredential>(req)?.check(now)?),
            "createRole" => drop(json_body::<roles::CreateRole>(req)?.check()?),
            "updateRole" => drop(json_body::<roles::UpdateRole>(req)?.check()?),
            "updateSettings" => {
                json_body::<settings::UpdateSettings>(req)?.check()?;
            }
            "simulateAuthorization" => drop(json_body::<simulate::Simulate>(req)?.check(None)?),
            "addMember" => drop(json_body::<members::AddMember>(req)?.check()?),
            "updateCredential" => drop(json_body::<credentials::UpdateCredential>(req)?.check(now)?),
            "rollCredential" => drop(json_body::<credentials::RollCredential>(req)?.check()?),
            "createWorkloadTrust" => {
                let org = shared::domain::OrgId::parse("org_01JD7Q3Z8XKM4PRT6VW0Y2B5CE").unwrap();
                let policy = shared::auth::federation::FetchPolicy::default();
                drop(json_body::<trusts::CreateTrust>(req)?.check(&org, &policy, now)?)
            }
            "updateWorkloadTrust" => drop(json_body::<trusts::UpdateTrust>(req)?),
            "testWorkloadTrust" => drop(json_body::<federation::TestRequest>(req)?),
            "reportLeakedKeys" => {
                let entries = json_list::<serde_json::Value>(req, leaks::MAX_REPORT_BYTES)?;
                assert!(entries.iter().all(|e| leaks::ReportedToken::read(e).is_some()), "every entry is readable");
            }
            other => panic!("{other} takes a JSON body, but this test has no parser for it"),
        }
        Ok(())
    };
    let mut checked = 0;
    for item in DOCUMENT["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("path item").values() {
            let Some(json) = op.get("requestBody").and_then(|b| b["content"].get("application/json")) else {
                continue;
            };
            let operation = op["operationId"].as_str().expect("operationId");
            let example = json.get("example").unwrap_or_else(|| panic!("{operation}: no request example"));
            let req = http::Request::builder()
                .method("POST")
                .uri("https://iam.test/iam/x")
                .header("content-type", "application/json")
                .body(lambda_http::Body::Text(example.to_string()))
                .unwrap();
            if let Err(err) = parse(operation, &req) {
                panic!("{operation}: the documented example is refused: {} {}", err.status(), err.code());
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 15, "every JSON request body of the document");
}

/// The name and subject patterns accept exactly what the service accepts, character class by
/// character class: a client that validates by the document is never surprised by a 400, and the
/// data the API fuzzer generates as valid is valid.
#[test]
fn the_name_and_subject_patterns_refuse_what_the_service_refuses() {
    use shared::domain::Name;
    use shared::service::members::AddMember;

    let classes: [(&str, &[char]); 6] = [
        // Letters of several scripts, an emoji, the replacement character, an unassigned one.
        ("accepted", &['a', 'é', '鍵', 'م', '🚀', '\u{fffd}', '\u{1fffd}']),
        ("control", &['\u{7}', '\u{85}', '\u{2028}']),
        ("bidirectional control", &['\u{61c}', '\u{200e}', '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}']),
        (
            "default-ignorable",
            &[
                '\u{ad}',
                '\u{34f}',
                '\u{115f}',
                '\u{180e}',
                '\u{200b}',
                '\u{200c}',
                '\u{200d}',
                '\u{2060}',
                '\u{2064}',
                '\u{206f}',
                '\u{3164}',
                '\u{fe0f}',
                '\u{feff}',
                '\u{ffa0}',
                '\u{1bca0}',
                '\u{1d17a}',
                '\u{e0001}',
                '\u{e0041}',
                '\u{e0100}',
                '\u{e0fff}',
            ],
        ),
        ("private use", &['\u{e000}', '\u{f8ff}', '\u{f0000}', '\u{10fffd}']),
        ("noncharacter", &['\u{fdd0}', '\u{fdef}', '\u{fffe}', '\u{1ffff}', '\u{dfffe}', '\u{10ffff}']),
    ];
    for (class, chars) in classes {
        for &c in chars {
            let inside = format!("a{c}b");
            assert_eq!(Name::parse(&inside).is_ok(), class == "accepted", "{class}: {inside:?}");
            for text in [inside, c.to_string(), format!(" {c} ")] {
                let name = Name::parse(&text).is_ok();
                assert_eq!(schema_accepts("NameInput", &json!(text)), name, "NameInput, {class}: {text:?}");
                assert_eq!(schema_accepts("RoleNameInput", &json!(text)), name, "RoleNameInput, {class}: {text:?}");
                let subject = AddMember { subject: text.clone(), email: None, display_name: None }.check().is_ok();
                assert_eq!(subject, name, "a subject is refused where a name is, {class}: {text:?}");
                assert_eq!(schema_accepts("SubjectInput", &json!(text)), subject, "SubjectInput, {class}: {text:?}");
            }
        }
    }
    for (schema, longest) in [("NameInput", 128), ("RoleNameInput", 64), ("SubjectInput", 255)] {
        assert!(schema_accepts(schema, &json!(format!(" {} ", "x".repeat(longest)))), "{schema}: {longest}");
        assert!(!schema_accepts(schema, &json!("x".repeat(longest + 1))), "{schema}: {}", longest + 1);
    }
}
