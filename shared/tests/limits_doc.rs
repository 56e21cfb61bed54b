//! docs/limits.md's table "Limits the code defines" against the code: each row names a constant by
//! a path that compiles here, and its value must be the constant's. A constant listed below and
//! missing from the table, or a row naming a constant not listed here, fails too.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::ops::RangeInclusive;

trait Shown {
    fn shown(&self) -> String;
}

macro_rules! shown_as_number {
    ($($t:ty),*) => { $(impl Shown for $t { fn shown(&self) -> String { self.to_string() } })* };
}
shown_as_number!(i64, u64, u32, usize);

impl<T: Display> Shown for RangeInclusive<T> {
    fn shown(&self) -> String {
        format!("{}..={}", self.start(), self.end())
    }
}

/// `(path as written, value as the doc shows it)` for each constant.
macro_rules! constants {
    ($($path:path),* $(,)?) => {
        vec![$((stringify!($path).replace(' ', ""), Shown::shown(&$path))),*]
    };
}

#[test]
fn every_limit_the_doc_lists_is_the_codes() {
    let code: BTreeMap<String, String> = constants![
        shared::domain::OrgSettings::TOKEN_TTL_RANGE,
        shared::domain::OrgSettings::CREDENTIAL_CAP_RANGE,
        shared::domain::OrgSettings::DIRECT_CACHE_RANGE,
        shared::domain::OrgSettings::CREDENTIAL_LIFETIME_RANGE,
        shared::auth::tokens::MAX_TOKEN_TTL_SECONDS,
        shared::auth::tokens::LEEWAY_SECONDS,
        shared::auth::tokens::KEY_REFRESH_SECONDS,
        shared::auth::tokens::RETIRED_KEY_LIFETIME_SECONDS,
        shared::app::TOKEN_REVOCATION_CACHE_SECONDS,
        shared::app::ROLE_CACHE_SECONDS,
        shared::auth::DirectKeys::MAX_SECONDS,
        shared::auth::VerifiedKeys::CAPACITY,
        shared::auth::DirectKeys::CAPACITY,
        shared::auth::tokens::JWKS_MAX_AGE_SECONDS,
        shared::auth::tokens::UNKNOWN_KID_REFRESH_SECONDS,
        shared::app::KEYS_RETRY_SECONDS,
        shared::auth::oidc::JWKS_REFETCH_SECONDS,
        shared::auth::leak_reports::KEYS_REFETCH_SECONDS,
        shared::service::WRITE_ATTEMPTS,
        shared::store::EVENT_BATCH,
        shared::store::keys::OUTBOX_SHARDS,
        shared::auth::scope::MAX_SCOPE_ACTIONS,
        shared::http::body::MAX_BODY_BYTES,
        shared::http::cursor::ListParams::DEFAULT_LIMIT,
        shared::http::cursor::ListParams::MAX_LIMIT,
        shared::domain::Name::MAX_CHARS,
        shared::domain::KeyId::LEN,
        shared::service::credentials::MAX_ROLL_GRACE_SECONDS,
        shared::service::assignments::MAX_ROLES_PER_PRINCIPAL,
        shared::service::roles::MAX_PERMISSIONS,
        shared::service::roles::MAX_CUSTOM_ROLES,
        shared::store::REVOKED_TOKENS_CAP,
        shared::store::MAX_TRANSACTION_ACTIONS,
        shared::service::leaks::MAX_TOKENS,
        shared::service::leaks::MAX_REPORT_BYTES,
        shared::service::leaks::CONCURRENCY,
        shared::service::sweep::CONCURRENCY,
        shared::service::sweep::FIRST_LOOKBACK_HOURS,
        shared::store::keys::EXPIRY_SHARDS,
        shared::store::keys::AUDIT_SHARDS,
        shared::service::trusts::MAX_TRUSTS,
        shared::service::trusts::MAX_AUDIENCES,
        shared::service::trusts::MAX_CONDITIONS,
        shared::service::trusts::MAX_TEXT_BYTES,
        shared::service::trusts::DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
        shared::auth::federation::KEYS_MAX_AGE_SECONDS,
        shared::auth::federation::REFETCH_SECONDS,
        shared::auth::federation::FAILED_FETCH_RETRY_SECONDS,
        shared::auth::federation::MAX_ISSUERS,
        shared::auth::federation::MAX_DOCUMENT_BYTES,
        shared::auth::federation::FETCH_TIMEOUT_SECONDS,
        shared::auth::federation::MAX_SUBJECT_TOKEN_BYTES,
        shared::auth::federation::MAX_SUBJECT_TOKEN_AGE_SECONDS,
        shared::auth::federation::MAX_SUBJECT_AUDIENCES,
        shared::domain::MAX_ALLOWED_CIDRS,
        shared::domain::RateLimit::LIMIT_RANGE,
        shared::domain::RateLimit::PERIOD_RANGE,
        shared::auth::LEASE_FRACTION,
        shared::auth::MAX_RATE_WINDOWS,
        shared::Config::USAGE_FLUSH_SECONDS,
        shared::auth::outcomes::ALLOWED_KEPT_PER_MINUTE,
        shared::auth::outcomes::MAX_PENDING_RECENT,
        shared::store::RECENT_REQUEST_DAYS,
        shared::service::usage::MAX_HOURLY_RANGE_SECONDS,
        shared::service::usage::MAX_DAILY_RANGE_SECONDS,
        shared::service::org_usage::MAX_DAYS,
        shared::service::org_usage::TOP_KEYS,
        shared::auth::outcomes::RATE_LIMITED_REPEATEDLY,
        shared::auth::outcomes::FAILING_REPEATEDLY,
    ]
    .into_iter()
    .collect();

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/limits.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let table = text.split("## Limits the code defines").nth(1).expect("the section").split("\n## ").next().unwrap();
    let mut documented = BTreeMap::new();
    for line in table.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| limit")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(|c| c.trim().trim_matches('`')).collect();
        let (limit, value, constant) = (cells[0], cells[1], cells[2]);
        let expected =
            code.get(constant).unwrap_or_else(|| panic!("{limit}: {constant} is not a constant this test knows"));
        assert_eq!(value, expected, "{limit} ({constant}): the doc says {value}, the code {expected}");
        documented.insert(constant.to_string(), value.to_string());
    }
    let missing: Vec<_> = code.keys().filter(|c| !documented.contains_key(*c)).collect();
    assert!(missing.is_empty(), "constants the table does not list: {missing:?}");
}
