//! Rust locks beside the GIL: what an extension's own `Mutex` or `OnceLock` does to other
//! threads, and the GIL-aware ways PyO3 offers (`pyo3::sync`).
//!
//! A Rust lock knows nothing of the GIL. Native code that waits for one while attached keeps
//! the GIL for the whole wait; if the lock's holder needs the GIL to finish (its initialiser
//! calls into Python, and any call into Python may let another thread run), neither can go
//! on. [`RustMutex::lock`] is that wait. The ways out wait *detached*, as CPython's own
//! `threading.Lock` does: [`RustMutex::lock_py_attached`] (PyO3's
//! `MutexExt::lock_py_attached`) and [`PyOnceLock`] (PyO3's `PyOnceLock`, which replaced
//! `GILOnceCell` in PyO3 0.26), whose other callers wait detached while one initialises.

use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::gil::GilGuard;

/// A model `std::sync::Mutex<T>` in extension code: waiting for it leaves the GIL as it was.
///
/// Besides `lock`, it has a timed wait ([`RustMutex::lock_timeout`]) that real code rarely
/// has, so that a lesson can show the deadlock and still end.
pub struct RustMutex<T> {
    name: &'static str,
    locked: Mutex<bool>,
    freed: Condvar,
    value: Mutex<T>,
}

/// Access to a [`RustMutex`]'s value; the lock is free again when it is dropped.
pub struct RustMutexGuard<'a, T> {
    mutex: &'a RustMutex<T>,
    value: Option<MutexGuard<'a, T>>,
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<T> RustMutex<T> {
    /// A free lock around `value`, named for messages ("the cache's Mutex").
    pub fn new(name: &'static str, value: T) -> Self {
        RustMutex {
            name,
            locked: Mutex::new(false),
            freed: Condvar::new(),
            value: Mutex::new(value),
        }
    }

    /// The name given to [`RustMutex::new`].
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// `mutex.lock()`: block until the lock is ours. The GIL stays as it was: a thread that
    /// holds it keeps holding it while it waits.
    pub fn lock(&self) -> RustMutexGuard<'_, T> {
        let mut locked = relock(&self.locked);
        while *locked {
            locked = self
                .freed
                .wait(locked)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *locked = true;
        self.guard()
    }

    /// Like [`RustMutex::lock`], but give up after `timeout` (`None`): how a lesson ends a
    /// deadlock that real code would stay in.
    pub fn lock_timeout(&self, timeout: Duration) -> Option<RustMutexGuard<'_, T>> {
        let deadline = Instant::now() + timeout;
        let mut locked = relock(&self.locked);
        while *locked {
            let left = deadline.checked_duration_since(Instant::now())?;
            locked = self
                .freed
                .wait_timeout(locked, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *locked = true;
        Some(self.guard())
    }

    /// PyO3's `MutexExt::lock_py_attached`: wait for the lock detached (the GIL released, so
    /// its holder can take the GIL and finish), then re-attach holding it.
    pub fn lock_py_attached(&self, py: &mut GilGuard<'_>) -> RustMutexGuard<'_, T> {
        py.detach(|| self.lock())
    }

    fn guard(&self) -> RustMutexGuard<'_, T> {
        RustMutexGuard {
            mutex: self,
            value: Some(relock(&self.value)),
        }
    }
}

impl<T> std::ops::Deref for RustMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value.as_deref().expect("present until drop")
    }
}

impl<T> std::ops::DerefMut for RustMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value.as_deref_mut().expect("present until drop")
    }
}

impl<T> Drop for RustMutexGuard<'_, T> {
    fn drop(&mut self) {
        self.value = None;
        *relock(&self.mutex.locked) = false;
        self.mutex.freed.notify_one();
    }
}

/// PyO3's `PyOnceLock<T>`: a value initialised once, by the first caller, while it is
/// attached; every other caller that arrives meanwhile waits *detached*, so the initialiser
/// can take the GIL back whenever it lets go of it (an import, any call into Python).
pub struct PyOnceLock<T> {
    value: OnceLock<T>,
    running: Mutex<bool>,
    done: Condvar,
}

impl<T> Default for PyOnceLock<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> PyOnceLock<T> {
    /// An empty cell.
    pub const fn new() -> Self {
        PyOnceLock {
            value: OnceLock::new(),
            running: Mutex::new(false),
            done: Condvar::new(),
        }
    }

    /// The value, if it has been initialised.
    pub fn get(&self) -> Option<&T> {
        self.value.get()
    }

    /// The value, initialised with `init` (run attached, by this thread) if nobody has yet.
    /// A caller that finds another thread initialising waits for it detached.
    pub fn get_or_init<F>(&self, py: &mut GilGuard<'_>, init: F) -> &T
    where
        F: FnOnce(&mut GilGuard<'_>) -> T,
    {
        if let Some(value) = self.value.get() {
            return value;
        }
        let mut running = relock(&self.running);
        if *running {
            drop(running);
            py.detach(|| {
                let mut running = relock(&self.running);
                while *running && self.value.get().is_none() {
                    running = self
                        .done
                        .wait(running)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            });
            if let Some(value) = self.value.get() {
                return value;
            }
            // The initialiser panicked: try again ourselves.
            running = relock(&self.running);
        }
        if self.value.get().is_none() {
            *running = true;
            drop(running);
            let value = init(py);
            let _ = self.value.set(value);
            *relock(&self.running) = false;
            self.done.notify_all();
        }
        self.value
            .get()
            .expect("set above or by the thread we waited for")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gil::Gil;
    use std::sync::Barrier;

    /// T1 holds the lock and needs the GIL back; T2 holds the GIL and waits for the lock.
    /// Waiting attached, T2 gives up at its timeout; waiting detached, it never needs to.
    fn lock_order(detached: bool) -> (bool, Duration) {
        let gil = Gil::new();
        let cache = RustMutex::new("cache", 0u32);
        let importing = Barrier::new(2);
        std::thread::scope(|s| {
            s.spawn(|| {
                gil.attach("T1", |py| {
                    let mut value = cache.lock();
                    // The initialiser calls into Python, which lets go of the GIL.
                    py.detach(|| {
                        importing.wait();
                        std::thread::sleep(Duration::from_millis(20));
                    });
                    *value = 42;
                });
            });
            importing.wait();
            gil.attach("T2", |py| {
                let started = Instant::now();
                let got = if detached {
                    Some(*cache.lock_py_attached(py))
                } else {
                    cache.lock_timeout(Duration::from_millis(150)).map(|v| *v)
                };
                (got == Some(42), started.elapsed())
            })
        })
    }

    #[test]
    fn waiting_attached_for_a_lock_whose_holder_needs_the_gil_is_stuck() {
        let (got, waited) = lock_order(false);
        assert!(!got, "T1 cannot finish while T2 holds the GIL");
        assert!(waited >= Duration::from_millis(150));
    }

    #[test]
    fn waiting_detached_lets_the_holder_finish() {
        let (got, waited) = lock_order(true);
        assert!(got);
        assert!(waited < Duration::from_secs(5));
    }

    #[test]
    fn a_py_once_lock_runs_its_initialiser_once_and_others_wait_detached() {
        let gil = Gil::new();
        let cell = PyOnceLock::new();
        let calls = std::sync::atomic::AtomicU32::new(0);
        let values = gil.run_threads(4, |_, py| {
            *cell.get_or_init(py, |py| {
                calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                py.detach(|| std::thread::sleep(Duration::from_millis(20)));
                7
            })
        });
        assert_eq!(values, [7, 7, 7, 7]);
        assert_eq!(calls.into_inner(), 1);
    }
}
