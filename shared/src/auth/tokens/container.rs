//! The container's key set: [`TokenKeys`], read on first use and refreshed on a schedule or
//! for an unknown `kid`.

use std::sync::{Arc, RwLock};

use super::{KEY_REFRESH_SECONDS, KeySet, UNKNOWN_KID_REFRESH_SECONDS};
use crate::domain::Timestamp;
use crate::store::SecretStore;

/// The key set of this container: loaded on first use, re-read at most every five minutes, or sooner
/// (at most once a minute) when a token names a `kid` the container does not know yet.
pub struct TokenKeys {
    secrets: SecretStore,
    source: KeySource,
    state: RwLock<KeyState>,
}

struct KeyState {
    set: Arc<KeySet>,
    /// When the set was read (or, after a failed re-read, when to count the next attempt from).
    loaded_at: Timestamp,
    /// When an unknown `kid` last caused a re-read.
    forced_at: Option<Timestamp>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys").field("source", &self.source).finish_non_exhaustive()
    }
}

/// Where a container's token keys come from: the signing keys (private and public: token-exchange,
/// which signs), or their public half alone (every function that only verifies).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    Signing(String),
    Verification(String),
}

async fn fetch(secrets: &SecretStore, source: &KeySource) -> anyhow::Result<KeySet> {
    // The stage is named explicitly: moto answers an unstaged read with the secret's first version
    // even after a rotation moved AWSCURRENT (AWS answers AWSCURRENT either way).
    match source {
        KeySource::Signing(id) => KeySet::from_secret(&secrets.read(id, Some("AWSCURRENT")).await?),
        KeySource::Verification(id) => KeySet::from_published(&secrets.read(id, Some("AWSCURRENT")).await?),
    }
}

impl TokenKeys {
    /// Loads the key set once (the first request that needs it).
    pub async fn load(secrets: SecretStore, source: KeySource, now: Timestamp) -> anyhow::Result<Self> {
        let set = fetch(&secrets, &source).await.map_err(|e| e.context(format!("load token keys {source:?}")))?;
        let state = KeyState { set: Arc::new(set), loaded_at: now, forced_at: None };
        Ok(Self { secrets, source, state: RwLock::new(state) })
    }

    /// The key set, re-read when older than five minutes.
    pub async fn get(&self, now: Timestamp) -> Arc<KeySet> {
        let (set, loaded_at) = {
            let state = self.state.read().expect("key set lock");
            (state.set.clone(), state.loaded_at)
        };
        if now.unix() - loaded_at.unix() < KEY_REFRESH_SECONDS {
            return set;
        }
        self.refresh(set, now).await
    }

    /// The key set for verifying a token signed with `kid`: when the set does not know it (a key
    /// another container already signs with), re-read it, at most once a minute.
    pub async fn get_for(&self, kid: &str, now: Timestamp) -> Arc<KeySet> {
        let set = self.get(now).await;
        if set.knows(kid, now) {
            return set;
        }
        {
            let mut state = self.state.write().expect("key set lock");
            if state.forced_at.is_some_and(|at| now.unix() - at.unix() < UNKNOWN_KID_REFRESH_SECONDS) {
                return set;
            }
            state.forced_at = Some(now);
        }
        self.refresh(set, now).await
    }

    /// Re-reads the set. A failed re-read keeps the set it has and tries again in 30 s, so tokens
    /// keep verifying through a Secrets Manager outage without every request waiting on it.
    async fn refresh(&self, set: Arc<KeySet>, now: Timestamp) -> Arc<KeySet> {
        match fetch(&self.secrets, &self.source).await {
            Ok(fresh) => {
                let fresh = Arc::new(fresh);
                let mut state = self.state.write().expect("key set lock");
                state.set = fresh.clone();
                state.loaded_at = now;
                fresh
            }
            Err(err) => {
                tracing::warn!(error = %err, "signing keys not refreshed; keeping the loaded set");
                self.state.write().expect("key set lock").loaded_at = now.plus_seconds(30 - KEY_REFRESH_SECONDS);
                set
            }
        }
    }
}
