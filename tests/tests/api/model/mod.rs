//! The model-based test: random sequences of API operations, each sent through the real handlers
//! to the emulator and its answer compared with the reference model's (`reference.rs`); after
//! every step the invariants are checked against the table itself. A failure shrinks to a minimal
//! sequence and is printed with its seed; each one found becomes a named test in `regressions.rs`.
//!
//! `make test` runs [`SEQUENCES`] sequences of 30 to 35 steps from fixed seeds; `make soak` sets
//! `MODEL_SEQUENCES` and `MODEL_SEED` (a fresh seed each run) and runs many more.

mod reference;
mod regressions;

use std::cell::RefCell;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use iam_tests::{NoDeadline, TestApp, TestResponse};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};
use serde_json::{Value, json};
use shared::domain::{OrgId, PrincipalId};

use reference::{DEMO, IAM, Model, Op, Probe, RATE_PERIOD, START_PRINCIPALS, State, TOKEN_TTL, Who};

/// Sequences `make test` runs, over the four tests below (each its own table and seed).
pub const SEQUENCES: u32 = 200;
/// The shortest and longest sequence.
pub const STEPS: std::ops::Range<usize> = 30..36;

thread_local! {
    /// The runtime the test's sequences run on.
    static HARNESS: RefCell<Option<tokio::runtime::Handle>> = const { RefCell::new(None) };
}

/// One org's real counterpart of the model's state: the ids and keys the API handed out, in the
/// model's order.
pub struct System {
    rt: tokio::runtime::Handle,
    app: TestApp,
    principals: Vec<String>,
    /// Each credential's key and key id.
    creds: Vec<(String, String)>,
    roles: Vec<String>,
    tokens: Vec<String>,
    /// Audit events of the org counted so far (expiry warnings aside).
    audits: usize,
    /// The administrator's access token and when it expires.
    admin_token: Option<(String, i64)>,
    step: usize,
}

impl System {
    fn path(&self, rest: &str) -> String {
        self.app.org_path(rest)
    }

    async fn as_who(&mut self, who: Who, method: &str, path: &str, body: Option<Value>) -> TestResponse {
        match who {
            Who::Admin => self.admin_call(method, path, body).await,
            Who::Owner => self.app.owner_call(method, path, body).await,
        }
    }

    /// The administrator's `Authorization`: a token exchanged from its key (direct `ApiKey` calls
    /// may be off), renewed before it expires.
    async fn admin_authorization(&mut self) -> String {
        let now = self.app.app.clock.now().unix();
        if self.admin_token.as_ref().is_none_or(|(_, exp)| *exp <= now + 5) {
            let token = self.app.token_for(&self.app.admin_key.clone()).await;
            self.admin_token = Some((token, now + TOKEN_TTL));
        }
        format!("Bearer {}", self.admin_token.as_ref().unwrap().0)
    }

    async fn admin_call(&mut self, method: &str, path: &str, body: Option<Value>) -> TestResponse {
        let authorization = self.admin_authorization().await;
        self.app.request(method, path, Some(authorization), body).await
    }

    fn principal_of(&self, state: &State, c: usize) -> String {
        self.principals[state.creds[c].principal].clone()
    }

    /// Sends one operation (`state` is the model after it: what it created is there).
    async fn send(&mut self, state: &State, op: &Op) -> TestResponse {
        match *op {
            Op::CreatePrincipal => {
                let n = self.principals.len();
                let body = json!({"displayName": format!("p{n}")});
                let r = self.admin_call("POST", &self.path("/api-keys"), Some(body)).await;
                if r.status == 201 {
                    self.principals.push(r.body["id"].as_str().unwrap().to_string());
                }
                r
            }
            Op::Issue { p, who, expires_in } => {
                let mut body = json!({"name": format!("c{}", self.creds.len())});
                if let Some(seconds) = expires_in {
                    body["expiresAt"] = json!(self.app.at(seconds));
                }
                let path = self.path(&format!("/api-keys/{}/credentials", self.principals[p]));
                let r = self.as_who(who, "POST", &path, Some(body)).await;
                self.keep_key(&r);
                r
            }
            Op::Roll { c, grace, who } => {
                let path = self.path(&format!(
                    "/api-keys/{}/credentials/{}/roll",
                    self.principal_of(state, c),
                    self.creds[c].1
                ));
                let r = self.as_who(who, "POST", &path, Some(json!({"expireOldAfterSeconds": grace}))).await;
                self.keep_key(&r);
                r
            }
            Op::ExpireEarlier { c, in_secs } => {
                let path =
                    self.path(&format!("/api-keys/{}/credentials/{}", self.principal_of(state, c), self.creds[c].1));
                self.admin_call("PATCH", &path, Some(json!({"expiresAt": self.app.at(in_secs)}))).await
            }
            Op::Revoke { c } => {
                let path = self.path(&format!(
                    "/api-keys/{}/credentials/{}/revoke",
                    self.principal_of(state, c),
                    self.creds[c].1
                ));
                self.admin_call("POST", &path, None).await
            }
            Op::SetStatus { p, status, who } => {
                let path = self.path(&format!("/api-keys/{}", self.principals[p]));
                self.as_who(who, "PATCH", &path, Some(json!({"status": status.as_str()}))).await
            }
            Op::Assign { p, role, who } => {
                let path =
                    self.path(&format!("/principals/{}/role-assignments/{}", self.principals[p], self.roles[role]));
                self.as_who(who, "PUT", &path, None).await
            }
            Op::Unassign { p, role } => {
                let path =
                    self.path(&format!("/principals/{}/role-assignments/{}", self.principals[p], self.roles[role]));
                self.admin_call("DELETE", &path, None).await
            }
            Op::CreateRole { mask, who } => {
                let body = json!({"name": format!("role {}", self.roles.len()), "principalTypes": ["ApiKey"],
                    "permissions": permissions(mask)});
                let r = self.as_who(who, "POST", &self.path("/roles"), Some(body)).await;
                if r.status == 201 {
                    self.roles.push(r.body["id"].as_str().unwrap().to_string());
                }
                r
            }
            Op::WidenRole { role, who } => {
                let path = self.path(&format!("/roles/{}", self.roles[role]));
                self.as_who(who, "PATCH", &path, Some(json!({"permissions": permissions(IAM | DEMO)}))).await
            }
            Op::DeleteRole { role } => {
                self.app.owner_call("DELETE", &self.path(&format!("/roles/{}", self.roles[role])), None).await
            }
            Op::SetCap { cap } => {
                let body = json!({"maxActiveCredentialsPerPrincipal": cap});
                self.admin_call("PATCH", &self.path("/settings"), Some(body)).await
            }
            Op::SetDirect { on } => {
                self.admin_call("PATCH", &self.path("/settings"), Some(json!({"directApiKeyAuth": on}))).await
            }
            Op::Exchange { c } => {
                let r = self.app.exchange(&self.creds[c].0).await;
                if r.status == 200 {
                    self.tokens.push(r.body["accessToken"].as_str().unwrap().to_string());
                }
                r
            }
            Op::Direct { c } => self.direct(state, c).await,
            Op::Bearer { t } => self.bearer(state, t).await,
            Op::RevokeTokens { p } => {
                let path = self.path(&format!("/api-keys/{}/revoke-tokens", self.principals[p]));
                self.admin_call("POST", &path, None).await
            }
            Op::RevokeToken { t } => {
                let body = form_urlencoded::Serializer::new(String::new())
                    .append_pair("token", &self.tokens[t])
                    .finish()
                    .into_bytes();
                let authorization = self.admin_authorization().await;
                self.app
                    .send(local_stack::event::IncomingRequest {
                        method: "POST".into(),
                        path: "/iam/auth/revoke".into(),
                        headers: vec![
                            ("Authorization".into(), authorization),
                            ("Content-Type".into(), "application/x-www-form-urlencoded".into()),
                        ],
                        body,
                        source_ip: "198.51.100.7".into(),
                        ..Default::default()
                    })
                    .await
            }
            Op::SetFence { p, fence } => {
                let path = self.path(&format!("/api-keys/{}", self.principals[p]));
                self.admin_call("PATCH", &path, Some(json!({"allowedCidrs": fence.cidrs()}))).await
            }
            Op::SetLimit { p, limit } => {
                let path = self.path(&format!("/api-keys/{}", self.principals[p]));
                let limit = limit.map(|limit| json!({"limit": limit, "periodSeconds": RATE_PERIOD}));
                self.admin_call("PATCH", &path, Some(json!({"rateLimit": limit}))).await
            }
            Op::LeakReport { c } => {
                let report = json!([{"token": self.creds[c].0, "type": "infuse_iam_api_key",
                    "url": "https://example.com/leak", "source": "content"}]);
                let r = self.app.leak_report(&report).await;
                if r.status == 200 {
                    assert_eq!(r.body[0]["label"], "true_positive", "a leaked key of ours is ours: {:?}", r.body);
                }
                r
            }
            Op::Sweep => {
                let report = expiry_sweep::handle(&self.app.app, &NoDeadline, "model-sweep").await;
                answered(if report.is_ok() { 200 } else { 500 })
            }
            Op::Advance { secs } => {
                self.app.app.clock.advance(secs);
                answered(200)
            }
        }
    }

    fn keep_key(&mut self, r: &TestResponse) {
        if r.status == 201 {
            let key = r.body["apiKey"].as_str().unwrap().to_string();
            let id = r.body["credential"]["id"].as_str().unwrap().to_string();
            self.creds.push((key, id));
        }
    }

    /// A direct `ApiKey` call of the credential's principal's own record.
    async fn direct(&self, state: &State, c: usize) -> TestResponse {
        let path = self.path(&format!("/api-keys/{}", self.principal_of(state, c)));
        self.app.call("GET", &path, Some(&self.creds[c].0), None).await
    }

    /// A `Bearer` call of the token's principal's own record.
    async fn bearer(&self, state: &State, t: usize) -> TestResponse {
        let path = self.path(&format!("/api-keys/{}", self.principals[state.tokens[t].principal]));
        self.app.bearer_call("GET", &path, &self.tokens[t], None).await
    }

    /// The org's audit events, expiry warnings aside; fails on any that holds a key handed out.
    async fn audit_count(&self) -> usize {
        let events = self.app.audit_events(&self.app.org).await;
        for event in &events {
            self.assert_no_secret(event, "an audit event");
        }
        let warning = |e: &HashMap<String, AttributeValue>| {
            e.get("action").and_then(|a| a.as_s().ok()).is_some_and(|a| a == "iam:credentials:expiring")
        };
        events.iter().filter(|e| !warning(e)).count()
    }

    fn assert_no_secret(&self, item: &HashMap<String, AttributeValue>, what: &str) {
        self.assert_no_secret_in(&format!("{item:?}"), what);
    }

    fn assert_no_secret_in(&self, text: &str, what: &str) {
        for (key, _) in &self.creds {
            let secret = key.split_once('.').map_or(key.as_str(), |(_, s)| s);
            assert!(!text.contains(secret), "{what} holds a key's secret: {text}");
        }
        for token in &self.tokens {
            assert!(!text.contains(token.as_str()), "{what} holds an access token");
        }
    }

    /// After every step: the answer was the model's, nothing answered 5xx, each credential and
    /// token whose standing the step changed answers as the model says at once, the audit log
    /// grew by one event per change, each principal's Active set is the model's and within the
    /// cap, and no item holds a secret.
    async fn check(&mut self, state: &State, op: &Op, r: &TestResponse) {
        let expected = &state.last;
        let at = format!("step {} ({op:?})", self.step);
        assert!(r.status < 500, "{at}: a 5xx: {:?}", r.body);
        assert_eq!((r.status, r.code()), (expected.status, expected.code), "{at}: {:?}", r.body);
        let mut answers = expected.probe_answers.iter();
        for probe in &expected.probes {
            match *probe {
                Probe::Credential(c) => {
                    let r = self.direct(state, c).await;
                    let expected = *answers.next().expect("an answer per call");
                    assert_eq!((r.status, r.code()), expected, "{at}: credential {c} called directly");
                    let r = self.app.exchange(&self.creds[c].0).await;
                    let expected = *answers.next().expect("an answer per call");
                    assert_eq!((r.status, r.code()), expected, "{at}: credential {c} exchanged");
                }
                Probe::Token(t) => {
                    let r = self.bearer(state, t).await;
                    let expected = *answers.next().expect("an answer per call");
                    assert_eq!((r.status, r.code()), expected, "{at}: token {t}");
                }
            }
        }
        // The audit events the handlers' committed writes put (counted as they commit: the log
        // itself is read back, and searched for secrets, once at the end).
        let audits = self.app.reads.audit_writes();
        assert_eq!(audits - self.audits, expected.audits, "{at}: audit events written");
        self.audits = audits;
        let org = OrgId::parse(self.app.org.as_str()).unwrap();
        for p in touched(state, op) {
            let id = PrincipalId::parse(&self.principals[p]).unwrap();
            let record = self.app.app.store.get_principal(&org, &id).await.unwrap().expect("the principal");
            let active = record.active_key_ids.len();
            assert_eq!(active, state.active_count(p), "{at}: principal {p}'s Active credentials");
        }
    }
}

/// The principals whose Active set an operation may change (the sweep: any).
fn touched(state: &State, op: &Op) -> Vec<usize> {
    match *op {
        Op::Issue { p, .. } | Op::SetStatus { p, .. } | Op::RevokeTokens { p } => vec![p],
        Op::Roll { c, .. } | Op::ExpireEarlier { c, .. } | Op::Revoke { c } | Op::LeakReport { c } => {
            vec![state.creds[c].principal]
        }
        Op::Sweep => (0..state.principals.len()).collect(),
        _ => Vec::new(),
    }
}

fn answered(status: u16) -> TestResponse {
    TestResponse { status, headers: Default::default(), raw: Vec::new(), body: Value::Null }
}

/// A custom role's permissions for a model mask.
fn permissions(mask: u8) -> Value {
    let mut permissions = Vec::new();
    if mask & IAM != 0 {
        permissions.push(json!({"action": "iam:apiKeys:read", "resource": "*"}));
    }
    if mask & DEMO != 0 {
        permissions.push(json!({"action": "demo:read", "resource": "*"}));
    }
    Value::Array(permissions)
}

impl StateMachineTest for System {
    type SystemUnderTest = Self;
    type Reference = Model;

    /// A fresh table and org: its administrator, its owner, the model's first
    /// principals, the built-in `iam-viewer` as role 0, the cap, direct calls on, short tokens.
    fn init_test(state: &State) -> Self {
        let rt = HARNESS.with(|h| h.borrow().clone().expect("the harness is set"));
        // A table of its own: the emulator's index queries read a whole table, so a shared one
        // would make each sequence slower than the last.
        let app = rt.block_on(async {
            let app = TestApp::with_config(|c| c.sweep_first_lookback_hours = 1).await;
            // The sequence starts at the start of an hour: the model's rate-limit windows are the
            // service's (windows are aligned to the epoch).
            let start = app.app.clock.now().unix();
            app.app.clock.advance((3600 - start.rem_euclid(3600)) % 3600);
            // The sweep reads the hours since its last run (the first looks back an hour here): one
            // run now, so that every later one covers the whole sequence, as a deployed sweep every
            // 15 minutes does.
            expiry_sweep::handle(&app.app, &NoDeadline, "model-start").await.expect("the first sweep");
            app
        });
        let mut system = System {
            rt: rt.clone(),
            app,
            principals: Vec::new(),
            creds: Vec::new(),
            roles: vec!["iam-viewer".into()],
            tokens: Vec::new(),
            audits: 0,
            admin_token: None,
            step: 0,
        };
        rt.block_on(async {
            let settings = json!({"maxActiveCredentialsPerPrincipal": state.cap, "accessTokenTtlSeconds": TOKEN_TTL,
                "directApiKeyAuth": state.direct});
            let r = system.app.admin_call("PATCH", &system.path("/settings"), Some(settings)).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
            for _ in 0..START_PRINCIPALS {
                let r = system.send(state, &Op::CreatePrincipal).await;
                assert_eq!(r.status, 201, "{:?}", r.body);
            }
            system.audits = system.app.reads.audit_writes();
        });
        system
    }

    fn apply(mut system: Self, state: &State, op: Op) -> Self {
        system.step += 1;
        let rt = system.rt.clone();
        rt.block_on(async {
            let r = system.send(state, &op).await;
            system.check(state, &op, &r).await;
        });
        system
    }

    /// At the end: the audit log holds every event counted as written, and no audit event,
    /// principal or credential item holds a secret.
    fn teardown(system: Self, _state: State) {
        let rt = system.rt.clone();
        rt.block_on(async {
            assert_eq!(system.audit_count().await, system.audits, "the audit log holds what was written");
            let org = OrgId::parse(system.app.org.as_str()).unwrap();
            for id in &system.principals {
                let record = system.app.app.store.get_principal(&org, &PrincipalId::parse(id).unwrap()).await;
                system.assert_no_secret_in(&format!("{:?}", record.unwrap()), "a principal item");
            }
            for (_, key_id) in &system.creds {
                let (pk, sk) = shared::store::keys::credential(&shared::domain::KeyId::parse(key_id).unwrap());
                let item = system
                    .app
                    .dynamo
                    .get_item()
                    .table_name(&system.app.table)
                    .key("PK", AttributeValue::S(pk))
                    .key("SK", AttributeValue::S(sk))
                    .send()
                    .await
                    .unwrap()
                    .item
                    .expect("the credential item");
                system.assert_no_secret(&item, "a credential item");
            }
            // What the containers counted of the calls (usage, recent requests), written now: no item
            // of the table holds a key or a token handed out.
            system.app.app.flush_outcomes().await;
            for item in system.app.table_items().await {
                system.assert_no_secret(&item, "an item of the table");
            }
            // The emulator keeps what it is given: the sequence's table goes with it.
            system.app.dynamo.delete_table().table_name(&system.app.table).send().await.expect("delete the table");
        });
    }
}

/// Runs `sequences` random sequences from `seed`, each in a table of its own; a failure panics
/// with the seed and the minimal sequence.
pub fn run(name: &str, seed: u64, sequences: u32) {
    if std::env::var_os("MODEL_SEED").is_some() {
        // A soak (`make soak` sets MODEL_SEED) keeps the service's warnings and errors in its shard's
        // log, so that the cause of a 5xx is on record. `make test` installs no subscriber here: its
        // log test installs its own. A leaked key's revocation is a warning by design and the model
        // reports leaks often: that one is left out.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn,shared::service::leaks=error"))
            .with_ansi(false)
            .with_writer(std::io::stderr)
            .try_init();
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    HARNESS.with(|h| *h.borrow_mut() = Some(rt.handle().clone()));
    let config = Config {
        cases: sequences,
        // Each shrink replays a sequence against the emulator: enough to find a short one, and
        // bounded in count and in time, so a failure is reported within minutes.
        max_shrink_iters: 300,
        max_shrink_time: 240_000,
        failure_persistence: None,
        ..Config::default()
    };
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(config.clone(), TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let started = std::time::Instant::now();
    let ran = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&Model::sequential_strategy(STEPS), |(initial, transitions, seen)| {
        let steps = transitions.len();
        System::test_sequential(config.clone(), initial, transitions, seen);
        // Progress for long runs (make soak): every 100 sequences that held.
        let ran = ran.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if ran.is_multiple_of(100) {
            eprintln!(
                "model {name}: {ran} sequences held (the last of {steps} steps), {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
        Ok(())
    });
    HARNESS.with(|h| *h.borrow_mut() = None);
    drop(rt);
    match result {
        Ok(()) => eprintln!(
            "model {name}: {sequences} sequences of {}-{} steps from seed {seed}: all held ({:.0} s)",
            STEPS.start,
            STEPS.end - 1,
            started.elapsed().as_secs_f64()
        ),
        Err(failure) => panic!(
            "model {name}: failed from seed {seed} (replay: MODEL_SEED={} cargo test -p iam-tests --test api \
             model::random_sequences_hold_to_the_model_{name}): {failure}",
            std::env::var("MODEL_SEED").unwrap_or_else(|_| "<unset>".into())
        ),
    }
}

/// Replays one sequence (a regression the random runs found) in a table of its own.
pub fn replay(ops: Vec<Op>) {
    use proptest::strategy::{Strategy, ValueTree};
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    HARNESS.with(|h| *h.borrow_mut() = Some(rt.handle().clone()));
    let mut runner = TestRunner::deterministic();
    let initial = Model::init_state().new_tree(&mut runner).unwrap().current();
    let mut state = initial.clone();
    for op in &ops {
        assert!(Model::preconditions(&state, op), "{op:?} does not apply here");
        state = Model::apply(state, op);
    }
    System::test_sequential(Config::default(), initial, ops, None);
    HARNESS.with(|h| *h.borrow_mut() = None);
}

/// The test's fixed seed, mixed with `MODEL_SEED` when set (a soak's fresh seed: the same
/// `MODEL_SEED` replays the same sequences); `MODEL_SEQUENCES`, or the test's share of [`SEQUENCES`].
fn settings(fixed: u64) -> (u64, u32) {
    let seed = std::env::var("MODEL_SEED").ok().and_then(|s| s.parse::<u64>().ok()).map_or(fixed, |s| s ^ fixed);
    let sequences = std::env::var("MODEL_SEQUENCES").ok().and_then(|s| s.parse().ok()).unwrap_or(SEQUENCES / 4);
    (seed, sequences)
}

#[test]
fn random_sequences_hold_to_the_model_a() {
    let (seed, sequences) = settings(20_261_207);
    run("a", seed, sequences);
}

#[test]
fn random_sequences_hold_to_the_model_b() {
    let (seed, sequences) = settings(31_415_926);
    run("b", seed, sequences);
}

#[test]
fn random_sequences_hold_to_the_model_c() {
    let (seed, sequences) = settings(27_182_818);
    run("c", seed, sequences);
}

#[test]
fn random_sequences_hold_to_the_model_d() {
    let (seed, sequences) = settings(16_180_339);
    run("d", seed, sequences);
}
