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
