//! The module state that model threads share: the global `counter` and a model
//! `threading.Lock`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::GilGuard;
use crate::waits::{self, Resource, ThreadKey};

#[cfg(doc)]
use super::Program;

/// A module-level global shared by all model threads (CPython: an entry in the module dict).
///
/// Reads and writes are *separate* relaxed atomic operations, never one read-modify-write: a
/// `LOAD_GLOBAL` and the later `STORE_GLOBAL` of `counter += 1` can be interleaved with other
/// threads' accesses exactly as in CPython, and the Rust program stays free of data races.
#[derive(Debug, Default)]
pub struct Global {
    value: AtomicU64,
}

impl Global {
    /// A global holding `value`.
    pub fn new(value: u64) -> Self {
        Global {
            value: AtomicU64::new(value),
        }
    }

    /// `LOAD_GLOBAL`: read the current value.
    pub fn load(&self) -> u64 {
        self.value.load(Relaxed)
    }

    /// `STORE_GLOBAL`: overwrite the value (whatever another thread stored meanwhile is lost).
    pub fn store(&self, value: u64) {
        self.value.store(value, Relaxed);
    }
}

/// A model `threading.Lock`: not owned by a thread, released by whoever calls `release`.
///
/// It remembers who took it last, so that a deadlock can be explained ([`crate::waits`]).
#[derive(Debug)]
pub struct PyLock {
    /// The name the program knows it by, as the deadlock report prints it.
    name: &'static str,
    state: Mutex<LockState>,
    /// Signalled on release when somebody is blocked in `acquire`.
    freed: Condvar,
}

impl Default for PyLock {
    /// A free lock called `lock`.
    fn default() -> Self {
        PyLock::named("lock")
    }
}

/// How many times [`PyLock::acquire`] retries before it parks.
const SPINS: u32 = 40;

/// What [`PyLock`] guards.
#[derive(Debug, Default)]
struct LockState {
    /// `true` while some thread holds the lock.
    locked: bool,
    /// Times the lock was taken (by `acquire` or a successful `try_acquire`).
    acquisitions: u64,
    /// Threads blocked in `acquire`; a release wakes one only if this is non-zero (a futex
    /// wake is a system call, which an uncontended release should not pay).
    waiters: u32,
    /// The model thread that took it (none while free, or when no model thread took it).
    holder: Option<ThreadKey>,
}

/// How often a thread parked in [`PyLock::acquire`] wakes to tell the wait-for registry who
/// holds the lock now (a release wakes only one waiter).
const RECHECK: Duration = Duration::from_millis(50);

impl PyLock {
    /// A free lock that deadlock reports call `name`.
    pub fn named(name: &'static str) -> Self {
        PyLock {
            name,
            state: Mutex::default(),
            freed: Condvar::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LockState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `lock.acquire(blocking=False)`: take the lock if it is free.
    pub fn try_acquire(&self) -> bool {
        let mut state = self.state();
        if state.locked {
            return false;
        }
        Self::take(&mut state);
        true
    }

    fn take(state: &mut LockState) {
        state.locked = true;
        state.acquisitions += 1;
        state.holder = waits::current_key();
    }

    /// `lock.acquire()`: block until the lock is ours. CPython blocks with the GIL released;
    /// call this inside [`GilGuard::detach`].
    pub fn acquire(&self) {
        // Like CPython's `PyMutex`, spin briefly before parking: a lock held for a few
        // instructions is usually free again before a sleep-and-wake would even start.
        for _ in 0..SPINS {
            if self.try_acquire() {
                return;
            }
            std::thread::yield_now();
        }
        let mut state = self.state();
        if state.locked {
            state.waiters += 1;
            let me = Resource::Lock(std::ptr::from_ref(self) as usize, self.name);
            let mut waiting = waits::wait_for(None, me, state.holder);
            while state.locked {
                state = self
                    .freed
                    .wait_timeout(state, RECHECK)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
                if let Some(waiting) = &mut waiting {
                    waiting.holder_is(state.holder);
                }
            }
            drop(waiting);
            state.waiters -= 1;
        }
        Self::take(&mut state);
    }

    /// `lock.release()`. Returning from a call into C is a check point in CPython (3.10+ as
    /// before), so the GIL may change hands right after the release: whatever the thread
    /// does next is no longer covered by the lock.
    pub fn release(&self, py: &mut GilGuard<'_>) {
        self.unlock();
        py.check_point();
    }

    /// Free the lock without the call's check point: the model bytecode's `__exit__`, whose
    /// check points the interpreter loop places itself.
    pub(crate) fn unlock(&self) {
        let mut state = self.state();
        state.locked = false;
        state.holder = None;
        if state.waiters > 0 {
            self.freed.notify_one();
        }
    }

    /// Whether the calling model thread is the one that took the lock (and it is still taken).
    pub fn held_by_me(&self) -> bool {
        let state = self.state();
        state.locked && state.holder.is_some() && state.holder == waits::current_key()
    }

    /// Whether some thread holds the lock now.
    pub fn is_locked(&self) -> bool {
        self.state().locked
    }

    /// How many times the lock has been taken so far.
    pub fn acquisitions(&self) -> u64 {
        self.state().acquisitions
    }
}

/// The module globals a [`Program`] uses: `counter` and `lock`.
#[derive(Debug, Default)]
pub struct Globals {
    /// `counter`, the shared integer that `counter += 1` updates.
    pub counter: Global,
    /// `lock = threading.Lock()`, used by [`Program::increment_locked`].
    pub lock: PyLock,
}

impl Globals {
    /// Fresh globals with `counter = start` and the lock free.
    pub fn new(start: u64) -> Self {
        Globals {
            counter: Global::new(start),
            lock: PyLock::default(),
        }
    }
}
