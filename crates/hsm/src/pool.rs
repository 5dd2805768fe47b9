//! A fixed-size pool of logged-in R/W sessions, one per concurrent caller.
//!
//! In: plain threads asking for a session (the signer is thread-per-connection).
//! Out: a [`SessionGuard`] that derefs to a `cryptoki::Session` and returns it to the pool on
//! drop. A session found dead is dropped and replaced by a freshly opened, logged-in one; the
//! pool never shrinks, a slot whose re-open failed is retried on the next checkout.

use crate::error::{from_cryptoki, HsmError};
use crate::module;
use crate::pin::Pin;
use cryptoki::context::Pkcs11;
use cryptoki::session::Session;
use cryptoki::slot::Slot;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long a caller waits for a free session before giving up with [`HsmError::Busy`]:
/// long enough for an RSA-4096 key generation on a slow HSM, short enough that a stuck HSM
/// surfaces as an error instead of a hang.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(30);

/// What it takes to open one more logged-in session on the token.
pub(crate) struct SessionSource {
    pub(crate) context: Pkcs11,
    pub(crate) slot: Slot,
    pub(crate) token_label: String,
    pub(crate) pin: Pin,
}

impl SessionSource {
    /// Open an R/W session and log the user in (already-logged-in counts as success).
    pub(crate) fn open_logged_in(&self) -> Result<Session, HsmError> {
        let session = self
            .context
            .open_rw_session(self.slot)
            .map_err(|e| from_cryptoki("C_OpenSession", e))?;
        module::login(&session, self.slot, &self.pin, &self.token_label)?;
        Ok(session)
    }
}

struct PoolState {
    idle: Vec<Session>,
    /// Slots whose session was dropped and not yet replaced.
    vacant: usize,
}

/// The sessions of one [`crate::Hsm`].
pub(crate) struct SessionPool {
    source: SessionSource,
    capacity: usize,
    state: Mutex<PoolState>,
    returned: Condvar,
}

impl SessionPool {
    /// Open `capacity` sessions up front so a wrong PIN or missing token fails at start-up.
    pub(crate) fn open(source: SessionSource, capacity: usize) -> Result<SessionPool, HsmError> {
        let idle = (0..capacity)
            .map(|_| source.open_logged_in())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SessionPool {
            source,
            capacity,
            state: Mutex::new(PoolState { idle, vacant: 0 }),
            returned: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // The state is a list and a counter, each updated in one step: still valid if a
        // thread panicked while holding the lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Take a session, waiting until one is free (at most [`CHECKOUT_TIMEOUT`]).
    pub(crate) fn checkout(&self) -> Result<SessionGuard<'_>, HsmError> {
        let deadline = Instant::now() + CHECKOUT_TIMEOUT;
        let mut state = self.lock();
        loop {
            if let Some(session) = state.idle.pop() {
                return Ok(SessionGuard {
                    pool: self,
                    session: Some(session),
                });
            }
            if state.vacant > 0 {
                state.vacant -= 1;
                drop(state);
                // Re-open outside the lock: it talks to the token and may be slow.
                let mut guard = SessionGuard {
                    pool: self,
                    session: None,
                };
                guard.session = Some(self.source.open_logged_in()?);
                return Ok(guard);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(HsmError::Busy {
                    waited: CHECKOUT_TIMEOUT,
                });
            }
            state = self
                .returned
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Sessions currently open (idle or in use).
    pub(crate) fn open_count(&self) -> usize {
        self.capacity - self.lock().vacant
    }

    /// The token this pool logs in to.
    pub(crate) fn source(&self) -> &SessionSource {
        &self.source
    }
}

/// A checked-out session; goes back to the pool (or leaves a vacancy) when dropped.
pub(crate) struct SessionGuard<'p> {
    pool: &'p SessionPool,
    session: Option<Session>,
}

impl SessionGuard<'_> {
    /// The session, if this guard still holds one.
    pub(crate) fn session(&self) -> Result<&Session, HsmError> {
        self.session
            .as_ref()
            .ok_or_else(|| HsmError::TokenUnavailable {
                function: "C_OpenSession".to_owned(),
                code: "no session (re-open failed)".to_owned(),
            })
    }

    /// Throw the current session away and put a freshly logged-in one in its place.
    /// On failure the guard is left empty and the pool slot becomes vacant.
    pub(crate) fn replace(&mut self) -> Result<(), HsmError> {
        // Dropping closes it; the token may answer that it is already gone, which cryptoki
        // logs and ignores.
        self.session = None;
        self.session = Some(self.pool.source.open_logged_in()?);
        Ok(())
    }
}

impl Drop for SessionGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.pool.lock();
        match self.session.take() {
            Some(session) => state.idle.push(session),
            None => state.vacant += 1,
        }
        drop(state);
        self.pool.returned.notify_one();
    }
}
