//! Permission evaluation, pure: roles, permissions (action and resource patterns, conditions) and
//! the contract's 403 checks in their order. The routes and `/authorize` both call `evaluate`, so
//! the explainer cannot disagree with what the routes do.

use std::net::IpAddr;

use serde::Serialize;

pub use crate::domain::Denial;
use crate::domain::{Condition, Permission, PrincipalType, Role, Timestamp};

/// Does `pattern` match `text`, `*` standing for any run of characters (none included)?
fn glob(pattern: &str, text: &str) -> bool {
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

/// Does action pattern `outer` match every action that `inner` matches? Sound, not complete: a
/// `true` is a proof, and whatever this cannot prove is `false` (the grant rule then refuses).
pub fn action_covers(outer: &str, inner: &str) -> bool {
    if outer == "*" {
        return true;
    }
    if inner == "*" {
        return false;
    }
    let (o, i): (Vec<&str>, Vec<&str>) = (outer.split(':').collect(), inner.split(':').collect());
    let o_last = o.len() - 1;
    if o[o_last] == "*" {
        // `outer` matches every action of more than `o_last` segments whose first `o_last`
        // segments match: `inner`'s actions all have at least `i.len()` segments.
        return i.len() > o_last && o[..o_last].iter().zip(&i).all(|(p, q)| glob(p, q));
    }
    // `outer` matches exactly `o.len()` segments; an `inner` ending in `*` matches longer ones too.
    i[i.len() - 1] != "*" && i.len() == o.len() && o.iter().zip(&i).all(|(p, q)| glob(p, q))
}

/// Does resource pattern `outer` match every resource that `inner` matches? `inner`'s `*` can be
/// stood for by `outer`'s `*` alone, never by a literal: sound.
pub fn resource_covers(outer: &str, inner: &str) -> bool {
    glob(outer, inner)
}

impl Condition {
    /// Does this condition hold whenever `other` (none: always) holds, i.e. is it no stricter?
    pub fn no_stricter_than(&self, other: Option<&Condition>) -> bool {
        let none = Condition::default();
        let other = other.unwrap_or(&none);
        let ranges = match (&self.source_ip, &other.source_ip) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(mine), Some(theirs)) => theirs.iter().all(|t| mine.iter().any(|m| m.contains(t))),
        };
        let from = self.not_before.is_none_or(|mine| other.not_before.is_some_and(|theirs| theirs >= mine));
        let until = self.not_after.is_none_or(|mine| other.not_after.is_some_and(|theirs| theirs <= mine));
        ranges && from && until
    }
}

/// Does holding `held` give everything `wanted` would: every action and resource it matches, under
/// a condition no stricter?
pub fn permission_covers(held: &Permission, wanted: &Permission) -> bool {
    action_covers(&held.action, &wanted.action)
        && resource_covers(&held.resource, &wanted.resource)
        && held.condition.as_ref().is_none_or(|c| c.no_stricter_than(wanted.condition.as_ref()))
}

/// The grant rule (Kubernetes RBAC's escalation prevention): a principal of `holder_type` holding
/// `held` may grant `wanted` only if each wanted permission is covered by one it holds itself,
/// through a role supporting its type. Answers the first permission it does not hold.
pub fn first_not_held<'a>(
    held: &[Role],
    holder_type: PrincipalType,
    wanted: &'a [Permission],
) -> Option<&'a Permission> {
    let mine: Vec<&Permission> =
        held.iter().filter(|r| r.principal_types.contains(&holder_type)).flat_map(|r| &r.permissions).collect();
    wanted.iter().find(|w| !mine.iter().any(|h| permission_covers(h, w)))
}

/// Does `after` give anything `before` did not: a principal type more, or a permission that no
/// permission of `before` covers? Narrowing a role (or renaming it) is never escalation.
pub fn widens(before: &Role, after: &Role) -> bool {
    after.principal_types.iter().any(|t| !before.principal_types.contains(t))
        || after.permissions.iter().any(|p| !before.permissions.iter().any(|b| permission_covers(b, p)))
}

/// A permission as `detail` names it: `iam:roles:* on *` (with its condition, if any).
pub fn describe(permission: &Permission) -> String {
    let condition = match &permission.condition {
        Some(c) => format!(" when {}", serde_json::to_string(c).unwrap_or_default()),
        None => String::new(),
    };
    format!("{} on {}{condition}", permission.action, permission.resource)
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
mod tests {
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

    pub(super) fn role(id: &str, types: &[PrincipalType], permissions: Vec<Permission>) -> Role {
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

    pub(super) fn grant(action: &str, resource: &str, condition: Option<Condition>) -> Permission {
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

#[cfg(test)]
mod grant_tests {
    use proptest::prelude::*;

    use super::*;

    fn role(types: &[PrincipalType], permissions: Vec<Permission>) -> Role {
        super::tests::role("r", types, permissions)
    }

    fn grant(action: &str, resource: &str) -> Permission {
        super::tests::grant(action, resource, None)
    }

    #[test]
    fn action_patterns_cover_only_what_they_match() {
        for (outer, inner, expected) in [
            ("*", "*", true),
            ("*", "iam:*", true),
            ("iam:*", "*", false),
            ("iam:*", "iam:*", true),
            ("iam:*", "iam:apiKeys:*", true),
            ("iam:*", "iam:apiKeys:read", true),
            ("iam:*", "admin:developer:read", false),
            ("iam:apiKeys:*", "iam:*", false),
            ("iam:apiKeys:*", "iam:apiKeys:re*", true),
            ("iam:apiKeys:re*", "iam:apiKeys:*", false),
            ("iam:apiKeys:re*", "iam:apiKeys:read", true),
            ("iam:apiKeys:read", "iam:apiKeys:re*", false),
            ("iam:*:read", "iam:apiKeys:read", true),
            ("iam:*:read", "iam:*", false),
            ("iam:apiKeys:read", "iam:apiKeys:read", true),
            ("iam:apiKeys:read", "iam:apiKeys:list", false),
            ("demo:*", "demo:*", true),
            ("demo:*", "demox:*", false),
        ] {
            assert_eq!(action_covers(outer, inner), expected, "{outer} covers {inner}");
        }
    }

    #[test]
    fn resource_patterns_cover_only_what_they_match() {
        assert!(resource_covers("*", "iam:api-keys/*"));
        assert!(resource_covers("iam:api-keys/*", "iam:api-keys/akp_1*"));
        assert!(resource_covers("iam:api-keys/*", "iam:api-keys/akp_1"));
        assert!(!resource_covers("iam:api-keys/akp_1", "iam:api-keys/*"));
        assert!(!resource_covers("iam:api-keys/*", "*"));
        assert!(!resource_covers("iam:principals/akp_1", "iam:principals/akp_2"));
    }

    #[test]
    fn a_condition_covers_only_when_it_is_no_stricter() {
        let inside = Condition { source_ip: Some(vec!["10.0.0.0/8".parse().unwrap()]), ..Default::default() };
        let narrower = Condition { source_ip: Some(vec!["10.1.0.0/16".parse().unwrap()]), ..Default::default() };
        assert!(inside.no_stricter_than(Some(&narrower)));
        assert!(!narrower.no_stricter_than(Some(&inside)));
        assert!(!inside.no_stricter_than(None), "a fenced holder cannot grant an unfenced permission");
        let window = |from: i64, to: i64| Condition {
            not_before: Some(Timestamp::from_unix(from)),
            not_after: Some(Timestamp::from_unix(to)),
            ..Default::default()
        };
        assert!(window(100, 200).no_stricter_than(Some(&window(120, 180))));
        assert!(!window(100, 200).no_stricter_than(Some(&window(90, 180))));
        assert!(!window(100, 200).no_stricter_than(Some(&window(120, 210))));
        assert!(Condition::default().no_stricter_than(Some(&window(1, 2))));
    }

    #[test]
    fn the_built_in_roles_grant_as_the_issue_says() {
        let all = crate::domain::built_in_roles();
        let get = |id: &str| all.iter().find(|r| r.id.as_str() == id).unwrap().clone();
        let (owner, admin, viewer, developer) = (get("owner"), get("iam-admin"), get("iam-viewer"), get("developer"));
        let user = PrincipalType::User;
        let api_key = PrincipalType::ApiKey;
        for wanted in [&owner, &admin, &viewer, &developer] {
            assert_eq!(
                first_not_held(std::slice::from_ref(&owner), user, &wanted.permissions),
                None,
                "owner grants {}",
                wanted.id
            );
        }
        for holder in [user, api_key] {
            assert_eq!(first_not_held(std::slice::from_ref(&admin), holder, &admin.permissions), None);
            assert_eq!(first_not_held(std::slice::from_ref(&admin), holder, &viewer.permissions), None);
            assert_eq!(
                first_not_held(std::slice::from_ref(&admin), holder, &owner.permissions),
                Some(&owner.permissions[0])
            );
            assert_eq!(
                first_not_held(std::slice::from_ref(&admin), holder, &developer.permissions),
                Some(&developer.permissions[0])
            );
            let tenant = [grant("demo:*", "*")];
            assert_eq!(first_not_held(std::slice::from_ref(&admin), holder, &tenant), Some(&tenant[0]));
        }
        assert!(first_not_held(std::slice::from_ref(&viewer), api_key, &admin.permissions).is_some());
        // A role that does not support the holder's type gives it nothing to grant with.
        assert!(first_not_held(std::slice::from_ref(&owner), api_key, &viewer.permissions).is_some());
    }

    #[test]
    fn a_role_widens_with_a_permission_or_a_principal_type_more_never_by_narrowing() {
        let before = role(&[PrincipalType::ApiKey], vec![grant("iam:roles:*", "iam:roles/*")]);
        let mut after = before.clone();
        after.permissions = vec![grant("iam:roles:update", "iam:roles/role_1")];
        assert!(!widens(&before, &after), "narrower");
        after.name = "renamed".into();
        assert!(!widens(&before, &after), "renamed");
        after.permissions.push(grant("iam:apiKeys:read", "*"));
        assert!(widens(&before, &after), "a permission more");
        let mut typed = before.clone();
        typed.principal_types.push(PrincipalType::User);
        assert!(widens(&before, &typed), "a principal type more");
    }

    // The property: whatever the grant rule lets a holder grant, the holder could already do, for
    // every concrete action, resource, address and time of a small universe that collides often.
    const SEGMENTS: [&str; 7] = ["iam", "iot", "a", "*", "a*", "*b", "ab"];
    const RESOURCES: [&str; 8] = ["*", "x", "x/*", "x/y", "*/y", "y*", "x/y*", "yx"];
    const CIDRS: [&str; 3] = ["10.0.0.0/8", "10.1.0.0/16", "192.0.2.0/24"];

    fn action_pattern() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(&SEGMENTS[..]), 1..=3).prop_map(|s| s.join(":"))
    }

    fn condition() -> impl Strategy<Value = Option<Condition>> {
        let ranges = prop::option::of(prop::collection::vec(prop::sample::select(&CIDRS[..]), 1..=2));
        let time = prop::option::of(prop::sample::select(vec![100i64, 200, 300]));
        prop::option::of((ranges, time.clone(), time)).prop_map(|c| {
            c.map(|(ranges, from, until)| Condition {
                source_ip: ranges.map(|r| r.iter().map(|c| c.parse().unwrap()).collect()),
                not_before: from.map(Timestamp::from_unix),
                not_after: until.map(Timestamp::from_unix),
            })
        })
    }

    fn permission() -> impl Strategy<Value = Permission> {
        (action_pattern(), prop::sample::select(&RESOURCES[..]), condition())
            .prop_map(|(action, resource, condition)| Permission { action, resource: resource.into(), condition })
    }

    fn held_role() -> impl Strategy<Value = Role> {
        let types = prop::sample::select(vec![
            vec![PrincipalType::ApiKey],
            vec![PrincipalType::User],
            vec![PrincipalType::ApiKey, PrincipalType::User],
        ]);
        (types, prop::collection::vec(permission(), 1..=3)).prop_map(|(types, permissions)| role(&types, permissions))
    }

    /// Roles held, and permissions to grant: some drawn at random, most made from a held one
    /// with its action, resource or condition redrawn, so that allowed grants are common.
    fn held_and_wanted() -> impl Strategy<Value = (Vec<Role>, Vec<Permission>)> {
        prop::collection::vec(held_role(), 0..=3).prop_flat_map(|held| {
            let theirs: Vec<Permission> = held.iter().flat_map(|r| r.permissions.clone()).collect();
            let redraw = || prop::bool::weighted(0.2);
            let pick = (any::<usize>(), permission(), [redraw(), redraw(), redraw(), redraw()]);
            let wanted = prop::collection::vec(pick, 1..=3).prop_map(move |picks| {
                picks
                    .into_iter()
                    .map(|(i, fresh, [random, action, resource, condition])| {
                        if theirs.is_empty() || random {
                            return fresh;
                        }
                        let base = theirs[i % theirs.len()].clone();
                        Permission {
                            action: if action { fresh.action } else { base.action },
                            resource: if resource { fresh.resource } else { base.resource },
                            condition: if condition { fresh.condition } else { base.condition },
                        }
                    })
                    .collect()
            });
            (Just(held), wanted)
        })
    }

    fn allows(permissions: &[&Permission], action: &str, resource: &str, ip: IpAddr, now: Timestamp) -> bool {
        permissions.iter().any(|p| {
            action_matches(&p.action, action)
                && resource_matches(&p.resource, resource)
                && p.condition.as_ref().is_none_or(|c| c.failure(Some(ip), now).is_none())
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn a_grant_is_allowed_only_when_the_holder_could_already_do_all_of_it((held, wanted) in held_and_wanted()) {
            let holder = PrincipalType::ApiKey;
            if first_not_held(&held, holder, &wanted).is_none() {
                let mine: Vec<&Permission> = held
                    .iter()
                    .filter(|r| r.principal_types.contains(&holder))
                    .flat_map(|r| &r.permissions)
                    .collect();
                let granted: Vec<&Permission> = wanted.iter().collect();
                let words = ["iam", "iot", "a", "ab", "b", "ba"];
                let mut actions: Vec<String> = Vec::new();
                for x in words {
                    actions.push(x.to_string());
                    for y in words {
                        actions.push(format!("{x}:{y}"));
                        for z in ["a", "b", "ab"] {
                            actions.push(format!("{x}:{y}:{z}"));
                        }
                    }
                }
                let resources = ["x", "y", "x/y", "x/yy", "yx", "x/", "/y", "xy/y", ""];
                let ips: Vec<IpAddr> = ["10.1.2.3", "10.2.0.1", "192.0.2.9", "2001:db8::1"]
                    .iter().map(|i| i.parse().unwrap()).collect();
                for action in &actions {
                    for resource in resources {
                        for ip in &ips {
                            for t in [50, 150, 250, 350] {
                                let now = Timestamp::from_unix(t);
                                if allows(&granted, action, resource, *ip, now) {
                                    prop_assert!(
                                        allows(&mine, action, resource, *ip, now),
                                        "granting {wanted:?} gives {action} on {resource} from {ip} at {t}, \
                                         which {held:?} does not"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }

        #[test]
        fn a_holder_may_always_grant_what_it_holds(held in held_role(), pick in 0usize..3) {
            let holder = held.principal_types[0];
            let some: Vec<Permission> = held.permissions.iter().skip(pick % held.permissions.len()).cloned().collect();
            prop_assert_eq!(first_not_held(std::slice::from_ref(&held), holder, &some), None);
        }
    }
}
