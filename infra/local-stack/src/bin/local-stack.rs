//! `make dev`: starts moto, creates the table from the template, seeds the pepper, bootstraps a demo
//! organisation, writes `.local/bootstrap.json` (and the development scanner's key,
//! `.local/secret-scanning.json`), and serves every template route on 127.0.0.1 until Ctrl-C, then
//! stops what it started. Lifecycle events go to `.local/events.jsonl`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use local_stack::admin::{self, emulator_sdk_config};
use local_stack::console::ConsoleSite;
use local_stack::idp::{self, DevIdp, LocalIdp};
use local_stack::moto::Moto;
use local_stack::scanner::{self, DevScanner};
use local_stack::server;
use local_stack::template::{self, Template};
use local_stack::workload::{self, LocalWorkloadIssuer};
use serde_json::json;
use shared::auth::oidc::OidcProvider;
use shared::service::sweep::InvocationDeadline;
use shared::store::EventSink;
use shared::{App, Config};

/// The demo org's member, holding `owner`, whose token bootstrap.json carries.
const DEMO_OWNER: &str = "demo-owner";

#[derive(Parser)]
#[command(about = "Serve the IAM service locally on the moto emulator")]
struct Args {
    /// Port to serve on.
    #[arg(long, env = "IAM_LOCAL_PORT", default_value_t = 3000)]
    port: u16,
    /// The Python that has moto (make dev installs it in .venv).
    #[arg(long, default_value = ".venv/bin/python")]
    python: PathBuf,
    /// Where bootstrap.json, stack.json, env and logs go.
    #[arg(long, default_value = ".local")]
    state_dir: PathBuf,
    /// The SAM template whose routes and table to serve.
    #[arg(long, default_value_os_t = template::default_path())]
    template: PathBuf,
    /// The console's built files (make console), served at /console/.
    #[arg(long, env = "IAM_CONSOLE_DIR", default_value = "console/dist")]
    console_dir: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info,aws=warn".into()))
        .init();
    std::fs::create_dir_all(&args.state_dir)?;
    let template = Arc::new(Template::load(&args.template)?);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("port {} is taken; set IAM_LOCAL_PORT", args.port))?;
    let moto = Moto::start(&args.python, &args.state_dir.join("moto.log")).await?;

    let sdk = emulator_sdk_config(&moto.url).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let api = format!("http://127.0.0.1:{}", args.port);
    let mut config = Config::new("iam-local", "iam-local", format!("{api}/iam"));
    // As deployed: the outcomes of calls (usage, recent requests) are written every 10 s.
    config.usage_flush_seconds = Some(Config::USAGE_FLUSH_SECONDS);
    let idp = Arc::new(DevIdp::generate()?);
    idp.save(&args.state_dir.join("idp.json"))?;
    config.oidc = Some(OidcProvider {
        issuer: format!("{api}{}", idp::ISSUER_PATH),
        audience: idp::AUDIENCE.into(),
        jwks_url: format!("{api}{}", idp::JWKS_PATH),
    });
    // Workload tokens: the development workload issuer, the one issuer trusted over http.
    let workload_key = Arc::new(DevIdp::generate()?);
    workload_key.save(&args.state_dir.join(workload::KEY_FILE))?;
    let workload_issuer = LocalWorkloadIssuer::new(workload_key, &api);
    config.local_workload_issuer = Some(workload_issuer.issuer());
    // Leak reports are trusted from the development scanner only (scripts/leak-report signs with it).
    let scanner = Arc::new(DevScanner::generate()?);
    scanner.save(&args.state_dir.join("secret-scanning.json"), &format!("{api}/iam/secret-scanning/reports"))?;
    config.secret_scanning_keys_url = Some(format!("{api}{}", scanner::KEYS_PATH));
    admin::provision(&dynamo, &secrets, &config, &template).await?;
    let app = Arc::new(App::new(config.clone(), dynamo, &secrets).await?);
    let demo = admin::bootstrap(&app, "demo", true).await?;
    admin::add_member(&app, &demo.org_id, DEMO_OWNER, "owner").await?;
    let made_up_key = format!("infuse-demo-admin-{}", ulid::Ulid::new().to_string().to_lowercase());
    admin::link_infuse_iot(&secrets, &config, demo.org_id.as_str(), "infuse-demo-org-0001", &made_up_key).await?;
    let user_token =
        idp.token(&format!("{api}{}", idp::ISSUER_PATH), idp::AUDIENCE, DEMO_OWNER, app.clock.now().unix(), 12 * 3600)?;

    let stack = json!({
        "apiBaseUrl": api, "emulatorUrl": moto.url, "tableName": config.table_name,
        "secretPrefix": "iam-local", "tokenIssuer": config.token_issuer,
        "oidcIssuer": format!("{api}{}", idp::ISSUER_PATH),
        "workloadIssuer": workload_issuer.issuer(),
    });
    write_private(&args.state_dir.join("stack.json"), &serde_json::to_string_pretty(&stack)?)?;
    let bootstrap = json!({
        "apiBaseUrl": api, "orgId": demo.org_id, "principalId": demo.principal_id, "apiKey": demo.api_key,
        "emulatorUrl": moto.url, "tableName": config.table_name, "userToken": user_token,
        "workloadIssuer": workload_issuer.issuer(),
    });
    write_private(&args.state_dir.join("bootstrap.json"), &serde_json::to_string_pretty(&bootstrap)?)?;
    let env = format!(
        "export IAM_URL={api}\nexport IAM_ORG={}\nexport IAM_PRINCIPAL={}\nexport IAM_KEY={}\nexport IAM_USER_TOKEN={}\n",
        demo.org_id, demo.principal_id, demo.api_key, user_token
    );
    write_private(&args.state_dir.join("env"), &env)?;

    let routes: Vec<String> = template.routes.iter().map(|r| format!("  {:<6} {}", r.method, r.path)).collect();
    let console_built = args.console_dir.join("index.html").is_file();
    println!(
        "\nIAM & Access is running at {api} (moto at {moto_url}, table {table}).\n\
         Console: {api}/console/ {console_note}\n\
         Demo org {org}: its administrator's key is in {state}/bootstrap.json.\n\n\
         Try it (README.md has the full quickstart):\n\
         \x20 source {state}/env\n\
         \x20 curl -s \"$IAM_URL/iam/orgs/$IAM_ORG/api-keys\" -H \"Authorization: ApiKey $IAM_KEY\"\n\n\
         Routes:\n{routes}\n\nAnother org: make bootstrap NAME=acme.   Stop: Ctrl-C.\n",
        moto_url = moto.url,
        table = config.table_name,
        org = demo.org_id,
        state = args.state_dir.display(),
        routes = routes.join("\n"),
        console_note = if console_built {
            format!("(sign in as {DEMO_OWNER} at the development identity provider)")
        } else {
            format!("(not built in {}: run make console)", args.console_dir.display())
        },
    );

    // The expiry sweep, on the template's schedule.
    let sweeper = app.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(15 * 60));
        loop {
            every.tick().await;
            let deadline = InvocationDeadline(std::time::SystemTime::now() + std::time::Duration::from_secs(60));
            if let Err(err) = expiry_sweep::handle(&sweeper, &deadline, "local-sweep").await {
                tracing::warn!(error = %err, "expiry sweep failed");
            }
        }
    });
    // Lifecycle events, published from the outbox to .local/events.jsonl (the template's
    // LifecycleEvents function, run more often here so that a person sees them at once).
    let drainer = app.clone();
    let sink = EventSink::File(args.state_dir.join("events.jsonl"));
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            every.tick().await;
            let deadline = InvocationDeadline(std::time::SystemTime::now() + std::time::Duration::from_secs(30));
            if let Err(err) = lifecycle_events::handle(&drainer, &sink, &deadline).await {
                tracing::warn!(error = %err, "lifecycle events not drained");
            }
        }
    });
    let extras = server::LocalExtras {
        idp: Some(Arc::new(LocalIdp::new(idp, &api))),
        console: Some(ConsoleSite::new(&args.console_dir, &api)),
        scanner: Some(scanner),
        workload: Some(Arc::new(workload_issuer)),
    };
    server::serve(listener, app, template, extras, shutdown_signal()).await?;
    moto.stop().await;
    println!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Writes a file only its owner can read: it holds an API key.
fn write_private(path: &std::path::Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}
