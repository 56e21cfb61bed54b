//! `POST /iam/orgs/{orgId}/authorize`: the troubleshooting page as an API. Runs, for a principal
//! of the org (default: the caller), every check of the contract's 401 and 403 tables that applies
//! to a principal, in order, with the same evaluation the routes use.

use std::net::IpAddr;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::App;
use crate::auth::grants::{describe, first_not_held};
use crate::auth::policy::{Check, Denial, Question, evaluate};
use crate::auth::{Action, Caller};
use crate::domain::{ApiError, FieldError};
use crate::domain::{PrincipalId, PrincipalStatus, PrincipalType, RoleId, describe_cidrs, ip_allowed};

/// The question.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Simulate {
    #[serde(default)]
    pub principal_id: Option<String>,
    pub action: String,
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub source_ip: Option<String>,
    /// The role the principal would grant (with `iam:roleAssignments:assign`): the grant rule is
    /// then checked too.
    #[serde(default)]
    pub role_id: Option<String>,
}

fn check(check: &'static str, passed: bool, detail: String) -> (Check, Option<&'static str>) {
    (Check { check, passed, detail }, None)
}

impl Simulate {
    /// The body's checks (no I/O): one action without wildcards, an address, a resource's length.
    /// Answers the source address to evaluate with (the body's, else the request's).
    pub fn check(&self, request_source_ip: Option<&str>) -> Result<Option<IpAddr>, ApiError> {
        let mut errors = Vec::new();
        let action_ok =
            self.action.split(':').count() == 3 && self.action.split(':').all(|s| !s.is_empty() && !s.contains('*'));
        if !action_ok {
            errors.push(FieldError::new("action", "must be one action, service:resourceType:verb, without wildcards"));
        }
        let source_ip = match self.source_ip.as_deref().or(request_source_ip) {
            None => None,
            Some(text) => match text.parse::<IpAddr>() {
                Ok(ip) => Some(ip),
                Err(_) => {
                    errors.push(FieldError::new("sourceIp", "must be an IPv4 or IPv6 address"));
                    None
                }
            },
        };
        if self.resource.as_deref().is_some_and(|r| r.is_empty() || r.chars().count() > 512) {
            errors.push(FieldError::new("resource", "must be 1 to 512 characters"));
        }
        if let Some(role) = &self.role_id {
            if RoleId::parse(role).is_none() {
                errors.push(FieldError::new("roleId", "must be a built-in role name or role_<ULID>"));
            } else if self.action != Action::ROLE_ASSIGNMENTS_ASSIGN.as_str() {
                errors.push(FieldError::new("roleId", "is only asked with action iam:roleAssignments:assign"));
            }
        }
        if errors.is_empty() { Ok(source_ip) } else { Err(ApiError::InvalidRequest(errors)) }
    }
}

/// Answers `{decision, code, checks, matched}`; `request_source_ip` stands in when none is given.
pub async fn simulate(
    app: &App,
    caller: &Caller,
    request_source_ip: Option<&str>,
    input: Simulate,
) -> Result<Value, ApiError> {
    let source_ip = input.check(request_source_ip)?;

    let now = app.clock.now();
    let org = &caller.org_id;
    let mut checks: Vec<(Check, Option<&'static str>)> = Vec::new();
    let (principal_id, principal_type, allowed_cidrs) = match &input.principal_id {
        None => {
            let how = match &caller.key_id {
                Some(key) => format!("the caller authenticated with credential {key}"),
                None => "the caller authenticated".to_string(),
            };
            checks.push(check("credential", true, how));
            let allowed = match caller.principal_type {
                PrincipalType::ApiKey => app
                    .store
                    .get_principal(org, &caller.principal_id)
                    .await?
                    .map(|r| r.principal.allowed_cidrs)
                    .unwrap_or_default(),
                PrincipalType::User => Vec::new(),
            };
            (caller.principal_id.clone(), caller.principal_type, allowed)
        }
        Some(text) => {
            let id = PrincipalId::parse(text).map_err(|_| ApiError::NotFound("principal"))?;
            let record = app.store.get_principal(org, &id).await?.ok_or(ApiError::NotFound("principal"))?;
            let p = &record.principal;
            checks.push(check("principal_in_org", true, format!("{id} is a principal of {org}")));
            let (active, code) = match p.status {
                PrincipalStatus::Active => (true, None),
                PrincipalStatus::Suspended => (false, Some("principal_suspended")),
                PrincipalStatus::Revoked => (false, Some("principal_revoked")),
            };
            checks.push((
                Check { check: "principal_active", passed: active, detail: format!("status {}", p.status.as_str()) },
                code,
            ));
            let expired = p.is_expired_at(now);
            let detail = match p.expires_at {
                Some(at) if expired => format!("expired at {at}"),
                Some(at) => format!("expires at {at}"),
                None => "no expiry".to_string(),
            };
            checks.push((
                Check { check: "principal_not_expired", passed: !expired, detail },
                expired.then_some("principal_expired"),
            ));
            (id, p.principal_type, p.allowed_cidrs.clone())
        }
    };
    // The principal's allowlist, against the address asked about (or the request's).
    let (inside, detail) = match (allowed_cidrs.is_empty(), source_ip) {
        (true, _) => (true, "no allowedCidrs: calls may come from any address".to_string()),
        (false, None) => {
            (false, format!("no source address to judge; allowedCidrs: {}", describe_cidrs(&allowed_cidrs)))
        }
        (false, Some(ip)) => {
            let inside = ip_allowed(&allowed_cidrs, Some(ip));
            let verdict = if inside { "inside" } else { "outside" };
            (inside, format!("{ip} is {verdict} allowedCidrs: {}", describe_cidrs(&allowed_cidrs)))
        }
    };
    checks.push((Check { check: "ip_allowed", passed: inside, detail }, (!inside).then_some("ip_not_allowed")));
    checks.push(check("org_match", true, format!("the principal belongs to {org}, the organisation of the path")));

    let roles = app.assigned_roles(org, principal_id.as_str()).await?;
    let question =
        Question { principal_type, action: &input.action, resource: input.resource.as_deref(), source_ip, now };
    let mut evaluation = evaluate(&roles, &question);
    if let Some(role_id) = input.role_id.as_deref().and_then(RoleId::parse) {
        let role = super::roles::get(app, org, &role_id).await?;
        let (passed, detail) = match first_not_held(&roles, principal_type, &role.permissions) {
            None => (true, format!("the principal holds every permission of {role_id}")),
            Some(missing) => {
                (false, format!("granting {role_id} needs {}, which the principal does not hold", describe(missing)))
            }
        };
        // Run only once the action itself is allowed, as the route runs it.
        if evaluation.outcome.is_ok() {
            evaluation.checks.push(Check { check: "grant", passed, detail: detail.clone() });
            if !passed {
                evaluation.outcome = Err((Denial::EscalationDenied, detail));
            }
        }
    }
    // Asked about itself (by omitting principalId or naming its own) with a down-scoped token,
    // the caller's scope is a check too (after the roles, as the routes run it).
    let about_the_caller = input.principal_id.as_deref().is_none_or(|id| id == caller.principal_id.as_str());
    if let (true, Some(scope)) = (about_the_caller, &caller.scope)
        && evaluation.outcome.is_ok()
    {
        let passed = crate::auth::scope::allows(Some(scope), &input.action);
        let detail = format!("the token's scope is {:?}", scope.join(" "));
        evaluation.checks.push(Check { check: "scope", passed, detail: detail.clone() });
        if !passed {
            evaluation.outcome = Err((Denial::ScopeNotGranted, detail));
        }
    }
    let denial_code = evaluation.outcome.as_ref().err().map(|(d, _)| d.code());
    let authentication_code = checks.iter().find(|(c, _)| !c.passed).and_then(|(_, code)| *code);
    let code = authentication_code.or(denial_code);
    let mut all: Vec<Check> = checks.into_iter().map(|(c, _)| c).collect();
    all.extend(evaluation.checks);
    let matched = match (&evaluation.outcome, code) {
        (Ok(m), None) => json!(m),
        _ => Value::Null,
    };
    Ok(json!({
        "decision": if code.is_none() { "Allow" } else { "Deny" },
        "code": code,
        "principalId": principal_id,
        "action": input.action,
        "resource": input.resource,
        "sourceIp": source_ip.map(|ip| ip.to_string()),
        "checks": all,
        "matched": matched,
    }))
}
