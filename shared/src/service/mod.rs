//! The domain services behind the routes: validate, read, decide, write one transaction, audit.

pub mod assignments;
pub mod credentials;
pub mod developer;
pub mod events;
pub mod federation;
pub mod leaks;
pub mod members;
pub mod org_usage;
pub mod orgs;
pub mod principals;
pub mod report;
pub mod roles;
pub mod settings;
pub mod simulate;
pub mod sweep;
pub mod tokens;
pub mod trusts;
pub mod usage;

use crate::domain::{ApiError, FieldError};
use crate::domain::{Name, NameError, Timestamp};
use crate::store::{CredentialEditRefused, IssueRefused, Moved, RollRefused, StoreError, WriteError};

/// How many times a write is retried when it lost a race that does not concern the client
/// (a concurrent issuance changed the credential set, or a transaction conflict).
pub const WRITE_ATTEMPTS: usize = 8;

/// Waits a little, more each attempt (10 ms doubling to 320 ms, with up to as much again of
/// jitter; about 2 s over all attempts), before retrying a contended write.
async fn back_off(attempt: usize) {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    let base = 10u64 << attempt.min(5);
    let millis = base + base * u64::from(byte[0]) / 255;
    tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
}

/// What one attempt of a read-decide-write decided.
enum Written<T> {
    /// Done: the answer (the write happened, or there was nothing to write).
    Done(T),
    /// The write lost a race that does not concern the client: read and decide again.
    Retry,
}

impl<T> Written<T> {
    /// An attempt's write: `Done(answer)` when it happened, `Retry` when it lost a race (a
    /// refusal that a fresh read decides, or a conflict), the failure otherwise.
    fn of<V: Refusal>(write: Result<(), WriteError<V>>, answer: T) -> Result<Self, ApiError> {
        match write {
            Ok(()) => Ok(Self::Done(answer)),
            Err(WriteError::Violated(refusal)) => refusal.decide().map(|()| Self::Retry),
            // Another transaction touched the same items at the same moment: decide again.
            Err(WriteError::Contention) => Ok(Self::Retry),
            Err(err) => Err(failure(err)),
        }
    }
}

/// What a service makes of a refused write: `Ok(())` to read and decide again (the next read
/// says what changed), or the answer. Each refusal type lists only what its write can meet, so
/// each `match` here is exhaustive.
trait Refusal: std::fmt::Debug {
    fn decide(self) -> Result<(), ApiError>;
}

impl Refusal for IssueRefused {
    fn decide(self) -> Result<(), ApiError> {
        match self {
            Self::PrincipalMoved => Ok(()),
        }
    }
}

impl Refusal for RollRefused {
    fn decide(self) -> Result<(), ApiError> {
        match self {
            Self::PrincipalMoved | Self::OldCredentialMoved => Ok(()),
        }
    }
}

impl Refusal for CredentialEditRefused {
    fn decide(self) -> Result<(), ApiError> {
        match self {
            Self::CredentialMoved => Ok(()),
        }
    }
}

impl Refusal for Moved {
    fn decide(self) -> Result<(), ApiError> {
        match self {
            Self::Moved => Ok(()),
        }
    }
}

impl Refusal for crate::store::EndRefused {
    fn decide(self) -> Result<(), ApiError> {
        match self {
            // It ended meanwhile: the next read answers as it is now.
            Self::StatusMoved => Ok(()),
            Self::PrincipalGone => Err(ApiError::NotFound("API-key principal")),
        }
    }
}

/// A write's failure other than a refusal: a conflict that outlived the retries (503), the store
/// unavailable (503), or a bug (500).
fn failure<V: std::fmt::Debug>(err: WriteError<V>) -> ApiError {
    match err {
        WriteError::Violated(refusal) => ApiError::Internal(anyhow::anyhow!("an unhandled refusal: {refusal:?}")),
        WriteError::Contention => StoreError::Contention.into(),
        WriteError::Unavailable(e) => ApiError::ServiceUnavailable(e),
        WriteError::Other(e) => ApiError::Internal(e),
    }
}

/// Runs `attempt` (read, decide, write one transaction) until it is done, backing off between
/// attempts; a write that still loses its race after [`WRITE_ATTEMPTS`] is 503 (contention). Every
/// read-decide-write of the services goes through here. (`attempt` is a closure returning a
/// future, not an async closure: the futures of those are not yet provably `Send`.)
async fn until_written<T, Attempt>(mut attempt: impl FnMut() -> Attempt) -> Result<T, ApiError>
where
    Attempt: std::future::Future<Output = Result<Written<T>, ApiError>>,
{
    for n in 0..WRITE_ATTEMPTS {
        match attempt().await? {
            Written::Done(answer) => return Ok(answer),
            Written::Retry => back_off(n).await,
        }
    }
    Err(StoreError::Contention.into())
}

/// Collects field errors so one response names every problem of a body. Each body's `check`
/// (the one parser of it: services, the fuzz target and the OpenAPI tests call it) uses one.
#[derive(Default)]
struct Validation(Vec<FieldError>);

impl Validation {
    fn name(&mut self, field: &str, text: &str) -> Option<Name> {
        match Name::parse(text) {
            Ok(name) => Some(name),
            Err(
                err @ (NameError::Empty
                | NameError::TooLong
                | NameError::ControlCharacter
                | NameError::BidiControl(_)
                | NameError::InvisibleCharacter(_)
                | NameError::PrivateUseCharacter(_)
                | NameError::Noncharacter(_)),
            ) => {
                self.0.push(FieldError::new(field, err.to_string()));
                None
            }
        }
    }

    /// An expiry must be a timestamp in the future.
    fn future_time(&mut self, field: &str, text: &str, now: Timestamp) -> Option<Timestamp> {
        match Timestamp::parse(text) {
            Ok(t) if t > now => Some(t),
            Ok(_) => {
                self.0.push(FieldError::new(field, "must be in the future"));
                None
            }
            Err(message) => {
                self.0.push(FieldError::new(field, message));
                None
            }
        }
    }

    /// An optional `expiresAt`: absent, or a timestamp in the future.
    fn expiry(&mut self, text: Option<&str>, now: Timestamp) -> Option<Timestamp> {
        text.and_then(|t| self.future_time("expiresAt", t, now))
    }

    fn push(&mut self, field: &str, message: &str) {
        self.0.push(FieldError::new(field, message));
    }

    fn finish(self) -> Result<(), crate::domain::ApiError> {
        if self.0.is_empty() { Ok(()) } else { Err(crate::domain::ApiError::InvalidRequest(self.0)) }
    }
}
