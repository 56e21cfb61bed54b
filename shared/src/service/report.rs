//! The credential report: one row per credential of the org (AWS's credential report for API keys),
//! to find stale, unused and out-of-policy keys. Read-only, never a secret.

use serde::Serialize;

use crate::App;
use crate::domain::{ApiError, CredentialStatus, KeyId, Name, OrgId, OrgSettings, Principal, PrincipalId, Timestamp};
use crate::store::{CredentialRecord, ListParams, Page};

/// One credential as the report shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportRow {
    pub principal_id: PrincipalId,
    /// The principal's display name.
    pub principal_name: Name,
    pub key_id: KeyId,
    pub credential_name: Name,
    /// As clients see it: past its expiry it reads `Expired` before the sweep marks it.
    pub status: CredentialStatus,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub last_used_ip: Option<String>,
    pub last_used_route: Option<String>,
    /// Whole days since `created_at`.
    pub age_days: i64,
    /// An Active credential that breaks the org's current lifetime policy: no expiry where one is
    /// required, or an expiry further from its creation than the maximum lifetime (so credentials
    /// issued before the policy show here). Ended credentials are never out of policy.
    pub out_of_policy: bool,
}

impl ReportRow {
    /// The CSV header: the JSON field names, in this order.
    pub const COLUMNS: [&'static str; 12] = [
        "principalId",
        "principalName",
        "keyId",
        "credentialName",
        "status",
        "createdAt",
        "expiresAt",
        "lastUsedAt",
        "lastUsedIp",
        "lastUsedRoute",
        "ageDays",
        "outOfPolicy",
    ];

    /// The row of `record` (a credential of `principal`) at `now`, under `settings`' policy.
    pub fn of(principal: &Principal, record: &CredentialRecord, settings: &OrgSettings, now: Timestamp) -> Self {
        let c = record.view(now);
        let out_of_policy =
            c.status == CredentialStatus::Active && settings.lifetime_violation(c.expires_at, c.created_at).is_some();
        Self {
            principal_id: principal.id.clone(),
            principal_name: principal.display_name.clone(),
            key_id: c.id,
            credential_name: c.name,
            status: c.status,
            created_at: c.created_at,
            expires_at: c.expires_at,
            last_used_at: c.last_used_at,
            last_used_ip: c.last_used_ip,
            last_used_route: c.last_used_route,
            age_days: (now.unix() - c.created_at.unix()).max(0) / 86_400,
            out_of_policy,
        }
    }

    /// The row's CSV cells, in [`Self::COLUMNS`]' order (empty for null; `yes` or `no`).
    pub fn cells(&self) -> Vec<String> {
        let time = |t: Option<Timestamp>| t.map(|t| t.to_string()).unwrap_or_default();
        vec![
            self.principal_id.to_string(),
            self.principal_name.to_string(),
            self.key_id.to_string(),
            self.credential_name.to_string(),
            self.status.as_str().into(),
            self.created_at.to_string(),
            time(self.expires_at),
            time(self.last_used_at),
            self.last_used_ip.clone().unwrap_or_default(),
            self.last_used_route.clone().unwrap_or_default(),
            self.age_days.to_string(),
            if self.out_of_policy { "yes" } else { "no" }.into(),
        ]
    }
}

/// The cursor scope of the org's report.
pub fn cursor_scope(org: &OrgId) -> String {
    format!("credential-report|{org}")
}

/// A page of the org's report: its API-key principals oldest first, each one's credentials in
/// turn. The policy is the org's settings as issuance reads them (cached ≤ 60 s per container).
pub async fn page(app: &App, org: &OrgId, params: ListParams) -> Result<Page<ReportRow>, ApiError> {
    let settings = app.org_settings(org).await?;
    let now = app.clock.now();
    let page = app.store.credential_report(org, params.limit, params.start).await?;
    let items = page.items.iter().map(|(principal, record)| ReportRow::of(principal, record, &settings, now)).collect();
    Ok(Page { items, next: page.next })
}
