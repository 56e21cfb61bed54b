//! Permission evaluation, pure: roles, permissions (action and resource patterns, conditions) and
//! the contract's 403 checks in their order. The routes and `/authorize` both call `evaluate`, so
//! the explainer cannot disagree with what the routes do.

use std::net::IpAddr;

use serde::Serialize;

pub use crate::domain::Denial;
use crate::domain::{Condition, Permission, PrincipalType, Role, Timestamp};

/// Does `pattern` match `text`, `*` standing for any run of characters (none included)?
pub(super) fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != b'*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Action patterns match segment by segment (`service:resourceType:verb`): `*` inside a segment
/// matches within that segment only (`iam:apiKeys:re*`), a final segment that is exactly `*` matches
/// every remaining segment (`iam:*`), and `*` alone matches every action. `iam:api*` does not match
/// `iam:apiKeys:read`: a partial segment never spans a `:`.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let pattern: Vec<&str> = pattern.split(':').collect();
    let action: Vec<&str> = action.split(':').collect();
    let last = pattern.len() - 1;
    if pattern[last] == "*" && action.len() > last {
        return pattern[..last].iter().zip(&action).all(|(p, a)| glob(p, a));
    }
    pattern.len() == action.len() && pattern.iter().zip(&action).all(|(p, a)| glob(p, a))
}

/// Resource patterns are globs over the whole name: `*` matches any run of characters, `/` included.
pub fn resource_matches(pattern: &str, resource: &str) -> bool {
    glob(pattern, resource)
}

impl Condition {
    /// The first key that does not hold, described; `None` when all hold.
    pub fn failure(&self, source_ip: Option<IpAddr>, now: Timestamp) -> Option<String> {
        if let Some(ranges) = &self.source_ip {
            match source_ip {
                None => return Some("sourceIp: the request has no source address".into()),
                Some(ip) if !ranges.iter().any(|r| r.contains(&ip)) => {
                    return Some(format!("sourceIp: {ip} is outside {}", list(ranges)));
                }
                Some(_) => {}
            }
        }
        if let Some(nb) = self.not_before
            && now < nb
        {
            return Some(format!("notBefore: it is {now}, before {nb}"));
        }
        if let Some(na) = self.not_after
            && now > na
        {
            return Some(format!("notAfter: it is {now}, after {na}"));
        }
        None
    }
}

fn list(ranges: &[ipnet::IpNet]) -> String {
    ranges.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ")
}

/// What is being asked.
#[derive(Clone, Debug)]
pub struct Question<'a> {
    pub principal_type: PrincipalType,
    pub action: &'a str,
    /// `None` asks whether the action is granted on any resource (the explainer without a resource).
    pub resource: Option<&'a str>,
    pub source_ip: Option<IpAddr>,
    pub now: Timestamp,
}

/// One check of the troubleshooting table, as `/authorize` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub passed: bool,
    pub detail: String,
}

/// The role and permission that allowed a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Matched {
    pub role_id: String,
    pub role_name: String,
    pub permission: Permission,
}

/// The outcome and every check that led to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    pub outcome: Result<Matched, (Denial, String)>,
    pub checks: Vec<Check>,
}

/// Evaluates the roles assigned to a principal, in the contract's order: an assignment at all;
/// a role supporting the principal's type (one that does not grants nothing); a permission for the
/// action; one whose resource matches; one whose condition holds.
pub fn evaluate(assigned: &[Role], q: &Question<'_>) -> Evaluation {
    let mut checks = Vec::new();
    let mut step = |check: &'static str, passed: bool, detail: String| checks.push(Check { check, passed, detail });
    let deny =
        |checks: Vec<Check>, denial: Denial, detail: String| Evaluation { outcome: Err((denial, detail)), checks };

    let names = |roles: &[&Role]| roles.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", ");
    let all: Vec<&Role> = assigned.iter().collect();
    if all.is_empty() {
        let detail = "the principal has no role assignment in this organisation".to_string();
        step("role_assignment", false, detail.clone());
        return deny(checks, Denial::NoRoleAssignment, detail);
    }
    step("role_assignment", true, format!("assigned: {}", names(&all)));

    let supporting: Vec<&Role> =
        all.iter().copied().filter(|r| r.principal_types.contains(&q.principal_type)).collect();
    let kind = q.principal_type.as_str();
    if supporting.is_empty() {
        let detail = format!("no assigned role supports {kind} principals, so none grants anything");
        step("role_supports_principal_type", false, detail.clone());
        return deny(checks, Denial::PermissionDenied, format!("{} is not allowed: {detail}", q.action));
    }
    step("role_supports_principal_type", true, format!("supporting {kind}: {}", names(&supporting)));

    let for_action: Vec<(&Role, &Permission)> = supporting
        .iter()
        .flat_map(|r| r.permissions.iter().map(move |p| (*r, p)))
        .filter(|(_, p)| action_matches(&p.action, q.action))
        .collect();
    if for_action.is_empty() {
        let detail = format!("no assigned role grants {}", q.action);
        step("permission_for_action", false, detail.clone());
        return deny(checks, Denial::PermissionDenied, format!("{} is not allowed: {detail}", q.action));
    }
    step("permission_for_action", true, format!("{} permission(s) grant {}", for_action.len(), q.action));

    let in_scope: Vec<(&Role, &Permission)> = match q.resource {
        Some(resource) => for_action.iter().copied().filter(|(_, p)| resource_matches(&p.resource, resource)).collect(),
        None => for_action.clone(),
    };
    match q.resource {
        Some(resource) if in_scope.is_empty() => {
            let scopes = for_action.iter().map(|(_, p)| p.resource.as_str()).collect::<Vec<_>>().join(", ");
            let detail = format!("{} is granted on {scopes}, not on {resource}", q.action);
            step("resource_scope", false, detail.clone());
            return deny(checks, Denial::ScopeMismatch, detail);
        }
        Some(resource) => step("resource_scope", true, format!("{resource} is in scope")),
        None => step("resource_scope", true, "no resource named: any resource counts".into()),
    }

    let mut failures = Vec::new();
    for (role, permission) in &in_scope {
        match permission.condition.as_ref().and_then(|c| c.failure(q.source_ip, q.now)) {
            None => {
                let detail = match &permission.condition {
                    Some(_) => format!("the condition of {}'s permission holds", role.id),
                    None => "the matching permission has no condition".into(),
                };
                step("conditions", true, detail);
                let matched = Matched {
                    role_id: role.id.to_string(),
                    role_name: role.name.clone(),
                    permission: (*permission).clone(),
                };
                return Evaluation { outcome: Ok(matched), checks };
            }
            Some(failure) => failures.push(format!("{}: {failure}", role.id)),
        }
    }
    let detail = format!("no matching permission's condition holds ({})", failures.join("; "));
    step("conditions", false, detail.clone());
    deny(checks, Denial::ConditionNotMet, detail)
}

#[cfg(test)]
#[allow(clippy::cloned_ref_to_slice_refs)] // `&[role.clone()]` reads better than `from_ref` in these tables
pub(crate) mod tests {
    use super::*;

    #[test]
    fn action_wildcards_match_whole_segments_unless_the_pattern_says_so() {
        for (pattern, action, expected) in [
            ("*", "iam:apiKeys:read", true),
            ("*", "anything", true),
            ("iam:*", "iam:apiKeys:read", true),
            ("iam:*", "iam:roles:delete", true),
            ("iam:*", "iot:devices:read", false),
            ("iam:*", "iam", false),
            ("iam:apiKeys:*", "iam:apiKeys:create", true),
            ("iam:apiKeys:*", "iam:credentials:issue", false),
            ("iam:apiKeys:read", "iam:apiKeys:read", true),
            ("iam:apiKeys:read", "iam:apiKeys:readAll", false),
            ("iam:api*", "iam:apiKeys:read", false),
            ("iam:api*:read", "iam:apiKeys:read", true),
            ("iam:apiKeys:re*", "iam:apiKeys:read", true),
            ("iam:apiKeys:re*", "iam:apiKeys:list", false),
            ("iam:*:read", "iam:apiKeys:read", true),
            ("iam:*:read", "iam:apiKeys:list", false),
            ("iam", "iam:apiKeys:read", false),
            ("IAM:*", "iam:apiKeys:read", false),
        ] {
            assert_eq!(action_matches(pattern, action), expected, "{pattern} vs {action}");
        }
    }

    #[test]
    fn resource_patterns_are_globs_over_the_whole_name() {
        assert!(resource_matches("*", "iam:api-keys/akp_1"));
        assert!(resource_matches("iam:api-keys/*", "iam:api-keys/akp_1"));
        assert!(resource_matches("iot:sites/site-1/*", "iot:sites/site-1/devices/d1"));
        assert!(!resource_matches("iot:sites/site-1/*", "iot:sites/site-10"));
        assert!(!resource_matches("iam:api-keys/akp_1", "iam:api-keys/akp_12"));
        assert!(resource_matches("iam:api-keys/akp_1*", "iam:api-keys/akp_12"));
        assert!(resource_matches("*/akp_1", "iam:api-keys/akp_1"));
    }

    pub(crate) fn role(id: &str, types: &[PrincipalType], permissions: Vec<Permission>) -> Role {
        let id = if id == "r" { crate::domain::RoleId::generate() } else { crate::domain::RoleId::parse(id).unwrap() };
        Role {
            name: id.to_string(),
            id,
            org_id: None,
            description: None,
            principal_types: types.to_vec(),
            permissions,
            built_in: false,
            version: 1,
            created_at: None,
            updated_at: None,
        }
    }

    pub(crate) fn grant(action: &str, resource: &str, condition: Option<Condition>) -> Permission {
        Permission { action: action.into(), resource: resource.into(), condition }
    }

    fn ask<'a>(action: &'a str, resource: &'a str, ip: &str, now: i64) -> Question<'a> {
        Question {
            principal_type: PrincipalType::ApiKey,
            action,
            resource: Some(resource),
            source_ip: ip.parse().ok(),
            now: Timestamp::from_unix(now),
        }
    }

    fn code(roles: &[Role], q: &Question<'_>) -> &'static str {
        match evaluate(roles, q).outcome {
            Ok(_) => "allow",
            Err((d, _)) => d.code(),
        }
    }

    #[test]
    fn the_403_checks_run_in_the_contracts_order() {
        let q = ask("iam:apiKeys:read", "iam:api-keys/akp_1", "10.0.0.1", 100);
        assert_eq!(code(&[], &q), "no_role_assignment");
        let user_only = role("owner", &[PrincipalType::User], vec![grant("*", "*", None)]);
        assert_eq!(code(&[user_only.clone()], &q), "permission_denied", "a role not for ApiKey grants nothing");
        let other_action = role("r", &[PrincipalType::ApiKey], vec![grant("iam:roles:*", "*", None)]);
        assert_eq!(code(&[other_action], &q), "permission_denied");
        let other_resource =
            role("r", &[PrincipalType::ApiKey], vec![grant("iam:apiKeys:read", "iam:api-keys/akp_2", None)]);
        assert_eq!(code(&[other_resource.clone()], &q), "scope_mismatch");
        let cidr = Condition { source_ip: Some(vec!["192.168.0.0/16".parse().unwrap()]), ..Default::default() };
        let fenced = role("r", &[PrincipalType::ApiKey], vec![grant("iam:apiKeys:*", "*", Some(cidr))]);
        assert_eq!(code(&[fenced.clone()], &q), "condition_not_met");
        let inside = ask("iam:apiKeys:read", "iam:api-keys/akp_1", "192.168.4.2", 100);
        assert_eq!(code(&[fenced.clone()], &inside), "allow");
        assert_eq!(code(&[user_only, other_resource, fenced], &inside), "allow", "any one role may allow");
    }

    #[test]
    fn conditions_cover_ipv6_and_time_windows() {
        let v6 = Condition { source_ip: Some(vec!["2001:db8::/32".parse().unwrap()]), ..Default::default() };
        let r = role("r", &[PrincipalType::ApiKey], vec![grant("*", "*", Some(v6))]);
        assert_eq!(code(&[r.clone()], &ask("x:y:z", "a", "2001:db8::1", 0)), "allow");
        assert_eq!(code(&[r.clone()], &ask("x:y:z", "a", "2001:db9::1", 0)), "condition_not_met");
        assert_eq!(code(&[r], &ask("x:y:z", "a", "not an ip", 0)), "condition_not_met");
        let window = Condition {
            not_before: Some(Timestamp::from_unix(100)),
            not_after: Some(Timestamp::from_unix(200)),
            ..Default::default()
        };
        let r = role("r", &[PrincipalType::ApiKey], vec![grant("*", "*", Some(window))]);
        assert_eq!(code(&[r.clone()], &ask("x:y:z", "a", "", 99)), "condition_not_met");
        assert_eq!(code(&[r.clone()], &ask("x:y:z", "a", "", 100)), "allow");
        assert_eq!(code(&[r.clone()], &ask("x:y:z", "a", "", 200)), "allow");
        assert_eq!(code(&[r], &ask("x:y:z", "a", "", 201)), "condition_not_met");
    }

    #[test]
    fn the_checks_say_which_role_and_permission_matched() {
        let r = role("iam-viewer", &[PrincipalType::ApiKey], vec![grant("iam:apiKeys:read", "*", None)]);
        let e = evaluate(&[r], &ask("iam:apiKeys:read", "iam:api-keys/akp_1", "", 0));
        let matched = e.outcome.unwrap();
        assert_eq!((matched.role_id.as_str(), matched.permission.action.as_str()), ("iam-viewer", "iam:apiKeys:read"));
        let names: Vec<_> = e.checks.iter().map(|c| c.check).collect();
        assert_eq!(
            names,
            [
                "role_assignment",
                "role_supports_principal_type",
                "permission_for_action",
                "resource_scope",
                "conditions"
            ]
        );
        assert!(e.checks.iter().all(|c| c.passed));
    }
}
