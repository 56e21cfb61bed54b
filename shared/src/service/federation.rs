//! Keyless workloads: an external OIDC token exchanged for an access token of the API-key principal
//! a workload trust maps it to (RFC 8693 token exchange, RFC 7523 JWT bearer), and the test of a
//! token against one trust that shows an administrator every check.

use serde::Serialize;
use serde_json::{Value, json};

use super::tokens::{AccessToken, Subject, TokenRequest, granted_scope, sign};
use crate::App;
use crate::auth::federation::{Peeked, check_times, peek};
use crate::auth::{RequestCtx, resources};
use crate::domain::{
    Actor, ApiError, AuditEvent, GrantRefusal, PrincipalStatus, PrincipalType, Timestamp, WorkloadTrust,
};

fn refused(refusal: GrantRefusal) -> ApiError {
    ApiError::InvalidGrant(refusal)
}

/// The enabled trusts of a peeked token's issuer for any of its audiences (one strongly consistent
/// read), oldest first. None at all: `trust_not_found`; none enabled: `trust_disabled`. Their
/// conditions are judged only once the token's signature and times hold, so that no unsigned
/// token can learn what a trust accepts.
async fn candidate_trusts(app: &App, peeked: &Peeked) -> Result<Vec<WorkloadTrust>, ApiError> {
    let mut trusts = app.store.find_trusts(&peeked.issuer, &peeked.audiences).await?;
    trusts.sort_by(|a, b| a.id.cmp(&b.id));
    trusts.dedup_by(|a, b| a.id == b.id);
    if trusts.is_empty() {
        return Err(refused(GrantRefusal::TrustNotFound));
    }
    let enabled: Vec<WorkloadTrust> = trusts.into_iter().filter(|t| t.enabled).collect();
    if enabled.is_empty() {
        return Err(refused(GrantRefusal::TrustDisabled));
    }
    Ok(enabled)
}

/// Whether the principal a trust maps to may act (an Active API-key principal, not past its
/// expiry), read strongly consistently (with the org's settings, in the same round trip, when the
/// container has none cached), and its allowlist; the read's own failure is the outer error (503).
async fn principal_standing(
    app: &App,
    trust: &WorkloadTrust,
    now: Timestamp,
) -> Result<Result<Vec<ipnet::IpNet>, GrantRefusal>, ApiError> {
    let Some(record) = app.read_principal(&trust.org_id, &trust.principal_id, now).await? else {
        return Ok(Err(GrantRefusal::PrincipalRevoked));
    };
    let p = &record.principal;
    Ok(match p.status {
        PrincipalStatus::Revoked => Err(GrantRefusal::PrincipalRevoked),
        PrincipalStatus::Suspended => Err(GrantRefusal::PrincipalSuspended),
        PrincipalStatus::Active if p.principal_type != PrincipalType::ApiKey => Err(GrantRefusal::PrincipalRevoked),
        PrincipalStatus::Active if p.is_expired_at(now) => Err(GrantRefusal::PrincipalExpired),
        PrincipalStatus::Active => Ok(p.allowed_cidrs.clone()),
    })
}

/// Exchanges an external token for an access token. Checks, in order, each failure its own 400
/// `invalid_grant` code: the token's form; an enabled trust for its issuer and audience (one
/// read); the algorithm, key and signature (the issuer's keys from the container's cache when
/// warm: no fetch); its times; the trust's conditions (the oldest trust whose conditions all
/// hold); the principal's standing. Then `scope` and `resource` as for a key, and the token: its
/// `sub` the principal, `client_id` the trust, `act` the external issuer and subject, living the
/// shorter of the org's token lifetime and the trust's. The trust's `lastUsedAt` and an audit
/// event naming the external issuer and subject are written in one transaction before the token
/// is answered; no token leaves without it.
pub async fn exchange(
    app: &App,
    token: &str,
    request: &TokenRequest,
    ctx: &RequestCtx,
) -> Result<AccessToken, ApiError> {
    let now = app.clock.now();
    let peeked = peek(token).map_err(refused)?;
    // A new container reads its signing keys while it finds the trusts, not after.
    let (trusts, keys) = tokio::join!(candidate_trusts(app, &peeked), app.token_keys());
    let trusts = trusts?;
    // The usual case, one trust: its principal is read while the signature is checked (a cold
    // container's fetch of the issuer's keys among it), not after. Its answer counts only once the
    // signature, the times and the conditions hold.
    let (signature, early) = match trusts.as_slice() {
        [only] => {
            let (signature, standing) =
                tokio::join!(app.issuers.verify_signature(token, &peeked, now), principal_standing(app, only, now));
            (signature, Some(standing))
        }
        _ => (app.issuers.verify_signature(token, &peeked, now).await, None),
    };
    signature.map_err(refused)?;
    check_times(&peeked.claims, now).map_err(refused)?;
    let trust = trusts
        .into_iter()
        .find(|t| t.first_unmet(&peeked.claims).is_none())
        .ok_or(refused(GrantRefusal::ConditionNotMet))?;
    let standing = match early {
        Some(standing) => standing,
        None => principal_standing(app, &trust, now).await,
    };
    let allowed_cidrs = standing?.map_err(refused)?;
    // The principal's allowlist holds for the workload as for its keys.
    app.check_source(&allowed_cidrs, ctx)?;
    let subject = Subject {
        org: &trust.org_id,
        principal_id: &trust.principal_id,
        principal_type: PrincipalType::ApiKey,
        client_id: trust.id.to_string(),
        allowed_cidrs,
    };
    let scope = granted_scope(app, &subject, request, ctx).await?;
    let settings = app.org_settings(&trust.org_id).await?;
    let ttl = settings.token_ttl_seconds().min(trust.max_token_lifetime_seconds);
    let act = json!({"iss": peeked.issuer, "sub": peeked.subject});
    let issued = sign(app, keys?, &subject, scope, ttl, Some(act)).await?;
    let audit = AuditEvent::new(
        trust.org_id.clone(),
        Actor::ApiKey { principal_id: trust.principal_id.clone(), key_id: None },
        "iam:workloadTrusts:exchange",
        resources::workload_trust(&trust.id),
        now,
        &ctx.request_id,
        json!({
            "issuer": peeked.issuer,
            "subject": peeked.subject,
            "audiences": peeked.audiences,
            "externalJti": peeked.claims.get("jti").and_then(Value::as_str),
            "trustName": trust.name,
            "expiresAt": issued.expires_at,
            "scope": issued.scope,
        }),
    );
    // A trust deleted since it was read issues nothing (and writes nothing).
    if !app.store.note_trust_use(&trust, &peeked.subject, now, &audit).await? {
        return Err(refused(GrantRefusal::TrustNotFound));
    }
    tracing::info!(
        request_id = ctx.request_id,
        trust = %trust.id,
        principal = %trust.principal_id,
        issuer = peeked.issuer,
        "workload token exchanged"
    );
    Ok(issued)
}

/// `POST .../workload-trusts/{trustId}/test`: `{"token": "<a workload's JWT>"}`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    pub token: String,
}

/// One check of a token against a trust, as the test shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub check: String,
    /// `passed`, `failed`, or `skipped` (an earlier check it depends on failed).
    pub result: &'static str,
    /// The refusal's `code` when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    pub detail: String,
}

/// What testing a token against a trust found: every check in order, and whether an exchange
/// through this trust would succeed (the first failed check's `code` if not).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    pub accepted: bool,
    pub code: Option<&'static str>,
    pub checks: Vec<Check>,
    /// The token's claims (never its signature), to write conditions from.
    pub claims: Option<serde_json::Map<String, Value>>,
}

fn check(name: impl Into<String>, outcome: Result<String, (GrantRefusal, String)>) -> Check {
    match outcome {
        Ok(detail) => Check { check: name.into(), result: "passed", code: None, detail },
        Err((refusal, detail)) => Check { check: name.into(), result: "failed", code: Some(refusal.code()), detail },
    }
}

fn skipped(name: impl Into<String>, why: &str) -> Check {
    Check { check: name.into(), result: "skipped", code: None, detail: why.into() }
}

/// Tests `token` against `trust` as an exchange through it would, without issuing anything:
/// every check, each passed, failed (with its `code` and why) or skipped. The signature check
/// fetches the issuer's keys as an exchange would.
pub async fn test(app: &App, trust: &WorkloadTrust, token: &str) -> TestResult {
    let now = app.clock.now();
    let mut checks = Vec::new();
    let peeked = match peek(token) {
        Ok(p) => p,
        Err(refusal) => {
            checks.push(check("token", Err((refusal, refusal.to_string()))));
            return TestResult { accepted: false, code: Some(refusal.code()), checks, claims: None };
        }
    };
    checks.push(check("token", Ok(format!("a JWT signed with {}, kid {:?}", peeked.alg, peeked.kid))));
    let issuer = if peeked.issuer == trust.issuer {
        Ok(format!("iss is {:?}", peeked.issuer))
    } else {
        Err((GrantRefusal::TrustNotFound, format!("iss is {:?}; the trust accepts {:?}", peeked.issuer, trust.issuer)))
    };
    let issuer_ok = issuer.is_ok();
    checks.push(check("issuer", issuer));
    let audience = match peeked.audiences.iter().find(|a| trust.audiences.contains(a)) {
        Some(a) => Ok(format!("aud holds {a:?}")),
        None => Err((
            GrantRefusal::TrustNotFound,
            format!("aud is {:?}; the trust accepts {:?}", peeked.audiences, trust.audiences),
        )),
    };
    checks.push(check("audience", audience));
    checks.push(check(
        "enabled",
        if trust.enabled {
            Ok("the trust is enabled".into())
        } else {
            Err((GrantRefusal::TrustDisabled, "the trust is disabled".into()))
        },
    ));
    if issuer_ok {
        let signature = app.issuers.verify_signature(token, &peeked, now).await;
        checks.push(check(
            "signature",
            signature
                .map(|()| format!("verified with the issuer's key {:?}", peeked.kid))
                .map_err(|r| (r, r.to_string())),
        ));
    } else {
        checks.push(skipped("signature", "the token is not of the trust's issuer: its keys are not fetched"));
    }
    checks.push(check(
        "times",
        check_times(&peeked.claims, now).map(|()| "exp, nbf and iat hold".into()).map_err(|r| (r, r.to_string())),
    ));
    for condition in &trust.conditions {
        let outcome = if condition.holds(&peeked.claims) {
            Ok(format!("{:?} is {:?}", condition.claim, peeked.claims.get(&condition.claim)))
        } else {
            Err((
                GrantRefusal::ConditionNotMet,
                format!("the token's {} is {:?}", condition.claim, peeked.claims.get(&condition.claim)),
            ))
        };
        checks.push(check(format!("condition: {}", condition.describe()), outcome));
    }
    let standing = match principal_standing(app, trust, now).await {
        Ok(standing) => standing.map(|_| format!("{} is Active", trust.principal_id)).map_err(|r| (r, r.to_string())),
        Err(_) => Err((GrantRefusal::PrincipalRevoked, "the principal could not be read just now: test again".into())),
    };
    checks.push(check("principal", standing));
    let code = checks.iter().find_map(|c| c.code);
    TestResult { accepted: code.is_none(), code, checks, claims: Some(peeked.claims) }
}
