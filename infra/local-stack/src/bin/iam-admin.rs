//! `iam-admin`: operator commands against a table (by default the running local stack's).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use local_stack::admin::{self, emulator_sdk_config};
use local_stack::template::{self, Template};
use serde_json::{Value, json};
use shared::{App, Config};

#[derive(Parser)]
#[command(about = "Operator commands for the IAM service")]
struct Args {
    /// The local stack's state file; its emulator and table are used unless overridden.
    #[arg(long, default_value = ".local/stack.json")]
    stack: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an organisation (default settings: direct ApiKey auth off) with an administrating
    /// API-key principal, and print its bootstrap JSON.
    Bootstrap {
        #[arg(long)]
        name: String,
        /// Allow `Authorization: ApiKey` on this org's routes.
        #[arg(long)]
        direct_api_key_auth: bool,
    },
    /// Write a fresh Ed25519 signing key set into an existing secret (a deployed stack's
    /// SigningKeysSecret, once, before first use).
    SeedSigningKeys {
        /// The signing-keys secret (`SigningKeysSecretArn`).
        #[arg(long)]
        secret_id: String,
        /// The secret that receives their public half (`VerificationKeysSecretArn`).
        #[arg(long)]
        verification_secret_id: String,
    },
    /// Publish the public half of the signing keys already in `secret_id` (no new key): a stack
    /// that predates the verification-keys secret, once, before its functions are updated.
    PublishVerificationKeys {
        /// The signing-keys secret (`SigningKeysSecretArn`).
        #[arg(long)]
        secret_id: String,
        /// The secret that receives their public half (`VerificationKeysSecretArn`).
        #[arg(long)]
        verification_secret_id: String,
    },
    /// Make the subject of the org's identity provider a member of the org with a role (the first
    /// `owner` of a deployed org: an API-key principal cannot grant what it does not hold).
    AddMember {
        #[arg(long)]
        org: String,
        /// The `sub` the org's identity provider gives the person.
        #[arg(long)]
        subject: String,
        /// A built-in role: owner, iam-admin, iam-viewer.
        #[arg(long, default_value = "owner")]
        role: String,
    },
    /// Print a member token of the local development identity provider (make user-token).
    UserToken {
        /// The org the subject should be a member of (checked, for a helpful hint).
        #[arg(long)]
        org: String,
        #[arg(long)]
        subject: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
    /// Print a workload token of the local development workload issuer (make workload-token),
    /// shaped like GitHub Actions' (or a Kubernetes service account's) OIDC token.
    WorkloadToken {
        /// Its `aud`.
        #[arg(long)]
        aud: String,
        /// Its `sub` (else the kind's example: repo:acme/app:ref:refs/heads/main).
        #[arg(long)]
        sub: Option<String>,
        /// A JSON object of claims to set (null removes one).
        #[arg(long)]
        claims: Option<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = local_stack::workload::DEFAULT_TTL_SECONDS)]
        ttl: i64,
        #[arg(long, value_enum, default_value = "github")]
        kind: local_stack::workload::Kind,
    },
    /// Link an org to an Infuse IoT organisation (what /admin/developer shows its members).
    LinkInfuseIot {
        #[arg(long)]
        org: String,
        #[arg(long)]
        infuse_org_id: String,
        #[arg(long)]
        api_key: String,
    },
    /// Create a table exactly as the template defines it.
    CreateTable {
        #[arg(long)]
        table: String,
        #[arg(long, default_value_os_t = template::default_path())]
        template: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let stack: Value =
        std::fs::read_to_string(&args.stack).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null);
    let field = |name: &str| stack.get(name).and_then(Value::as_str).map(String::from);
    let sdk = match field("emulatorUrl") {
        Some(url) => emulator_sdk_config(&url).await,
        None => aws_config::load_from_env().await,
    };
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    match args.command {
        Command::UserToken { org, subject, ttl } => {
            let issuer = field("oidcIssuer").context("no running local stack (.local/stack.json): start make dev")?;
            let state = args.stack.parent().unwrap_or(std::path::Path::new("."));
            let idp = local_stack::idp::DevIdp::load(&state.join("idp.json"))?;
            let config = local_config(&field)?;
            let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
            let app = App::new(config, dynamo, &secrets).await?;
            let member = match shared::domain::OrgId::parse(&org) {
                Ok(org_id) => app.store.get_member_id(&org_id, &subject).await?,
                Err(_) => None,
            };
            if member.is_none() {
                eprintln!("note: {subject} is not a member of {org}; add it with POST /iam/orgs/{org}/members");
            }
            println!(
                "{}",
                idp.token(&issuer, local_stack::idp::AUDIENCE, &subject, shared::domain::Timestamp::now().unix(), ttl)?
            );
        }
        Command::WorkloadToken { aud, sub, claims, ttl, kind } => {
            let issuer =
                field("workloadIssuer").context("no running local stack (.local/stack.json): start make dev")?;
            let state = args.stack.parent().unwrap_or(std::path::Path::new("."));
            let key = local_stack::idp::DevIdp::load(&state.join(local_stack::workload::KEY_FILE))?;
            let overrides = match claims.as_deref() {
                None => serde_json::Map::new(),
                Some(text) => match serde_json::from_str(text) {
                    Ok(Value::Object(map)) => map,
                    _ => anyhow::bail!("--claims must be a JSON object, such as '{{\"ref\": \"refs/heads/dev\"}}'"),
                },
            };
            let now = shared::domain::Timestamp::now().unix();
            let claims = local_stack::workload::claims(kind, &issuer, &aud, sub.as_deref(), now, ttl, &overrides);
            println!("{}", key.sign(jsonwebtoken::Algorithm::ES256, &claims)?);
        }
        Command::LinkInfuseIot { org, infuse_org_id, api_key } => {
            let config = match local_config(&field) {
                Ok(config) => config,
                Err(_) => Config::from_env()?,
            };
            let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
            admin::link_infuse_iot(&secrets, &config, &org, &infuse_org_id, &api_key).await?;
            println!("linked {org} to Infuse IoT organisation {infuse_org_id}");
        }
        Command::SeedSigningKeys { secret_id, verification_secret_id } => {
            let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
            admin::write_signing_keys(&secrets, &secret_id, &verification_secret_id).await?;
            println!("wrote a new signing key set to {secret_id} and its public half to {verification_secret_id}");
        }
        Command::PublishVerificationKeys { secret_id, verification_secret_id } => {
            let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
            admin::publish_verification_keys(&secrets, &secret_id, &verification_secret_id).await?;
            println!("published the public half of {secret_id} to {verification_secret_id}");
        }
        Command::AddMember { org, subject, role } => {
            let config = match local_config(&field) {
                Ok(config) => config,
                Err(_) => Config::from_env()
                    .context("no running local stack (.local/stack.json); set the service's environment")?,
            };
            let org = shared::domain::OrgId::parse(&org).map_err(|e| anyhow::anyhow!("--org: {e}"))?;
            let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
            let app = App::new(config, dynamo, &secrets).await?;
            let member = admin::add_member(&app, &org, &subject, &role).await?;
            println!("{subject} is member {member} of {org}, with role {role}");
        }
        Command::CreateTable { table, template } => {
            admin::create_table(&dynamo, &table, &Template::load(&template)?).await?;
            println!("created table {table}");
        }
        Command::Bootstrap { name, direct_api_key_auth } => {
            let config = match local_config(&field) {
                Ok(config) => config,
                Err(_) => Config::from_env()
                    .context("no running local stack (.local/stack.json); set the service's environment")?,
            };
            let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
            let app = App::new(config.clone(), dynamo, &secrets).await?;
            let made = admin::bootstrap(&app, &name, direct_api_key_auth).await?;
            let out = json!({
                "apiBaseUrl": field("apiBaseUrl"), "orgId": made.org_id, "principalId": made.principal_id,
                "apiKey": made.api_key, "emulatorUrl": field("emulatorUrl"), "tableName": config.table_name,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
    }
    Ok(())
}

/// The running local stack's configuration, from its stack.json.
fn local_config(field: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Config> {
    match (field("tableName"), field("secretPrefix"), field("tokenIssuer")) {
        (Some(table), Some(prefix), Some(issuer)) => Ok(Config::new(table, &prefix, issuer)),
        _ => anyhow::bail!("no running local stack (.local/stack.json)"),
    }
}
