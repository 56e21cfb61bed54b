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
//! - `hello-world`: the baseline binary, any event.
//! - `token-exchange jwks`: `GET /iam/.well-known/jwks.json`; the function's whole initialisation
//!   (SDK configuration, pepper and signing keys read from Secrets Manager) and a response that needs
//!   no further I/O.
//! - `  ... CA bundle file only`: the same with `SSL_CERT_FILE` naming the CA bundle, as Lambda's
//!   image has it (Debian also has a directory of ~150 certificate links that is read otherwise).
//! - `token-exchange exchange`: `POST /iam/auth/token` with a real key: initialisation, then the
//!   credential GetItem, the argon2id verification, the org's settings and a signed token.
//!
//! Run: `make bench` (it builds the release binaries first), or after
//! `cargo build --release -p token-exchange -p local-stack --bin token-exchange --example hello_lambda`:
//! `cargo bench -p local-stack --bench cold_start`. Samples per case from BENCH_COLD_N (20).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

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
        "{} is missing: build it with `cargo build --release -p token-exchange -p local-stack --bin token-exchange --example hello_lambda` (make bench does)",
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
    let function = release_binary(&target, "token-exchange")?;

    let stack = BenchStack::start("iam-cold", "https://iam.example.test/iam").await?;
    let (config, template, org) = (&stack.config, &stack.template, &stack.org);

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
    let mut function_env = lambda_env("token-exchange");
    function_env.extend([
        ("AWS_ENDPOINT_URL".to_string(), stack.moto.url.clone()),
        ("TABLE_NAME".into(), config.table_name.clone()),
        ("PEPPER_SECRET_ID".into(), config.pepper_secret_id.clone()),
        ("SIGNING_KEYS_SECRET_ID".into(), config.signing_keys_secret_id.clone()),
        ("TOKEN_ISSUER".into(), config.token_issuer.clone()),
        ("TOKEN_AUDIENCE".into(), config.token_audience.clone()),
        ("RUST_LOG".into(), "info".into()),
    ]);

    // Lambda's AL2023 image keeps its CA certificates in one bundle file; Debian adds a directory of
    // ~150 hashed links, which rustls-native-certs also reads unless SSL_CERT_FILE names the bundle.
    let bundle = "/etc/ssl/certs/ca-certificates.crt";
    let mut bundle_env = function_env.clone();
    if Path::new(bundle).is_file() {
        bundle_env.push(("SSL_CERT_FILE".into(), bundle.into()));
    }

    let jwks = event(template, "GET", "/iam/.well-known/jwks.json", &[], "");
    let body = serde_json::json!({ "apiKey": org.api_key }).to_string();
    let exchange = event(template, "POST", "/iam/auth/token", &[("content-type", "application/json")], &body);
    let mut cases = [
        Case { name: "hello-world", binary: hello, event: jwks.clone(), samples: Vec::new() },
        Case { name: "token-exchange jwks", binary: function.clone(), event: jwks.clone(), samples: Vec::new() },
        Case { name: "  ... CA bundle file only", binary: function.clone(), event: jwks, samples: Vec::new() },
        Case { name: "token-exchange exchange", binary: function, event: exchange, samples: Vec::new() },
    ];
    // One untimed round first: the page cache holds the binaries, moto has served each request once.
    for round in 0..=n {
        for case in &mut cases {
            let env = match case.name {
                "hello-world" => &hello_env,
                "  ... CA bundle file only" => &bundle_env,
                _ => &function_env,
            };
            let elapsed = cold_start(&case.binary, &case.event, env).await?;
            if round > 0 {
                case.samples.push(elapsed);
            }
        }
    }
    stack.stop().await;

    println!("cold start, process spawn → first response; N = {n} per case, alternating, after 1 warm-up round");
    let baseline = {
        cases[0].samples.sort();
        percentile(&cases[0].samples, 0.5)
    };
    for case in &mut cases {
        case.samples.sort();
        let median = percentile(&case.samples, 0.5);
        println!(
            "{:<24} median {:>9.2?}  p90 {:>9.2?}  ÷ hello-world {:.2}",
            case.name,
            median,
            percentile(&case.samples, 0.9),
            median.as_secs_f64() / baseline.as_secs_f64()
        );
    }
    Ok(())
}
