//! The grant rule (Kubernetes RBAC's escalation prevention): a principal may grant only what it
//! holds. "Holds" is proved pattern by pattern and condition by condition; what cannot be proved is
//! refused.

use super::policy::glob;
use crate::domain::{Condition, Permission, PrincipalType, Role};

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
    wanted.iter().find(|w| {
        (holder_type == PrincipalType::ApiKey && member_only(w)) || !mine.iter().any(|h| permission_covers(h, w))
    })
}

/// Actions only members may use: the legacy developer page refuses API keys whatever they hold.
pub const MEMBER_ONLY_ACTIONS: [&str; 1] = ["admin:developer:read"];

/// Does `permission` grant a member-only action? An API key never grants one, even holding `*`:
/// it could otherwise give it to a member whose identity-provider subject it controls.
fn member_only(permission: &Permission) -> bool {
    MEMBER_ONLY_ACTIONS.iter().any(|a| super::policy::action_matches(&permission.action, a))
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

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use proptest::prelude::*;

    use super::*;
    use crate::auth::policy::{action_matches, resource_matches};
    use crate::domain::Timestamp;

    fn role(types: &[PrincipalType], permissions: Vec<Permission>) -> Role {
        crate::auth::policy::tests::role("r", types, permissions)
    }

    fn grant(action: &str, resource: &str) -> Permission {
        crate::auth::policy::tests::grant(action, resource, None)
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
            let some: Vec<Permission> = held
                .permissions
                .iter()
                .skip(pick % held.permissions.len())
                .filter(|p| holder == PrincipalType::User || !member_only(p))
                .cloned()
                .collect();
            prop_assert_eq!(first_not_held(std::slice::from_ref(&held), holder, &some), None);
        }
    }
}
