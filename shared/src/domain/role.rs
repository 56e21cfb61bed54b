//! Roles: named sets of permissions for principal types; four built-ins every org has, and the
//! org's own custom roles.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{OrgId, PrincipalType, Timestamp};

/// `condition` of a permission: every key given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Condition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<Vec<ipnet::IpNet>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<Timestamp>,
}

/// One grant: an action pattern on a resource pattern, maybe conditional.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Permission {
    pub action: String,
    pub resource: String,
    #[serde(default)]
    pub condition: Option<Condition>,
}

/// A role's id: a built-in's fixed name, or `role_<ULID>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoleId(String);

impl RoleId {
    /// A new custom role id.
    pub fn generate() -> Self {
        Self(format!("role_{}", ulid::Ulid::new()))
    }

    /// A built-in name or a canonical `role_<ULID>`.
    pub fn parse(text: &str) -> Option<Self> {
        let custom =
            text.strip_prefix("role_").is_some_and(|u| ulid::Ulid::from_string(u).is_ok_and(|v| v.to_string() == u));
        (custom || BUILT_IN_IDS.contains(&text)).then(|| Self(text.to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Is this one of the four built-ins?
    pub fn is_built_in(&self) -> bool {
        BUILT_IN_IDS.contains(&self.0.as_str())
    }
}

impl fmt::Display for RoleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const BUILT_IN_IDS: [&str; 4] = ["owner", "iam-admin", "iam-viewer", "developer"];

/// A role as clients see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub id: RoleId,
    /// `None` for built-ins, which every org has.
    pub org_id: Option<OrgId>,
    pub name: String,
    pub description: Option<String>,
    pub principal_types: Vec<PrincipalType>,
    pub permissions: Vec<Permission>,
    pub built_in: bool,
    pub version: u64,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
}

/// The form under which role names are unique in an org: NFKC, lower case, then the UTS #39
/// confusable skeleton (lower-cased again), so that `ownеr` (a Cyrillic `е`), `OWNER` and
/// `ｏｗｎｅｒ` are all the name `owner`. Compared, never shown.
pub fn role_name_skeleton(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let folded = name.nfkc().collect::<String>().to_lowercase();
    unicode_security::skeleton(&folded).collect::<String>().to_lowercase()
}

/// IAM's read and list actions: what `iam-viewer` grants.
pub const IAM_READ_ACTIONS: [&str; 13] = [
    "iam:apiKeys:read",
    "iam:apiKeys:list",
    "iam:credentials:list",
    "iam:credentials:report",
    "iam:roles:read",
    "iam:roles:list",
    "iam:roleAssignments:list",
    "iam:members:list",
    "iam:settings:read",
    "iam:audit:read",
    "iam:workloadTrusts:read",
    "iam:workloadTrusts:list",
    "iam:workloadTrusts:test",
];

fn built_in(id: &str, name: &str, description: &str, types: &[PrincipalType], actions: &[&str]) -> Role {
    Role {
        id: RoleId(id.into()),
        org_id: None,
        name: name.into(),
        description: Some(description.into()),
        principal_types: types.to_vec(),
        permissions: actions
            .iter()
            .map(|a| Permission { action: (*a).into(), resource: "*".into(), condition: None })
            .collect(),
        built_in: true,
        version: 1,
        created_at: None,
        updated_at: None,
    }
}

/// The four built-in roles, available to every org, read-only.
pub fn built_in_roles() -> Vec<Role> {
    use PrincipalType::{ApiKey, User};
    vec![
        built_in("owner", "owner", "Everything in the organisation.", &[User], &["*"]),
        built_in("iam-admin", "iam-admin", "Every IAM action.", &[User, ApiKey], &["iam:*"]),
        built_in("iam-viewer", "iam-viewer", "IAM read and list actions.", &[User, ApiKey], &IAM_READ_ACTIONS),
        built_in("developer", "developer", "The legacy developer key page.", &[User], &["admin:developer:read"]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_look_alike_have_one_skeleton() {
        let owner = role_name_skeleton("owner");
        for alike in ["OWNER", "Owner", "ownеr", "ｏｗｎｅｒ", "оwnеr"] {
            assert_eq!(role_name_skeleton(alike), owner, "{alike}");
        }
        assert_ne!(role_name_skeleton("owners"), owner);
        assert_ne!(role_name_skeleton("billing sync"), role_name_skeleton("billing-sync"));
    }
}
