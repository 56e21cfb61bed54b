//! Signing-key rotation on Secrets Manager's rotation protocol (`createSecret`, `setSecret`,
//! `testSecret`, `finishSecret`): a new Ed25519 key becomes current, the old one stays as
//! `previous` (published and verifying) until every token it signed has expired. The public half
//! of the set goes to the verification-keys secret, which every verifying function reads, before
//! the new key can sign.

use anyhow::{Context, bail};
use aws_sdk_secretsmanager::Client;
use shared::auth::tokens::{AccessClaims, KeySet, RETIRED_KEY_LIFETIME_SECONDS, StoredKey, StoredKeySet};
use shared::domain::Timestamp;

/// The event Secrets Manager sends a rotation function.
pub use aws_lambda_events::secretsmanager::SecretsManagerSecretRotationEvent as RotationEvent;

const CURRENT: &str = "AWSCURRENT";
const PENDING: &str = "AWSPENDING";

/// Runs one step. Every step is idempotent: Secrets Manager may call any of them again.
/// `verification_secret_id` is the secret that receives the set's public half.
pub async fn handle(
    secrets: &Client,
    event: &RotationEvent,
    verification_secret_id: &str,
    now: Timestamp,
) -> anyhow::Result<()> {
    let described =
        secrets.describe_secret().secret_id(&event.secret_id).send().await.context("describe the secret")?;
    let stages =
        described.version_ids_to_stages().and_then(|v| v.get(&event.client_request_token)).cloned().unwrap_or_default();
    if stages.iter().any(|s| s == CURRENT) {
        tracing::info!(step = event.step, "the version is already current: nothing to do");
        return Ok(());
    }
    // createSecret makes the pending version (if Secrets Manager has not labelled one yet);
    // every later step needs it.
    if event.step != "createSecret" && !stages.iter().any(|s| s == PENDING) {
        bail!("version {} is not pending rotation", event.client_request_token);
    }
    match event.step.as_str() {
        "createSecret" => create(secrets, event, now).await,
        // The verifiers learn the new key before it signs: its public half is published with the
        // current one's (a verifier re-reads the set on an unknown `kid`). The current key still
        // signs until finishSecret, so it is published as not retired until then.
        "setSecret" => publish(secrets, event, verification_secret_id, None).await,
        "testSecret" => test(secrets, event, now).await,
        "finishSecret" => {
            publish(secrets, event, verification_secret_id, Some(now)).await?;
            finish(secrets, event, described.version_ids_to_stages()).await
        }
        other => bail!("unknown rotation step {other}"),
    }
}

async fn stored(secrets: &Client, id: &str, stage: &str, version: Option<&str>) -> anyhow::Result<Option<String>> {
    let request =
        secrets.get_secret_value().secret_id(id).set_version_stage(version.is_none().then(|| stage.to_string()));
    match request.set_version_id(version.map(String::from)).send().await {
        Ok(out) => Ok(out.secret_string().map(String::from)),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => Ok(None),
        Err(err) => Err(err).context("read the secret"),
    }
}

/// Makes the pending version: a new current key; the current one becomes `previous`, retired now.
/// Refuses while the previous key may still verify a live token: rotating again then would
/// unpublish it.
async fn create(secrets: &Client, event: &RotationEvent, now: Timestamp) -> anyhow::Result<()> {
    if stored(secrets, &event.secret_id, PENDING, Some(&event.client_request_token)).await?.is_some() {
        return Ok(());
    }
    let current =
        stored(secrets, &event.secret_id, CURRENT, None).await?.context("the secret has no current version")?;
    let current: StoredKeySet = serde_json::from_str(&current).context("the current key set")?;
    if let Some(previous) = &current.previous
        && previous.retired_at.is_none_or(|r| r.plus_seconds(RETIRED_KEY_LIFETIME_SECONDS) > now)
    {
        bail!("the previous key {} may still verify live tokens; rotate after it has aged out", previous.kid);
    }
    let mut retired = current.current;
    retired.retired_at = Some(now);
    let next = StoredKeySet { current: StoredKey::generate(now)?, previous: Some(retired) };
    secrets
        .put_secret_value()
        .secret_id(&event.secret_id)
        .client_request_token(&event.client_request_token)
        .secret_string(serde_json::to_string(&next)?)
        .version_stages(PENDING)
        .send()
        .await
        .context("put the pending version")?;
    tracing::info!(kid = next.current.kid, "created the pending signing key");
    Ok(())
}

/// The pending set must sign and verify with its new key, and keep the current key as previous.
async fn test(secrets: &Client, event: &RotationEvent, now: Timestamp) -> anyhow::Result<()> {
    let pending = stored(secrets, &event.secret_id, PENDING, Some(&event.client_request_token))
        .await?
        .context("no pending version")?;
    let current = stored(secrets, &event.secret_id, CURRENT, None).await?.context("no current version")?;
    let (pending_set, current_set): (StoredKeySet, StoredKeySet) =
        (serde_json::from_str(&pending)?, serde_json::from_str(&current)?);
    if pending_set.previous.as_ref().map(|p| &p.kid) != Some(&current_set.current.kid) {
        bail!("the pending set does not keep the current key as previous");
    }
    let keys = KeySet::from_secret(&pending)?;
    let claims = AccessClaims {
        iss: "rotation-test".into(),
        aud: "rotation-test".into(),
        sub: "rotation-test".into(),
        client_id: "rotation-test".into(),
        org_id: "rotation-test".into(),
        principal_type: "ApiKey".into(),
        iat: now.unix(),
        exp: now.unix() + 60,
        jti: "rotation-test".into(),
        scope: None,
        act: None,
        allowed_cidrs: Vec::new(),
    };
    let token = keys.sign(&claims)?;
    keys.verify(&token, "rotation-test", "rotation-test", now).map_err(|e| anyhow::anyhow!("verify: {e}"))?;
    Ok(())
}

/// Writes the pending set's public half (its new key first, the current one as previous, retired
/// at `retired_at`: `None` while it still signs) to the verification-keys secret; idempotent.
async fn publish(
    secrets: &Client,
    event: &RotationEvent,
    verification_secret_id: &str,
    retired_at: Option<Timestamp>,
) -> anyhow::Result<()> {
    let pending = stored(secrets, &event.secret_id, PENDING, Some(&event.client_request_token))
        .await?
        .context("no pending version")?;
    let mut published = serde_json::from_str::<StoredKeySet>(&pending).context("the pending key set")?.published()?;
    if let Some(previous) = published.keys.get_mut(1) {
        // Counted from when it stops signing, not from when the rotation began, whichever is later.
        previous.retired_at = retired_at.map(|at| previous.retired_at.map_or(at, |created| created.max(at)));
    }
    secrets
        .put_secret_value()
        .secret_id(verification_secret_id)
        .secret_string(serde_json::to_string(&published)?)
        .send()
        .await
        .context("publish the verification keys")?;
    Ok(())
}

/// Moves AWSCURRENT to the pending version (Secrets Manager then labels the old one AWSPREVIOUS).
async fn finish(
    secrets: &Client,
    event: &RotationEvent,
    versions: Option<&std::collections::HashMap<String, Vec<String>>>,
) -> anyhow::Result<()> {
    let current = versions
        .into_iter()
        .flatten()
        .find(|(_, stages)| stages.iter().any(|s| s == CURRENT))
        .map(|(id, _)| id.clone());
    secrets
        .update_secret_version_stage()
        .secret_id(&event.secret_id)
        .version_stage(CURRENT)
        .move_to_version_id(&event.client_request_token)
        .set_remove_from_version_id(current)
        .send()
        .await
        .context("move AWSCURRENT")?;
    tracing::info!("the new signing key is current");
    Ok(())
}
