//! Model Python objects with reference counts: what the GIL was invented to protect.
//!
//! Every CPython object starts with a header holding its reference count (`ob_refcnt`). Binding
//! a name, storing into a list or passing an argument adds a reference (`Py_INCREF`); dropping
//! one subtracts (`Py_DECREF`); when the count reaches zero the object is freed on the spot.
//! In the default build those updates are plain, non-atomic `ob_refcnt++` / `ob_refcnt--`:
//! correct only because the GIL lets one thread at a time touch any object.
//!
//! A [`PyObject`] here is that header. Its count is updated in one of three ways, chosen when
//! the object is made ([`Counting`]):
//!
//! * [`Counting::Plain`] — the default build's read-modify-write. Modelled as a relaxed atomic
//!   *load* followed by a separate relaxed *store*, so two threads racing on it lose updates
//!   just as `ob_refcnt++` does in C, yet the Rust program has no undefined behaviour. (On
//!   x86 the compiler fuses the two into one `inc` instruction without a `lock` prefix — what
//!   C compiles `ob_refcnt++` to; the CPU still reads and writes in separate steps.)
//!   Correct only under a [`GilGuard`](crate::GilGuard) (or any other lock).
//! * [`Counting::Atomic`] — `fetch_add` / `fetch_sub`: always correct, and what every incref
//!   would cost if CPython simply made its counts atomic.
//! * [`Counting::Biased`] — PEP 703's biased reference counting (the free-threaded build): the
//!   thread that made the object (its *owner*) updates a private local count with plain
//!   operations; every other thread updates a shared count atomically; the true count is the
//!   sum. When the owner's local count drops to zero it *merges* into the shared count, and from
//!   then on everyone uses the shared one. A thread that pushes the shared count below zero
//!   (it dropped a reference the owner had handed it) marks the object *queued*, asking the
//!   owner to merge.
//!
//! [`PyObject::traced`] makes an object that also tallies the increfs and decrefs it receives
//! ([`PyObject::increfs_received`]), so a program's claim to have replayed a script can be
//! checked against what the object saw.
//!
//! [`PyObject::immortal`] makes an immortal object (PEP 683, CPython 3.12+: `None`, `True`,
//! `False`, small ints, statically allocated strings): increfs and decrefs do nothing, and it
//! is never freed. Strings interned with `sys.intern` are not in that list: immortal in 3.12.0,
//! mortal again since 3.13 and a 3.12 bugfix release of 2024 (gh-113993), except on the
//! free-threaded build, which keeps every interned string immortal.
//!
//! ## What the model checks for you
//!
//! Nothing is really freed — the Rust memory stays valid — but the model marks the object dead
//! when its count reaches zero, and from then on any incref, decref or read of the count is a
//! **use after free**: it is counted, and *not* carried out. [`PyObject::audit`], called once you
//! believe every reference is gone, says what happened: freed exactly once ([`Fate::Freed`]),
//! never freed ([`Fate::Leaked`]) or freed while references remained
//! ([`Fate::PrematureFree`]).
//!
//! ```
//! use gil_core::object::{Counting, PyObject, Fate};
//!
//! let a = PyObject::new("list", Counting::Plain); // a = []
//! assert_eq!(a.getrefcount(), 2);                 // a, plus getrefcount's own argument
//! a.incref();                                     // b = a
//! assert_eq!(a.getrefcount(), 3);
//! a.decref();                                     // del b
//! a.decref();                                     // del a: the count reaches 0, freed
//! assert_eq!(a.audit().fate(), Fate::Freed);
//! ```
//!
//! Racing updates made correct by the GIL: hold the guard around each update, and let other
//! threads in only at check points, between "bytecodes" (swap in `Counting::Atomic`, or
//! `Gil::free_threaded()` to watch the plain count go wrong):
//!
//! ```
//! use gil_core::Gil;
//! use gil_core::object::{Counting, PyObject, Fate};
//!
//! let shared = PyObject::new("list", Counting::Plain);
//! Gil::new().run_threads(2, |_, py| {
//!     for _ in 0..10_000 {
//!         shared.incref(); // y = shared
//!         py.check_point();
//!         shared.decref(); // del y
//!         py.check_point();
//!     }
//! });
//! assert_eq!(shared.refcnt(), 1);
//! shared.decref();
//! assert_eq!(shared.audit().fate(), Fate::Freed);
//! ```
//!
//! ## Where the model simplifies CPython
//!
//! * Freeing is a flag, not a call to the allocator, so a use after free is detected instead of
//!   crashing; CPython would read or corrupt reused memory.
//! * Checking that flag (and immortality, in the same byte) costs every operation one relaxed
//!   load that CPython does not pay — the same for all three kinds of counting, so comparisons
//!   between them stay fair.
//! * Biased counting keeps its "queued" and "merged" state in the owner-id word; CPython
//!   packs those bits into `ob_ref_shared`. CPython's owner merges queued objects at its next
//!   eval-breaker check or when it exits; the model's owner merges one at its next incref or
//!   decref of it, and [`PyObject::audit`] settles any merge still pending.
//! * There are no types, no `tp_dealloc`, no cyclic garbage collector and no deferred
//!   reference counting: an object is just its count.

use std::fmt;
use std::sync::atomic::{AtomicIsize, AtomicU8, AtomicU64, AtomicUsize, Ordering};

/// What [`PyObject::refcnt`] reports for an immortal object: CPython 3.12's immortal count on
/// 64-bit builds, `2**32 - 1`, chosen to be recognisably huge.
pub const IMMORTAL_REFCNT: isize = u32::MAX as isize;

/// How a [`PyObject`]'s reference count is updated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Counting {
    /// `ob_refcnt++` with no lock prefix: a load, then a store. Loses updates when threads race.
    Plain,
    /// An atomic read-modify-write (`fetch_add` / `fetch_sub`), like Rust's `Arc`.
    Atomic,
    /// PEP 703 biased counting: plain updates by the owner thread, atomic ones by the others.
    Biased,
}

impl Counting {
    /// All three, in the order lessons present them.
    pub const ALL: [Counting; 3] = [Counting::Plain, Counting::Atomic, Counting::Biased];
}

impl std::str::FromStr for Counting {
    type Err = String;

    /// `plain`, `atomic` or `biased` (what [`Display`](fmt::Display) prints), e.g. for a
    /// `--counting` flag.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Counting::ALL
            .into_iter()
            .find(|c| c.to_string() == s)
            .ok_or_else(|| format!("unknown counting {s:?}: expected plain, atomic or biased"))
    }
}

impl fmt::Display for Counting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Counting::Plain => "plain",
            Counting::Atomic => "atomic",
            Counting::Biased => "biased",
        })
    }
}

/// A model Python object: a reference count and the bookkeeping that catches misuse of it.
///
/// Share it between threads by reference (scoped threads) or in an `Arc`; the model count is
/// independent of Rust's own ownership, which only keeps the memory valid.
pub struct PyObject {
    /// Shown in `Debug` output, like `type(x).__name__`.
    type_name: &'static str,
    /// How this object's count is updated.
    counting: Counting,
    /// `LIVE` (0), `FREED` (1: the count reached zero; every later use is counted, not done)
    /// or `IMMORTAL` (2: increfs and decrefs do nothing). One byte, so the common case costs
    /// one load and one branch.
    status: AtomicU8,
    /// `ob_refcnt` for plain and atomic counting; `ob_ref_shared` for biased counting.
    shared: AtomicIsize,
    /// `ob_ref_local`: the owner's private count (biased counting only; only the owner writes).
    local: AtomicIsize,
    /// `ob_tid` (biased counting only): the owner thread's id while it counts locally; that id
    /// with `QUEUED` (bit 0) set once another thread took the shared count below zero and asks
    /// the owner to merge; 0 once merged, when every thread, the owner too, counts atomically
    /// in `shared`. Thread ids are even, so bit 0 is free.
    ob_tid: AtomicUsize,
    /// How many times the count reached zero and the object was freed (more than 1: double free).
    deallocs: AtomicU64,
    /// Operations attempted on the object after it was freed (and not carried out).
    use_after_free: AtomicU64,
    /// Increfs received while `TRACED` (not counting [`PyObject::getrefcount`]'s own).
    increfs: AtomicU64,
    /// Decrefs received while `TRACED` (not counting [`PyObject::getrefcount`]'s own).
    decrefs: AtomicU64,
}

/// `status`: an ordinary object in use.
const LIVE: u8 = 0;
/// `status`: the count reached zero and the object was freed.
const FREED: u8 = 1;
/// `status`: an immortal object.
const IMMORTAL: u8 = 2;
/// `status`: an object in use that tallies its increfs and decrefs. A status of its own, not a
/// flag, so untraced objects keep their one-compare fast path; once freed it reads `FREED`.
const TRACED: u8 = 3;
/// `ob_tid` bit 0: another thread asked the owner to merge.
const QUEUED: usize = 1;

/// An id for the calling thread that costs one thread-local address computation, like
/// CPython's `_Py_ThreadId` (the thread-pointer register). Unique among running threads, never
/// 0, and even (the address of an aligned `u64`).
#[inline]
fn current_thread_id() -> usize {
    thread_local! {
        static MARK: u64 = const { 0 };
    }
    MARK.with(|mark| std::ptr::from_ref(mark) as usize)
}

impl PyObject {
    /// A new object holding one reference (its creator's), like the result of `[]`.
    ///
    /// With [`Counting::Biased`] the calling thread becomes the owner, and that first reference
    /// is in the owner's local count.
    pub fn new(type_name: &'static str, counting: Counting) -> Self {
        let biased = counting == Counting::Biased;
        PyObject {
            type_name,
            counting,
            status: AtomicU8::new(LIVE),
            shared: AtomicIsize::new(if biased { 0 } else { 1 }),
            local: AtomicIsize::new(if biased { 1 } else { 0 }),
            ob_tid: AtomicUsize::new(if biased { current_thread_id() } else { 0 }),
            deallocs: AtomicU64::new(0),
            use_after_free: AtomicU64::new(0),
            increfs: AtomicU64::new(0),
            decrefs: AtomicU64::new(0),
        }
    }

    /// Like [`PyObject::new`], but the object also tallies every incref and decref it receives
    /// (a relaxed atomic add each, on a slower path; for checking, not for timing).
    pub fn traced(type_name: &'static str, counting: Counting) -> Self {
        PyObject {
            status: AtomicU8::new(TRACED),
            ..PyObject::new(type_name, counting)
        }
    }

    /// Increfs this object received, not counting [`getrefcount`](Self::getrefcount)'s own
    /// (always 0 unless it was made with [`PyObject::traced`]).
    pub fn increfs_received(&self) -> u64 {
        self.increfs.load(Ordering::Relaxed)
    }

    /// Decrefs this object received, the one that freed it included, not counting
    /// [`getrefcount`](Self::getrefcount)'s own (0 unless made with [`PyObject::traced`]).
    pub fn decrefs_received(&self) -> u64 {
        self.decrefs.load(Ordering::Relaxed)
    }

    /// An object that already has `refs` references (at least 1), as if that many names and
    /// containers pointed at it — e.g. a popular object that racing threads cannot free
    /// by accident while they are being timed.
    pub fn with_refs(type_name: &'static str, counting: Counting, refs: isize) -> Self {
        let obj = PyObject::new(type_name, counting);
        let count = if counting == Counting::Biased {
            &obj.local
        } else {
            &obj.shared
        };
        count.store(refs.max(1), Ordering::Relaxed);
        obj
    }

    /// An immortal object (PEP 683), like `None`: increfs and decrefs are no-ops, it is never
    /// freed, and its count reads [`IMMORTAL_REFCNT`].
    pub fn immortal(type_name: &'static str) -> Self {
        PyObject {
            status: AtomicU8::new(IMMORTAL),
            ..PyObject::new(type_name, Counting::Plain)
        }
    }

    /// The name given at creation.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// How this object's count is updated.
    pub fn counting(&self) -> Counting {
        self.counting
    }

    /// True for objects made with [`PyObject::immortal`].
    pub fn is_immortal(&self) -> bool {
        self.status.load(Ordering::Relaxed) == IMMORTAL
    }

    /// True if the count has reached zero and the object has been freed. Asking is not a use.
    pub fn is_freed(&self) -> bool {
        self.status.load(Ordering::Relaxed) == FREED
    }

    /// False if an incref or decref must do nothing: the object is immortal, or it is freed
    /// (then the attempt is counted as a use after free). A traced object adds the operation
    /// to `tally`.
    #[inline]
    fn countable(&self, tally: &AtomicU64) -> bool {
        match self.status.load(Ordering::Relaxed) {
            LIVE => true,
            // Immortal objects skip counting at the same one-compare cost (PEP 683's point).
            IMMORTAL => false,
            status => self.countable_slow(status, tally),
        }
    }

    #[cold]
    #[inline(never)]
    fn countable_slow(&self, status: u8, tally: &AtomicU64) -> bool {
        match status {
            TRACED => {
                tally.fetch_add(1, Ordering::Relaxed);
                true
            }
            FREED => {
                self.used_after_free();
                false
            }
            _ => false,
        }
    }

    /// In use: neither freed nor immortal.
    fn is_live(&self) -> bool {
        matches!(self.status.load(Ordering::Relaxed), LIVE | TRACED)
    }

    /// `Py_INCREF`: add a reference.
    ///
    /// On a freed object nothing happens except that the use after free is counted. An incref
    /// that finds the count already at zero (it raced with the decref that is freeing the
    /// object) is counted as a use after free too.
    #[inline]
    pub fn incref(&self) {
        if !self.countable(&self.increfs) {
            return;
        }
        match self.counting {
            Counting::Plain => {
                // From 0 to 1: the count had reached zero, so the object is being freed under
                // us (only racing threads get here). Checking also keeps the read and the
                // write apart, as in decref, so both race alike.
                if plain_add(&self.shared, 1) == 1 {
                    self.used_after_free();
                }
            }
            Counting::Atomic => {
                self.shared.fetch_add(1, Ordering::Relaxed);
            }
            Counting::Biased => {
                // The fast path: one compare with the owner's id, then a plain update.
                if self.ob_tid.load(Ordering::Relaxed) == current_thread_id() {
                    // The same check as the plain incref, so the two cost the same.
                    if plain_add(&self.local, 1) == 1 {
                        self.used_after_free();
                    }
                } else {
                    self.incref_shared();
                }
            }
        }
    }

    /// `Py_DECREF`: drop a reference, freeing the object if it was the last one.
    ///
    /// On a freed object nothing happens except that the use after free is counted.
    #[inline]
    pub fn decref(&self) {
        if !self.countable(&self.decrefs) {
            return;
        }
        match self.counting {
            Counting::Plain => {
                if plain_add(&self.shared, -1) == 0 {
                    self.dealloc();
                }
            }
            Counting::Atomic => {
                // Release, then an acquire fence before freeing: the same orderings as `Arc`.
                if self.shared.fetch_sub(1, Ordering::Release) == 1 {
                    std::sync::atomic::fence(Ordering::Acquire);
                    self.dealloc();
                }
            }
            Counting::Biased => {
                if self.ob_tid.load(Ordering::Relaxed) == current_thread_id() {
                    if plain_add(&self.local, -1) == 0 {
                        self.merge();
                    }
                } else {
                    self.decref_shared();
                }
            }
        }
    }

    /// Biased counting, not the fast path: another thread, the owner after merging, or the
    /// owner of a queued object (which merges first).
    #[cold]
    fn incref_shared(&self) {
        if self.ob_tid.load(Ordering::Relaxed) == current_thread_id() | QUEUED {
            self.merge();
        }
        self.shared.fetch_add(1, Ordering::Relaxed);
    }

    /// Biased counting, not the fast path: see [`incref_shared`](Self::incref_shared).
    #[cold]
    fn decref_shared(&self) {
        if self.ob_tid.load(Ordering::Relaxed) == current_thread_id() | QUEUED {
            plain_add(&self.local, -1);
            self.merge();
            return;
        }
        let shared = self.shared.fetch_sub(1, Ordering::SeqCst) - 1;
        if shared == 0 && self.ob_tid.load(Ordering::SeqCst) == 0 {
            self.dealloc_biased();
        } else if shared < 0 {
            // Ask the owner to merge (CPython queues the object for it); a merged object
            // stays merged.
            let mut tid = self.ob_tid.load(Ordering::Relaxed);
            while tid != 0 && tid & QUEUED == 0 {
                match self.ob_tid.compare_exchange_weak(
                    tid,
                    tid | QUEUED,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(now) => tid = now,
                }
            }
        }
    }

    /// Biased counting, owner only: fold the local count into the shared one and give up the
    /// fast path (PEP 703's merge), because the local count reached zero or another thread
    /// queued the object. Free it if that leaves no reference at all.
    #[cold]
    fn merge(&self) {
        let local = self.local.load(Ordering::Relaxed);
        self.local.store(0, Ordering::Relaxed);
        // SeqCst here and in a non-owner's decref: if both threads see a total of zero, the
        // compare-and-swap in `dealloc_biased` lets exactly one of them free the object.
        self.ob_tid.store(0, Ordering::SeqCst);
        if self.shared.fetch_add(local, Ordering::SeqCst) + local == 0 {
            self.dealloc_biased();
        }
    }

    /// `Py_REFCNT(x)`: the current count (local + shared for biased counting), without the
    /// extra reference [`getrefcount`](Self::getrefcount) adds.
    ///
    /// Reading a freed object counts as a use after free and returns 0.
    pub fn refcnt(&self) -> isize {
        match self.status.load(Ordering::Relaxed) {
            IMMORTAL => IMMORTAL_REFCNT,
            FREED => {
                self.used_after_free();
                0
            }
            _ => self.local.load(Ordering::Relaxed) + self.shared.load(Ordering::Relaxed),
        }
    }

    /// `sys.getrefcount(x)`: passing `x` as an argument binds it to the call's parameter, which
    /// is one more reference while the call runs, so the answer is one more than the number of
    /// references you can see. The model really takes and drops that reference.
    pub fn getrefcount(&self) -> isize {
        let traced = self.status.load(Ordering::Relaxed) == TRACED;
        self.incref();
        let count = self.refcnt();
        self.decref();
        if traced {
            // The call's own reference is not one the caller took.
            self.increfs.fetch_sub(1, Ordering::Relaxed);
            self.decrefs.fetch_sub(1, Ordering::Relaxed);
        }
        count
    }

    /// What happened to this object so far. Call it when you believe every reference is gone
    /// and read [`Audit::fate`].
    ///
    /// A biased object that another thread queued for its owner is merged first — what
    /// CPython's owner does at its next eval-breaker check or when it exits — so call this
    /// only once no thread is using the object.
    pub fn audit(&self) -> Audit {
        if self.counting == Counting::Biased
            && self.is_live()
            && self.ob_tid.load(Ordering::Relaxed) & QUEUED != 0
        {
            self.merge();
        }
        self.snapshot()
    }

    /// The figures as they stand, changing nothing.
    fn snapshot(&self) -> Audit {
        Audit {
            refcnt: if self.is_immortal() {
                IMMORTAL_REFCNT
            } else {
                self.local.load(Ordering::Relaxed) + self.shared.load(Ordering::Relaxed)
            },
            freed: self.is_freed(),
            deallocs: self.deallocs.load(Ordering::Relaxed),
            use_after_free: self.use_after_free.load(Ordering::Relaxed),
        }
    }

    /// Biased counting frees through a compare-and-swap: when the owner's merge and another
    /// thread's last decref race, both may see zero, and exactly one of them frees.
    #[cold]
    fn dealloc_biased(&self) {
        let freed_now = [LIVE, TRACED].into_iter().any(|live| {
            self.status
                .compare_exchange(live, FREED, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        });
        if freed_now {
            self.deallocs.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The count reached zero: free the object. A second free (two racing threads both saw
    /// zero) is counted too, which [`Audit::fate`] reports as a premature free.
    #[cold]
    fn dealloc(&self) {
        self.status.store(FREED, Ordering::Release);
        self.deallocs.fetch_add(1, Ordering::Relaxed);
    }

    #[cold]
    #[inline(never)]
    fn used_after_free(&self) {
        self.use_after_free.fetch_add(1, Ordering::Relaxed);
    }
}

/// `ob_refcnt += delta` as C compiles it without a lock prefix: read, then write back. Another
/// thread's update landing between the two is overwritten (a lost update). Returns the new value.
#[inline]
fn plain_add(count: &AtomicIsize, delta: isize) -> isize {
    let new = count.load(Ordering::Relaxed) + delta;
    count.store(new, Ordering::Relaxed);
    new
}

impl fmt::Debug for PyObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PyObject")
            .field("type", &self.type_name)
            .field("counting", &self.counting)
            .field("immortal", &self.is_immortal())
            .field("audit", &self.snapshot())
            .finish()
    }
}

/// A snapshot of a [`PyObject`]'s history, from [`PyObject::audit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Audit {
    /// The count now (local + shared; [`IMMORTAL_REFCNT`] for immortal objects). After a free,
    /// the value the count held when it was frozen (0, or whatever a racing store left).
    pub refcnt: isize,
    /// True if the object has been freed.
    pub freed: bool,
    /// Times the object was freed: 0 or 1 when all is well, 2 or more is a double free.
    pub deallocs: u64,
    /// Increfs, decrefs and reads attempted after the object was freed (none were carried out).
    pub use_after_free: u64,
}

impl Audit {
    /// Judge the object on the assumption that every reference to it is gone now.
    pub fn fate(&self) -> Fate {
        if self.use_after_free > 0 || self.deallocs > 1 {
            Fate::PrematureFree {
                use_after_free: self.use_after_free,
                deallocs: self.deallocs,
            }
        } else if self.freed {
            Fate::Freed
        } else {
            Fate::Leaked {
                refcnt: self.refcnt,
            }
        }
    }
}

/// What became of an object once all its references are gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Freed exactly once, and never touched afterwards: correct reference counting.
    Freed,
    /// Never freed: the count stayed above zero (lost decrefs), so the memory leaks.
    /// Immortal objects are always reported as leaked, which for them is by design.
    Leaked {
        /// The count that was left over.
        refcnt: isize,
    },
    /// Freed while references remained (lost increfs): later uses of it were caught, or it was
    /// freed twice. In CPython this is a use after free: a crash, or silently corrupted data.
    PrematureFree {
        /// Operations attempted on the freed object.
        use_after_free: u64,
        /// Times it was freed.
        deallocs: u64,
    },
}

impl fmt::Display for Fate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fate::Freed => f.write_str("freed once, correctly"),
            Fate::Leaked { refcnt } => write!(f, "leaked (count stuck at {refcnt})"),
            Fate::PrematureFree {
                use_after_free,
                deallocs,
            } => write!(
                f,
                "freed too early ({use_after_free} use{} after free, freed {deallocs}x)",
                if *use_after_free == 1 { "" } else { "s" }
            ),
        }
    }
}

#[cfg(test)]
mod tests;
