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
use crate::waits::{self, Resource, ThreadKey};

/// A model `std::sync::Mutex<T>` in extension code: waiting for it leaves the GIL as it was.
///
/// Besides `lock`, it has a timed wait ([`RustMutex::lock_timeout`]) that real code rarely
/// has, so that a lesson can show the deadlock and still end.
pub struct RustMutex<T> {
    name: &'static str,
    locked: Mutex<Owners>,
    freed: Condvar,
    value: Mutex<T>,
}

/// Who holds a [`RustMutex`] and who waits for it, by OS thread name (for messages), and the
/// holder as the wait-for registry names it (so the deadlock watchdog sees Rust locks too).
#[derive(Default)]
struct Owners {
    holder: Option<String>,
    holder_key: Option<ThreadKey>,
    waiting: Vec<String>,
}

fn this_thread() -> String {
    std::thread::current()
        .name()
        .unwrap_or("a thread")
        .to_owned()
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
            locked: Mutex::new(Owners::default()),
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
        self.acquire(None);
        self.guard()
    }

    /// Wait until the lock is ours or `deadline` has passed; whether it is ours. The wait is
    /// written in the wait-for registry, so the deadlock watchdog sees Rust locks too.
    fn acquire(&self, deadline: Option<Instant>) -> bool {
        let me = this_thread();
        let mut owners = relock(&self.locked);
        if owners.holder.is_some() {
            owners.waiting.push(me.clone());
            let lock = Resource::Lock(std::ptr::from_ref(self) as usize, self.name);
            let mut waiting = waits::wait_for(None, lock, owners.holder_key);
            while owners.holder.is_some() {
                owners = match deadline {
                    None => self
                        .freed
                        .wait(owners)
                        .unwrap_or_else(PoisonError::into_inner),
                    Some(deadline) => {
                        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                            break;
                        };
                        self.freed
                            .wait_timeout(owners, left)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0
                    }
                };
                if let Some(waiting) = &mut waiting {
                    waiting.holder_is(owners.holder_key);
                }
            }
            drop(waiting);
            owners.waiting.retain(|w| *w != me);
            if owners.holder.is_some() {
                return false;
            }
        }
        owners.holder = Some(me);
        owners.holder_key = waits::current_key();
        true
    }

    /// The name of the thread holding the lock now, if any (`std::thread::Builder::name`).
    pub fn holder(&self) -> Option<String> {
        relock(&self.locked).holder.clone()
    }

    /// The names of the threads waiting for it now.
    pub fn waiting(&self) -> Vec<String> {
        relock(&self.locked).waiting.clone()
    }

    /// Like [`RustMutex::lock`], but give up after `timeout` (`None`): how a lesson ends a
    /// deadlock that real code would stay in.
    pub fn lock_timeout(&self, timeout: Duration) -> Option<RustMutexGuard<'_, T>> {
        self.acquire(Some(Instant::now() + timeout))
            .then(|| self.guard())
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
        let mut owners = relock(&self.mutex.locked);
        owners.holder = None;
        owners.holder_key = None;
        drop(owners);
        self.mutex.freed.notify_all();
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

/// A `#[pyclass]` instance's data as PyO3 guards it: borrowed at run time, like a `RefCell`
/// shared between threads. `&self` methods and getters borrow it shared, `&mut self` methods
/// and setters exclusively; a borrow that meets a conflicting one is refused at once with
/// [`AlreadyBorrowed`] (PyO3 raises `RuntimeError: Already borrowed`), never waited for.
/// A `#[pyclass(frozen)]` class only ever borrows shared.
#[derive(Debug, Default)]
pub struct PyClassCell<T> {
    data: std::sync::RwLock<T>,
}

/// `RuntimeError: Already borrowed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlreadyBorrowed;

impl std::fmt::Display for AlreadyBorrowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RuntimeError: Already borrowed")
    }
}

impl<T> PyClassCell<T> {
    /// A new object holding `value`.
    pub fn new(value: T) -> Self {
        PyClassCell {
            data: std::sync::RwLock::new(value),
        }
    }

    /// `&self`: a shared borrow (PyO3's `PyRef`).
    pub fn borrow(&self) -> Result<std::sync::RwLockReadGuard<'_, T>, AlreadyBorrowed> {
        match self.data.try_read() {
            Ok(guard) => Ok(guard),
            Err(std::sync::TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => Err(AlreadyBorrowed),
        }
    }

    /// `&mut self`: an exclusive borrow (PyO3's `PyRefMut`).
    pub fn borrow_mut(&self) -> Result<std::sync::RwLockWriteGuard<'_, T>, AlreadyBorrowed> {
        match self.data.try_write() {
            Ok(guard) => Ok(guard),
            Err(std::sync::TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => Err(AlreadyBorrowed),
        }
    }

    /// The data, once no thread uses the object any more.
    pub fn into_inner(self) -> T {
        self.data
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
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
    fn the_wait_for_registry_sees_the_rust_lock_in_the_cycle() {
        let gil = Gil::new();
        let table = RustMutex::new("the table", ());
        let importing = Barrier::new(2);
        let found = Mutex::new(None);
        std::thread::scope(|s| {
            s.spawn(|| {
                gil.attach("T1", |py| {
                    let _entry = table.lock();
                    py.detach(|| {
                        importing.wait();
                        std::thread::sleep(Duration::from_millis(20));
                    });
                })
            });
            importing.wait();
            gil.attach("T2", |_py| {
                std::thread::scope(|inner| {
                    inner.spawn(|| {
                        // Look while T2 waits (attached) and T1 waits for the GIL.
                        for _ in 0..200 {
                            std::thread::sleep(Duration::from_millis(5));
                            if let Some(d) = waits::deadlock(Duration::ZERO) {
                                *relock(&found) = Some(d.cycle());
                                return;
                            }
                        }
                    });
                    let _ = table.lock_timeout(Duration::from_millis(600));
                });
            });
        });
        let cycle = found.into_inner().unwrap_or_else(PoisonError::into_inner);
        let cycle = cycle.expect("the watchdog's registry saw the cycle");
        assert!(
            cycle.contains("T2 holds the GIL and waits for `the table`"),
            "{cycle}"
        );
    }

    #[test]
    fn waiting_detached_lets_the_holder_finish() {
        let (got, waited) = lock_order(true);
        assert!(got);
        assert!(waited < Duration::from_secs(5));
    }

    #[test]
    fn a_py_class_cell_refuses_conflicting_borrows_at_once() {
        let cell = PyClassCell::new(1u64);
        let shared = cell.borrow().unwrap();
        assert!(cell.borrow().is_ok(), "shared borrows coexist");
        assert_eq!(cell.borrow_mut().err(), Some(AlreadyBorrowed));
        drop(shared);
        let exclusive = cell.borrow_mut().unwrap();
        assert_eq!(cell.borrow().err(), Some(AlreadyBorrowed));
        drop(exclusive);
        assert_eq!(cell.into_inner(), 1);
    }

    #[test]
    fn a_rust_mutex_names_its_holder_and_waiters() {
        let m = RustMutex::new("m", ());
        std::thread::scope(|s| {
            let guard = m.lock();
            let waiter = std::thread::Builder::new()
                .name("W".into())
                .spawn_scoped(s, || drop(m.lock()))
                .unwrap();
            while m.waiting().is_empty() {
                std::thread::yield_now();
            }
            assert_eq!(m.waiting(), ["W"]);
            assert!(m.holder().is_some());
            drop(guard);
            waiter.join().unwrap();
        });
        assert_eq!(m.holder(), None);
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
