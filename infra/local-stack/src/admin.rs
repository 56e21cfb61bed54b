//! Operator actions against a table and its secrets: create the table from the template, seed the
//! pepper, bootstrap an organisation with an administrating API-key principal.

use anyhow::{Context, anyhow};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use serde::Serialize;
use serde_norway::Value;
use shared::App;
use shared::auth::tokens::{StoredKey, StoredKeySet};
use shared::domain::{Actor, OrgId, OrgSettings, PrincipalId};
use shared::service::{assignments, credentials, members, orgs, principals};

use crate::template::Template;

/// SDK settings for an emulator at `endpoint` (dummy credentials; moto accepts any).
pub async fn emulator_sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "local"))
        .load()
        .await
}

fn text<'a>(value: &'a Value, field: &str) -> anyhow::Result<&'a str> {
    value.get(field).and_then(Value::as_str).ok_or_else(|| anyhow!("table definition: {field} missing"))
}

fn key_schema(value: &Value) -> anyhow::Result<Vec<KeySchemaElement>> {
    value
        .get("KeySchema")
        .and_then(Value::as_sequence)
        .ok_or_else(|| anyhow!("table definition: KeySchema missing"))?
        .iter()
        .map(|k| {
            Ok(KeySchemaElement::builder()
                .attribute_name(text(k, "AttributeName")?)
                .key_type(KeyType::from(text(k, "KeyType")?))
                .build()?)
        })
        .collect()
}

/// Everything a stack needs before its App starts: the table (from the template), the pepper and
/// the signing keys with their public half, under `config`'s names.
pub async fn provision(
    dynamo: &aws_sdk_dynamodb::Client,
    secrets: &aws_sdk_secretsmanager::Client,
    config: &shared::Config,
    template: &Template,
) -> anyhow::Result<()> {
    create_table(dynamo, &config.table_name, template).await?;
    seed_pepper(secrets, &config.pepper_secret_id).await?;
    let signing = config.signing_keys_secret_id.as_deref().context("a stack signs: it needs the signing keys")?;
    write_signing_keys(secrets, signing, &config.verification_keys_secret_id).await
}

/// Creates `table_name` exactly as the template's table resource defines it (keys, GSIs, TTL).
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table_name: &str,
    template: &Template,
) -> anyhow::Result<()> {
    let t = &template.table;
    let mut request = client.create_table().table_name(table_name).billing_mode(BillingMode::PayPerRequest);
    for a in t.get("AttributeDefinitions").and_then(Value::as_sequence).into_iter().flatten() {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(text(a, "AttributeName")?)
                .attribute_type(ScalarAttributeType::from(text(a, "AttributeType")?))
                .build()?,
        );
    }
    request = request.set_key_schema(Some(key_schema(t)?));
    for g in t.get("GlobalSecondaryIndexes").and_then(Value::as_sequence).into_iter().flatten() {
        let projection = g.get("Projection").ok_or_else(|| anyhow!("GSI without Projection"))?;
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(text(g, "IndexName")?)
                .set_key_schema(Some(key_schema(g)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(text(projection, "ProjectionType")?))
                        .build(),
                )
                .build()?,
        );
    }
    request.send().await.with_context(|| format!("create table {table_name}"))?;
    if let Some(ttl) = t.get("TimeToLiveSpecification") {
        client
            .update_time_to_live()
            .table_name(table_name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(text(ttl, "AttributeName")?)
                    .enabled(ttl.get("Enabled").and_then(Value::as_bool).unwrap_or(false))
                    .build()?,
            )
            .send()
            .await
            .context("enable TTL")?;
    }
    Ok(())
}

/// 64 random alphanumerics from the OS CSPRNG: the same shape the template's generated secret has.
pub fn random_pepper() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::new();
    let mut buf = [0u8; 128];
    while out.len() < 64 {
        getrandom::fill(&mut buf).expect("OS CSPRNG");
        out.extend(buf.iter().filter(|b| **b < 248).take(64 - out.len()).map(|b| ALPHABET[*b as usize % 62] as char));
    }
    out
}

/// Creates the pepper secret.
pub async fn seed_pepper(secrets: &aws_sdk_secretsmanager::Client, secret_id: &str) -> anyhow::Result<()> {
    secrets
        .create_secret()
        .name(secret_id)
        .secret_string(random_pepper())
        .send()
        .await
        .with_context(|| format!("create secret {secret_id}"))?;
    Ok(())
}

/// Writes one fresh Ed25519 key set into the signing-keys secret, creating it if needed (the local
/// stack, tests, and a deployed stack's first key set before the rotation schedule takes over).
/// A new signing key set in `secret_id`, and its public half in `verification_secret_id` (the
/// public half first: a verifier must know a key before it signs).
pub async fn write_signing_keys(
    secrets: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    verification_secret_id: &str,
) -> anyhow::Result<()> {
    let set = StoredKeySet { current: StoredKey::generate(shared::domain::Timestamp::now())?, previous: None };
    write_secret(secrets, verification_secret_id, &serde_json::to_string(&set.published()?)?).await?;
    write_secret(secrets, secret_id, &serde_json::to_string(&set)?).await
}

/// Writes the public half of the signing keys already in `secret_id` to `verification_secret_id`
/// (no new key: the tokens signed so far keep verifying).
pub async fn publish_verification_keys(
    secrets: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    verification_secret_id: &str,
) -> anyhow::Result<()> {
    let current = secrets
        .get_secret_value()
        .secret_id(secret_id)
        .version_stage("AWSCURRENT")
        .send()
        .await
        .with_context(|| format!("read {secret_id}"))?;
    let set: StoredKeySet = serde_json::from_str(current.secret_string().context("the signing keys are a string")?)?;
    write_secret(secrets, verification_secret_id, &serde_json::to_string(&set.published()?)?).await
}

/// Creates a secret, or puts a new current value into it when it exists.
async fn write_secret(secrets: &aws_sdk_secretsmanager::Client, name: &str, value: &str) -> anyhow::Result<()> {
    if secrets.create_secret().name(name).secret_string(value).send().await.is_err() {
        secrets
            .put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .send()
            .await
            .with_context(|| format!("write secret {name}"))?;
    }
    Ok(())
}

/// Adds `subject` as a member of `org` holding `role`; returns the member's principal id.
pub async fn add_member(app: &App, org: &OrgId, subject: &str, role: &str) -> anyhow::Result<PrincipalId> {
    let actor = Actor::System { name: "bootstrap".into() };
    let request_id = format!("bootstrap-{}", ulid::Ulid::new());
    let input = members::AddMember { subject: subject.into(), email: None, display_name: None };
    let member = members::add(app, &actor, org, input, &request_id).await.map_err(|e| anyhow!("add member: {e}"))?;
    let role = shared::domain::RoleId::parse(role).ok_or_else(|| anyhow!("no role {role}"))?;
    assignments::assign_as_operator(app, &actor, org, &member.id, &role, &request_id)
        .await
        .map_err(|e| anyhow!("assign: {e}"))?;
    Ok(member.id)
}

/// Links `org` to an Infuse IoT organisation: writes the secret the developer page reads.
pub async fn link_infuse_iot(
    secrets: &aws_sdk_secretsmanager::Client,
    config: &shared::Config,
    org: &str,
    infuse_org_id: &str,
    api_key: &str,
) -> anyhow::Result<()> {
    let value = serde_json::json!({"infuseIotOrganisationId": infuse_org_id, "infuseIotAdminApiKey": api_key});
    write_secret(secrets, &config.infuse_iot_secret(org), &value.to_string()).await
}

/// What a bootstrap made; the API key is shown here once (no `Debug`: it would print the key).
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrapped {
    pub org_id: OrgId,
    pub principal_id: PrincipalId,
    pub api_key: String,
}

/// Creates an organisation, an API-key principal holding `iam-admin` to administer it, and a
/// credential for it.
pub async fn bootstrap(app: &App, name: &str, direct_api_key_auth: bool) -> anyhow::Result<Bootstrapped> {
    let actor = Actor::System { name: "bootstrap".into() };
    let request_id = format!("bootstrap-{}", ulid::Ulid::new());
    let settings = OrgSettings { direct_api_key_auth, ..OrgSettings::default() };
    let org = orgs::create(app, &actor, name, settings, &request_id).await.map_err(|e| anyhow!("create org: {e}"))?;
    let principal = principals::create(
        app,
        &actor,
        &org.id,
        principals::CreatePrincipal {
            display_name: format!("{name} administrator"),
            status: None,
            expires_at: None,
            allowed_cidrs: None,
            rate_limit: None,
        },
        &request_id,
    )
    .await
    .map_err(|e| anyhow!("create principal: {e}"))?;
    let iam_admin = shared::domain::RoleId::parse("iam-admin").expect("a built-in");
    assignments::assign_as_operator(app, &actor, &org.id, &principal.id, &iam_admin, &request_id)
        .await
        .map_err(|e| anyhow!("assign iam-admin: {e}"))?;
    let issued = credentials::issue(
        app,
        &actor,
        &org.id,
        &principal.id,
        credentials::IssueCredential { name: "bootstrap".into(), expires_at: None },
        &request_id,
    )
    .await
    .map_err(|e| anyhow!("issue credential: {e}"))?;
    Ok(Bootstrapped { org_id: org.id, principal_id: principal.id, api_key: issued.api_key })
}
