//! An API-key principal's policy: `allowedCidrs`, checked on direct use, at exchange, and on every
//! Bearer call against API Gateway's own source address; `rateLimit`, one limit across containers
//! for its keys and its tokens together.

use futures::future::join_all;
use iam_tests::{TestApp, TestResponse};
use local_stack::event::IncomingRequest;
use serde_json::{Value, json};

/// `method path` with `authorization`, from `ip`, with any extra headers.
async fn from(
    app: &TestApp,
    ip: &str,
    method: &str,
    path: &str,
    authorization: &str,
    extra: &[(&str, &str)],
) -> TestResponse {
    let mut headers = vec![("Authorization".to_string(), authorization.to_string())];
    headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    app.send(IncomingRequest {
        method: method.into(),
        path: path.into(),
        headers,
        source_ip: ip.into(),
        ..Default::default()
    })
    .await
}

/// `POST /iam/auth/token` for `key`, from `ip`.
async fn exchange_from(app: &TestApp, ip: &str, key: &str) -> TestResponse {
    app.send(IncomingRequest {
        method: "POST".into(),
        path: "/iam/auth/token".into(),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: json!({"apiKey": key}).to_string().into_bytes(),
        source_ip: ip.into(),
        ..Default::default()
    })
    .await
}

async fn patch_principal(app: &TestApp, principal: &str, body: Value) -> TestResponse {
    app.admin_call("PATCH", &app.org_path(&format!("/api-keys/{principal}")), Some(body)).await
}

/// The claims of an access token (its signature is the service's to check).
fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn an_allowlist_admits_its_networks_directly_and_by_token_and_ignores_forwarded_headers() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_key("fenced").await;
    let r = patch_principal(&app, &principal, json!({"allowedCidrs": ["127.0.0.1/32"]})).await;
    assert_eq!((r.status, r.body["allowedCidrs"].clone()), (200, json!(["127.0.0.1/32"])), "{:?}", r.body);
    let list = app.org_path("/api-keys");
    let direct = format!("ApiKey {key}");

    assert_eq!(from(&app, "127.0.0.1", "GET", &list, &direct, &[]).await.status, 200);
    let outside = from(&app, "127.0.0.2", "GET", &list, &direct, &[]).await;
    assert_eq!((outside.status, outside.code()), (403, "ip_not_allowed"), "{:?}", outside.body);
    assert!(outside.body["detail"].as_str().unwrap().contains("127.0.0.2"));
    assert!(
        !outside.body["detail"].as_str().unwrap().contains("127.0.0.1/32"),
        "the allowlist is not the caller's to read"
    );
    for forged in [("X-Forwarded-For", "127.0.0.1"), ("Forwarded", "for=127.0.0.1"), ("X-Real-IP", "127.0.0.1")] {
        let r = from(&app, "127.0.0.2", "GET", &list, &direct, &[forged]).await;
        assert_eq!((r.status, r.code()), (403, "ip_not_allowed"), "{forged:?} changes nothing");
    }

    // The exchange checks it, and the token carries it.
    let refused = exchange_from(&app, "127.0.0.2", &key).await;
    assert_eq!((refused.status, refused.code()), (403, "ip_not_allowed"), "{:?}", refused.body);
    let exchanged = exchange_from(&app, "127.0.0.1", &key).await;
    assert_eq!(exchanged.status, 200, "{:?}", exchanged.body);
    let token = exchanged.body["accessToken"].as_str().unwrap().to_string();
    assert_eq!(claims(&token)["allowed_cidrs"], json!(["127.0.0.1/32"]));
    let bearer = format!("Bearer {token}");
    assert_eq!(from(&app, "127.0.0.1", "GET", &list, &bearer, &[]).await.status, 200);
    let r = from(&app, "127.0.0.2", "GET", &list, &bearer, &[("X-Forwarded-For", "127.0.0.1")]).await;
    assert_eq!((r.status, r.code()), (403, "ip_not_allowed"));

    // Widening the principal's allowlist does not widen the tokens already issued: they carry theirs.
    assert_eq!(patch_principal(&app, &principal, json!({"allowedCidrs": []})).await.status, 200);
    assert_eq!(from(&app, "127.0.0.2", "GET", &list, &direct, &[]).await.status, 200, "any address now");
    let r = from(&app, "127.0.0.2", "GET", &list, &bearer, &[]).await;
    assert_eq!((r.status, r.code()), (403, "ip_not_allowed"), "the token keeps its own allowlist");

    // Narrowing it applies to the tokens already issued (here at once; elsewhere within the
    // verifiers' cache bound).
    assert_eq!(patch_principal(&app, &principal, json!({"allowedCidrs": ["10.0.0.0/8"]})).await.status, 200);
    let r = from(&app, "127.0.0.1", "GET", &list, &bearer, &[]).await;
    assert_eq!((r.status, r.code()), (403, "ip_not_allowed"), "{:?}", r.body);
    let r = from(&app, "127.0.0.1", "GET", &list, &direct, &[]).await;
    assert_eq!((r.status, r.code()), (403, "ip_not_allowed"));
}

#[tokio::test]
async fn the_tenant_authorizer_checks_the_allowlist_too() {
    let app = TestApp::new().await;
    let permissions = json!([{"action": "demo:whoami:read", "resource": "route:/demo/*"}]);
    let role = app.custom_role("demo reader", &["ApiKey"], permissions).await;
    let (principal, key) = app.principal_with_role("tenant client", Some(&role)).await;
    let token = exchange_from(&app, "127.0.0.1", &key).await.body["accessToken"].as_str().unwrap().to_string();
    assert_eq!(patch_principal(&app, &principal, json!({"allowedCidrs": ["127.0.0.1/32"]})).await.status, 200);
    for authorization in [format!("ApiKey {key}"), format!("Bearer {token}")] {
        assert_eq!(from(&app, "127.0.0.1", "GET", "/demo/whoami", &authorization, &[]).await.status, 200);
        let r =
            from(&app, "127.0.0.2", "GET", "/demo/whoami", &authorization, &[("X-Forwarded-For", "127.0.0.1")]).await;
        assert_eq!(r.status, 403, "{authorization:.12}: {:?}", r.body);
    }
}

#[tokio::test]
async fn bad_networks_are_named_one_by_one_and_nothing_is_written() {
    let app = TestApp::new().await;
    let body = json!({"displayName": "fenced", "allowedCidrs": ["10.0.0.1/8", "203.0.113.7", "here"]});
    let r = app.admin_call("POST", &app.org_path("/api-keys"), Some(body)).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request"));
    let fields: Vec<&str> = r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["allowedCidrs[0]", "allowedCidrs[1]", "allowedCidrs[2]"]);
    assert!(r.body["errors"][0]["message"].as_str().unwrap().contains("10.0.0.0/8"));
    let principal = app.create_principal("open").await;
    let id = principal["id"].as_str().unwrap();
    assert_eq!(principal.get("allowedCidrs"), None, "absent: any address");
    assert_eq!(principal.get("rateLimit"), None, "absent: the org's default");
    let r = patch_principal(&app, id, json!({"allowedCidrs": ["::1"], "rateLimit": {"limit": 0, "periodSeconds": 60}}))
        .await;
    let fields: Vec<&str> = r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["allowedCidrs[0]", "rateLimit.limit"]);
    let after = app.admin_call("GET", &app.org_path(&format!("/api-keys/{id}")), None).await;
    assert_eq!(after.body["version"], principal["version"], "nothing written");
}

#[tokio::test]
async fn authorize_shows_the_allowlist_check() {
    let app = TestApp::new().await;
    let (principal, _) = app.principal_with_key("fenced").await;
    assert_eq!(patch_principal(&app, &principal, json!({"allowedCidrs": ["198.51.100.0/24"]})).await.status, 200);
    let ask = |ip: &str| json!({"principalId": principal, "action": "iam:apiKeys:list", "sourceIp": ip});
    let inside = app.admin_call("POST", &app.org_path("/authorize"), Some(ask("198.51.100.7"))).await;
    assert_eq!(inside.body["decision"], "Allow", "{:?}", inside.body);
    let check =
        |r: &TestResponse| r.body["checks"].as_array().unwrap().iter().find(|c| c["check"] == "ip_allowed").cloned();
    assert_eq!(check(&inside).unwrap()["passed"], true);
    let outside = app.admin_call("POST", &app.org_path("/authorize"), Some(ask("203.0.113.9"))).await;
    assert_eq!(
        (outside.body["decision"].as_str(), outside.body["code"].as_str()),
        (Some("Deny"), Some("ip_not_allowed"))
    );
    let failed = check(&outside).unwrap();
    assert_eq!(failed["passed"], false);
    assert!(failed["detail"].as_str().unwrap().contains("203.0.113.9 is outside allowedCidrs: 198.51.100.0/24"));
}

/// `n` calls of `GET .../api-keys` at once with `authorization`, from 198.51.100.7, split between
/// `apps` in turn; the responses.
async fn burst(apps: &[&TestApp], n: usize, authorization: &str) -> Vec<TestResponse> {
    let path = apps[0].org_path("/api-keys");
    let calls = (0..n).map(|i| from(apps[i % apps.len()], "198.51.100.7", "GET", &path, authorization, &[]));
    join_all(calls).await
}

fn count(responses: &[TestResponse], status: u16) -> usize {
    responses.iter().filter(|r| r.status == status).count()
}

#[tokio::test]
async fn a_limit_of_five_answers_five_of_twenty_parallel_calls_directly_and_by_token() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_key("limited").await;
    let r = patch_principal(&app, &principal, json!({"rateLimit": {"limit": 5, "periodSeconds": 60}})).await;
    assert_eq!(r.body["rateLimit"], json!({"limit": 5, "periodSeconds": 60}), "{:?}", r.body);
    // The start of a window, so that all twenty fall in it whatever the machine's speed (the
    // service reads the test's clock).
    let now = app.app.clock.now().unix();
    app.app.clock.advance(60 - now.rem_euclid(60));

    let responses = burst(&[&app], 20, &format!("ApiKey {key}")).await;
    assert_eq!((count(&responses, 200), count(&responses, 429)), (5, 15));
    for refused in responses.iter().filter(|r| r.status == 429) {
        assert_eq!(refused.code(), "rate_limited");
        let retry: u64 = refused.header("retry-after").parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        assert_eq!(refused.header("ratelimit-policy"), "\"principal\";q=5;w=60");
        assert_eq!(refused.header("ratelimit"), format!("\"principal\";r=0;t={retry}"));
    }

    // The next window: the same through exchanged tokens (the exchange itself is not counted).
    app.app.clock.advance(60);
    let token = app.token_for(&key).await;
    let responses = burst(&[&app], 20, &format!("Bearer {token}")).await;
    assert_eq!((count(&responses, 200), count(&responses, 429)), (5, 15));
    // Its keys and its tokens share the one limit.
    let r = from(&app, "198.51.100.7", "GET", &app.org_path("/api-keys"), &format!("ApiKey {key}"), &[]).await;
    assert_eq!(r.code(), "rate_limited");
}

/// The stated bound, measured with two containers: of the calls of one window, never more than the
/// limit are allowed, and once both containers have refused one, exactly the limit.
#[tokio::test]
async fn two_containers_share_one_limit_within_the_stated_bound() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_key("shared limit").await;
    assert_eq!(
        patch_principal(&app, &principal, json!({"rateLimit": {"limit": 100, "periodSeconds": 60}})).await.status,
        200
    );
    let now = app.app.clock.now().unix();
    app.app.clock.advance(60 - now.rem_euclid(60));
    // Its clock starts where this one stands.
    let other = app.second_container().await;

    let authorization = format!("ApiKey {key}");
    let mut allowed = 0;
    for _ in 0..6 {
        allowed += count(&burst(&[&app, &other], 25, &authorization).await, 200);
    }
    let lease = shared::auth::lease_size(shared::domain::RateLimit { limit: 100, period_seconds: 60 }) as usize;
    assert!(allowed <= 100, "never more than the limit: {allowed}");
    assert!(allowed > 100 - 2 * lease, "at most a lease unused per container: {allowed}");
    // Both containers have refused calls by now: every lease is spent.
    assert_eq!(allowed, 100);

    // The next window starts afresh in both.
    app.app.clock.advance(60);
    other.app.clock.advance(60);
    assert_eq!(count(&burst(&[&app, &other], 10, &authorization).await, 200), 10);
}

#[tokio::test]
async fn the_org_default_applies_to_principals_without_a_limit_of_their_own_and_members_have_none() {
    let app = TestApp::new().await;
    let (_, plain) = app.principal_with_key("default").await;
    let (own, generous) = app.principal_with_key("own").await;
    assert_eq!(patch_principal(&app, &own, json!({"rateLimit": {"limit": 4, "periodSeconds": 60}})).await.status, 200);
    // Set by the owner, a member: the default holds every API-key principal, the administrator's too.
    let r = app
        .owner_call(
            "PATCH",
            &app.org_path("/settings"),
            Some(json!({"defaultRateLimit": {"limit": 2, "periodSeconds": 60}})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["defaultRateLimit"], json!({"limit": 2, "periodSeconds": 60}), "{:?}", r.body);
    let now = app.app.clock.now().unix();
    app.app.clock.advance(60 - now.rem_euclid(60));
    assert_eq!(count(&burst(&[&app], 6, &format!("ApiKey {plain}")).await, 200), 2);
    assert_eq!(count(&burst(&[&app], 6, &format!("ApiKey {generous}")).await, 200), 4);
    let owner = format!("Bearer {}", app.user_token(iam_tests::OWNER_SUBJECT));
    assert_eq!(count(&burst(&[&app], 6, &owner).await, 200), 6, "members are not rate limited");
    let r = app
        .owner_call(
            "PATCH",
            &app.org_path("/settings"),
            Some(json!({"defaultRateLimit": {"limit": 2, "periodSeconds": 0}})),
        )
        .await;
    assert_eq!(r.body["errors"][0]["field"], "defaultRateLimit.periodSeconds", "{:?}", r.body);
    let r = app.owner_call("PATCH", &app.org_path("/settings"), Some(json!({"defaultRateLimit": null}))).await;
    assert_eq!((r.status, r.body["defaultRateLimit"].clone()), (200, Value::Null), "{:?}", r.body);
}

#[tokio::test]
async fn the_tenant_authorizer_denies_past_the_limit_and_passes_the_limit_to_the_route() {
    let app = TestApp::new().await;
    let permissions = json!([{"action": "demo:whoami:read", "resource": "route:/demo/*"}]);
    let role = app.custom_role("demo reader", &["ApiKey"], permissions).await;
    let (principal, key) = app.principal_with_role("tenant client", Some(&role)).await;
    assert_eq!(
        patch_principal(&app, &principal, json!({"rateLimit": {"limit": 2, "periodSeconds": 60}})).await.status,
        200
    );
    let now = app.app.clock.now().unix();
    app.app.clock.advance(60 - now.rem_euclid(60));
    let first = app.call("GET", "/demo/whoami", Some(&key), None).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["rateLimitPolicy"], "\"principal\";q=2;w=60");
    assert_eq!(first.body["rateLimit"], "\"principal\";r=1;t=60");
    assert_eq!(app.call("GET", "/demo/whoami", Some(&key), None).await.status, 200);
    let third = app.call("GET", "/demo/whoami", Some(&key), None).await;
    assert_eq!((third.status, third.body["message"].as_str()), (403, Some("Forbidden")));
}

/// The warm path's round trips with a limit: one conditional UpdateItem per lease (a tenth of the
/// limit), none for the calls between; the read is the one a warm authentication always makes.
#[tokio::test]
async fn a_warm_call_under_its_limit_leases_once_per_tenth_of_the_limit() {
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_key("metered").await;
    let body = json!({"rateLimit": {"limit": 100, "periodSeconds": 60}, "allowedCidrs": ["198.51.100.0/24"]});
    assert_eq!(patch_principal(&app, &principal, body).await.status, 200);
    let now = app.app.clock.now().unix();
    app.app.clock.advance(60 - now.rem_euclid(60));
    let path = app.org_path(&format!("/api-keys/{principal}"));
    assert_eq!(app.call("GET", &path, Some(&key), None).await.status, 200, "the window's first lease, and lastUsedAt");
    app.calls.reset();
    for _ in 0..20 {
        assert_eq!(app.call("GET", &path, Some(&key), None).await.status, 200);
    }
    let names = app.calls.names();
    assert_eq!(names.iter().filter(|n| *n == "UpdateItem").count(), 2, "a lease per 10 calls: {names:?}");
    assert_eq!(names.iter().filter(|n| *n == "BatchGetItem").count(), 20, "the one read of each call: {names:?}");
    // The rest is the route's own read of the principal it answers.
    assert_eq!(names.iter().filter(|n| *n == "GetItem").count(), 20, "{names:?}");
    assert_eq!(names.len(), 42, "{names:?}");
}

/// A principal well under its limit waits for no lease after its first window: the first call of
/// a window that follows one the container saw at under half the limit is allowed at once, and the
/// window's first lease (which counts that call) is taken in the background. Here that lease never
/// gets an answer, and the call is answered all the same.
#[tokio::test]
async fn a_principal_well_under_its_limit_waits_for_no_lease_after_its_first_window() {
    use iam_tests::faults::Fault;
    let app = TestApp::new().await;
    let (principal, key) = app.principal_with_key("quiet").await;
    assert_eq!(
        patch_principal(&app, &principal, json!({"rateLimit": {"limit": 100, "periodSeconds": 60}})).await.status,
        200
    );
    let now = app.app.clock.now().unix();
    app.app.clock.advance(60 - now.rem_euclid(60));
    // A container whose DynamoDB calls wait long for an answer that never comes.
    let quiet = app.container_with_attempt_timeout(std::time::Duration::from_secs(300)).await;
    let path = app.org_path(&format!("/api-keys/{principal}"));
    for _ in 0..3 {
        assert_eq!(
            quiet.call("GET", &path, Some(&key), None).await.status,
            200,
            "the first window: a lease, then its share"
        );
    }
    quiet.app.clock.advance(60);
    quiet.faults.arm("UpdateItem", Fault::Timeout, 1);
    assert_eq!(quiet.call("GET", &path, Some(&key), None).await.status, 200);
    assert!(quiet.app.rate_lease_in_flight(), "answered while the window's first lease is still being taken");

    // Without a fault: the lease counts the call on credit, and the calls after it spend its share.
    let (other, other_key) = app.principal_with_key("quiet too").await;
    assert_eq!(
        patch_principal(&app, &other, json!({"rateLimit": {"limit": 100, "periodSeconds": 60}})).await.status,
        200
    );
    let other_path = app.org_path(&format!("/api-keys/{other}"));
    assert_eq!(app.call("GET", &other_path, Some(&other_key), None).await.status, 200);
    app.app.clock.advance(60);
    app.calls.reset();
    for _ in 0..5 {
        assert_eq!(app.call("GET", &other_path, Some(&other_key), None).await.status, 200);
    }
    app.app.rate_leases_settled().await;
    let leases = app.calls.names().iter().filter(|n| *n == "UpdateItem").count();
    assert_eq!(leases, 1, "the window's one lease, for 10 calls: {:?}", app.calls.names());
}
