//! The model containers part 4 hammers, and the interpreter view their operations run in.
//!
//! [`List`] and [`Dict`] keep their state in atomics that are read and written separately,
//! like the fields of CPython's C structs: a C-level operation (`list.append`) is a few plain
//! loads and stores, which can interleave with another thread's unless something (the GIL,
//! or 3.13t's per-object lock) keeps them apart.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

use gil_core::GilGuard;
use gil_core::bytecode::{CheckPolicy, Site, dispatch};

/// A model thread's view of the interpreter while it runs an operation.
pub struct Interp<'a, 'g> {
    /// The GIL guard of a live thread; `None` on the deterministic scheduler, which does the
    /// switching itself.
    pub(super) py: Option<&'a mut GilGuard<'g>>,
    pub(super) policy: CheckPolicy,
    pub(super) object_locks: bool,
}

impl Interp<'_, '_> {
    /// The instruction just executed was of kind `site`: pay for its [`dispatch`], and consult
    /// the eval breaker if the policy has a check point there.
    pub fn after(&mut self, site: Site) {
        dispatch();
        if let Some(py) = self.py.as_deref_mut() {
            if self.policy.checks(site) {
                py.check_point();
            }
        }
    }

    /// Enter the object's critical section if this interpreter uses per-object locks.
    fn critical<'m>(&self, lock: &'m Mutex<()>) -> Option<MutexGuard<'m, ()>> {
        self.object_locks
            .then(|| lock.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// A model `list` of integers with a fixed capacity.
#[derive(Debug)]
pub struct List {
    items: Box<[AtomicU64]>,
    /// `ob_size`: how many items are in use.
    len: AtomicUsize,
    /// The free-threaded build's per-object lock.
    object_lock: Mutex<()>,
}

impl List {
    /// A list holding `items`, with room for `capacity` items in all.
    pub fn new(items: impl IntoIterator<Item = u64>, capacity: usize) -> Self {
        let mut slots: Vec<AtomicU64> = items.into_iter().map(AtomicU64::new).collect();
        let len = slots.len();
        slots.resize_with(capacity.max(len), || AtomicU64::new(0));
        List {
            items: slots.into_boxed_slice(),
            len: AtomicUsize::new(len),
            object_lock: Mutex::new(()),
        }
    }

    /// `len(L)`.
    pub fn len(&self) -> usize {
        self.len.load(Relaxed)
    }

    /// `len(L) == 0`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `L.append(x)`: one C call — read the length, store the item, store the new length.
    pub fn append(&self, ip: &Interp<'_, '_>, x: u64) {
        let _section = ip.critical(&self.object_lock);
        let n = self.len.load(Relaxed);
        self.items[n].store(x, Relaxed);
        self.len.store(n + 1, Relaxed);
    }

    /// `L.pop()`: one C call; `None` where CPython raises `IndexError`.
    pub fn pop(&self, ip: &Interp<'_, '_>) -> Option<u64> {
        let _section = ip.critical(&self.object_lock);
        let n = self.len.load(Relaxed);
        let last = n.checked_sub(1)?;
        let x = self.items[last].load(Relaxed);
        self.len.store(last, Relaxed);
        Some(x)
    }

    /// `L[i]` (`BINARY_SUBSCR`): one load (3.13t reads lists without locking, too).
    pub fn get(&self, i: usize) -> u64 {
        self.items[i].load(Relaxed)
    }

    /// `L[i] = x` (`STORE_SUBSCR`).
    pub fn set(&self, ip: &Interp<'_, '_>, i: usize, x: u64) {
        let _section = ip.critical(&self.object_lock);
        self.items[i].store(x, Relaxed);
    }
}

/// One entry of a model dict: written as two words, like a key slot and its value.
#[derive(Debug, Default)]
struct Entry {
    present: AtomicBool,
    value: AtomicU64,
}

/// A model `dict` from small integer keys (`0..capacity`) to integers.
#[derive(Debug)]
pub struct Dict {
    entries: Box<[Entry]>,
    /// `ma_used`: how many keys are present.
    used: AtomicUsize,
    /// The free-threaded build's per-object lock.
    object_lock: Mutex<()>,
}

/// What `del D[k]` leaves in a value slot: a reader that returns it saw a torn entry.
pub const CLEARED: u64 = u64::MAX;

impl Dict {
    /// An empty dict for keys `0..capacity`.
    pub fn new(capacity: usize) -> Self {
        Dict {
            entries: (0..capacity).map(|_| Entry::default()).collect(),
            used: AtomicUsize::new(0),
            object_lock: Mutex::new(()),
        }
    }

    /// `len(D)`.
    pub fn len(&self) -> usize {
        self.used.load(Relaxed)
    }

    /// `len(D) == 0`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys really present (counted slot by slot, for checking `len`).
    pub fn count_present(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.present.load(Relaxed))
            .count()
    }

    /// The value at `k`, read from outside the model (after the threads have finished).
    pub fn peek(&self, k: usize) -> Option<u64> {
        let entry = &self.entries[k];
        entry
            .present
            .load(Relaxed)
            .then(|| entry.value.load(Relaxed))
    }

    /// `D[k] = v` (`STORE_SUBSCR`): value, then presence, then `ma_used` for a new key.
    pub fn set(&self, ip: &Interp<'_, '_>, k: usize, v: u64) {
        let _section = ip.critical(&self.object_lock);
        let entry = &self.entries[k];
        let was = entry.present.load(Relaxed);
        entry.value.store(v, Relaxed);
        entry.present.store(true, Relaxed);
        if !was {
            self.used
                .store(self.used.load(Relaxed).wrapping_add(1), Relaxed);
        }
    }

    /// `del D[k]`: presence, then value, then `ma_used`.
    pub fn delete(&self, ip: &Interp<'_, '_>, k: usize) {
        let _section = ip.critical(&self.object_lock);
        let entry = &self.entries[k];
        if entry.present.load(Relaxed) {
            entry.present.store(false, Relaxed);
            entry.value.store(CLEARED, Relaxed);
            // Wrapping: without a lock, racing deletes can take the count below zero.
            self.used
                .store(self.used.load(Relaxed).wrapping_sub(1), Relaxed);
        }
    }

    /// `D.get(k, default)`: one C call.
    pub fn get(&self, ip: &Interp<'_, '_>, k: usize, default: u64) -> u64 {
        let _section = ip.critical(&self.object_lock);
        let entry = &self.entries[k];
        if entry.present.load(Relaxed) {
            entry.value.load(Relaxed)
        } else {
            default
        }
    }

    /// `k in D` (`CONTAINS_OP`).
    pub fn contains(&self, ip: &Interp<'_, '_>, k: usize) -> bool {
        let _section = ip.critical(&self.object_lock);
        self.entries[k].present.load(Relaxed)
    }
}
