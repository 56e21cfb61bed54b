//! Cold start: process start → first response, for a real function binary and for a hello-world
//! `lambda_http` binary built the same way (release profile, same `lambda_http` features).
//!
//! Method: start the serialised moto, create the table from the template, seed the pepper and the
//! signing keys and bootstrap an org (in this process, as `make dev` does). Then, for each sample,
//! start a fresh minimal Lambda Runtime API stand-in (`local_stack::runtime_api`) holding one API
//! Gateway v2 event, spawn the binary with the environment Lambda gives a function
//! (`AWS_LAMBDA_RUNTIME_API`, function name, memory, region, credentials) plus the function's own
//! configuration (as in the template, pointed at moto with `AWS_ENDPOINT_URL`), and time from just
//! before `spawn` to the arrival of the function's `POST .../response`. The process is killed after
//! each sample. Cases alternate within each round so that drift of the machine or moto hits all
//! alike. Prints median and p90 per case and the ratio of medians to the hello-world baseline.
//!
//! Cases:
//! - `hello-world`: the baseline binary, any event, on the multi-threaded runtime `#[tokio::main]`
//!   gives; `hello-world current-thread`: the same on the current-thread runtime the functions use.
//! - `token-exchange jwks`: `GET /iam/.well-known/jwks.json`; the function's whole initialisation
//!   (SDK configuration) and the one Secrets Manager read the JWKS needs (the signing keys).
//! - `token-exchange metadata`: the RFC 8414 metadata, which needs no I/O: the function's start-up
//!   alone (no Secrets Manager read, no connection, no CA certificates).
//! - `  ... CA bundle file only`: the same with `SSL_CERT_FILE` naming the CA bundle, as Lambda's
//!   image has it (Debian also has a directory of ~150 certificate links that is read otherwise).
//! - `token-exchange exchange`: `POST /iam/auth/token` with a real key: initialisation, then the
//!   credential GetItem (with both secrets, concurrently), the argon2id verification, the principal
//!   and the org's settings (one BatchGetItem) and a signed token.
//! - `token-exchange federated`: `POST /iam/auth/token`, an RFC 8693 exchange of a workload token
//!   from the development workload issuer (served by this process on loopback, named by
//!   `LOCAL_WORKLOAD_ISSUER` as `make dev` names it) against a trust of the bootstrap principal:
//!   initialisation, the trust's BatchGetItem with the signing keys, the issuer's discovery
//!   document and JWKS with the principal and the settings, the audit transaction, a signed token.
//!
//! Beside them, each round times the one Secrets Manager read a function must make, three ways:
//! - `one read`: a GetSecretValue from this process's warm, connected client, request to parsed
//!   answer (the strict allowance: everything a cold function pays to make its first read, but the
//!   request itself, counts against the function);
//! - `one first read`: `examples/secret_read_lambda.rs`, a hello-world with the functions' SDK
//!   configuration and secret store built before its first invocation, run with the read
//!   (`secret read`) and without it (`SDK client, no read`): the difference is the first read of a
//!   cold process whose SDK is already loaded and built (the CA bundle parsed, the connection
//!   opened, the request made);
//! - `one cold read`: `secret read` less the current-thread hello-world: the SDK's code loaded and
//!   its client built as well.
//!
//! The exchanges' target: 2 × hello-world + the slowest single read an exchange makes. Each round
//! times, from this process's warm client, every AWS read either exchange makes (the credential
//! GetItem, the credential-and-principal BatchGetItem, the principal, the org, the trusts'
//! BatchGetItem, the pepper, the signing keys); the round's slowest is its allowance. The issuer's
//! two fetches are on loopback and faster than any of them, so leaving them out makes the target
//! stricter, not looser.
//!
//! The summary compares each JWKS case with issue 16's target, 2 × hello-world + the read, for each
//! hello-world and each allowance, two ways: the ratio of the medians, and the median of each
//! round's ratio to the same round's target (paired, so that the machine's drift between rounds
//! cancels out).
//!
//! Then the warm invocation CPU of the exchange (what Lambda bills): one token-exchange process
//! serves exchanges one after another through the same stand-in, and its CPU time (all threads,
//! `/proc/<pid>/task/*/schedstat`) per invocation is compared, in alternating rounds, with the CPU
//! time of `service::tokens::exchange` called in this process on a current-thread runtime against
//! the same emulator (`/proc/thread-self/schedstat`), its SDK configured as the function's is
//! (`store::sdk::lambda_config`, from the function's environment). A third figure, in the same
//! rounds, is `token_exchange::handle` on the event as `lambda_http` parses it: the difference
//! between it and the function is the Runtime API's share. BENCH_WARM_ROUNDS (5) rounds of
//! BENCH_WARM_N (300) each, after 50 warm-up exchanges on each side. Last, the floor of any
//! function: the hello-world's warm CPU per invocation through the same stand-in.
//!
//! The warm figures also give the minor page faults per invocation of both sides.
//! `BENCH_WARM_ENV='K=V;K2=V2'` adds variables to the warm function's environment only (for
//! experiments: `RUST_LOG=off`, glibc's `GLIBC_TUNABLES`); the output says so when it is set.
//!
//! `BENCH_COLD_COMPARE=<binary>` adds the JWKS and exchange cases of another build of token-exchange
//! (an earlier commit's, say) to the same rounds.
//!
//! Run: `make bench` (it builds the release binaries first), or after
//! `cargo build --release -p token-exchange && cargo build --release -p local-stack --example hello_lambda --example secret_read_lambda`:
//! `cargo bench -p local-stack --bench cold_start`. Samples per case from BENCH_COLD_N (20).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_credential_types::provider::SharedCredentialsProvider;
use local_stack::event::{IncomingRequest, event_json};
use local_stack::moto::BenchStack;
use local_stack::runtime_api::RuntimeApi;
use local_stack::template::Template;
use tokio::process::Command;

struct Case {
    name: &'static str,
    binary: PathBuf,
    event: Vec<u8>,
    samples: Vec<Duration>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn event(template: &Template, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let (route, params) = template.route_for(method, path).expect("a template route");
    let incoming = IncomingRequest {
        method: method.into(),
        path: path.into(),
        query: String::new(),
        headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        body: body.as_bytes().to_vec(),
        source_ip: "198.51.100.7".into(),
    };
    event_json(route, &params, &incoming).to_string().into_bytes()
}

fn release_binary(target: &Path, relative: &str) -> anyhow::Result<PathBuf> {
    let path = target.join("release").join(relative);
    anyhow::ensure!(
        path.is_file(),
        "{} is missing: build it with `cargo build --release -p token-exchange && cargo build --release -p local-stack --example hello_lambda --example secret_read_lambda` (make bench does)",
        path.display()
    );
    Ok(path)
}

/// One cold start of `binary` answering `event`: the time from spawn to its response.
async fn cold_start(binary: &Path, event: &[u8], env: &[(String, String)]) -> anyhow::Result<Duration> {
    let mut runtime = RuntimeApi::start(event.to_vec()).await?;
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", &runtime.address)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let outcome = tokio::time::timeout(Duration::from_secs(20), runtime.outcome()).await??;
    let elapsed = outcome.at - started;
    child.kill().await?;
    anyhow::ensure!(outcome.kind == "response", "{}: {}", outcome.kind, String::from_utf8_lossy(&outcome.body));
    let response: serde_json::Value = serde_json::from_slice(&outcome.body)?;
    anyhow::ensure!(response["statusCode"] == 200, "{} answered {}", binary.display(), response);
    Ok(elapsed)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("BENCH_COLD_N").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo.join("target"), PathBuf::from);
    let hello = release_binary(&target, "examples/hello_lambda")?;
    let secret_read = release_binary(&target, "examples/secret_read_lambda")?;
    let function = release_binary(&target, "token-exchange")?;

    // The development workload issuer, on loopback, as `make dev` serves it.
    let workload_key = Arc::new(local_stack::idp::DevIdp::generate()?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let workload_issuer = format!("http://{}", listener.local_addr()?);
    tokio::spawn(local_stack::workload::serve_issuer(
        listener,
        workload_issuer.clone(),
        Arc::new(RwLock::new(workload_key.jwks())),
        Arc::new(AtomicUsize::new(0)),
    ));
    let stack = BenchStack::start_with("iam-cold", "https://iam.example.test/iam", |config| {
        config.local_workload_issuer = Some(workload_issuer.clone());
    })
    .await?;
    let (config, template, org) = (&stack.config, &stack.template, &stack.org);
    let workload_audience = format!("urn:infuse:iam:{}", org.org_id);
    let workload_token = workload_trust(&stack, &workload_key, &workload_issuer, &workload_audience).await?;

    let lambda_env = |name: &str| {
        vec![
            ("PATH".to_string(), std::env::var("PATH").unwrap_or_default()),
            ("AWS_LAMBDA_FUNCTION_NAME".into(), name.to_string()),
            ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), "256".into()),
            ("AWS_LAMBDA_LOG_GROUP_NAME".into(), format!("/aws/lambda/{name}")),
            ("AWS_LAMBDA_LOG_STREAM_NAME".into(), "cold-start".into()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID".into(), "test".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
            ("AWS_SESSION_TOKEN".into(), "test".into()),
        ]
    };
    let hello_env = lambda_env("hello-world");
    let mut hello_current_thread_env = hello_env.clone();
    hello_current_thread_env.push(("HELLO_CURRENT_THREAD".into(), "1".into()));
    let mut function_env = lambda_env("token-exchange");
    function_env.extend([
        ("AWS_ENDPOINT_URL".to_string(), stack.moto.url.clone()),
        ("TABLE_NAME".into(), config.table_name.clone()),
        ("PEPPER_SECRET_ID".into(), config.pepper_secret_id.clone()),
        ("SIGNING_KEYS_SECRET_ID".into(), config.signing_keys_secret_id.clone().unwrap_or_default()),
        ("VERIFICATION_KEYS_SECRET_ID".into(), config.verification_keys_secret_id.clone()),
        ("TOKEN_ISSUER".into(), config.token_issuer.clone()),
        ("TOKEN_AUDIENCE".into(), config.token_audience.clone()),
        // As the template's Globals give every function: an identity provider is always configured
        // (never fetched here), the Infuse IoT secret pattern, the retention.
        ("OIDC_ISSUER".into(), "https://idp.example.test/".into()),
        ("OIDC_AUDIENCE".into(), "iam-console".into()),
        ("OIDC_JWKS_URL".into(), "https://idp.example.test/.well-known/jwks.json".into()),
        ("INFUSE_IOT_SECRET_PATTERN".into(), "iam/infuse-iot/{orgId}".into()),
        ("RETENTION_DAYS".into(), "90".into()),
        ("RUST_LOG".into(), "info".into()),
        ("LOCAL_WORKLOAD_ISSUER".into(), workload_issuer.clone()),
    ]);

    let mut sdk_no_read_env = lambda_env("secret-read");
    sdk_no_read_env.push(("AWS_ENDPOINT_URL".to_string(), stack.moto.url.clone()));
    let mut secret_read_env = sdk_no_read_env.clone();
    secret_read_env.push(("SECRET_ID".into(), config.signing_keys_secret_id.clone().unwrap_or_default()));

    // Lambda's AL2023 image keeps its CA certificates in one bundle file; Debian adds a directory of
    // ~150 hashed links, which rustls-native-certs also reads unless SSL_CERT_FILE names the bundle.
    let bundle = "/etc/ssl/certs/ca-certificates.crt";
    let mut bundle_env = function_env.clone();
    if Path::new(bundle).is_file() {
        bundle_env.push(("SSL_CERT_FILE".into(), bundle.into()));
    }

    let jwks = event(template, "GET", "/iam/.well-known/jwks.json", &[], "");
    let metadata = event(template, "GET", "/iam/.well-known/oauth-authorization-server", &[], "");
    let body = serde_json::json!({ "apiKey": org.api_key }).to_string();
    let exchange = event(template, "POST", "/iam/auth/token", &[("content-type", "application/json")], &body);
    let form = format!(
        "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token={workload_token}&subject_token_type=urn:ietf:params:oauth:token-type:jwt"
    );
    let federated =
        event(template, "POST", "/iam/auth/token", &[("content-type", "application/x-www-form-urlencoded")], &form);
    let mut cases = vec![
        Case { name: "hello-world", binary: hello.clone(), event: jwks.clone(), samples: Vec::new() },
        Case { name: "hello-world current-thread", binary: hello, event: jwks.clone(), samples: Vec::new() },
        Case { name: SDK_NO_READ, binary: secret_read.clone(), event: jwks.clone(), samples: Vec::new() },
        Case { name: SECRET_READ, binary: secret_read, event: jwks.clone(), samples: Vec::new() },
        Case { name: "token-exchange jwks", binary: function.clone(), event: jwks.clone(), samples: Vec::new() },
        Case { name: "token-exchange metadata", binary: function.clone(), event: metadata, samples: Vec::new() },
        Case { name: "  ... CA bundle file only", binary: function.clone(), event: jwks.clone(), samples: Vec::new() },
        Case {
            name: "token-exchange exchange",
            binary: function.clone(),
            event: exchange.clone(),
            samples: Vec::new(),
        },
        Case { name: "token-exchange federated", binary: function, event: federated, samples: Vec::new() },
    ];
    // Side by side with another build of the function (e.g. an earlier commit's), in the same rounds.
    if let Some(other) = std::env::var_os("BENCH_COLD_COMPARE").map(PathBuf::from) {
        cases.push(Case { name: "compared: jwks", binary: other.clone(), event: jwks, samples: Vec::new() });
        cases.push(Case { name: "compared: exchange", binary: other, event: exchange, samples: Vec::new() });
    }
    // One untimed round first: the page cache holds the binaries, moto has served each request once.
    let mut secret_reads = Vec::new();
    let mut exchange_reads = Reads::default();
    for round in 0..=n {
        let timed = exchange_reads.time(&stack, &workload_issuer, &workload_audience).await?;
        if round > 0 {
            exchange_reads.rounds.push(timed);
        }
        // The one Secrets Manager read a function must make, timed the same way: from this
        // process's (warm) client, a GetSecretValue of the signing keys, request to parsed answer.
        let started = Instant::now();
        stack
            .app
            .secrets
            .read(config.signing_keys_secret_id.as_deref().unwrap_or_default(), Some("AWSCURRENT"))
            .await?;
        if round > 0 {
            secret_reads.push(started.elapsed());
        }
        for case in &mut cases {
            let env = match case.name {
                "hello-world" => &hello_env,
                "hello-world current-thread" => &hello_current_thread_env,
                "  ... CA bundle file only" => &bundle_env,
                SDK_NO_READ => &sdk_no_read_env,
                SECRET_READ => &secret_read_env,
                _ => &function_env,
            };
            let elapsed = cold_start(&case.binary, &case.event, env).await?;
            if round > 0 {
                case.samples.push(elapsed);
            }
        }
    }
    let position = |name: &str| cases.iter().position(|c| c.name == name).expect("a case of that name");
    let (hello_ct, exchange_case) = (position("hello-world current-thread"), position("token-exchange exchange"));
    let (sdk_case, secret_case) = (position(SDK_NO_READ), position(SECRET_READ));
    let warm = warm_invocations(&cases[exchange_case].binary, &cases[exchange_case].event, &bundle_env, &stack).await?;
    let floor = warm_floor(&cases[hello_ct].binary, &cases[hello_ct].event, &hello_current_thread_env).await?;
    stack.stop().await;

    println!("cold start, process spawn → first response; N = {n} per case, alternating, after 1 warm-up round");
    // In the order of the rounds, before sorting: each round's case against the same round's target.
    let by_round: Vec<Vec<Duration>> = cases.iter().map(|c| c.samples.clone()).collect();
    let reads_by_round = secret_reads.clone();
    let baseline = {
        cases[0].samples.sort();
        percentile(&cases[0].samples, 0.5)
    };
    for case in &mut cases {
        case.samples.sort();
        let median = percentile(&case.samples, 0.5);
        println!(
            "{:<28} median {:>9.2?}  p90 {:>9.2?}  ÷ hello-world {:.2}",
            case.name,
            median,
            percentile(&case.samples, 0.9),
            median.as_secs_f64() / baseline.as_secs_f64()
        );
    }
    secret_reads.sort();
    let read = percentile(&secret_reads, 0.5);
    println!("one Secrets Manager read     median {read:>9.2?}  p90 {:>9.2?}", percentile(&secret_reads, 0.9));
    // Issue 16's target, against each baseline: the hello-world `#[tokio::main]` gives, and the
    // current-thread runtime the functions use (the stricter: it starts no worker threads).
    // Two estimates: the ratio of the medians, and the median of each round's ratio to the same
    // round's target (paired: the machine's drift between rounds cancels out).
    // The read as a cold function makes it, two ways, each per round (paired) and of the medians:
    // the secret-reading hello-world less the same binary not reading (the first read of a process
    // whose SDK is loaded and built), and less the current-thread hello-world (the SDK too).
    let difference = |of: usize, less: usize| -> (Duration, Vec<Duration>) {
        let median = percentile(&cases[of].samples, 0.5).saturating_sub(percentile(&cases[less].samples, 0.5));
        let by_round = (0..n).map(|r| by_round[of][r].saturating_sub(by_round[less][r])).collect::<Vec<_>>();
        (median, by_round)
    };
    let (first_read, first_reads_by_round) = difference(secret_case, sdk_case);
    let (cold_read, cold_reads_by_round) = difference(secret_case, hello_ct);
    println!(
        "one first read in a cold process (secret read − SDK client, no read)       difference of medians {first_read:>9.2?}, median of rounds {:>9.2?}",
        median_of(&first_reads_by_round)
    );
    println!(
        "one cold read, the SDK included (secret read − hello-world current-thread) difference of medians {cold_read:>9.2?}, median of rounds {:>9.2?}",
        median_of(&cold_reads_by_round)
    );
    let allowances: [(&str, Duration, &[Duration]); 3] = [
        ("one read", read, &reads_by_round),
        ("one first read", first_read, &first_reads_by_round),
        ("one cold read", cold_read, &cold_reads_by_round),
    ];
    for ((h, hello), (allowance, read, reads_by_round)) in
        allowances.iter().flat_map(|a| cases[..=hello_ct].iter().enumerate().map(move |h| (h, *a)))
    {
        let target = percentile(&hello.samples, 0.5) * 2 + read;
        for (c, case) in cases.iter().enumerate().filter(|(_, c)| c.name.contains("jwks") || c.name.contains("bundle"))
        {
            let median = percentile(&case.samples, 0.5);
            let mut paired: Vec<f64> = (0..n)
                .map(|r| {
                    let round_target = by_round[h][r] * 2 + reads_by_round[r];
                    by_round[c][r].as_secs_f64() / round_target.as_secs_f64()
                })
                .collect();
            paired.sort_by(f64::total_cmp);
            let paired = paired[n / 2];
            let verdict = if median <= target && paired <= 1.0 { "met" } else { "NOT met" };
            println!(
                "{:<24} {median:>9.2?} against 2 × {} + {allowance} = {target:.2?}: {verdict} ({:.2}× the target; paired by round {paired:.2}×)",
                case.name.trim_start_matches(' '),
                hello.name,
                median.as_secs_f64() / target.as_secs_f64()
            );
        }
    }
    exchange_reads.print();
    let slowest = exchange_reads.slowest_by_round();
    let slowest_median = median_of(&slowest);
    for (h, hello) in cases[..=hello_ct].iter().enumerate() {
        let target = percentile(&hello.samples, 0.5) * 2 + slowest_median;
        for (c, case) in cases.iter().enumerate().filter(|(_, c)| {
            c.name.starts_with("token-exchange exchange") || c.name.starts_with("token-exchange federated")
        }) {
            let median = percentile(&case.samples, 0.5);
            let mut paired: Vec<f64> = (0..n)
                .map(|r| by_round[c][r].as_secs_f64() / (by_round[h][r] * 2 + slowest[r]).as_secs_f64())
                .collect();
            paired.sort_by(f64::total_cmp);
            let paired = paired[n / 2];
            let verdict = if median <= target && paired <= 1.0 { "met" } else { "NOT met" };
            println!(
                "{:<24} {median:>9.2?} against 2 × {} + the slowest read = {target:.2?}: {verdict} ({:.2}× the target; paired by round {paired:.2}×)",
                case.name,
                hello.name,
                median.as_secs_f64() / target.as_secs_f64()
            );
        }
    }
    warm.print();
    println!(
        "warm hello-world CPU (current-thread), {} invocations through the same stand-in: median of rounds {floor:.1?} (the Runtime API's two requests and lambda_http's conversion, nothing else)",
        WARM_FLOOR_N
    );
    Ok(())
}

const WARM_FLOOR_N: usize = 1000;

/// `examples/secret_read_lambda.rs` without a secret to read, and with one.
const SDK_NO_READ: &str = "SDK client, no read";
const SECRET_READ: &str = "secret read";

/// The floor of any function's warm invocation CPU: the hello-world (current-thread) served one
/// event after another through the same stand-in, CPU per invocation (median of five rounds).
async fn warm_floor(binary: &Path, event: &[u8], env: &[(String, String)]) -> anyhow::Result<Duration> {
    let mut runtime = RuntimeApi::idle().await?;
    let mut child = Command::new(binary)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", &runtime.address)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().ok_or_else(|| anyhow::anyhow!("the hello-world exited"))?;
    let mut rounds = Vec::new();
    for round in 0..6 {
        let before = process_cpu(pid)?;
        for _ in 0..WARM_FLOOR_N / 5 {
            tokio::time::timeout(Duration::from_secs(20), runtime.invoke(event.to_vec())).await??;
        }
        if round > 0 {
            rounds.push((process_cpu(pid)? - before) / (WARM_FLOOR_N / 5) as u32);
        }
    }
    child.kill().await?;
    rounds.sort();
    Ok(percentile(&rounds, 0.5))
}

/// CPU time a thread has run, from the scheduler's own count (ns).
fn schedstat_cpu(path: &Path) -> Duration {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    Duration::from_nanos(text.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0))
}

/// CPU time all threads of process `pid` have run.
fn process_cpu(pid: u32) -> anyhow::Result<Duration> {
    let mut total = Duration::ZERO;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        total += schedstat_cpu(&task?.path().join("schedstat"));
    }
    Ok(total)
}

/// Minor page faults of a process or thread so far, from its `stat` file (its tenth field).
fn minor_faults(stat: &Path) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(stat)?;
    // The command name (second field) may hold spaces: count from after its closing parenthesis.
    let after = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let field = after.split_whitespace().nth(7);
    field.and_then(|n| n.parse().ok()).ok_or_else(|| anyhow::anyhow!("no minor-fault count in {}", stat.display()))
}

/// Per round, CPU per warm exchange of the function process and of the same exchange in-process.
struct Warm {
    per_round: usize,
    function: Vec<Duration>,
    in_process: Vec<Duration>,
    handler: Vec<Duration>,
    /// Minor page faults per round: the function process's, and the in-process thread's.
    function_faults: Vec<u64>,
    in_process_faults: Vec<u64>,
}

impl Warm {
    fn print(self) {
        let median = |v: &[Duration]| {
            let mut v = v.to_vec();
            v.sort();
            percentile(&v, 0.5)
        };
        let (f, i, h) = (median(&self.function), median(&self.in_process), median(&self.handler));
        // Each round's function figure against the in-process figure of the same round: the
        // machine's drift between rounds cancels out.
        let mut ratios: Vec<f64> =
            self.function.iter().zip(&self.in_process).map(|(f, i)| f.as_secs_f64() / i.as_secs_f64()).collect();
        ratios.sort_by(f64::total_cmp);
        println!(
            "warm exchange CPU per invocation, {} rounds of {} each, alternating (medians of the rounds):",
            self.function.len(),
            self.per_round
        );
        println!("  through the Runtime API stand-in (the function process, all threads) {f:>9.1?}");
        println!("  in-process, token_exchange::handle on the event lambda_http parsed     {h:>9.1?}");
        println!("  in-process, service::tokens::exchange (one thread, same store)        {i:>9.1?}");
        println!(
            "  stand-in ÷ in-process exchange: {:.2} (median of the rounds' ratios; {:.2}–{:.2}); ratio of medians {:.2}",
            ratios[ratios.len() / 2],
            ratios[0],
            ratios[ratios.len() - 1],
            f.as_secs_f64() / i.as_secs_f64()
        );
        println!(
            "  minor page faults per round of {}: function process {:?}, in-process exchange thread {:?}",
            self.per_round, self.function_faults, self.in_process_faults
        );
    }
}

/// The warm invocation CPU of the exchange, which is what Lambda bills: one function process
/// serving exchanges one after another through the Runtime API stand-in, its CPU time (every
/// thread, from /proc) per invocation; side by side, in rounds, the same exchange called in this
/// process on a current-thread runtime against the same emulator (the thread's CPU time).
async fn warm_invocations(
    binary: &Path,
    event: &[u8],
    env: &[(String, String)],
    stack: &BenchStack,
) -> anyhow::Result<Warm> {
    let rounds: usize = std::env::var("BENCH_WARM_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let per_round: usize = std::env::var("BENCH_WARM_N").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let mut runtime = RuntimeApi::idle().await?;
    // `K=V;K2=V2` (`;`, not `,`: RUST_LOG's directives are separated by commas).
    let extra = std::env::var("BENCH_WARM_ENV").unwrap_or_default();
    let extra: Vec<(String, String)> = extra
        .split(';')
        .filter(|kv| !kv.trim().is_empty())
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .ok_or_else(|| anyhow::anyhow!("BENCH_WARM_ENV: {kv:?} is not NAME=value"))
        })
        .collect::<anyhow::Result<_>>()?;
    if !extra.is_empty() {
        println!("warm function's environment adds (BENCH_WARM_ENV; the in-process side is unchanged): {extra:?}");
    }
    let mut child = Command::new(binary)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .envs(extra)
        .env("AWS_LAMBDA_RUNTIME_API", &runtime.address)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().ok_or_else(|| anyhow::anyhow!("the function exited"))?;
    let invoke = async |runtime: &mut RuntimeApi| -> anyhow::Result<()> {
        let outcome = tokio::time::timeout(Duration::from_secs(20), runtime.invoke(event.to_vec())).await??;
        let response: serde_json::Value = serde_json::from_slice(&outcome.body)?;
        anyhow::ensure!(response["statusCode"] == 200, "the exchange answered {response}");
        Ok(())
    };

    // The in-process side: its own App and clients, on a current-thread runtime of its own thread.
    let (config, api_key) = (stack.config.clone(), stack.org.api_key.clone());
    let function_env = env.to_vec();
    let event_text = String::from_utf8(event.to_vec())?;
    let (go, ready) =
        (std::sync::mpsc::channel::<(usize, bool)>(), std::sync::mpsc::channel::<anyhow::Result<(Duration, u64)>>());
    let (go_tx, go_rx) = go;
    let (done_tx, done_rx) = ready;
    let worker = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        // The SDK configured as the function configures it, from the same environment
        // (`store::sdk::lambda_config`: timeouts, retries, the one HTTPS client), but for where the
        // credentials come from: the function reads them from its environment, this process is
        // given the same ones; the SDK's identity cache holds them either way.
        let var = |name: &str| function_env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let Some(sdk) = shared::store::sdk::lambda_config(&var) else {
            return done_tx.send(Err(anyhow::anyhow!("not a Lambda environment"))).unwrap_or(());
        };
        let credentials = aws_sdk_dynamodb::config::Credentials::new(
            var("AWS_ACCESS_KEY_ID").unwrap_or_default(),
            var("AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
            var("AWS_SESSION_TOKEN"),
            None,
            "the function's environment",
        );
        let sdk = sdk.into_builder().credentials_provider(SharedCredentialsProvider::new(credentials)).build();
        let app = rt.block_on(async {
            let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
            let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
            shared::App::new(config, dynamo, &secrets).await
        });
        let app = match app {
            Ok(app) => app,
            Err(err) => return done_tx.send(Err(err)).unwrap_or(()),
        };
        let key = shared::auth::ApiKey::parse(&api_key).expect("the bootstrap key");
        let ctx = shared::auth::RequestCtx {
            route_key: "POST /iam/auth/token".into(),
            request_id: "warm".into(),
            source_ip: Some("198.51.100.7".into()),
        };
        let here = Path::new("/proc/thread-self/schedstat");
        while let Ok((n, handler)) = go_rx.recv() {
            let result = rt.block_on(async {
                let before = schedstat_cpu(here);
                let faults_before = minor_faults(Path::new("/proc/thread-self/stat")).expect("the thread's faults");
                for _ in 0..n {
                    if handler {
                        let req = lambda_http::request::from_str(&event_text).expect("the event");
                        let res = token_exchange::handle(&app, req).await;
                        assert_eq!(res.status(), 200);
                    } else {
                        shared::service::tokens::exchange(&app, &key, &ctx).await?;
                    }
                }
                let faults =
                    minor_faults(Path::new("/proc/thread-self/stat")).expect("the thread's faults") - faults_before;
                Ok::<_, shared::ApiError>((schedstat_cpu(here) - before, faults))
            });
            let _ = done_tx.send(result.map_err(|e| anyhow::anyhow!("in-process exchange: {e:?}")));
        }
    });
    let in_process_round = async |n: usize| -> anyhow::Result<(Duration, u64)> {
        go_tx.send((n, false))?;
        tokio::task::block_in_place(|| done_rx.recv())?
    };
    let handler_round = async |n: usize| -> anyhow::Result<(Duration, u64)> {
        go_tx.send((n, true))?;
        tokio::task::block_in_place(|| done_rx.recv())?
    };

    // Warm both: caches filled, the key verified once, connections open.
    for _ in 0..50 {
        invoke(&mut runtime).await?;
    }
    in_process_round(50).await?;
    handler_round(50).await?;
    let mut warm = Warm {
        per_round,
        function: Vec::new(),
        in_process: Vec::new(),
        handler: Vec::new(),
        function_faults: Vec::new(),
        in_process_faults: Vec::new(),
    };
    let function_stat = PathBuf::from(format!("/proc/{pid}/stat"));
    let threads = || std::fs::read_dir(format!("/proc/{pid}/task")).map(|d| d.count());
    for _ in 0..rounds {
        let (before, threads_before, faults_before) = (process_cpu(pid)?, threads()?, minor_faults(&function_stat)?);
        for _ in 0..per_round {
            invoke(&mut runtime).await?;
        }
        // A thread that ended within the round would take its CPU time with it: say so.
        if threads()? != threads_before {
            println!("warm exchange: the function's thread count changed within a round; its CPU figure may miss some");
        }
        warm.function.push((process_cpu(pid)? - before) / per_round as u32);
        warm.function_faults.push(minor_faults(&function_stat)? - faults_before);
        let (cpu, faults) = in_process_round(per_round).await?;
        warm.in_process.push(cpu / per_round as u32);
        warm.in_process_faults.push(faults);
        warm.handler.push(handler_round(per_round).await?.0 / per_round as u32);
    }
    drop(go_tx);
    let _ = worker.join();
    child.kill().await?;
    Ok(warm)
}

/// A trust of the bootstrap principal for the workload issuer's tokens of `audience` with the
/// example GitHub subject (made by the principal itself, which holds what it grants), and a token
/// that it accepts, valid for an hour: longer than the bench runs.
async fn workload_trust(
    stack: &BenchStack,
    key: &local_stack::idp::DevIdp,
    issuer: &str,
    audience: &str,
) -> anyhow::Result<String> {
    let claims = local_stack::workload::claims(
        local_stack::workload::Kind::Github,
        issuer,
        audience,
        None,
        stack.app.clock.now().unix(),
        3600,
        &serde_json::Map::new(),
    );
    let caller = shared::auth::Caller {
        principal_id: stack.org.principal_id.clone(),
        principal_type: shared::domain::PrincipalType::ApiKey,
        org_id: stack.org.org_id.clone(),
        key_id: None,
        scope: None,
        rate: None,
    };
    let input = serde_json::from_value(serde_json::json!({
        "name": "cold start bench",
        "issuer": issuer,
        "audiences": [audience],
        "conditions": [{"claim": "sub", "equals": claims["sub"]}],
        "principalId": stack.org.principal_id.to_string(),
    }))?;
    shared::service::trusts::create(&stack.app, &caller, input, "cold-start-bench")
        .await
        .map_err(|e| anyhow::anyhow!("create the trust: {e:?}"))?;
    key.sign(jsonwebtoken::Algorithm::ES256, &claims)
}

/// Every AWS read a cold exchange makes, timed one after another from this process's warm client,
/// round by round: (name, time) in a fixed order.
#[derive(Default)]
struct Reads {
    rounds: Vec<Vec<(&'static str, Duration)>>,
}

impl Reads {
    async fn time(
        &self,
        stack: &BenchStack,
        issuer: &str,
        audience: &str,
    ) -> anyhow::Result<Vec<(&'static str, Duration)>> {
        let (store, secrets, config, org) = (&stack.app.store, &stack.app.secrets, &stack.config, &stack.org);
        let key = shared::auth::ApiKey::parse(&org.api_key).map_err(|e| anyhow::anyhow!("the bootstrap key: {e:?}"))?;
        let audiences = [audience.to_string()];
        let mut timed = Vec::new();
        macro_rules! time {
            ($name:expr, $read:expr) => {{
                let started = Instant::now();
                $read.await.map_err(|e| anyhow::anyhow!("{}: {e:?}", $name))?;
                timed.push(($name, started.elapsed()));
            }};
        }
        time!("credential GetItem", store.get_credential(key.key_id()));
        time!(
            "credential and principal BatchGetItem",
            store.get_credential_and_principal(key.key_id(), &org.org_id, &org.principal_id)
        );
        time!("principal GetItem", store.get_principal(&org.org_id, &org.principal_id));
        time!("org GetItem", store.get_org(&org.org_id));
        time!("principal and org BatchGetItem", store.get_principal_and_org(&org.org_id, &org.principal_id));
        time!("trusts BatchGetItem", store.find_trusts(issuer, &audiences));
        time!("pepper GetSecretValue", secrets.read(&config.pepper_secret_id, Some("AWSCURRENT")));
        time!(
            "signing keys GetSecretValue",
            secrets.read(config.signing_keys_secret_id.as_deref().unwrap_or_default(), Some("AWSCURRENT"))
        );
        Ok(timed)
    }

    fn slowest_by_round(&self) -> Vec<Duration> {
        self.rounds.iter().map(|r| r.iter().map(|(_, d)| *d).max().unwrap_or_default()).collect()
    }

    fn print(&self) {
        let Some(first) = self.rounds.first() else { return };
        for (i, (name, _)) in first.iter().enumerate() {
            let times: Vec<Duration> = self.rounds.iter().map(|r| r[i].1).collect();
            println!("read: {name:<40} median {:>9.2?}", median_of(&times));
        }
        println!("read: the slowest of each round             median {:>9.2?}", median_of(&self.slowest_by_round()));
    }
}

fn median_of(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    percentile(&v, 0.5)
}
