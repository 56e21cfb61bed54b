//! The test harness: a `TestApp` is the real handlers, routed by the real template, over a table
//! and a pepper of its own on the shared moto server, with a bootstrapped org to act in.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use local_stack::admin::{self, Bootstrapped, emulator_sdk_config};
use local_stack::event::IncomingRequest;
use local_stack::idp::DevIdp;
use local_stack::scanner::DevScanner;
use local_stack::server::dispatch;
use local_stack::template::Template;
use serde_json::Value;
use shared::auth::oidc::OidcProvider;
use shared::domain::{OrgId, PrincipalId, Timestamp};
use shared::store::CallCounter;
use shared::{App, Clock, Config};

pub mod faults;
pub mod openapi;
pub mod reads;

/// The emulator `make test` started (`scripts/with-emulator`).
pub fn emulator_url() -> String {
    std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL is not set: run the tests with `make test` (or scripts/with-emulator cargo test)")
}

/// `body` (`ik_<keyId>.<32 chars>`) with its CRC32 checksum appended: a well-formed key for any
/// id and secret. Written here independently of the service's code, to check the format too.
pub fn with_checksum(body: &str) -> String {
    const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut crc = 0xFFFF_FFFFu32;
    for &b in body.as_bytes() {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    let mut n = u64::from(!crc);
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    format!("{body}{}", String::from_utf8(out.to_vec()).unwrap())
}

/// A well-formed key with `key_id` and a secret nobody issued.
pub fn forged_key(key_id: &str) -> String {
    with_checksum(&format!("ik_{key_id}.{}", "Q".repeat(32)))
}

/// The DynamoDB client the handlers get: counted, its reads' consistency recorded, with fault
/// injection, and attempts that time out after `attempt_timeout`.
fn handlers_client(
    sdk: &aws_config::SdkConfig,
    calls: &CallCounter,
    reads: &reads::ReadLog,
    faults: &faults::Faults,
    attempt_timeout: Duration,
) -> aws_sdk_dynamodb::Client {
    let timeouts = aws_smithy_types::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(attempt_timeout)
        .operation_timeout(attempt_timeout * 3)
        .build();
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(calls.clone())
            .interceptor(reads.clone())
            .interceptor(faults.clone())
            .timeout_config(timeouts)
            .build(),
    )
}

/// The `iss` of the tests' tokens.
pub const ISSUER: &str = "https://iam.test.invalid/iam";

/// A response as a client sees it.
#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub raw: Vec<u8>,
    pub body: Value,
}

impl TestResponse {
    /// The problem `code`, when the body is a problem.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    /// A header's value, or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }
}

/// One table, one pepper, one bootstrapped org (direct ApiKey auth on) and its administrator.
#[derive(Clone)]
pub struct TestApp {
    pub app: Arc<App>,
    pub template: Arc<Template>,
    /// Counts the DynamoDB operations the handlers send.
    pub calls: CallCounter,
    /// Records whether each read the handlers send is strongly consistent.
    pub reads: reads::ReadLog,
    /// A client without the counter, for the test's own reads of the table.
    pub dynamo: aws_sdk_dynamodb::Client,
    pub table: String,
    pub org: OrgId,
    pub admin: PrincipalId,
    pub admin_key: String,
    /// The tests' identity provider: its key, its JWKS (replaceable) and how often it was fetched.
    pub idp: Arc<DevIdp>,
    pub idp_jwks: Arc<RwLock<Value>>,
    pub idp_fetches: Arc<AtomicUsize>,
    /// Fails chosen DynamoDB operations on demand (disarmed unless a test arms it).
    pub faults: faults::Faults,
    /// The tests' secret scanner: its key signs leak reports; its published keys (replaceable) and
    /// how often they were fetched.
    pub scanner: Arc<DevScanner>,
    pub scanner_keys: Arc<RwLock<Value>>,
    pub scanner_fetches: Arc<AtomicUsize>,
    /// The tests' workload issuer (GitHub Actions' stand-in): its key, its URL (the one `http`
    /// issuer this configuration allows), its JWKS (replaceable) and how often that was fetched.
    pub workload: Arc<DevIdp>,
    pub workload_issuer: String,
    pub workload_jwks: Arc<RwLock<Value>>,
    pub workload_fetches: Arc<AtomicUsize>,
    /// Stops the test's identity provider, scanner and workload issuer with its last container.
    pub servers: Arc<Stop>,
    /// Where this test's lifecycle events are delivered ([`TestApp::drain_events`]); removed when
    /// the test's last container is dropped.
    pub events_file: Arc<EventsFile>,
}

/// A test's events file in the temporary directory, removed when dropped (a test leaves nothing
/// behind).
#[derive(Debug)]
pub struct EventsFile(std::path::PathBuf);

impl EventsFile {
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for EventsFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Aborts a test's own servers when dropped, which frees their ports: a long run (`make soak`, a
/// TestApp per sequence) would otherwise hold four listening ports per sequence until the
/// machine's ephemeral ports ran out.
#[derive(Debug, Default)]
pub struct Stop(pub Vec<tokio::task::AbortHandle>);

impl Drop for Stop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// The subject of the member holding `owner` in every test org (assigned by the operator).
pub const OWNER_SUBJECT: &str = "test-owner";

/// The `iss` and `aud` of the tests' identity provider.
pub const IDP_ISSUER: &str = "https://idp.test.invalid";
/// The audience the tests' provider issues tokens for.
pub const IDP_AUDIENCE: &str = "urn:infuse:iam-console";

impl TestApp {
    /// A fresh table and org with the default configuration.
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    /// A fresh table and org, with the configuration adjusted first.
    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> Self {
        // Generous: a loaded machine's emulator is slow, and a test must not fail for that.
        let attempt_timeout = Duration::from_secs(20);
        let sdk = emulator_sdk_config(&emulator_url()).await;
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let id = ulid::Ulid::new().to_string().to_lowercase();
        let mut config = Config::new(format!("iam-test-{id}"), &format!("iam-test/{id}"), ISSUER);
        let idp = Arc::new(DevIdp::generate().expect("an idp key"));
        let idp_jwks = Arc::new(RwLock::new(idp.jwks()));
        let idp_fetches = Arc::new(AtomicUsize::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port for the idp");
        let jwks_url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let idp_task = tokio::spawn(local_stack::idp::serve_jwks(listener, idp_jwks.clone(), idp_fetches.clone()));
        config.oidc = Some(OidcProvider { issuer: IDP_ISSUER.into(), audience: IDP_AUDIENCE.into(), jwks_url });
        let scanner = Arc::new(DevScanner::generate().expect("a scanner key"));
        let scanner_keys = Arc::new(RwLock::new(scanner.public_keys()));
        let scanner_fetches = Arc::new(AtomicUsize::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port for the scanner");
        config.secret_scanning_keys_url = Some(format!("http://{}/public_keys", listener.local_addr().unwrap()));
        let scanner_task =
            tokio::spawn(local_stack::idp::serve_jwks(listener, scanner_keys.clone(), scanner_fetches.clone()));
        let workload = Arc::new(DevIdp::generate().expect("a workload issuer key"));
        let workload_jwks = Arc::new(RwLock::new(workload.jwks()));
        let workload_fetches = Arc::new(AtomicUsize::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port for the workload issuer");
        let workload_issuer = format!("http://{}", listener.local_addr().unwrap());
        let workload_task = tokio::spawn(local_stack::workload::serve_issuer(
            listener,
            workload_issuer.clone(),
            workload_jwks.clone(),
            workload_fetches.clone(),
        ));
        config.local_workload_issuer = Some(workload_issuer.clone());
        let servers = Arc::new(Stop(
            [idp_task, scanner_task, workload_task].iter().map(tokio::task::JoinHandle::abort_handle).collect(),
        ));
        adjust(&mut config);
        let template = template();
        admin::provision(&dynamo, &secrets, &config, &template).await.expect("table and secrets");
        let calls = CallCounter::default();
        let reads = reads::ReadLog::default();
        let faults = faults::Faults::start().await;
        let counted = handlers_client(&sdk, &calls, &reads, &faults, attempt_timeout);
        let clock = Clock::manual(Timestamp::now());
        let app = Arc::new(App::with_clock(config.clone(), counted, &secrets, clock).await.expect("build app"));
        let made = admin::bootstrap(&app, "test org", true).await.expect("bootstrap");
        admin::add_member(&app, &made.org_id, OWNER_SUBJECT, "owner").await.expect("the org's owner");
        Self {
            app,
            template,
            calls,
            reads,
            dynamo,
            table: config.table_name,
            org: made.org_id,
            admin: made.principal_id,
            admin_key: made.api_key,
            idp,
            idp_jwks,
            idp_fetches,
            faults,
            scanner,
            scanner_keys,
            scanner_fetches,
            workload,
            workload_issuer,
            workload_jwks,
            workload_fetches,
            servers,
            events_file: Arc::new(EventsFile(std::env::temp_dir().join(format!("iam-test-events-{id}.jsonl")))),
        }
    }

    /// A member token of the tests' provider for `subject` (issued as the configured provider:
    /// [`IDP_ISSUER`] unless the test configured another).
    pub fn user_token(&self, subject: &str) -> String {
        let issuer = self.app.config.oidc.as_ref().map_or(IDP_ISSUER, |p| p.issuer.as_str());
        self.idp.token(issuer, IDP_AUDIENCE, subject, self.app.clock.now().unix(), 3600).expect("sign a user token")
    }

    /// Adds `subject` as a member holding `role` (if any); returns the member's id.
    pub async fn add_member(&self, subject: &str, role: Option<&str>) -> String {
        let r =
            self.admin_call("POST", &self.org_path("/members"), Some(serde_json::json!({"subject": subject}))).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let id = r.body["id"].as_str().unwrap().to_string();
        if let Some(role) = role {
            self.assign(&id, role).await;
        }
        id
    }

    /// Another container of the same service: its own App (and caches) over the same table and
    /// secrets, with its own clock (standing where this one's stands now).
    pub async fn second_container(&self) -> TestApp {
        self.container_with(|_| {}).await
    }

    /// Another container, its configuration adjusted first.
    pub async fn container_with(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        self.container(adjust, Duration::from_secs(20)).await
    }

    /// Another container whose DynamoDB attempts time out after `attempt_timeout`, sharing this
    /// one's fault injection (for a test of what a hung call answers).
    pub async fn container_with_attempt_timeout(&self, attempt_timeout: Duration) -> TestApp {
        self.container(|_| {}, attempt_timeout).await
    }

    async fn container(&self, adjust: impl FnOnce(&mut Config), attempt_timeout: Duration) -> TestApp {
        let sdk = emulator_sdk_config(&emulator_url()).await;
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let calls = CallCounter::default();
        let reads = reads::ReadLog::default();
        let counted = handlers_client(&sdk, &calls, &reads, &self.faults, attempt_timeout);
        let mut config = self.app.config.clone();
        adjust(&mut config);
        let clock = Clock::manual(self.app.clock.now());
        let app = Arc::new(App::with_clock(config, counted, &secrets, clock).await.expect("build app"));
        TestApp {
            app,
            template: self.template.clone(),
            calls,
            reads,
            dynamo: self.dynamo.clone(),
            table: self.table.clone(),
            org: self.org.clone(),
            admin: self.admin.clone(),
            admin_key: self.admin_key.clone(),
            idp: self.idp.clone(),
            idp_jwks: self.idp_jwks.clone(),
            idp_fetches: self.idp_fetches.clone(),
            faults: self.faults.clone(),
            scanner: self.scanner.clone(),
            scanner_keys: self.scanner_keys.clone(),
            scanner_fetches: self.scanner_fetches.clone(),
            workload: self.workload.clone(),
            workload_issuer: self.workload_issuer.clone(),
            workload_jwks: self.workload_jwks.clone(),
            workload_fetches: self.workload_fetches.clone(),
            servers: self.servers.clone(),
            events_file: self.events_file.clone(),
        }
    }

    /// Another org in the same table.
    pub async fn another_org(&self, direct_api_key_auth: bool) -> Bootstrapped {
        admin::bootstrap(&self.app, "other org", direct_api_key_auth).await.expect("bootstrap")
    }

    /// Sends a raw request through the template's routing to the function that serves it. Every
    /// response of a template route must conform to the OpenAPI document (see [`openapi`]).
    pub async fn send(&self, incoming: IncomingRequest) -> TestResponse {
        let route = self.template.route_for(&incoming.method, &incoming.path).map(|(r, _)| r.path.clone());
        let method = incoming.method.clone();
        let response = dispatch(&self.app, &self.template, incoming).await;
        let status = response.status().as_u16();
        let (parts, raw) = response.into_parts();
        if let Some(path) = route
            && let Err(nonconformance) = openapi::check(&method, &path, status, &parts.headers, &raw)
        {
            panic!("{method} {path} does not conform to the OpenAPI document: {nonconformance}");
        }
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        TestResponse { status, headers: parts.headers, raw, body }
    }

    /// `method path` with `Authorization: ApiKey <key>` (if any) and a JSON body (if any).
    pub async fn call(&self, method: &str, path: &str, key: Option<&str>, body: Option<Value>) -> TestResponse {
        self.request(method, path, key.map(|k| format!("ApiKey {k}")), body).await
    }

    /// `method path` (query string included) with this `Authorization` and JSON body, from
    /// 198.51.100.7.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        authorization: Option<String>,
        body: Option<Value>,
    ) -> TestResponse {
        let mut headers = Vec::new();
        if let Some(value) = authorization {
            headers.push(("Authorization".to_string(), value));
        }
        let body = match body {
            Some(value) => {
                headers.push(("Content-Type".to_string(), "application/json".to_string()));
                value.to_string().into_bytes()
            }
            None => Vec::new(),
        };
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        self.send(IncomingRequest {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers,
            body,
            source_ip: "198.51.100.7".into(),
        })
        .await
    }

    /// A leak report (`POST /iam/secret-scanning/reports`) of `body`, signed by the tests' scanner.
    pub async fn leak_report(&self, body: &Value) -> TestResponse {
        let raw = body.to_string().into_bytes();
        let signature = self.scanner.sign(&raw);
        self.leak_report_signed(raw, self.scanner.key_identifier(), &signature).await
    }

    /// A leak report of `raw` with these signature headers.
    pub async fn leak_report_signed(&self, raw: Vec<u8>, key_id: &str, signature: &str) -> TestResponse {
        self.send(IncomingRequest {
            method: "POST".into(),
            path: "/iam/secret-scanning/reports".into(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Github-Public-Key-Identifier".into(), key_id.into()),
                ("Github-Public-Key-Signature".into(), signature.into()),
            ],
            body: raw,
            source_ip: "192.30.252.1".into(),
            ..Default::default()
        })
        .await
    }

    /// Runs the lifecycle-events function once (through its handler) into this test's events file,
    /// then answers every event the file holds: the EventBridge envelopes, in order.
    pub async fn drain_events(&self) -> Vec<Value> {
        let sink = shared::store::EventSink::File(self.events_file.path().to_path_buf());
        let report = lifecycle_events::handle(&self.app, &sink, &NoDeadline).await.expect("the drain runs");
        assert!(report.finished, "{report:?}");
        self.delivered_events()
    }

    /// Every event delivered to this test's events file so far.
    pub fn delivered_events(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.events_file.path()).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect()
    }

    /// As the org's administrator.
    pub async fn admin_call(&self, method: &str, path: &str, body: Option<Value>) -> TestResponse {
        self.call(method, path, Some(&self.admin_key.clone()), body).await
    }

    /// The service clock's now plus `offset_seconds`, as RFC 3339 (for `expiresAt` and time windows).
    pub fn at(&self, offset_seconds: i64) -> String {
        self.app.clock.now().plus_seconds(offset_seconds).to_string()
    }

    /// `/iam/orgs/<this org>` + `rest`.
    pub fn org_path(&self, rest: &str) -> String {
        format!("/iam/orgs/{}{rest}", self.org)
    }

    /// Creates an API-key principal in this org; returns its JSON.
    pub async fn create_principal(&self, name: &str) -> Value {
        let r =
            self.admin_call("POST", &self.org_path("/api-keys"), Some(serde_json::json!({"displayName": name}))).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body
    }

    /// Issues a credential to `principal` as the owner (a key is everything its principal may do,
    /// which the administrator's iam-admin may not hand out beyond IAM actions); returns the
    /// credential JSON and the key.
    pub async fn issue(&self, principal: &str, name: &str) -> (Value, String) {
        let r = self
            .owner_call(
                "POST",
                &self.org_path(&format!("/api-keys/{principal}/credentials")),
                Some(serde_json::json!({"name": name})),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        (r.body["credential"].clone(), r.body["apiKey"].as_str().unwrap().to_string())
    }

    /// A principal holding `iam-viewer`, with one credential: its id and key.
    pub async fn principal_with_key(&self, name: &str) -> (String, String) {
        self.principal_with_role(name, Some("iam-viewer")).await
    }

    /// A principal holding `role` (or nothing), with one credential: its id and key.
    pub async fn principal_with_role(&self, name: &str, role: Option<&str>) -> (String, String) {
        let principal = self.create_principal(name).await;
        let id = principal["id"].as_str().unwrap().to_string();
        if let Some(role) = role {
            self.assign(&id, role).await;
        }
        let (_, key) = self.issue(&id, "main").await;
        (id, key)
    }

    /// As the org's owner (a member holding `owner`, who may grant any role).
    pub async fn owner_call(&self, method: &str, path: &str, body: Option<Value>) -> TestResponse {
        self.bearer_call(method, path, &self.user_token(OWNER_SUBJECT), body).await
    }

    /// A custom role made by the owner (who may grant anything); its id.
    pub async fn custom_role(&self, name: &str, types: &[&str], permissions: Value) -> String {
        let body = serde_json::json!({"name": name, "principalTypes": types, "permissions": permissions});
        let r = self.owner_call("POST", &self.org_path("/roles"), Some(body)).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }

    /// Assigns `role` to `principal` as the owner (the administrator's `iam-admin` may grant only
    /// what it holds: IAM actions).
    pub async fn assign(&self, principal: &str, role: &str) {
        let path = self.org_path(&format!("/principals/{principal}/role-assignments/{role}"));
        let r = self.owner_call("PUT", &path, None).await;
        assert!(r.status == 201 || r.status == 200, "{:?}", r.body);
    }

    /// The pepper this app hashes with (to prove it never leaks).
    pub async fn pepper(&self) -> String {
        self.secrets()
            .await
            .get_secret_value()
            .secret_id(&self.app.config.pepper_secret_id)
            .send()
            .await
            .expect("read pepper")
            .secret_string
            .expect("pepper string")
    }

    /// The signing-key secret as stored (tests forge tokens with it).
    pub async fn signing_keys(&self) -> shared::auth::tokens::StoredKeySet {
        let secrets = self.secrets().await;
        let read = secrets.get_secret_value().secret_id(self.app.config.signing_keys_secret_id.as_deref().unwrap());
        let text = read.version_stage("AWSCURRENT").send().await;
        serde_json::from_str(&text.expect("read signing keys").secret_string.expect("string")).expect("key set JSON")
    }

    /// Replaces the signing-key secret and its public half (a rotation, as the rotation function
    /// does it).
    pub async fn put_signing_keys(&self, set: &shared::auth::tokens::StoredKeySet) {
        self.secrets()
            .await
            .put_secret_value()
            .secret_id(&self.app.config.verification_keys_secret_id)
            .secret_string(serde_json::to_string(&set.published().unwrap()).unwrap())
            .send()
            .await
            .expect("put verification keys");
        self.secrets()
            .await
            .put_secret_value()
            .secret_id(self.app.config.signing_keys_secret_id.as_deref().unwrap())
            .secret_string(serde_json::to_string(set).unwrap())
            .send()
            .await
            .expect("put signing keys");
    }

    /// Sets one attribute of the org's own item directly (`SET <path> = :v`), as tests that need a
    /// state the API would take long to reach do.
    pub async fn set_org_attribute(&self, path: &str, value: AttributeValue) {
        let (pk, sk) = shared::store::keys::org(&self.org);
        self.dynamo
            .update_item()
            .table_name(&self.table)
            .key("PK", AttributeValue::S(pk))
            .key("SK", AttributeValue::S(sk))
            .update_expression(format!("SET {path} = :v"))
            .expression_attribute_values(":v", value)
            .send()
            .await
            .expect("update the org item");
    }

    /// Sets one attribute of an API-key principal's item directly (a state the API reaches only slowly).
    pub async fn set_principal_attribute(&self, principal: &str, name: &str, value: AttributeValue) {
        let id = PrincipalId::parse(principal).expect("a principal id");
        let (pk, sk) = shared::store::keys::principal(&self.org, &id);
        self.dynamo
            .update_item()
            .table_name(&self.table)
            .key("PK", AttributeValue::S(pk))
            .key("SK", AttributeValue::S(sk))
            .update_expression("SET #a = :v")
            .expression_attribute_names("#a", name)
            .expression_attribute_values(":v", value)
            .send()
            .await
            .expect("update the principal item");
    }

    /// A Secrets Manager client of the emulator (for the test's own reads and writes).
    pub async fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&emulator_sdk_config(&emulator_url()).await)
    }

    /// `POST /iam/auth/token` with a JSON body.
    pub async fn exchange(&self, key: &str) -> TestResponse {
        self.call("POST", "/iam/auth/token", None, Some(serde_json::json!({ "apiKey": key }))).await
    }

    /// An access token for `key` (asserting the exchange succeeds).
    pub async fn token_for(&self, key: &str) -> String {
        let r = self.exchange(key).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["accessToken"].as_str().unwrap().to_string()
    }

    /// `method path` with `Authorization: Bearer <token>`.
    pub async fn bearer_call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> TestResponse {
        self.request(method, path, Some(format!("Bearer {token}")), body).await
    }

    /// Every item of the table, for before/after comparisons (tables here are small).
    pub async fn table_items(&self) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out =
                self.dynamo.scan().table_name(&self.table).set_exclusive_start_key(start).send().await.expect("scan");
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        items.sort_by_key(|i| format!("{:?}{:?}", i.get("PK"), i.get("SK")));
        items
    }

    /// The org's audit events, newest first, as stored (every shard, every page).
    pub async fn audit_events(&self, org: &OrgId) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        for shard in 0..shared::store::keys::AUDIT_SHARDS {
            let pages = self
                .dynamo
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(shared::store::keys::audit_pk(org, shard)))
                .into_paginator()
                .items()
                .send()
                .collect::<Vec<_>>()
                .await;
            items.extend(pages.into_iter().map(|item| item.expect("query audit")));
        }
        let sk = |item: &std::collections::HashMap<String, AttributeValue>| item["SK"].as_s().unwrap().clone();
        items.sort_by_key(|item| std::cmp::Reverse(sk(item)));
        items
    }
}

/// The ways a client can present a key to `POST /iam/auth/token`.
#[derive(Clone, Copy, Debug)]
pub enum Form {
    /// JSON `{"apiKey"}`.
    Json,
    /// `Authorization: ApiKey ik_…`.
    ApiKeyHeader,
    /// OAuth client credentials in the form body.
    OAuthBody,
    /// OAuth client credentials as HTTP Basic.
    OAuthBasic,
}

/// Every form, for tests that run in each.
pub const FORMS: [Form; 4] = [Form::Json, Form::ApiKeyHeader, Form::OAuthBody, Form::OAuthBasic];

impl TestApp {
    /// `POST /iam/auth/token` with `key` in `form`.
    pub async fn exchange_as(&self, form: Form, key: &str) -> TestResponse {
        use base64::Engine;
        let (client_id, client_secret) = key.split_once('.').unwrap_or((key, ""));
        let form_body = |pairs: &[(&str, &str)]| {
            let mut s = form_urlencoded::Serializer::new(String::new());
            s.extend_pairs(pairs);
            s.finish().into_bytes()
        };
        let mut incoming =
            IncomingRequest { method: "POST".into(), path: "/iam/auth/token".into(), ..Default::default() };
        match form {
            Form::Json => {
                incoming.headers.push(("Content-Type".into(), "application/json".into()));
                incoming.body = serde_json::json!({ "apiKey": key }).to_string().into_bytes();
            }
            Form::ApiKeyHeader => incoming.headers.push(("Authorization".into(), format!("ApiKey {key}"))),
            Form::OAuthBody => {
                incoming.headers.push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
                incoming.body = form_body(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id),
                    ("client_secret", client_secret),
                ]);
            }
            Form::OAuthBasic => {
                let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{client_secret}"));
                incoming.headers.push(("Authorization".into(), format!("Basic {basic}")));
                incoming.headers.push(("Content-Type".into(), "application/x-www-form-urlencoded".into()));
                incoming.body = form_body(&[("grant_type", "client_credentials")]);
            }
        }
        self.send(incoming).await
    }
}

impl TestApp {
    /// A GitHub Actions-shaped token of the tests' workload issuer for `audience`, issued now (the
    /// service clock) for five minutes, with `overrides` set last (`null` removes a claim).
    pub fn workload_token(&self, audience: &str, overrides: Value) -> String {
        let claims = local_stack::workload::claims(
            local_stack::workload::Kind::Github,
            &self.workload_issuer,
            audience,
            None,
            self.app.clock.now().unix(),
            300,
            overrides.as_object().expect("overrides are an object"),
        );
        self.workload.sign(jsonwebtoken::Algorithm::ES256, &claims).expect("sign a workload token")
    }

    /// `POST /iam/auth/token` as RFC 8693 token exchange of `token`, with `extra` form parameters.
    pub async fn exchange_workload(&self, token: &str, extra: &[(&str, &str)]) -> TestResponse {
        let mut pairs = vec![
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
            ("subject_token", token),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
        ];
        pairs.extend_from_slice(extra);
        self.form_post("/iam/auth/token", &pairs).await
    }

    /// `POST path` with a form body of `pairs` and no Authorization.
    pub async fn form_post(&self, path: &str, pairs: &[(&str, &str)]) -> TestResponse {
        let mut body = form_urlencoded::Serializer::new(String::new());
        body.extend_pairs(pairs);
        self.send(IncomingRequest {
            method: "POST".into(),
            path: path.into(),
            headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())],
            body: body.finish().into_bytes(),
            source_ip: "198.51.100.7".into(),
            ..Default::default()
        })
        .await
    }
}

/// A deadline never reached: the tests' runs finish whatever the machine's speed.
pub struct NoDeadline;

impl shared::service::sweep::Deadline for NoDeadline {
    fn reached(&self) -> bool {
        false
    }
}

/// The template, read once per test process: a long run (`make soak`) serves what the tree held when
/// it started, whatever is edited beside it meanwhile.
fn template() -> Arc<Template> {
    static TEMPLATE: std::sync::LazyLock<Arc<Template>> =
        std::sync::LazyLock::new(|| Arc::new(Template::load_default().expect("the template reads")));
    TEMPLATE.clone()
}
