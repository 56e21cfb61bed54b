//! Sequences the model-based test found that broke a promise, each replayed as a named test.

use super::reference::{Op, Who};
use super::replay;

/// RFC 7009 revocation of a token already revoked answered 200 and wrote a second audit event:
/// the entry was added to the set again. Revoking is one change, audited once.
#[test]
fn revoking_one_access_token_twice_is_one_change_audited_once() {
    replay(vec![
        Op::Assign { p: 0, role: 0, who: Who::Owner },
        Op::Issue { p: 0, who: Who::Owner, expires_in: None },
        Op::Exchange { c: 0 },
        Op::RevokeToken { t: 0 },
        Op::RevokeToken { t: 0 },
        Op::Bearer { t: 0 },
    ]);
}

/// `make soak` (shard seed 1663540822663898963, model a) saw the administrator's issuance of an
/// expiring credential to one principal, after the owner suspended another, answer 500, again and
/// again while it shrank. Replayed alone it passes: the cause is not yet known (docs/reliability.md).
#[test]
fn issuing_an_expiring_credential_after_another_principal_is_suspended_is_not_a_5xx() {
    replay(vec![
        Op::SetStatus { p: 0, status: super::reference::PStatus::Suspended, who: Who::Owner },
        Op::Issue { p: 1, who: Who::Admin, expires_in: Some(2012) },
    ]);
}

// Walked on purpose, not found by a run: each new rule of the model once through the system.

/// A limit counts the calls of a window whatever changes it meanwhile: keys and tokens together,
/// the exchange not at all, a raised limit from the calls already made, a new window afresh.
#[test]
fn a_rate_limit_counts_keys_and_tokens_together_across_a_change_of_limit() {
    replay(vec![
        Op::Assign { p: 0, role: 0, who: Who::Owner },
        Op::Issue { p: 0, who: Who::Owner, expires_in: None },
        Op::SetLimit { p: 0, limit: Some(1) },
        Op::Direct { c: 0 },
        Op::Direct { c: 0 },
        Op::Exchange { c: 0 },
        Op::Bearer { t: 0 },
        Op::SetLimit { p: 0, limit: Some(3) },
        Op::Bearer { t: 0 },
        Op::SetLimit { p: 0, limit: None },
        Op::Direct { c: 0 },
        Op::SetLimit { p: 0, limit: Some(2) },
        Op::Direct { c: 0 },
        Op::Advance { secs: 61 },
        Op::Direct { c: 0 },
    ]);
}

/// An allowlist that leaves out the caller's address stops its keys, their exchange and the
/// tokens already issued, after the 401 checks; one that includes it restores them.
#[test]
fn an_allowlist_stops_keys_exchanges_and_tokens_after_the_401_checks() {
    use super::reference::{Fence, PStatus};
    replay(vec![
        Op::Assign { p: 0, role: 0, who: Who::Owner },
        Op::Issue { p: 0, who: Who::Owner, expires_in: None },
        Op::Exchange { c: 0 },
        Op::SetFence { p: 0, fence: Fence::Elsewhere },
        Op::Bearer { t: 0 },
        Op::SetFence { p: 0, fence: Fence::Here },
        Op::Exchange { c: 0 },
        Op::SetFence { p: 0, fence: Fence::Any },
        Op::Bearer { t: 1 },
        Op::SetStatus { p: 0, status: PStatus::Suspended, who: Who::Owner },
        Op::SetFence { p: 0, fence: Fence::Elsewhere },
        Op::Direct { c: 0 },
    ]);
}

/// A window that follows one the container saw at under half the limit opens on credit (its first
/// lease taken in the background): the calls of that window still stop at the limit, and a change
/// of limit within it counts from the same calls.
#[test]
fn a_window_opened_on_credit_still_stops_at_its_limit() {
    replay(vec![
        Op::Assign { p: 0, role: 0, who: Who::Owner },
        Op::Issue { p: 0, who: Who::Owner, expires_in: None },
        Op::SetLimit { p: 0, limit: Some(3) },
        Op::Direct { c: 0 },
        Op::Advance { secs: 61 },
        Op::Direct { c: 0 },
        Op::Direct { c: 0 },
        Op::SetLimit { p: 0, limit: Some(2) },
        Op::Direct { c: 0 },
        Op::SetLimit { p: 0, limit: Some(3) },
        Op::Direct { c: 0 },
        Op::Direct { c: 0 },
        Op::Advance { secs: 60 },
        Op::Exchange { c: 0 },
        Op::Bearer { t: 0 },
        Op::Direct { c: 0 },
    ]);
}
