//! An authenticated API-key principal's own checks, after its credential's: where its call comes
//! from (its allowlist, and the one its token carries) and how many it makes (its rate limit); and
//! the recording of every call's outcome (`auth::outcomes`).

use super::authenticate::check_standing;
use super::{Caller, RequestCtx};
use crate::App;
use crate::domain::{ApiError, Denial, KeyId, PrincipalType, RateLimit, ip_allowed};
use crate::store::KeyStanding;

impl App {
    /// A credential and principal check of a verified key, its refusal recorded as the key's outcome.
    pub(crate) fn check_key(&self, standing: &KeyStanding, ctx: &RequestCtx) -> Result<(), ApiError> {
        check_standing(standing, self.clock.now()).map_err(|failure| {
            self.record_key_outcome(standing, failure.code(), ctx);
            ApiError::from(failure)
        })
    }

    /// Records a verified key's outcome (`allowed` or a refusal's code).
    pub(crate) fn record_key_outcome(&self, standing: &KeyStanding, code: &'static str, ctx: &RequestCtx) {
        let record = &standing.record;
        self.record_outcome(crate::auth::outcomes::Outcome {
            org: &record.org_id,
            principal: &record.credential.principal_id,
            client: Some(record.credential.id.as_str()),
            code,
            route: &ctx.route_key,
            source_ip: ctx.source_ip.as_deref(),
            request_id: &ctx.request_id,
        });
    }

    /// Records an authenticated caller's outcome, when it is an API-key principal: under its key
    /// id, or `workload` for a token issued through a workload trust.
    pub(crate) fn record_caller_outcome(&self, caller: &Caller, code: &'static str, ctx: &RequestCtx) {
        if caller.principal_type != PrincipalType::ApiKey {
            return;
        }
        self.record_outcome(crate::auth::outcomes::Outcome {
            org: &caller.org_id,
            principal: &caller.principal_id,
            client: Some(caller.key_id.as_ref().map_or(crate::auth::outcomes::WORKLOAD_CLIENT, KeyId::as_str)),
            code,
            route: &ctx.route_key,
            source_ip: ctx.source_ip.as_deref(),
            request_id: &ctx.request_id,
        });
    }

    /// 403 `ip_not_allowed` unless the request's source address (API Gateway's, never a
    /// client-supplied header) is inside `allowed` (empty: any address). The refusal names the
    /// address, not the allowlist: the caller holds a key, not the right to read its policy.
    pub fn check_source(&self, allowed: &[ipnet::IpNet], ctx: &RequestCtx) -> Result<(), ApiError> {
        let source = ctx.source_ip.as_deref().and_then(|ip| ip.parse::<std::net::IpAddr>().ok());
        if ip_allowed(allowed, source) {
            return Ok(());
        }
        tracing::info!(request_id = ctx.request_id, code = "ip_not_allowed", "refused");
        let detail = match source {
            Some(ip) => format!("the call came from {ip}, which the principal's allowedCidrs do not include"),
            None => "the call has no source address, and the principal allows only some (allowedCidrs)".to_string(),
        };
        Err(ApiError::Forbidden { denial: Denial::IpNotAllowed, detail })
    }

    /// An authenticated API-key principal's own checks, after its credential's: its allowlist
    /// (403 `ip_not_allowed`), then its rate limit, or the org's default (429 `rate_limited`).
    pub(crate) async fn admit(
        &self,
        mut caller: Caller,
        allowed: &[ipnet::IpNet],
        own_limit: Option<RateLimit>,
        ctx: &RequestCtx,
    ) -> Result<Caller, ApiError> {
        match self.admit_checks(&mut caller, allowed, own_limit, ctx).await {
            Ok(()) => Ok(caller),
            Err(refused) => {
                self.record_caller_outcome(&caller, refused.code(), ctx);
                Err(refused)
            }
        }
    }

    async fn admit_checks(
        &self,
        caller: &mut Caller,
        allowed: &[ipnet::IpNet],
        own_limit: Option<RateLimit>,
        ctx: &RequestCtx,
    ) -> Result<(), ApiError> {
        self.check_source(allowed, ctx)?;
        let limit = match own_limit {
            Some(limit) => Some(limit),
            None => self.org_settings(&caller.org_id).await?.default_rate_limit,
        };
        caller.rate = self.admit_call(&caller.org_id, &caller.principal_id, limit, &ctx.request_id).await?;
        Ok(())
    }
}
