//! The process-level test: start the local stack as `make dev` does, run the README quickstart
//! verbatim against it, bootstrap a second org with iam-admin, then stop the stack with SIGTERM.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a step may take before the test calls it hung: generous, for a loaded machine.
const HANG_GUARD: Duration = Duration::from_secs(300);

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn quickstart() -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let block = readme.split("<!-- quickstart:start -->").nth(1).expect("quickstart start marker");
    let block = block.split("<!-- quickstart:end -->").next().expect("quickstart end marker");
    block.trim().trim_start_matches("```bash").trim_end_matches("```").to_string()
}

#[test]
fn the_readme_quickstart_runs_verbatim_against_the_local_stack() {
    let python = repo().join(".venv/bin/python");
    assert!(python.exists(), "run `make venv` first (make test does)");
    let work = std::env::temp_dir().join(format!("iam-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = std::fs::File::create(work.join("stack.log")).unwrap();
    let mut stack = Command::new(env!("CARGO_BIN_EXE_local-stack"))
        .current_dir(&work)
        .env("IAM_LOCAL_PORT", port.to_string())
        .arg("--python")
        .arg(&python)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start the local stack");

    // The stack listens before it writes bootstrap.json, so once the file is whole it serves.
    // (HANG_GUARD only stops a hung run: it is no measure of speed.)
    let bootstrap = work.join(".local/bootstrap.json");
    let started = Instant::now();
    let written: serde_json::Value = loop {
        if let Some(whole) = std::fs::read_to_string(&bootstrap).ok().and_then(|t| serde_json::from_str(&t).ok()) {
            break whole;
        }
        assert!(
            stack.try_wait().unwrap().is_none(),
            "the stack exited: {}",
            std::fs::read_to_string(work.join("stack.log")).unwrap()
        );
        assert!(started.elapsed() < HANG_GUARD, "the stack has not bootstrapped: hung?");
        std::thread::sleep(Duration::from_millis(100));
    };
    for field in ["apiBaseUrl", "orgId", "principalId", "apiKey", "emulatorUrl", "tableName", "userToken"] {
        assert!(written[field].is_string(), "bootstrap.json lacks {field}: {written}");
    }

    let run = Command::new("bash")
        .arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(quickstart())
        .current_dir(&work)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "the quickstart failed:\n{out}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(out.contains("\"displayName\":\"billing-sync\""), "{out}");
    assert!(out.contains("\"status\":\"Suspended\""), "{out}");
    assert!(out.contains("\"code\":\"principal_suspended\""), "{out}");
    assert!(out.contains("\"status\":\"Revoked\""), "{out}");
    assert!(out.contains("\"token_type\":\"Bearer\""), "the OAuth exchange: {out}");
    assert!(out.contains("\"decision\":\"Deny\",\"code\":\"permission_denied\""), "the explainer: {out}");
    assert!(out.contains("\"code\":\"escalation_denied\""), "iam-admin grants only what it holds: {out}");
    assert!(out.contains("\"kty\":\"OKP\""), "the JWKS: {out}");
    assert!(out.contains("\"subject\":\"demo-owner\""), "the members: {out}");
    assert!(out.contains("\"principalType\":\"ApiKey\""), "the demo tenant API behind the authorizer: {out}");
    assert!(out.contains("\"infuseIotOrganisationId\":\"infuse-demo-org-0001\""), "the developer page: {out}");
    assert_eq!(
        out.matches("\"displayName\":\"billing-sync\"").count(),
        3,
        "read with the new key and the bearer token: {out}"
    );

    let admin = Command::new(env!("CARGO_BIN_EXE_iam-admin"))
        .current_dir(&work)
        .args(["bootstrap", "--name", "acme"])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(admin.status.success());
    let acme: serde_json::Value = serde_json::from_slice(&admin.stdout).unwrap();
    assert_ne!(acme["orgId"], written["orgId"]);
    let curl = |key: &str, org: &str| {
        let out = Command::new("curl")
            .args([
                "-sS",
                &format!("http://127.0.0.1:{port}/iam/orgs/{org}/api-keys"),
                "-H",
                &format!("Authorization: ApiKey {key}"),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let token = Command::new(env!("CARGO_BIN_EXE_iam-admin"))
        .current_dir(&work)
        .args(["user-token", "--org", written["orgId"].as_str().unwrap(), "--subject", "demo-owner"])
        .output()
        .unwrap();
    assert!(token.status.success(), "make user-token's command: {}", String::from_utf8_lossy(&token.stderr));
    assert_eq!(String::from_utf8_lossy(&token.stdout).trim().split('.').count(), 3, "a JWT");
    let acme_direct = curl(acme["apiKey"].as_str().unwrap(), acme["orgId"].as_str().unwrap());
    assert!(
        acme_direct.contains("direct_api_key_auth_disabled"),
        "a new org has direct ApiKey auth off: {acme_direct}"
    );

    // A standard OAuth 2.0 client library, unchanged, fetches a token and calls the API with it.
    let oauth = Command::new(&python)
        .current_dir(&work)
        .env("OAUTHLIB_INSECURE_TRANSPORT", "1")
        .args([
            "-c",
            OAUTH_CLIENT,
            &format!("http://127.0.0.1:{port}"),
            written["orgId"].as_str().unwrap(),
            written["apiKey"].as_str().unwrap(),
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&oauth.stdout);
    assert!(oauth.status.success(), "{said}{}", String::from_utf8_lossy(&oauth.stderr));
    assert!(said.contains("token_type=Bearer status=200"), "{said}");

    // A leak report signed by the development scanner (scripts/leak-report, Python's cryptography)
    // revokes acme's key, and its credential.leaked event reaches .local/events.jsonl.
    let leak = Command::new(&python)
        .current_dir(&work)
        .arg(repo().join("scripts/leak-report"))
        .arg(acme["apiKey"].as_str().unwrap())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&leak.stdout);
    assert!(leak.status.success(), "{said}{}", String::from_utf8_lossy(&leak.stderr));
    assert!(said.contains("\"label\": \"true_positive\""), "{said}");
    let events = work.join(".local/events.jsonl");
    let started = Instant::now();
    while !std::fs::read_to_string(&events).unwrap_or_default().contains("\"detail-type\":\"credential.leaked\"") {
        assert!(started.elapsed() < HANG_GUARD, "no credential.leaked in .local/events.jsonl: hung?");
        std::thread::sleep(Duration::from_millis(100));
    }

    terminate(stack.id());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = stack.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < HANG_GUARD, "the stack did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());
    let emulator = written["emulatorUrl"].as_str().unwrap().trim_start_matches("http://").to_string();
    let stopping = Instant::now();
    while std::net::TcpStream::connect(&emulator).is_ok() {
        assert!(stopping.elapsed() < HANG_GUARD, "the emulator the stack started is still up");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::fs::remove_dir_all(&work);
}

/// requests-oauthlib's backend-application flow, as its documentation shows it (client secret as
/// HTTP Basic), then the token used through the same session.
const OAUTH_CLIENT: &str = r#"
import sys
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session
base, org, key = sys.argv[1], sys.argv[2], sys.argv[3]
client_id, client_secret = key.split(".", 1)
session = OAuth2Session(client=BackendApplicationClient(client_id=client_id))
token = session.fetch_token(token_url=base + "/iam/auth/token", client_id=client_id, client_secret=client_secret)
response = session.get(base + "/iam/orgs/" + org + "/api-keys")
print("token_type=" + token["token_type"] + " status=" + str(response.status_code))
"#;

fn terminate(pid: u32) {
    Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("kill");
}
