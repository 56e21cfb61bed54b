//! Token exchange: an API key for a short-lived access token.

use crate::App;
use crate::auth::scope;
use crate::auth::tokens::AccessClaims;
use crate::auth::{ApiKey, RequestCtx};
use crate::domain::ApiError;
use crate::domain::Timestamp;

/// An issued access token (deliberately without `Debug`: the token is a bearer credential).
pub struct AccessToken {
    pub token: String,
    pub expires_in: u32,
    pub expires_at: Timestamp,
    /// The token's scope, when it was down-scoped.
    pub scope: Option<String>,
}

/// What a client may ask of an exchange beyond its key: a narrower `scope` (RFC 8693, space-separated
/// action patterns) and the `resource` or `audience` it is for (RFC 8707).
#[derive(Debug, Default)]
pub struct TokenRequest {
    pub scope: Option<String>,
    pub resource: Option<String>,
}

/// Exchanges a verified API key for an access token with everything its roles grant.
pub async fn exchange(app: &App, key: &ApiKey, ctx: &RequestCtx) -> Result<AccessToken, ApiError> {
    exchange_for(app, key, &TokenRequest::default(), ctx).await
}

/// Exchanges a verified API key for an access token, from an address its principal's allowlist
/// admits (403 `ip_not_allowed` otherwise); the token carries that allowlist. Cost: the credential's and its principal's
/// strongly consistent read (one round trip when warm), the org settings from the container cache, the
/// throttled `lastUsedAt`; no other write. A `scope` reads the principal's roles too (from the
/// container's caches when warm) and must be within them (400 `invalid_scope`). Direct-ApiKey-auth
/// settings do not apply here: this is the non-direct path.
pub async fn exchange_for(
    app: &App,
    key: &ApiKey,
    request: &TokenRequest,
    ctx: &RequestCtx,
) -> Result<AccessToken, ApiError> {
    // A new container reads its signing keys while it verifies the key, not after.
    let (standing, keys) = tokio::join!(app.verified_key(key), app.token_keys());
    let standing = standing?;
    app.check_key(&standing, ctx)?;
    let (record, principal_type) = (&standing.record, standing.principal.principal_type);
    if let Err(refused) = app.check_source(&standing.principal.allowed_cidrs, ctx) {
        app.record_key_outcome(&standing, refused.code(), ctx);
        return Err(refused);
    }
    let subject = Subject {
        org: &record.org_id,
        principal_id: &record.credential.principal_id,
        principal_type,
        client_id: record.credential.id.to_string(),
        allowed_cidrs: standing.principal.allowed_cidrs.clone(),
    };
    let scope = granted_scope(app, &subject, request, ctx).await?;
    let settings = app.org_settings(&record.org_id).await?;
    app.note_use(record, ctx).await;
    let issued = sign(app, keys?, &subject, scope, settings.token_ttl_seconds(), None).await?;
    app.record_key_outcome(&standing, "allowed", ctx);
    Ok(issued)
}

/// Whom a token is for, once that is settled (an API key verified, or an external token accepted
/// by a workload trust), and through what (`client_id`: the key id, or the trust id).
pub(crate) struct Subject<'a> {
    pub org: &'a crate::domain::OrgId,
    pub principal_id: &'a crate::domain::PrincipalId,
    pub principal_type: crate::domain::PrincipalType,
    pub client_id: String,
    /// The principal's allowlist, which the token carries.
    pub allowed_cidrs: Vec<ipnet::IpNet>,
}

/// What a request asks beyond its subject, checked: a `resource` or `audience` other than this
/// service's is 400 `invalid_target`; a `scope` must be one and within the principal's roles (read
/// from the container's caches when warm), else 400 `invalid_scope`. The token's scope, if any.
pub(crate) async fn granted_scope(
    app: &App,
    subject: &Subject<'_>,
    request: &TokenRequest,
    ctx: &RequestCtx,
) -> Result<Option<String>, ApiError> {
    if let Some(resource) = request.resource.as_deref().filter(|r| *r != app.config.token_audience) {
        tracing::info!(request_id = ctx.request_id, resource, "token refused: another resource");
        return Err(ApiError::InvalidTarget(app.config.token_audience.clone()));
    }
    let Some(text) = request.scope.as_deref() else { return Ok(None) };
    let wanted = scope::parse(text).map_err(ApiError::InvalidScope)?;
    let roles = app.assigned_roles(subject.org, subject.principal_id.as_str()).await?;
    if let Some(missing) = scope::first_not_granted(&roles, subject.principal_type, &wanted) {
        return Err(ApiError::InvalidScope(format!("{missing} is more than the principal's roles grant")));
    }
    Ok(Some(wanted.join(" ")))
}

/// Signs the access token of `subject`, living `ttl` seconds from now; `act` names the external
/// workload it was issued to (RFC 8693 §4.1), when it was.
pub(crate) async fn sign(
    app: &App,
    keys: &crate::auth::tokens::TokenKeys,
    subject: &Subject<'_>,
    scope: Option<String>,
    ttl: u32,
    act: Option<serde_json::Value>,
) -> Result<AccessToken, ApiError> {
    let now = app.clock.now();
    let expires_at = now.plus_seconds(i64::from(ttl));
    let claims = AccessClaims {
        iss: app.config.token_issuer.clone(),
        aud: app.config.token_audience.clone(),
        sub: subject.principal_id.to_string(),
        client_id: subject.client_id.clone(),
        org_id: subject.org.to_string(),
        principal_type: subject.principal_type.as_str().into(),
        iat: now.unix(),
        exp: expires_at.unix(),
        jti: format!("at_{}", ulid::Ulid::new()),
        scope: scope.clone(),
        act,
        allowed_cidrs: subject.allowed_cidrs.clone(),
    };
    let token = keys.get(now).await.sign(&claims).map_err(ApiError::Internal)?;
    Ok(AccessToken { token, expires_in: ttl, expires_at, scope })
}

/// What RFC 7662 introspection answers about a token. Inactive says nothing more (§2.2).
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum Introspection {
    Active(Box<ActiveToken>),
    Inactive { active: bool },
}

/// An active token's claims, as RFC 7662 §2.2 names them.
#[derive(Debug, serde::Serialize)]
pub struct ActiveToken {
    pub active: bool,
    pub token_type: &'static str,
    pub client_id: String,
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub org_id: String,
    pub principal_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// Introspects `token` for a resource server of `org`: active only if its signature and times
/// hold, it is of `org`, its principal still exists and it was issued after the principal's
/// `tokensValidAfter` (read now, strongly consistently: introspection is the authoritative answer,
/// without the verifiers' 5 s cache).
pub async fn introspect(app: &App, org: &crate::domain::OrgId, token: &str) -> Result<Introspection, ApiError> {
    let inactive = Introspection::Inactive { active: false };
    let claims = match app.verify_token_signature(token).await {
        Ok(claims) => claims,
        Err(ApiError::Unauthenticated(_)) => return Ok(inactive),
        Err(other) => return Err(other),
    };
    if claims.org_id != org.as_str() {
        return Ok(inactive);
    }
    let Ok(principal_id) = crate::domain::PrincipalId::parse(&claims.sub) else { return Ok(inactive) };
    let Some(principal) = app.store.get_principal(org, &principal_id).await? else { return Ok(inactive) };
    let p = &principal.principal;
    // What Bearer verification refuses, and what it lets through only until `exp`: a principal that
    // is not Active or has expired makes its tokens inactive here at once.
    let standing = claims.principal_type == "ApiKey"
        && p.status == crate::domain::PrincipalStatus::Active
        && !p.is_expired_at(app.clock.now());
    let revoked_by_itself = principal
        .revoked_tokens
        .iter()
        .filter_map(|e| crate::store::parse_revoked_token_entry(e))
        .any(|(_, jti)| jti == claims.jti);
    if !standing || revoked_by_itself || p.tokens_valid_after.is_some_and(|t| claims.iat <= t.unix()) {
        return Ok(inactive);
    }
    Ok(Introspection::Active(Box::new(ActiveToken {
        active: true,
        token_type: "Bearer",
        client_id: claims.client_id,
        sub: claims.sub,
        iss: claims.iss,
        aud: claims.aud,
        iat: claims.iat,
        exp: claims.exp,
        jti: claims.jti,
        org_id: claims.org_id,
        principal_type: claims.principal_type,
        scope: claims.scope,
    })))
}

/// RFC 7009: revokes one access token, by its `jti`, until its `exp`. The caller (`identity`) is
/// the token's own principal, or acts in its organisation with `iam:apiKeys:revokeTokens` on that
/// principal. A token that is not valid, already expired, or of another organisation is answered
/// as revoked with nothing done and nothing said about it (§2.2). Verifiers refuse it (401
/// `token_revoked`) within the cache bound of `tokensValidAfter`: at once in this container, within
/// 5 s in the others; introspection at once.
pub async fn revoke_token(
    app: &App,
    identity: crate::auth::Identity,
    token: &str,
    ctx: &crate::auth::RequestCtx,
) -> Result<(), ApiError> {
    use crate::auth::{Action, resources};
    use crate::domain::{AuditEvent, OrgId, PrincipalId};
    use crate::store::{
        REVOKED_TOKENS_CAP, TokenRevocationRefused, WriteError, parse_revoked_token_entry, revoked_token_entry,
    };

    let claims = match app.verify_token_signature(token).await {
        Ok(claims) => claims,
        Err(ApiError::Unauthenticated(_)) => return Ok(()),
        Err(other) => return Err(other),
    };
    let (Ok(org), Ok(principal_id)) = (OrgId::parse(&claims.org_id), PrincipalId::parse(&claims.sub)) else {
        return Ok(());
    };
    let caller = match app.caller_in_org(identity, org.as_str(), ctx).await {
        Ok(caller) => caller,
        Err(ApiError::OrgMismatch) => return Ok(()),
        Err(other) => return Err(other),
    };
    if caller.principal_id != principal_id {
        app.authorize(&caller, Action::API_KEYS_REVOKE_TOKENS, &resources::api_key(&principal_id), ctx).await?;
    }
    let expires = Timestamp::from_unix(claims.exp);
    let entry = revoked_token_entry(expires, &claims.jti);
    let (org, principal_id, entry, caller, claims) = (&org, &principal_id, &entry, &caller, &claims);
    super::until_written(|| async move {
        let now = app.clock.now();
        let audit = AuditEvent::new(
            org.clone(),
            caller.actor(),
            "iam:tokens:revoke",
            resources::api_key(principal_id),
            now,
            &ctx.request_id,
            serde_json::json!({"jti": claims.jti, "expiresAt": expires}),
        );
        match app.store.revoke_token(org, principal_id, entry, &claims.jti, REVOKED_TOKENS_CAP, &audit).await {
            Ok(()) => Ok(super::Written::Done(())),
            Err(WriteError::Violated(TokenRevocationRefused::PrincipalGoneOrFull)) => {
                // Gone (its tokens are refused already), already revoked, or full: prune what has
                // expired and try again, or say it is full.
                let Some(record) = app.store.get_principal(org, principal_id).await? else {
                    return Ok(super::Written::Done(()));
                };
                if record.revoked_tokens.iter().any(|e| e == entry) {
                    return Ok(super::Written::Done(()));
                }
                let expired: Vec<String> = record
                    .revoked_tokens
                    .iter()
                    // Verifiers accept a token until `exp` + their leeway: an entry goes only after that.
                    .filter(|e| {
                        parse_revoked_token_entry(e)
                            .is_none_or(|(exp, _)| exp.unix() + crate::auth::tokens::LEEWAY_SECONDS < now.unix())
                    })
                    .cloned()
                    .collect();
                if expired.is_empty() {
                    return Err(ApiError::RevokedTokensLimitReached { cap: REVOKED_TOKENS_CAP });
                }
                app.store.prune_revoked_tokens(org, principal_id, &expired).await?;
                Ok(super::Written::Retry)
            }
            Err(WriteError::Contention) => Ok(super::Written::Retry),
            Err(err) => Err(super::failure(err)),
        }
    })
    .await
}
