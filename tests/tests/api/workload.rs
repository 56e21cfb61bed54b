//! Keyless workloads: workload trusts, and a workload's own OIDC token exchanged for an access token
//! (RFC 8693, RFC 7523) against the tests' workload issuer, served over HTTP on loopback.

use base64::Engine;
use iam_tests::{TestApp, TestResponse};
use serde_json::{Value, json};

/// The audience every test's workload tokens carry: it names the org, as a trust's audiences must.
fn audience(app: &TestApp) -> String {
    format!("urn:infuse:iam:{}", app.org)
}

/// A principal holding a role that lists API keys and reads `/demo/whoami`; its id.
async fn workload_principal(app: &TestApp) -> String {
    let permissions = json!([
        {"action": "iam:apiKeys:list", "resource": "*"},
        {"action": "demo:whoami:read", "resource": "route:/demo/*"},
    ]);
    let role = app.custom_role("deployer", &["ApiKey"], permissions).await;
    let principal = app.create_principal("deploy workflow").await["id"].as_str().unwrap().to_string();
    app.assign(&principal, &role).await;
    principal
}

fn trust_body(app: &TestApp, principal: &str) -> Value {
    json!({
        "name": "deploy from main",
        "issuer": app.workload_issuer,
        "audiences": [audience(app)],
        "conditions": [
            {"claim": "sub", "equals": "repo:acme/app:ref:refs/heads/main"},
            {"claim": "repository_id", "equals": "690412345"},
        ],
        "principalId": principal,
        "maxTokenLifetimeSeconds": 900,
    })
}

/// A trust (made by the owner, who may grant anything) for a fresh workload principal: (trust, principal).
async fn trust(app: &TestApp) -> (Value, String) {
    let principal = workload_principal(app).await;
    let r = app.owner_call("POST", &app.org_path("/workload-trusts"), Some(trust_body(app, &principal))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    (r.body, principal)
}

fn refused(r: &TestResponse, code: &str) {
    assert_eq!(
        (r.status, r.body["error"].as_str(), r.body["code"].as_str()),
        (400, Some("invalid_grant"), Some(code)),
        "{:?}",
        r.body
    );
}

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn a_workload_token_becomes_an_access_token_that_calls_iam_and_tenant_routes() {
    let app = TestApp::new().await;
    let (trust, principal) = trust(&app).await;
    let token = app.workload_token(&audience(&app), json!({}));
    let r = app.exchange_workload(&token, &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["issued_token_type"], "urn:ietf:params:oauth:token-type:access_token");
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900, "the trust's lifetime is shorter than the org's");
    let access = r.body["access_token"].as_str().unwrap().to_string();
    let claims = claims_of(&access);
    assert_eq!(claims["sub"], principal.as_str());
    assert_eq!(claims["client_id"], trust["id"]);
    assert_eq!(claims["act"], json!({"iss": app.workload_issuer, "sub": "repo:acme/app:ref:refs/heads/main"}));

    let r = app.bearer_call("GET", &app.org_path("/api-keys"), &access, None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app.bearer_call("GET", "/demo/whoami", &access, None).await;
    assert_eq!(
        (r.status, &r.body["principalId"], &r.body["keyId"]),
        (200, &json!(principal), &Value::Null),
        "{:?}",
        r.body
    );

    // RFC 7523's JWT bearer grant takes the same token and answers RFC 6749's shape.
    let r = app
        .form_post(
            "/iam/auth/token",
            &[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", &token)],
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.body.get("issued_token_type").is_none());

    // The trust says when it was last used and by whom; the audit names the external issuer and subject.
    let r = app.owner_call("GET", &app.org_path("/workload-trusts"), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["items"][0]["lastUsedSubject"], "repo:acme/app:ref:refs/heads/main");
    assert_eq!(r.body["items"][0]["lastUsedAt"].as_str(), Some(app.at(0).as_str()));
    let audit = app.audit_events(&app.org).await;
    let exchange = audit
        .iter()
        .find(|e| e["action"].as_s().unwrap() == "iam:workloadTrusts:exchange")
        .expect("an audit event of the exchange");
    let details = exchange["details"].as_m().unwrap();
    assert_eq!(details["issuer"].as_s().unwrap(), &app.workload_issuer);
    assert_eq!(details["subject"].as_s().unwrap(), "repo:acme/app:ref:refs/heads/main");
}

#[tokio::test]
async fn each_failed_check_is_refused_with_its_own_code() {
    let app = TestApp::new().await;
    let (trust, principal) = trust(&app).await;
    let aud = audience(&app);
    let exchange = |token: String| {
        let app = app.clone();
        async move { app.exchange_workload(&token, &[]).await }
    };
    let now = app.app.clock.now().unix();

    refused(
        &exchange(app.workload_token(&aud, json!({"sub": "repo:acme/app:ref:refs/heads/dev"}))).await,
        "trust_condition_not_met",
    );
    refused(&exchange(app.workload_token(&aud, json!({"repository_id": "1"}))).await, "trust_condition_not_met");
    refused(&exchange(app.workload_token("urn:infuse:iam:somebody-else", json!({}))).await, "trust_not_found");
    refused(
        &exchange(app.workload_token(&aud, json!({"iss": "https://token.actions.githubusercontent.com"}))).await,
        "trust_not_found",
    );
    refused(
        &exchange(app.workload_token(&aud, json!({"exp": now - 120, "iat": now - 600}))).await,
        "subject_token_expired",
    );
    refused(&exchange(app.workload_token(&aud, json!({"nbf": now + 600}))).await, "subject_token_not_yet_valid");
    refused(
        &exchange(app.workload_token(&aud, json!({"iat": now - 7200, "exp": now + 600}))).await,
        "subject_token_too_old",
    );
    refused(&exchange(app.workload_token(&aud, json!({"sub": null}))).await, "subject_token_malformed");
    refused(&exchange("not.a.jwt".into()).await, "subject_token_malformed");

    // A bad signature: the claims of one token under the signature of another.
    let good = app.workload_token(&aud, json!({}));
    let other = app.workload_token(&aud, json!({"ref": "refs/heads/x"}));
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], other.split('.').nth(1).unwrap(), parts[2]);
    refused(&exchange(forged).await, "bad_signature");

    // alg none, and HS256 keyed with the issuer's public key (the classic confusion).
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let kid = app.workload_jwks.read().unwrap()["keys"][0]["kid"].as_str().unwrap().to_string();
    let payload = parts[1];
    refused(&exchange(format!("{}.{payload}.", b64(&json!({"alg": "none", "kid": kid})))).await, "algorithm_refused");
    // A token that is not the issuer's learns nothing of the trust's conditions: its signature is
    // refused before they are judged.
    let wrong_sub = app.workload_token(&aud, json!({"sub": "repo:evil/app:ref:refs/heads/main"}));
    let unsigned_wrong =
        format!("{}.{}.", b64(&json!({"alg": "none", "kid": kid})), wrong_sub.split('.').nth(1).unwrap());
    refused(&exchange(unsigned_wrong).await, "algorithm_refused");
    let forged_wrong = format!("{}.{}.{}", parts[0], wrong_sub.split('.').nth(1).unwrap(), parts[2]);
    refused(&exchange(forged_wrong).await, "bad_signature");
    let public = app.workload_jwks.read().unwrap()["keys"][0].to_string();
    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.kid = Some(kid.clone());
    let hmac = jsonwebtoken::encode(&hs, &claims_of(&good), &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()))
        .unwrap();
    refused(&exchange(hmac).await, "algorithm_refused");

    // A key the issuer does not publish.
    let stranger = local_stack::idp::DevIdp::generate().unwrap();
    let unknown = stranger.sign(jsonwebtoken::Algorithm::ES256, &claims_of(&good)).unwrap();
    refused(&exchange(unknown).await, "unknown_key");

    // A disabled trust, then a suspended principal.
    let path = app.org_path(&format!("/workload-trusts/{}", trust["id"].as_str().unwrap()));
    let r = app.owner_call("PATCH", &path, Some(json!({"enabled": false}))).await;
    assert_eq!((r.status, r.body["version"].as_u64()), (200, Some(2)), "{:?}", r.body);
    refused(&exchange(good.clone()).await, "trust_disabled");
    let r = app.owner_call("PATCH", &path, Some(json!({"enabled": true}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(exchange(good.clone()).await.status, 200);
    let r = app
        .owner_call("PATCH", &app.org_path(&format!("/api-keys/{principal}")), Some(json!({"status": "Suspended"})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    refused(&exchange(good).await, "principal_suspended");
}

#[tokio::test]
async fn suspending_the_principal_stops_the_tokens_its_workloads_hold() {
    let app = TestApp::new().await;
    let (_, principal) = trust(&app).await;
    let r = app.exchange_workload(&app.workload_token(&audience(&app), json!({})), &[]).await;
    let access = r.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(app.bearer_call("GET", &app.org_path("/api-keys"), &access, None).await.status, 200);
    app.app.clock.advance(1);
    let r = app
        .owner_call("PATCH", &app.org_path(&format!("/api-keys/{principal}")), Some(json!({"status": "Suspended"})))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app.bearer_call("GET", &app.org_path("/api-keys"), &access, None).await;
    assert_eq!((r.status, r.body["code"].as_str()), (401, Some("token_revoked")), "{:?}", r.body);
}

#[tokio::test]
async fn a_warm_exchange_fetches_nothing_and_reads_its_trust_in_one_request() {
    let app = TestApp::new().await;
    trust(&app).await;
    let aud = audience(&app);
    assert_eq!(app.exchange_workload(&app.workload_token(&aud, json!({})), &[]).await.status, 200);
    let fetched = app.workload_fetches.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(fetched, 1, "the first exchange fetches the issuer's keys");
    app.calls.reset();
    let r = app.exchange_workload(&app.workload_token(&aud, json!({})), &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        app.workload_fetches.load(std::sync::atomic::Ordering::SeqCst),
        fetched,
        "a warm exchange fetches nothing"
    );
    // The trust (one read of its audience items), the principal's standing, and the one write of
    // its use and the audit event.
    assert_eq!(app.calls.names(), ["BatchGetItem", "GetItem", "TransactWriteItems"], "the trust is found in one read");
}

#[tokio::test]
async fn a_containers_first_exchange_reads_the_principal_and_settings_together() {
    let app = TestApp::new().await;
    trust(&app).await;
    let cold = app.second_container().await;
    let r = cold.exchange_workload(&app.workload_token(&audience(&app), json!({})), &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The trust, then the principal with the org's settings (while the issuer's keys are fetched),
    // then the one write: no read after the signature holds.
    assert_eq!(cold.calls.names(), ["BatchGetItem", "BatchGetItem", "TransactWriteItems"]);
}

#[tokio::test]
async fn an_unknown_key_refetches_the_issuers_keys_at_most_once_a_minute() {
    let app = TestApp::new().await;
    trust(&app).await;
    let aud = audience(&app);
    assert_eq!(app.exchange_workload(&app.workload_token(&aud, json!({})), &[]).await.status, 200);
    let fetches = || app.workload_fetches.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(fetches(), 1);
    // The issuer rotates to a new key, which its JWKS publishes beside the old one.
    let next = local_stack::idp::DevIdp::generate().unwrap();
    let mut jwks = app.workload.jwks();
    jwks["keys"].as_array_mut().unwrap().push(next.jwks()["keys"][0].clone());
    *app.workload_jwks.write().unwrap() = jwks;
    let claims = claims_of(&app.workload_token(&aud, json!({})));
    let rotated = next.sign(jsonwebtoken::Algorithm::ES256, &claims).unwrap();
    assert_eq!(app.exchange_workload(&rotated, &[]).await.status, 200, "the unknown kid refetched the keys");
    assert_eq!(fetches(), 2);
    let stranger = local_stack::idp::DevIdp::generate().unwrap();
    let unknown = stranger.sign(jsonwebtoken::Algorithm::ES256, &claims).unwrap();
    refused(&app.exchange_workload(&unknown, &[]).await, "unknown_key");
    refused(&app.exchange_workload(&unknown, &[]).await, "unknown_key");
    assert_eq!(fetches(), 2, "within the minute of the last refetch, an unknown kid fetches nothing");
    app.app.clock.advance(shared::auth::federation::REFETCH_SECONDS);
    let claims = claims_of(&app.workload_token(&aud, json!({})));
    let unknown = stranger.sign(jsonwebtoken::Algorithm::ES256, &claims).unwrap();
    refused(&app.exchange_workload(&unknown, &[]).await, "unknown_key");
    assert_eq!(fetches(), 3);
}

#[tokio::test]
async fn a_trust_must_pin_its_workload_name_its_org_and_use_https() {
    let app = TestApp::new().await;
    let principal = workload_principal(&app).await;
    let create = |body: Value| {
        let app = app.clone();
        async move { app.owner_call("POST", &app.org_path("/workload-trusts"), Some(body)).await }
    };
    let fields = |r: &TestResponse| -> Vec<String> {
        assert_eq!((r.status, r.body["code"].as_str()), (400, Some("invalid_request")), "{:?}", r.body);
        r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_string()).collect()
    };
    let mut body = trust_body(&app, &principal);
    body["conditions"] = json!([{"claim": "sub", "matches": "repo:*"}, {"claim": "workflow", "equals": "deploy"}]);
    assert_eq!(fields(&create(body).await), ["conditions"]);
    let mut body = trust_body(&app, &principal);
    body["conditions"] = json!([]);
    assert_eq!(fields(&create(body).await), ["conditions"]);
    let mut body = trust_body(&app, &principal);
    body["issuer"] = json!("http://token.actions.githubusercontent.com");
    assert_eq!(fields(&create(body).await), ["issuer"]);
    let mut body = trust_body(&app, &principal);
    body["issuer"] = json!("https://169.254.169.254/latest");
    assert_eq!(fields(&create(body).await), ["issuer"]);
    let mut body = trust_body(&app, &principal);
    body["audiences"] = json!(["sts.amazonaws.com"]);
    assert_eq!(fields(&create(body).await), ["audiences[0]"]);
    let mut body = trust_body(&app, &principal);
    body["conditions"] = json!([{"claim": "sub", "equals": "x", "matches": "y"}]);
    let r = create(body).await;
    assert_eq!(r.status, 400, "{:?}", r.body);
    let mut body = trust_body(&app, &principal);
    body["conditions"] = json!([{"claim": "sub", "matches": "repo:acme/app:*"}]);
    assert_eq!(create(body).await.status, 201, "a glob with a fixed owner and repository pins");
}

#[tokio::test]
async fn a_trust_to_a_principal_needs_every_permission_of_the_principal() {
    let app = TestApp::new().await;
    let principal = workload_principal(&app).await;
    // The administrator (iam-admin) does not hold demo:whoami:read, which the principal's role grants.
    let r = app.admin_call("POST", &app.org_path("/workload-trusts"), Some(trust_body(&app, &principal))).await;
    assert_eq!((r.status, r.body["code"].as_str()), (403, Some("escalation_denied")), "{:?}", r.body);
    // To a principal holding only IAM actions, the administrator may.
    let (plain, _) = app.principal_with_role("iam reader", Some("iam-viewer")).await;
    let r = app.admin_call("POST", &app.org_path("/workload-trusts"), Some(trust_body(&app, &plain))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // Widening it to the other principal is the same grant; renaming it is not.
    let path = app.org_path(&format!("/workload-trusts/{}", r.body["id"].as_str().unwrap()));
    let r = app.admin_call("PATCH", &path, Some(json!({"principalId": principal}))).await;
    assert_eq!((r.status, r.body["code"].as_str()), (403, Some("escalation_denied")), "{:?}", r.body);
    let r = app.admin_call("PATCH", &path, Some(json!({"name": "renamed"}))).await;
    assert_eq!((r.status, r.body["version"].as_u64()), (200, Some(2)), "{:?}", r.body);
    // A change that changes nothing keeps the version and writes nothing.
    let audited = app.audit_events(&app.org).await.len();
    let r = app.admin_call("PATCH", &path, Some(json!({"name": "renamed"}))).await;
    assert_eq!((r.status, r.body["version"].as_u64()), (200, Some(2)), "{:?}", r.body);
    assert_eq!(app.audit_events(&app.org).await.len(), audited);
}

#[tokio::test]
async fn one_issuer_and_audience_belong_to_one_trust_and_deleting_frees_them() {
    let app = TestApp::new().await;
    let (first, principal) = trust(&app).await;
    let r = app.owner_call("POST", &app.org_path("/workload-trusts"), Some(trust_body(&app, &principal))).await;
    assert_eq!((r.status, r.body["code"].as_str()), (409, Some("trust_audience_taken")), "{:?}", r.body);
    let path = app.org_path(&format!("/workload-trusts/{}", first["id"].as_str().unwrap()));
    let r = app.owner_call("DELETE", &path, None).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    refused(&app.exchange_workload(&app.workload_token(&audience(&app), json!({})), &[]).await, "trust_not_found");
    let r = app.owner_call("POST", &app.org_path("/workload-trusts"), Some(trust_body(&app, &principal))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(app.owner_call("GET", &path, None).await.status, 404);
}

#[tokio::test]
async fn an_org_holds_at_most_its_cap_of_trusts() {
    let app = TestApp::new().await;
    let principal = workload_principal(&app).await;
    let cap = shared::service::trusts::MAX_TRUSTS;
    app.set_org_attribute("workloadTrusts", aws_sdk_dynamodb::types::AttributeValue::N(cap.to_string())).await;
    let r = app.owner_call("POST", &app.org_path("/workload-trusts"), Some(trust_body(&app, &principal))).await;
    assert_eq!((r.status, r.body["code"].as_str()), (409, Some("trust_limit_reached")), "{:?}", r.body);
    app.set_org_attribute("workloadTrusts", aws_sdk_dynamodb::types::AttributeValue::N((cap - 1).to_string())).await;
    let r = app.owner_call("POST", &app.org_path("/workload-trusts"), Some(trust_body(&app, &principal))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

#[tokio::test]
async fn testing_a_token_shows_every_check_in_order() {
    let app = TestApp::new().await;
    let (trust, _) = trust(&app).await;
    let path = app.org_path(&format!("/workload-trusts/{}/test", trust["id"].as_str().unwrap()));
    let good = app.workload_token(&audience(&app), json!({}));
    let r = app.owner_call("POST", &path, Some(json!({"token": good}))).await;
    assert_eq!((r.status, &r.body["accepted"], &r.body["code"]), (200, &json!(true), &Value::Null), "{:?}", r.body);
    let names: Vec<&str> = r.body["checks"].as_array().unwrap().iter().map(|c| c["check"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "token",
            "issuer",
            "audience",
            "enabled",
            "signature",
            "times",
            "condition: sub equals \"repo:acme/app:ref:refs/heads/main\"",
            "condition: repository_id equals \"690412345\"",
            "principal",
        ]
    );
    assert_eq!(r.body["claims"]["repository"], "acme/app");
    let wrong = app.workload_token(&audience(&app), json!({"sub": "repo:acme/app:ref:refs/heads/dev"}));
    let r = app.owner_call("POST", &path, Some(json!({"token": wrong}))).await;
    assert_eq!((r.body["accepted"].as_bool(), r.body["code"].as_str()), (Some(false), Some("trust_condition_not_met")));
    let failed: Vec<&Value> = r.body["checks"].as_array().unwrap().iter().filter(|c| c["result"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{:?}", r.body);
    assert!(failed[0]["detail"].as_str().unwrap().contains("refs/heads/dev"), "{:?}", failed[0]);
    // Nothing was issued or recorded by the tests.
    let r = app
        .owner_call("GET", &app.org_path(&format!("/workload-trusts/{}", trust["id"].as_str().unwrap())), None)
        .await;
    assert_eq!(r.body["lastUsedAt"], Value::Null);
}

#[tokio::test]
async fn a_workload_grant_takes_no_client_secret_and_names_missing_parameters() {
    let app = TestApp::new().await;
    let token = app.workload_token(&audience(&app), json!({}));
    let r = app.exchange_workload(&token, &[("client_secret", "x")]).await;
    assert_eq!((r.status, r.body["code"].as_str()), (400, Some("invalid_request")), "{:?}", r.body);
    let r = app
        .form_post(
            "/iam/auth/token",
            &[("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"), ("subject_token", &token)],
        )
        .await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (400, Some("subject_token_type")), "{:?}", r.body);
    let r = app
        .exchange_workload(&token, &[("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token")])
        .await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (400, Some("requested_token_type")), "{:?}", r.body);
    let r = app.form_post("/iam/auth/token", &[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")]).await;
    assert_eq!((r.status, r.body["errors"][0]["field"].as_str()), (400, Some("assertion")), "{:?}", r.body);
}

/// One answer of a test server: its path, status, headers and body.
type Answer = (&'static str, u16, Vec<(&'static str, String)>, String);

/// Serves `routes` on loopback; its base URL.
async fn serve(routes: Vec<Answer>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let routes = std::sync::Arc::new(routes);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let routes = routes.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let found = routes.iter().find(|(path, ..)| *path == req.uri().path()).cloned();
                    async move {
                        let (_, status, headers, body) = found.unwrap_or(("", 404, vec![], "{}".into()));
                        let mut response = http::Response::builder().status(status);
                        for (name, value) in headers {
                            response = response.header(name, value);
                        }
                        Ok::<_, std::convert::Infallible>(
                            response.body(http_body_util::Full::new(hyper::body::Bytes::from(body))).unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    base
}

#[tokio::test]
async fn an_issuers_documents_are_read_only_as_they_claim_to_be() {
    use shared::auth::federation::{FetchPolicy, Issuers, MAX_DOCUMENT_BYTES};
    use shared::domain::{GrantRefusal, Timestamp};
    let now = Timestamp::from_unix(1_800_000_000);
    let key = local_stack::idp::DevIdp::generate().unwrap();
    let kid = key.jwks()["keys"][0]["kid"].as_str().unwrap().to_string();
    // Each issuer is a loopback server of its own: the one issuer its policy allows over http.
    let key_of = |issuer: String| {
        let kid = kid.clone();
        async move {
            Issuers::new(FetchPolicy { local_issuer: Some(issuer.clone()) }).key(&issuer, &kid, now).await.map(|_| ())
        }
    };
    let unavailable = Err(GrantRefusal::IssuerUnavailable);

    // A discovery document that names another issuer: its keys are not read.
    let json_type = || vec![("content-type", "application/json".to_string())];
    let lying = serve(vec![(
        "/.well-known/openid-configuration",
        200,
        json_type(),
        json!({"issuer": "https://token.actions.githubusercontent.com", "jwks_uri": "https://token.actions.githubusercontent.com/.well-known/jwks"}).to_string(),
    )])
    .await;
    assert_eq!(key_of(lying).await, unavailable, "another issuer's document");

    // A redirect is not followed (it could lead anywhere, the instance metadata address among them).
    let redirecting = serve(vec![(
        "/.well-known/openid-configuration",
        302,
        vec![("location", "http://169.254.169.254/latest/meta-data/".to_string())],
        String::new(),
    )])
    .await;
    assert_eq!(key_of(redirecting).await, unavailable, "a redirect");

    // A key set over the size limit is not read.
    let mut huge = key.jwks();
    huge["padding"] = "x".repeat(MAX_DOCUMENT_BYTES).into();
    assert_eq!(key_of(serve_self(huge.to_string()).await).await, unavailable, "a key set over the limit");

    // The same issuer with a key set of a sane size works: the refusals above are for their reasons.
    let fine = serve_self(key.jwks().to_string()).await;
    assert_eq!(key_of(fine.clone()).await, Ok(()));
    // Without the local exception, an http issuer on loopback is never fetched.
    let strict = Issuers::new(FetchPolicy::default());
    assert_eq!(strict.key(&fine, &kid, now).await.map(|_| ()), unavailable, "http on loopback");
}

/// An issuer serving its own discovery document (naming itself) and `jwks`.
async fn serve_self(jwks: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let doc = json!({"issuer": base, "jwks_uri": format!("{base}/jwks.json")}).to_string();
    let routes = std::sync::Arc::new(vec![("/.well-known/openid-configuration", doc), ("/jwks.json", jwks)]);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let routes = routes.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let body = routes.iter().find(|(p, _)| *p == req.uri().path()).map(|(_, b)| b.clone());
                    async move {
                        let status = if body.is_some() { 200 } else { 404 };
                        Ok::<_, std::convert::Infallible>(
                            http::Response::builder()
                                .status(status)
                                .header("content-type", "application/json")
                                .body(http_body_util::Full::new(hyper::body::Bytes::from(body.unwrap_or_default())))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    base
}

#[tokio::test]
async fn the_principals_allowlist_holds_for_its_workloads_and_follows_into_their_tokens() {
    let app = TestApp::new().await;
    let (_, principal) = trust(&app).await;
    let path = app.org_path(&format!("/api-keys/{principal}"));
    let r = app.owner_call("PATCH", &path, Some(json!({"allowedCidrs": ["203.0.113.0/24"]}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let token = app.workload_token(&audience(&app), json!({}));
    let r = app.exchange_workload(&token, &[]).await;
    assert_eq!((r.status, r.code(), r.body["error"].as_str()), (403, "ip_not_allowed", Some("unauthorized_client")));
    let r = app.owner_call("PATCH", &path, Some(json!({"allowedCidrs": ["198.51.100.0/24"]}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app.exchange_workload(&token, &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(claims_of(r.body["access_token"].as_str().unwrap())["allowed_cidrs"], json!(["198.51.100.0/24"]));
}
