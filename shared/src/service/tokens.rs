//! Token exchange: an API key for a short-lived access token.

use crate::App;
use crate::auth::ApiKey;
use crate::auth::tokens::AccessClaims;
use crate::domain::ApiError;
use crate::domain::Timestamp;

/// An issued access token (deliberately without `Debug`: the token is a bearer credential).
pub struct AccessToken {
    pub token: String,
    pub expires_in: u32,
    pub expires_at: Timestamp,
}

/// Exchanges a verified API key for an access token. Cost: the credential's one strongly
/// consistent read (principal state included), the org settings from the container cache, the
/// throttled `lastUsedAt`; no other write. Direct-ApiKey-auth settings do not apply here: this
/// is the non-direct path.
pub async fn exchange(app: &App, key: &ApiKey, request_id: &str) -> Result<AccessToken, ApiError> {
    let record = app.verify_api_key(key).await?;
    let settings = app.org_settings(&record.org_id).await?;
    app.note_use(&record, request_id).await;
    let now = app.clock.now();
    let ttl = settings.token_ttl_seconds();
    let expires_at = now.plus_seconds(i64::from(ttl));
    let principal_type = record.principal.principal_type.as_str();
    let claims = AccessClaims {
        iss: app.config.token_issuer.clone(),
        aud: app.config.token_audience.clone(),
        sub: record.credential.principal_id.to_string(),
        client_id: record.credential.id.to_string(),
        org_id: record.org_id.to_string(),
        principal_type: principal_type.into(),
        iat: now.unix(),
        exp: expires_at.unix(),
        jti: format!("at_{}", ulid::Ulid::new()),
    };
    let keys = app.keys().await?.token_keys.get(now).await;
    let token = keys.sign(&claims).map_err(ApiError::Internal)?;
    Ok(AccessToken { token, expires_in: ttl, expires_at })
}
