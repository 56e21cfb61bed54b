//! Every item of the table as a typed record, mapped with `serde_dynamo`: a record's serde names are
//! its attributes, and [`Stored`] puts it under its key and index keys (all built in `keys`). The
//! names that expressions use are `keys::attr::*`; the tests below hold the two together.

use serde::{Deserialize, Serialize};

use super::{Item, StoreError, to_attributes};
use crate::domain::{OrgId, PrincipalId, Role, RoleId, Timestamp};

/// A record as an item: under its primary key, with the index keys it is found by and its
/// retention clock where it has them.
#[derive(Serialize)]
pub(super) struct Stored<'a, T> {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK", skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<String>,
    #[serde(rename = "GSI2PK", skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(rename = "GSI2SK", skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    #[serde(rename = "GSI3PK", skip_serializing_if = "Option::is_none")]
    gsi3pk: Option<String>,
    #[serde(rename = "GSI3SK", skip_serializing_if = "Option::is_none")]
    gsi3sk: Option<String>,
    #[serde(rename = "ttl", skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
    #[serde(flatten)]
    record: &'a T,
}

impl<'a, T: Serialize> Stored<'a, T> {
    /// `record` under `key` (from `keys`).
    pub(super) fn new((pk, sk): (String, String), record: &'a T) -> Self {
        Self {
            pk,
            sk,
            gsi1pk: None,
            gsi1sk: None,
            gsi2pk: None,
            gsi2sk: None,
            gsi3pk: None,
            gsi3sk: None,
            ttl: None,
            record,
        }
    }

    /// Found through GSI1 by these keys.
    pub(super) fn gsi1(mut self, (pk, sk): (String, String)) -> Self {
        (self.gsi1pk, self.gsi1sk) = (Some(pk), Some(sk));
        self
    }

    /// Found through GSI2 (the expiry index) by these keys.
    pub(super) fn gsi2(mut self, (pk, sk): (String, String)) -> Self {
        (self.gsi2pk, self.gsi2sk) = (Some(pk), Some(sk));
        self
    }

    /// Found through GSI3 (the outbox of unpublished lifecycle events) by these keys.
    pub(super) fn gsi3(mut self, (pk, sk): (String, String)) -> Self {
        (self.gsi3pk, self.gsi3sk) = (Some(pk), Some(sk));
        self
    }

    /// DynamoDB may purge the item after `until`.
    pub(super) fn retained_until(mut self, until: Option<Timestamp>) -> Self {
        self.ttl = until.map(Timestamp::unix);
        self
    }

    pub(super) fn item(&self) -> Result<Item, StoreError> {
        to_attributes(self)
    }
}

/// A custom role and how many principals hold it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RoleRecord {
    #[serde(flatten)]
    pub role: Role,
    #[serde(default)]
    pub assignment_count: u64,
}

/// A role name's uniqueness guard: which role holds the name.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RoleNameGuard {
    pub role_id: RoleId,
}

/// A membership's subject guard: which principal the subject is in the org.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MemberSubjectGuard {
    pub principal_id: PrincipalId,
}

/// A subject's membership of one org, in the subject's partition: which principal it is there,
/// and when it was added (memberships are listed oldest first by it).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SubjectMembership {
    pub org_id: OrgId,
    pub principal_id: PrincipalId,
    pub created_at: Timestamp,
}

/// The expiry sweep's progress.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SweepState {
    pub swept_through_hour: i64,
}

/// How far the sweep's warnings of one kind (7 or 1 days before expiry) have got.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WarningState {
    pub warned_through: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::super::{DynamoStore, dummy_record};
    use super::*;
    use crate::domain::Principal;

    use crate::store::{PrincipalRecord, keys, keys::attr};

    /// Every name `keys` gives an attribute is one the records really write.
    #[test]
    fn the_names_expressions_use_are_the_names_records_write() {
        let credential = dummy_record();
        let item = Stored::new(keys::credential(&credential.credential.id), &credential)
            .gsi1(("a".into(), "b".into()))
            .gsi2(("c".into(), "d".into()))
            .retained_until(Some(credential.credential.created_at))
            .item()
            .unwrap();
        for name in [
            keys::PK,
            keys::SK,
            keys::GSI1PK,
            keys::GSI1SK,
            keys::GSI2PK,
            keys::GSI2SK,
            keys::TTL,
            attr::STATUS,
            attr::EXPIRES_AT,
            attr::ORG_ID,
            attr::LAST_USED_AT,
            attr::LAST_USED_IP,
            attr::LAST_USED_ROUTE,
        ] {
            assert!(item.contains_key(name), "a credential item has {name}");
        }
        let with_revocation = DynamoStore::credential_from(item).unwrap();
        assert_eq!(with_revocation.credential, credential.credential);

        let org = OrgId::generate();
        let t = credential.credential.created_at;
        let mut principal = PrincipalRecord::new(Principal {
            id: crate::domain::PrincipalId::generate(),
            org_id: org.clone(),
            principal_type: crate::domain::PrincipalType::ApiKey,
            display_name: crate::domain::Name::parse("p").unwrap(),
            status: crate::domain::PrincipalStatus::Active,
            expires_at: Some(t),
            created_at: t,
            updated_at: t,
            version: 4,
            subject: None,
            email: None,
            tokens_valid_after: Some(t),
            allowed_cidrs: vec!["203.0.113.0/24".parse().unwrap(), "2001:db8::/32".parse().unwrap()],
            rate_limit: Some(crate::domain::RateLimit { limit: 5, period_seconds: 60 }),
        });
        principal.active_key_ids.push(credential.credential.id.clone());
        principal.role_ids.push(RoleId::parse("iam-admin").unwrap());
        principal.credentials_version = 3;
        let item = Stored::new(keys::principal(&org, &principal.principal.id), &principal).item().unwrap();
        for name in [
            attr::VERSION,
            attr::STATUS,
            attr::EXPIRES_AT,
            attr::ACTIVE_KEY_IDS,
            attr::CREDENTIALS_VERSION,
            attr::ROLE_IDS,
            attr::TOKENS_VALID_AFTER,
            attr::ALLOWED_CIDRS,
            attr::RATE_LIMIT,
        ] {
            assert!(item.contains_key(name), "a principal item has {name}");
        }
        let read: PrincipalRecord = super::super::from_attributes(item).unwrap();
        assert_eq!(read, principal);

        let role = crate::domain::built_in_roles().remove(0);
        let item = to_attributes(&RoleRecord { role, assignment_count: 2 }).unwrap();
        for name in [attr::VERSION, attr::DESCRIPTION, attr::ASSIGNMENT_COUNT] {
            assert!(item.contains_key(name), "a role item has {name}");
        }
        let membership =
            SubjectMembership { org_id: org.clone(), principal_id: PrincipalId::generate_user(), created_at: t };
        let item = Stored::new(keys::subject_membership("sub", &org), &membership).item().unwrap();
        assert!(item.contains_key(attr::ORG_ID), "a subject's membership item has {}", attr::ORG_ID);
        let item = to_attributes(&SweepState { swept_through_hour: 5 }).unwrap();
        assert!(item.contains_key(attr::SWEPT_THROUGH_HOUR));
    }
}
