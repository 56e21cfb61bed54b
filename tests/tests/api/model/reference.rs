//! The reference model: a pure, in-memory account of what the API promises for one org (its
//! principals, credentials, roles, assignments, settings, tokens and the clock). Each operation
//! says what the API must answer and how the state moves; `check` states the invariants that must
//! hold after every step, whatever came before.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;

/// A custom role's permissions: bit 1 an IAM action the org's administrator holds
/// (`iam:apiKeys:read`), bit 2 one it does not (`demo:read`).
pub const IAM: u8 = 1;
pub const DEMO: u8 = 2;

/// The verifiers' leeway on `exp`, and the longest a leak report reaches back for tokens.
pub const LEEWAY: i64 = 30;
pub const MAX_TOKEN_TTL: i64 = 3600;
/// The org's access-token lifetime, set when a sequence starts.
pub const TOKEN_TTL: i64 = 300;
/// The period of every rate limit the model sets. The system's clock starts a sequence at a
/// multiple of it, so the model's windows are the service's.
pub const RATE_PERIOD: i64 = 60;

/// An API-key principal's allowlist, as seen from the address every call of a sequence comes from
/// (198.51.100.7): none, one that includes it, one that does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fence {
    Any,
    Here,
    Elsewhere,
}

impl Fence {
    /// The `allowedCidrs` that stand for it.
    pub fn cidrs(self) -> Vec<&'static str> {
        match self {
            Self::Any => vec![],
            Self::Here => vec!["198.51.100.0/24"],
            Self::Elsewhere => vec!["203.0.113.0/24", "2001:db8::/32"],
        }
    }
}

/// Who makes a granting call: the org's administrator key (`iam-admin`: every IAM action and
/// nothing else) or its owner member (everything).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    Admin,
    Owner,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PStatus {
    Active,
    Suspended,
    Revoked,
}

impl PStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Suspended => "Suspended",
            Self::Revoked => "Revoked",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CStatus {
    Active,
    Expired,
    Revoked,
}

#[derive(Clone, Debug)]
pub struct Principal {
    pub status: PStatus,
    pub tokens_valid_after: Option<i64>,
    /// Indexes into `roles` (0: the built-in `iam-viewer`).
    pub roles: BTreeSet<usize>,
    pub fence: Fence,
    /// Calls per [`RATE_PERIOD`]; `None`: unlimited.
    pub limit: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct Cred {
    pub principal: usize,
    /// As stored: the sweep (or an issuance at the cap) marks an expired credential.
    pub status: CStatus,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub rolled: bool,
}

impl Cred {
    fn expired_at(&self, now: i64) -> bool {
        self.status == CStatus::Expired || self.expires_at.is_some_and(|e| e <= now)
    }

    /// Active and not past its expiry.
    pub fn live(&self, now: i64) -> bool {
        self.status == CStatus::Active && !self.expired_at(now)
    }
}

#[derive(Clone, Debug)]
pub struct Role {
    pub mask: u8,
    pub deleted: bool,
}

#[derive(Clone, Debug)]
pub struct Token {
    pub principal: usize,
    pub iat: i64,
    pub exp: i64,
    pub revoked: bool,
    /// The allowlist it carries: its principal's when it was exchanged.
    pub fence: Fence,
}

/// What the API must answer to the last operation, and what the SUT must probe after it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expected {
    pub status: u16,
    pub code: &'static str,
    /// Audit events the operation writes (expiry warnings aside).
    pub audits: usize,
    /// Credentials and tokens whose standing the operation changed, each to be tried at once.
    pub probes: Vec<Probe>,
    /// What each probe's calls must answer, in order (a credential: called directly, then
    /// exchanged; a token: called), counted against the rate limits as the calls are.
    pub probe_answers: Vec<(u16, &'static str)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    Credential(usize),
    Token(usize),
}

#[derive(Clone, Debug)]
pub struct State {
    /// Seconds since the sequence started.
    pub now: i64,
    pub cap: usize,
    pub direct: bool,
    pub principals: Vec<Principal>,
    pub creds: Vec<Cred>,
    pub roles: Vec<Role>,
    pub tokens: Vec<Token>,
    pub last: Expected,
    /// Every credential ever issued beyond the cap in force: must stay empty.
    pub over_cap: Vec<usize>,
    /// Calls each principal made in each rate-limit window that its limit let through: (principal,
    /// window) → count.
    pub admitted: BTreeMap<(usize, i64), u32>,
    /// Every call allowed beyond its principal's limit in force: must stay empty.
    pub over_limit: Vec<(usize, i64)>,
}

#[derive(Clone, Debug)]
pub enum Op {
    CreatePrincipal,
    Issue {
        p: usize,
        who: Who,
        expires_in: Option<i64>,
    },
    Roll {
        c: usize,
        grace: i64,
        who: Who,
    },
    ExpireEarlier {
        c: usize,
        in_secs: i64,
    },
    Revoke {
        c: usize,
    },
    SetStatus {
        p: usize,
        status: PStatus,
        who: Who,
    },
    Assign {
        p: usize,
        role: usize,
        who: Who,
    },
    Unassign {
        p: usize,
        role: usize,
    },
    CreateRole {
        mask: u8,
        who: Who,
    },
    WidenRole {
        role: usize,
        who: Who,
    },
    DeleteRole {
        role: usize,
    },
    SetCap {
        cap: usize,
    },
    SetDirect {
        on: bool,
    },
    Exchange {
        c: usize,
    },
    Direct {
        c: usize,
    },
    Bearer {
        t: usize,
    },
    RevokeTokens {
        p: usize,
    },
    RevokeToken {
        t: usize,
    },
    /// The principal's `allowedCidrs`.
    SetFence {
        p: usize,
        fence: Fence,
    },
    /// The principal's `rateLimit` (per [`RATE_PERIOD`]), or `null`.
    SetLimit {
        p: usize,
        limit: Option<u32>,
    },
    LeakReport {
        c: usize,
    },
    Sweep,
    Advance {
        secs: i64,
    },
}

/// Principals a sequence starts with.
pub const START_PRINCIPALS: usize = 2;
/// The cap a sequence starts with.
pub const START_CAP: usize = 3;

impl State {
    pub fn active_count(&self, p: usize) -> usize {
        self.creds.iter().filter(|c| c.principal == p && c.status == CStatus::Active).count()
    }

    fn holds(&self, p: usize, bit: u8) -> bool {
        self.principals[p].roles.iter().any(|&r| self.roles[r].mask & bit != 0)
    }

    /// The grant rule for acting as `p` (issuing it a key, making it Active): the administrator
    /// may not hand out what it does not hold.
    fn acting_as_refused(&self, p: usize, who: Who) -> bool {
        who == Who::Admin && self.holds(p, DEMO)
    }

    /// The contract's 401 table for a credential, in order; `None`: it authenticates.
    pub fn refusal_of(&self, c: usize) -> Option<&'static str> {
        let cred = &self.creds[c];
        if cred.status == CStatus::Revoked {
            return Some("credential_revoked");
        }
        if cred.expired_at(self.now) {
            return Some("credential_expired");
        }
        match self.principals[cred.principal].status {
            PStatus::Suspended => Some("principal_suspended"),
            PStatus::Revoked => Some("principal_revoked"),
            PStatus::Active => None,
        }
    }

    /// A direct `ApiKey` call of the principal's own record: authentication, then the principal's
    /// allowlist and rate limit (the call counts against it), then authorization.
    pub fn direct_call(&mut self, c: usize) -> (u16, &'static str) {
        if let Some(code) = self.refusal_of(c) {
            return (401, code);
        }
        if !self.direct {
            return (401, "direct_api_key_auth_disabled");
        }
        let p = self.creds[c].principal;
        self.admit(p).unwrap_or_else(|| self.read_own(p))
    }

    /// The principal's own checks once its caller is authenticated: its allowlist (403), then its
    /// rate limit (429), counting the call when it passes both. `None`: on to authorization.
    fn admit(&mut self, p: usize) -> Option<(u16, &'static str)> {
        if self.principals[p].fence == Fence::Elsewhere {
            return Some((403, "ip_not_allowed"));
        }
        // An unlimited principal's calls are not counted: a limit set later counts from then.
        let limit = self.principals[p].limit?;
        let window = self.now.div_euclid(RATE_PERIOD);
        let used = self.admitted.entry((p, window)).or_default();
        if *used >= limit {
            return Some((429, "rate_limited"));
        }
        *used += 1;
        if *used > limit {
            self.over_limit.push((p, window));
        }
        None
    }

    /// `GET .../api-keys/{self}` once authenticated: it needs `iam:apiKeys:read`.
    fn read_own(&self, p: usize) -> (u16, &'static str) {
        if self.principals[p].roles.is_empty() {
            (403, "no_role_assignment")
        } else if self.holds(p, IAM) {
            (200, "")
        } else {
            (403, "permission_denied")
        }
    }

    /// The exchange of a credential's key for a token: not counted against the rate limit.
    pub fn exchange_answer(&self, c: usize) -> (u16, &'static str) {
        match self.refusal_of(c) {
            Some(code) => (401, code),
            None if self.principals[self.creds[c].principal].fence == Fence::Elsewhere => (403, "ip_not_allowed"),
            None => (200, ""),
        }
    }

    /// A `Bearer` call of the token's principal's own record: the token, the allowlist it carries,
    /// then its principal's own checks of now, then authorization.
    pub fn bearer_call(&mut self, t: usize) -> (u16, &'static str) {
        let token = &self.tokens[t];
        if token.exp + LEEWAY <= self.now {
            return (401, "token_expired");
        }
        let principal = &self.principals[token.principal];
        if token.revoked || principal.tokens_valid_after.is_some_and(|tva| token.iat <= tva) {
            return (401, "token_revoked");
        }
        if token.fence == Fence::Elsewhere {
            return (403, "ip_not_allowed");
        }
        let p = token.principal;
        self.admit(p).unwrap_or_else(|| self.read_own(p))
    }

    /// The answers of the probes, in order, each call counted as the system counts it.
    fn answer_probes(&mut self, probes: &[Probe]) -> Vec<(u16, &'static str)> {
        let mut answers = Vec::new();
        for probe in probes {
            match *probe {
                Probe::Credential(c) => {
                    answers.push(self.direct_call(c));
                    answers.push(self.exchange_answer(c));
                }
                Probe::Token(t) => answers.push(self.bearer_call(t)),
            }
        }
        answers
    }

    fn end_tokens(&mut self, p: usize) {
        let now = self.now;
        let tva = &mut self.principals[p].tokens_valid_after;
        *tva = Some(tva.map_or(now, |t| t.max(now)));
    }

    /// Credentials of `p` and its tokens, to be tried after a change of its standing.
    fn probes_of(&self, p: usize) -> Vec<Probe> {
        let creds = self.creds.iter().enumerate().filter(|(_, c)| c.principal == p).map(|(i, _)| Probe::Credential(i));
        let tokens = self.tokens.iter().enumerate().filter(|(_, t)| t.principal == p).map(|(i, _)| Probe::Token(i));
        creds.rev().take(4).chain(tokens.rev().take(4)).collect()
    }

    /// At the cap, credentials past their expiry are marked Expired first (as the sweep would):
    /// how many were marked, and whether there is a place now.
    fn make_room(&mut self, p: usize) -> (usize, bool) {
        if self.active_count(p) < self.cap {
            return (0, true);
        }
        let now = self.now;
        let mut marked = 0;
        for cred in self.creds.iter_mut().filter(|c| c.principal == p && c.status == CStatus::Active) {
            if cred.expires_at.is_some_and(|e| e <= now) {
                cred.status = CStatus::Expired;
                marked += 1;
            }
        }
        (marked, self.active_count(p) < self.cap)
    }

    fn answer(status: u16, code: &'static str, audits: usize) -> Expected {
        Expected { status, code, audits, probes: Vec::new(), probe_answers: Vec::new() }
    }

    /// A PATCH of an API-key principal's own field: refused on a revoked principal, audited when
    /// it changes something; its keys and tokens are tried at once.
    fn change_policy(&mut self, p: usize, changes: bool) -> Expected {
        if self.principals[p].status == PStatus::Revoked {
            return Self::answer(409, "principal_revoked", 0);
        }
        let mut answer = Self::answer(200, "", usize::from(changes));
        answer.probes = self.probes_of(p);
        answer
    }

    fn new_cred(&mut self, p: usize, expires_at: Option<i64>) {
        self.creds.push(Cred {
            principal: p,
            status: CStatus::Active,
            created_at: self.now,
            expires_at,
            revoked_at: None,
            rolled: false,
        });
        if self.active_count(p) > self.cap {
            self.over_cap.push(self.creds.len() - 1);
        }
    }

    /// Applies one operation: the answer goes to `last`.
    pub fn step(mut self, op: &Op) -> Self {
        let now = self.now;
        self.last = match *op {
            Op::CreatePrincipal => {
                self.principals.push(Principal {
                    status: PStatus::Active,
                    tokens_valid_after: None,
                    roles: BTreeSet::new(),
                    fence: Fence::Any,
                    limit: None,
                });
                Self::answer(201, "", 1)
            }
            Op::Issue { p, who, expires_in } => {
                if self.acting_as_refused(p, who) {
                    Self::answer(403, "escalation_denied", 0)
                } else if self.principals[p].status == PStatus::Revoked {
                    Self::answer(409, "principal_revoked", 0)
                } else {
                    match self.make_room(p) {
                        (marked, false) => Self::answer(409, "credential_limit_reached", marked),
                        (marked, true) => {
                            self.new_cred(p, expires_in.map(|s| now + s));
                            Self::answer(201, "", marked + 1)
                        }
                    }
                }
            }
            Op::Roll { c, grace, who } => {
                let p = self.creds[c].principal;
                if self.acting_as_refused(p, who) {
                    Self::answer(403, "escalation_denied", 0)
                } else if !self.creds[c].live(now) || self.creds[c].rolled {
                    Self::answer(409, "credential_not_active", 0)
                } else if self.principals[p].status == PStatus::Revoked {
                    Self::answer(409, "principal_revoked", 0)
                } else {
                    match self.make_room(p) {
                        (marked, false) => Self::answer(409, "credential_limit_reached", marked),
                        (marked, true) => {
                            let old = &self.creds[c];
                            let lifetime = old.expires_at.map(|e| e - old.created_at);
                            let stops = now + grace;
                            let old = &mut self.creds[c];
                            old.expires_at = Some(old.expires_at.map_or(stops, |e| e.min(stops)));
                            old.rolled = true;
                            self.new_cred(p, lifetime.map(|l| now + l));
                            let mut answer = Self::answer(201, "", marked + 1);
                            answer.probes = vec![Probe::Credential(c)];
                            answer
                        }
                    }
                }
            }
            Op::ExpireEarlier { c, in_secs } => {
                let cred = &mut self.creds[c];
                let at = now + in_secs;
                if !cred.live(now) {
                    Self::answer(409, "credential_not_active", 0)
                } else if cred.expires_at.is_some_and(|e| at > e) {
                    Self::answer(400, "invalid_request", 0)
                } else if cred.expires_at == Some(at) {
                    Self::answer(200, "", 0)
                } else {
                    cred.expires_at = Some(at);
                    Self::answer(200, "", 1)
                }
            }
            Op::Revoke { c } => {
                let cred = &mut self.creds[c];
                if cred.status == CStatus::Revoked {
                    Self::answer(200, "", 0)
                } else {
                    cred.status = CStatus::Revoked;
                    cred.revoked_at = Some(now);
                    let mut answer = Self::answer(200, "", 1);
                    answer.probes = vec![Probe::Credential(c)];
                    answer
                }
            }
            Op::SetStatus { p, status, who } => {
                if status == PStatus::Active && self.acting_as_refused(p, who) {
                    Self::answer(403, "escalation_denied", 0)
                } else if self.principals[p].status == PStatus::Revoked {
                    Self::answer(409, "principal_revoked", 0)
                } else if self.principals[p].status == status {
                    Self::answer(200, "", 0)
                } else {
                    if status != PStatus::Active {
                        self.end_tokens(p);
                    }
                    self.principals[p].status = status;
                    let mut answer = Self::answer(200, "", 1);
                    answer.probes = self.probes_of(p);
                    answer
                }
            }
            Op::Assign { p, role, who } => {
                if self.roles[role].deleted {
                    Self::answer(404, "not_found", 0)
                } else if who == Who::Admin && self.roles[role].mask & DEMO != 0 {
                    Self::answer(403, "escalation_denied", 0)
                } else if self.principals[p].roles.contains(&role) {
                    Self::answer(200, "", 0)
                } else if self.principals[p].status == PStatus::Revoked {
                    Self::answer(409, "principal_revoked", 0)
                } else {
                    self.principals[p].roles.insert(role);
                    Self::answer(201, "", 1)
                }
            }
            Op::Unassign { p, role } => {
                if self.principals[p].roles.remove(&role) {
                    Self::answer(204, "", 1)
                } else {
                    Self::answer(404, "not_found", 0)
                }
            }
            Op::CreateRole { mask, who } => {
                if who == Who::Admin && mask & DEMO != 0 {
                    Self::answer(403, "escalation_denied", 0)
                } else {
                    self.roles.push(Role { mask, deleted: false });
                    Self::answer(201, "", 1)
                }
            }
            Op::WidenRole { role, who } => {
                if self.roles[role].deleted {
                    Self::answer(404, "not_found", 0)
                } else if who == Who::Admin && (self.roles[role].mask | IAM | DEMO) & DEMO != 0 {
                    Self::answer(403, "escalation_denied", 0)
                } else {
                    self.roles[role].mask = IAM | DEMO;
                    Self::answer(200, "", 1)
                }
            }
            Op::DeleteRole { role } => {
                if self.roles[role].deleted {
                    Self::answer(404, "not_found", 0)
                } else if self.principals.iter().any(|p| p.roles.contains(&role)) {
                    Self::answer(409, "role_in_use", 0)
                } else {
                    self.roles[role].deleted = true;
                    Self::answer(204, "", 1)
                }
            }
            Op::SetCap { cap } => {
                self.cap = cap;
                Self::answer(200, "", 1)
            }
            Op::SetDirect { on } => {
                self.direct = on;
                Self::answer(200, "", 1)
            }
            Op::Exchange { c } => {
                let (status, code) = self.exchange_answer(c);
                if status == 200 {
                    let principal = self.creds[c].principal;
                    let fence = self.principals[principal].fence;
                    self.tokens.push(Token { principal, iat: now, exp: now + TOKEN_TTL, revoked: false, fence });
                }
                Self::answer(status, code, 0)
            }
            Op::Direct { c } => {
                let (status, code) = self.direct_call(c);
                Self::answer(status, code, 0)
            }
            Op::Bearer { t } => {
                let (status, code) = self.bearer_call(t);
                Self::answer(status, code, 0)
            }
            Op::SetFence { p, fence } => {
                let changes = self.principals[p].fence != fence;
                let answer = self.change_policy(p, changes);
                if answer.status == 200 {
                    self.principals[p].fence = fence;
                }
                answer
            }
            Op::SetLimit { p, limit } => {
                let changes = self.principals[p].limit != limit;
                let answer = self.change_policy(p, changes);
                if answer.status == 200 {
                    self.principals[p].limit = limit;
                }
                answer
            }
            Op::RevokeTokens { p } => {
                self.end_tokens(p);
                let mut answer = Self::answer(200, "", 1);
                answer.probes = self.probes_of(p).into_iter().filter(|p| matches!(p, Probe::Token(_))).collect();
                answer
            }
            Op::RevokeToken { t } => {
                // An expired token is answered 200 with nothing written (RFC 7009); revoking one
                // twice writes nothing the second time.
                let token = &mut self.tokens[t];
                let audits = if token.exp + LEEWAY <= now || token.revoked { 0 } else { 1 };
                token.revoked = true;
                let mut answer = Self::answer(200, "", audits);
                answer.probes = vec![Probe::Token(t)];
                answer
            }
            Op::LeakReport { c } => {
                let p = self.creds[c].principal;
                let audits = if self.creds[c].live(now) {
                    let cred = &mut self.creds[c];
                    cred.status = CStatus::Revoked;
                    cred.revoked_at = Some(now);
                    self.principals[p].tokens_valid_after = Some(now);
                    1
                } else {
                    // A key that ended so recently that tokens exchanged with it may live: its
                    // principal's tokens issued until its end end too, once.
                    let cred = &self.creds[c];
                    let ended = cred.revoked_at.or(cred.expires_at.filter(|e| *e <= now));
                    let tva = self.principals[p].tokens_valid_after;
                    match ended {
                        Some(at) if now - at <= MAX_TOKEN_TTL + LEEWAY && tva.is_none_or(|t| t < at) => {
                            self.principals[p].tokens_valid_after = Some(at);
                            1
                        }
                        _ => 0,
                    }
                };
                let mut answer = Self::answer(200, "", audits);
                answer.probes = self.probes_of(p);
                answer
            }
            Op::Sweep => {
                let mut probes = Vec::new();
                for (i, cred) in self.creds.iter_mut().enumerate() {
                    if cred.status == CStatus::Active && cred.expires_at.is_some_and(|e| e <= now) {
                        cred.status = CStatus::Expired;
                        probes.push(Probe::Credential(i));
                    }
                }
                let mut answer = Self::answer(200, "", probes.len());
                probes.truncate(4);
                answer.probes = probes;
                answer
            }
            Op::Advance { secs } => {
                self.now += secs;
                Self::answer(200, "", 0)
            }
        };
        let probes = self.last.probes.clone();
        self.last.probe_answers = self.answer_probes(&probes);
        self.check();
        self
    }

    /// The invariants of the promises themselves (the SUT is held to this model step by step).
    fn check(&self) {
        assert!(self.over_cap.is_empty(), "a credential was created past the cap: {:?}", self.over_cap);
        assert!(self.over_limit.is_empty(), "a call was allowed past its principal's limit: {:?}", self.over_limit);
        for (i, token) in self.tokens.iter().enumerate() {
            assert_ne!(token.fence, Fence::Elsewhere, "token {i} was issued to a caller its allowlist refuses");
        }
        for (i, cred) in self.creds.iter().enumerate() {
            if cred.status != CStatus::Active {
                assert!(self.refusal_of(i).is_some(), "an ended credential would authenticate: {i}");
            }
        }
    }
}

/// The state machine that generates the operations: each drawn from what the state holds.
pub struct Model;

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![Just(Who::Admin), Just(Who::Owner)]
}

impl ReferenceStateMachine for Model {
    type State = State;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<State> {
        let principal = Principal {
            status: PStatus::Active,
            tokens_valid_after: None,
            roles: BTreeSet::new(),
            fence: Fence::Any,
            limit: None,
        };
        Just(State {
            now: 0,
            cap: START_CAP,
            direct: true,
            principals: vec![principal; START_PRINCIPALS],
            creds: Vec::new(),
            roles: vec![Role { mask: IAM, deleted: false }],
            tokens: Vec::new(),
            last: Expected::default(),
            over_cap: Vec::new(),
            admitted: BTreeMap::new(),
            over_limit: Vec::new(),
        })
        .boxed()
    }

    fn transitions(state: &State) -> BoxedStrategy<Op> {
        let ps = state.principals.len();
        let roles = state.roles.len();
        let mut ops: Vec<(u32, BoxedStrategy<Op>)> = vec![
            (1, Just(Op::CreatePrincipal).boxed()),
            (
                6,
                (0..ps, who(), prop_oneof![Just(None), (1i64..7200).prop_map(Some)])
                    .prop_map(|(p, who, expires_in)| Op::Issue { p, who, expires_in })
                    .boxed(),
            ),
            (
                3,
                (0..ps, prop_oneof![Just(PStatus::Active), Just(PStatus::Suspended), Just(PStatus::Revoked)], who())
                    .prop_map(|(p, status, who)| Op::SetStatus { p, status, who })
                    .boxed(),
            ),
            (3, (0..ps, 0..roles, who()).prop_map(|(p, role, who)| Op::Assign { p, role, who }).boxed()),
            (1, (0..ps, 0..roles).prop_map(|(p, role)| Op::Unassign { p, role }).boxed()),
            (1, (1u8..=3, who()).prop_map(|(mask, who)| Op::CreateRole { mask, who }).boxed()),
            (1, (1usize..=4).prop_map(|cap| Op::SetCap { cap }).boxed()),
            (1, any::<bool>().prop_map(|on| Op::SetDirect { on }).boxed()),
            (1, (0..ps).prop_map(|p| Op::RevokeTokens { p }).boxed()),
            (
                1,
                (0..ps, prop_oneof![Just(Fence::Any), Just(Fence::Here), Just(Fence::Elsewhere)])
                    .prop_map(|(p, fence)| Op::SetFence { p, fence })
                    .boxed(),
            ),
            (
                1,
                (0..ps, prop_oneof![Just(None), (1u32..=3).prop_map(Some)])
                    .prop_map(|(p, limit)| Op::SetLimit { p, limit })
                    .boxed(),
            ),
            (1, Just(Op::Sweep).boxed()),
            (
                2,
                prop_oneof![Just(1i64), Just(31), Just(301), Just(3600), Just(90_000)]
                    .prop_map(|secs| Op::Advance { secs })
                    .boxed(),
            ),
        ];
        if roles > 1 {
            ops.push((1, (1..roles, who()).prop_map(|(role, who)| Op::WidenRole { role, who }).boxed()));
            ops.push((1, (1..roles).prop_map(|role| Op::DeleteRole { role }).boxed()));
        }
        let cs = state.creds.len();
        if cs > 0 {
            ops.push((
                2,
                (0..cs, prop_oneof![Just(0i64), Just(60), Just(3600)], who())
                    .prop_map(|(c, grace, who)| Op::Roll { c, grace, who })
                    .boxed(),
            ));
            ops.push((
                1,
                (0..cs, prop_oneof![Just(1i64), Just(120), Just(5000)])
                    .prop_map(|(c, in_secs)| Op::ExpireEarlier { c, in_secs })
                    .boxed(),
            ));
            ops.push((2, (0..cs).prop_map(|c| Op::Revoke { c }).boxed()));
            ops.push((4, (0..cs).prop_map(|c| Op::Exchange { c }).boxed()));
            ops.push((4, (0..cs).prop_map(|c| Op::Direct { c }).boxed()));
            ops.push((1, (0..cs).prop_map(|c| Op::LeakReport { c }).boxed()));
        }
        let ts = state.tokens.len();
        if ts > 0 {
            ops.push((3, (0..ts).prop_map(|t| Op::Bearer { t }).boxed()));
            ops.push((1, (0..ts).prop_map(|t| Op::RevokeToken { t }).boxed()));
        }
        proptest::strategy::Union::new_weighted(ops).boxed()
    }

    /// What an operation needs of the state: indexes it names exist (shrinking removes the
    /// operations that made them), and a settings change changes something.
    fn preconditions(state: &State, op: &Op) -> bool {
        let (ps, cs, rs, ts) = (state.principals.len(), state.creds.len(), state.roles.len(), state.tokens.len());
        match *op {
            Op::Issue { p, .. } | Op::SetStatus { p, .. } | Op::RevokeTokens { p } => p < ps,
            Op::SetFence { p, .. } | Op::SetLimit { p, .. } => p < ps,
            Op::Assign { p, role, .. } | Op::Unassign { p, role } => p < ps && role < rs,
            Op::WidenRole { role, .. } => role >= 1 && role < rs && state.roles[role].mask != IAM | DEMO,
            Op::DeleteRole { role } => role >= 1 && role < rs,
            Op::Roll { c, .. } | Op::ExpireEarlier { c, .. } | Op::Revoke { c } => c < cs,
            Op::Exchange { c } | Op::Direct { c } | Op::LeakReport { c } => c < cs,
            Op::Bearer { t } | Op::RevokeToken { t } => t < ts,
            Op::SetCap { cap } => cap != state.cap,
            Op::SetDirect { on } => on != state.direct,
            Op::CreatePrincipal | Op::CreateRole { .. } | Op::Sweep | Op::Advance { .. } => true,
        }
    }

    fn apply(state: State, op: &Op) -> State {
        state.step(op)
    }
}
