//! The module state that model threads share: the global `counter` and a model
//! `threading.Lock`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Condvar, Mutex};

#[cfg(doc)]
use super::Program;
#[cfg(doc)]
use crate::GilGuard;

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
#[derive(Debug, Default)]
pub struct PyLock {
    state: Mutex<LockState>,
    /// Signalled on release when somebody is blocked in `acquire`.
    freed: Condvar,
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
}

impl PyLock {
    fn state(&self) -> std::sync::MutexGuard<'_, LockState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `lock.acquire(blocking=False)`: take the lock if it is free.
    pub fn try_acquire(&self) -> bool {
        let mut state = self.state();
        if state.locked {
            return false;
        }
        state.locked = true;
        state.acquisitions += 1;
        true
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
            while state.locked {
                state = self.freed.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            state.waiters -= 1;
        }
        state.locked = true;
        state.acquisitions += 1;
    }

    /// `lock.release()`.
    pub fn release(&self) {
        let mut state = self.state();
        state.locked = false;
        if state.waiters > 0 {
            self.freed.notify_one();
        }
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
