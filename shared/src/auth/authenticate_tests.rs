//! The credential and principal checks' order (`check_standing`).

use super::*;
use crate::domain::{Credential, Name};

fn record(status: CredentialStatus, principal_status: PrincipalStatus) -> KeyStanding {
    let record = CredentialRecord {
        credential: Credential {
            id: KeyId::parse("abcdefghij0123456789").unwrap(),
            principal_id: PrincipalId::generate(),
            name: Name::parse("ci").unwrap(),
            status,
            expires_at: Some(Timestamp::from_unix(100)),
            created_at: Timestamp::from_unix(0),
            last_used_at: None,
            last_used_ip: None,
            last_used_route: None,
            revoked_at: None,
            replaced_by: None,
        },
        org_id: OrgId::generate(),
        secret_hash: secrecy::SecretString::default(),
        version: 1,
    };
    let principal = PrincipalState {
        principal_type: PrincipalType::ApiKey,
        principal_status,
        principal_expires_at: Some(Timestamp::from_unix(200)),
        allowed_cidrs: Vec::new(),
        rate_limit: None,
    };
    KeyStanding { record, principal }
}

#[test]
fn credential_checks_come_before_principal_checks() {
    let now = Timestamp::from_unix(50);
    let revoked_everything = record(CredentialStatus::Revoked, PrincipalStatus::Revoked);
    assert_eq!(check_standing(&revoked_everything, now), Err(AuthFailure::CredentialRevoked));
    let expired_suspended = record(CredentialStatus::Expired, PrincipalStatus::Suspended);
    assert_eq!(check_standing(&expired_suspended, now), Err(AuthFailure::CredentialExpired));
    assert_eq!(
        check_standing(&record(CredentialStatus::Active, PrincipalStatus::Suspended), now),
        Err(AuthFailure::PrincipalSuspended)
    );
    assert_eq!(
        check_standing(&record(CredentialStatus::Active, PrincipalStatus::Revoked), now),
        Err(AuthFailure::PrincipalRevoked)
    );
    assert_eq!(check_standing(&record(CredentialStatus::Active, PrincipalStatus::Active), now), Ok(()));
}

#[test]
fn expiry_is_checked_by_time_whether_or_not_the_sweep_ran() {
    let mut r = record(CredentialStatus::Active, PrincipalStatus::Active);
    assert_eq!(check_standing(&r, Timestamp::from_unix(100)), Err(AuthFailure::CredentialExpired));
    r.record.credential.expires_at = None;
    assert_eq!(check_standing(&r, Timestamp::from_unix(200)), Err(AuthFailure::PrincipalExpired));
}
