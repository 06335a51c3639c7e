//! Part 4 — which operations the GIL makes atomic, each checked by a hammer test.
//!
//! Model containers ([`List`], [`Dict`]) keep their state in atomics that are read and written
//! separately, like the fields of CPython's C structs: a C-level operation (`list.append`) is
//! a few plain loads and stores. Under the GIL such an operation is atomic exactly when no
//! check point falls inside it. The free-threaded build has no GIL, so CPython 3.13t takes a
//! per-object lock (a "critical section") around such operations instead; the last column
//! shows what happens without one.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Barrier, Mutex, MutexGuard};
use std::time::Duration;

use gil_core::bytecode::{CheckPolicy, Site, dispatch};
use gil_core::measure::fmt_count;
use gil_core::report::{heading, kv_line, note};
use gil_core::{Gil, GilGuard, Mode};

use crate::setup::Config;

/// Switch interval of the GIL hammer runs: short, so the GIL changes hands thousands of times
/// and every check point inside an operation gets its chance.
pub const HAMMER_INTERVAL: Duration = Duration::from_micros(50);

/// One interpreter a hammer test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// The GIL, CPython ≤ 3.9's check points.
    GilOld,
    /// The GIL, CPython 3.10+'s check points.
    GilNew,
    /// Free-threaded with per-object locks around each C-level operation (CPython 3.13t).
    FreeThreaded,
    /// Free-threaded with no per-object locks: what 3.13t would be without them.
    NoObjectLocks,
}

impl Column {
    /// All four, in the order printed.
    pub const ALL: [Column; 4] = [
        Column::GilOld,
        Column::GilNew,
        Column::FreeThreaded,
        Column::NoObjectLocks,
    ];

    fn mode(self) -> Mode {
        match self {
            Column::GilOld | Column::GilNew => Mode::Gil,
            Column::FreeThreaded | Column::NoObjectLocks => Mode::FreeThreaded,
        }
    }

    fn policy(self) -> CheckPolicy {
        match self {
            Column::GilOld => CheckPolicy::EveryInstruction,
            _ => CheckPolicy::BackEdgesAndCalls,
        }
    }
}

/// A model thread's view of the interpreter while it runs an operation.
pub struct Interp<'a, 'g> {
    py: &'a mut GilGuard<'g>,
    policy: CheckPolicy,
    object_locks: bool,
}

impl Interp<'_, '_> {
    /// The instruction just executed was of kind `site`: pay for its [`dispatch`], and consult
    /// the eval breaker if the policy has a check point there.
    pub fn after(&mut self, site: Site) {
        dispatch();
        if self.policy.checks(site) {
            self.py.check_point();
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

/// What one operation's hammer tests found.
#[derive(Clone, Debug)]
pub struct Operation {
    /// The Python code hammered (also its label; never contains `:`).
    pub code: &'static str,
    /// Whether the GIL makes it atomic (per the Python FAQ, not per the source tutorial).
    pub atomic_under_gil: bool,
    /// What the source tutorial claimed, where it differs.
    pub tutorial_differs: bool,
    /// Violations counted in each [`Column`], in [`Column::ALL`] order.
    pub violations: [u64; 4],
    /// GIL hand-offs in each column (0 when free-threaded).
    pub switches: [u64; 4],
}

/// What part 4 measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// One row per operation, in the order printed.
    pub operations: Vec<Operation>,
}

impl Report {
    /// The row for `code`.
    pub fn get(&self, code: &str) -> Option<&Operation> {
        self.operations.iter().find(|op| op.code == code)
    }
}

/// Threads and operations per thread of one hammer run.
#[derive(Clone, Copy, Debug)]
struct Size {
    threads: usize,
    ops: u64,
}

impl Size {
    fn total(self) -> u64 {
        self.threads as u64 * self.ops
    }
}

/// Run `body(thread, interp)` on `size.threads` threads of a fresh interpreter for `column`,
/// all starting together; return the GIL hand-offs.
fn hammer(column: Column, size: Size, body: impl Fn(usize, &mut Interp<'_, '_>) + Sync) -> u64 {
    let gil = Gil::with_mode(column.mode());
    gil.set_switch_interval(HAMMER_INTERVAL)
        .expect("a non-zero interval");
    let start = Barrier::new(size.threads);
    gil.run_threads(size.threads, |i, py| {
        // Wait for the others without the GIL, so that every thread is there at the start.
        py.allow_threads(|| start.wait());
        let mut ip = Interp {
            py,
            policy: column.policy(),
            object_locks: column == Column::FreeThreaded,
        };
        body(i, &mut ip);
    });
    gil.stats().switches
}

/// Each thread appends its own values; violations = appends missing from the list.
fn append(column: Column, size: Size) -> (u64, u64) {
    let list = List::new([], size.total() as usize);
    let switches = hammer(column, size, |t, ip| {
        for j in 0..size.ops {
            list.append(ip, t as u64 * size.ops + j);
            ip.after(Site::Call);
            ip.after(Site::BackEdge);
        }
    });
    (size.total() - list.len() as u64, switches)
}

/// Threads pop a pre-filled list empty; violations = pops that got nothing or a duplicate.
fn pop(column: Column, size: Size) -> (u64, u64) {
    let total = size.total();
    let list = List::new(0..total, total as usize);
    let seen: Vec<AtomicBool> = (0..total).map(|_| AtomicBool::new(false)).collect();
    let bad = AtomicU64::new(0);
    let switches = hammer(column, size, |_, ip| {
        for _ in 0..size.ops {
            match list.pop(ip) {
                Some(x) if !seen[x as usize].swap(true, Relaxed) => {}
                _ => {
                    bad.fetch_add(1, Relaxed);
                }
            }
            ip.after(Site::Call);
            ip.after(Site::BackEdge);
        }
    });
    (bad.into_inner(), switches)
}

/// Writers store stamps into `L[0]`, readers read it; violations = values nobody stored.
fn subscript(column: Column, size: Size) -> (u64, u64) {
    let list = List::new([0], 1);
    let bad = AtomicU64::new(0);
    let stamp = |t: usize, j: u64| (t as u64 + 1) << 32 | j;
    let switches = hammer(column, size, |t, ip| {
        for j in 0..size.ops {
            if t % 2 == 0 {
                list.set(ip, 0, stamp(t, j));
            } else {
                let x = list.get(0);
                let (writer, j) = ((x >> 32) as usize, x & 0xFFFF_FFFF);
                if x != 0 && (writer == 0 || writer > size.threads || j >= size.ops) {
                    bad.fetch_add(1, Relaxed);
                }
            }
            ip.after(Site::Opcode);
            ip.after(Site::BackEdge);
        }
    });
    (bad.into_inner(), switches)
}

/// Each thread inserts its own keys; violations = `len(D)` off from the keys present.
fn store_item(column: Column, size: Size) -> (u64, u64) {
    let dict = Dict::new(size.total() as usize);
    let switches = hammer(column, size, |t, ip| {
        for j in 0..size.ops {
            dict.set(ip, t * size.ops as usize + j as usize, j);
            ip.after(Site::Opcode);
            ip.after(Site::BackEdge);
        }
    });
    let off = dict.len().abs_diff(dict.count_present());
    (off as u64, switches)
}

/// Writers set and delete `D[0]`, readers `D.get(0, 1)`; violations = torn reads.
fn dict_get(column: Column, size: Size) -> (u64, u64) {
    const VALUE: u64 = 7;
    const DEFAULT: u64 = 1;
    let dict = Dict::new(1);
    let bad = AtomicU64::new(0);
    let switches = hammer(column, size, |t, ip| {
        for j in 0..size.ops {
            if t % 2 == 0 {
                if j % 2 == 0 {
                    dict.set(ip, 0, VALUE);
                } else {
                    dict.delete(ip, 0);
                }
                ip.after(Site::Opcode);
            } else {
                let x = dict.get(ip, 0, DEFAULT);
                ip.after(Site::Call);
                if x != VALUE && x != DEFAULT {
                    bad.fetch_add(1, Relaxed);
                }
            }
            ip.after(Site::BackEdge);
        }
    });
    (bad.into_inner(), switches)
}

/// `L[0] = L[0] + 1` on every thread; violations = increments lost.
fn list_increment(column: Column, size: Size) -> (u64, u64) {
    let list = List::new([0], 1);
    let switches = hammer(column, size, |_, ip| {
        for _ in 0..size.ops {
            let v = list.get(0); // BINARY_SUBSCR
            ip.after(Site::Opcode);
            ip.after(Site::Fast); // LOAD_CONST 1
            let v = v + 1; // BINARY_OP (+)
            ip.after(Site::Opcode);
            list.set(ip, 0, v); // STORE_SUBSCR
            ip.after(Site::Opcode);
            ip.after(Site::BackEdge);
        }
    });
    (size.total() - list.get(0), switches)
}

/// `D[0] = D.get(0, 0) + 1` on every thread; violations = increments lost.
fn get_then_store(column: Column, size: Size) -> (u64, u64) {
    let dict = Dict::new(1);
    let switches = hammer(column, size, |_, ip| {
        for _ in 0..size.ops {
            let v = dict.get(ip, 0, 0); // CALL D.get
            ip.after(Site::Call);
            let v = v + 1; // BINARY_OP (+)
            ip.after(Site::Opcode);
            dict.set(ip, 0, v); // STORE_SUBSCR
            ip.after(Site::Opcode);
            ip.after(Site::BackEdge);
        }
    });
    (size.total() - dict.peek(0).unwrap_or(0), switches)
}

/// `make(k)` of the check-then-act row: a Python call that computes a value (about a hundred
/// nanoseconds of work, which is why one caches its result).
fn make(k: usize) -> u64 {
    let mut x = k as u64;
    for _ in 0..64 {
        x = black_box(x).wrapping_mul(31).wrapping_add(7);
    }
    x
}

/// Every thread walks the same keys: `if k not in D, D[k] = make(k)`; violations = keys made
/// more than once.
fn check_then_act(column: Column, size: Size) -> (u64, u64) {
    let keys = (size.ops as usize / 4).max(1);
    let dict = Dict::new(keys);
    let made = AtomicU64::new(0);
    let switches = hammer(column, size, |_, ip| {
        for k in 0..keys {
            let present = dict.contains(ip, k); // CONTAINS_OP
            ip.after(Site::Opcode);
            ip.after(Site::Opcode); // POP_JUMP_IF_TRUE
            if !present {
                let v = make(k); // CALL make
                made.fetch_add(1, Relaxed);
                ip.after(Site::Call);
                dict.set(ip, k, v); // STORE_SUBSCR
                ip.after(Site::Opcode);
            }
            ip.after(Site::BackEdge);
        }
    });
    (made.into_inner() - keys as u64, switches)
}

/// A hammer test: Python code, verdict, and the function that runs it in one column.
type Hammer = (&'static str, bool, bool, fn(Column, Size) -> (u64, u64));

/// The operations, as the Python FAQ classifies them (`true` = atomic under the GIL), and
/// whether the source tutorial said otherwise.
const HAMMERS: [Hammer; 8] = [
    ("L.append(x)", true, false, append),
    ("x = L.pop()", true, false, pop),
    ("x = L[i]", true, false, subscript),
    ("D[k] = v", true, false, store_item),
    ("x = D.get(k, d)", true, true, dict_get),
    ("L[i] = L[i] + 1", false, false, list_increment),
    ("D[k] = D.get(k, 0) + 1", false, false, get_then_store),
    ("if k not in D, D[k] = f(k)", false, false, check_then_act),
];

/// Run part 4: hammer every operation in every column and print the violations.
pub fn run(cfg: &Config) -> anyhow::Result<Report> {
    heading("Part 4: what the GIL makes atomic, and what it does not");
    let size = Size {
        threads: cfg.hammer_threads.max(2),
        ops: cfg.hammer_ops.max(1),
    };
    note(&format!(
        "Each row is hammered by {} threads x {} operations on model containers, under the\n\
         GIL (switch interval {} µs, so it changes hands often) with either policy, and\n\
         free-threaded with and without per-object locks. Each cell counts violations: lost\n\
         appends or increments, items popped twice, torn reads, keys initialised twice.",
        size.threads,
        fmt_count(size.ops),
        HAMMER_INTERVAL.as_micros()
    ));
    println!();
    println!(
        "{}",
        kv_line(
            "operation",
            format!(
                "{:<10} {:>7} {:>7} {:>7} {:>13}",
                "GIL says", "<=3.9", "3.10+", "3.13t", "no obj locks"
            )
        )
    );
    let mut operations = Vec::new();
    for (code, atomic, tutorial_differs, test) in HAMMERS {
        let mut violations = [0; 4];
        let mut switches = [0; 4];
        for (i, column) in Column::ALL.into_iter().enumerate() {
            (violations[i], switches[i]) = test(column, size);
        }
        let verdict = match (atomic, tutorial_differs) {
            (true, false) => "atomic",
            (true, true) => "atomic *",
            (false, _) => "NOT",
        };
        println!(
            "{}",
            kv_line(
                code,
                format!(
                    "{verdict:<10} {:>7} {:>7} {:>7} {:>13}",
                    fmt_count(violations[0]),
                    fmt_count(violations[1]),
                    fmt_count(violations[2]),
                    fmt_count(violations[3])
                )
            )
        );
        operations.push(Operation {
            code,
            atomic_under_gil: atomic,
            tutorial_differs,
            violations,
            switches,
        });
    }
    let gil_switches: u64 = operations
        .iter()
        .map(|op| op.switches[0] + op.switches[1])
        .sum();
    println!();
    note(&format!(
        "The GIL changed hands {} times in the GIL columns.",
        fmt_count(gil_switches)
    ));
    note(
        &[
            "* The source tutorial lists D.get(k, d) as not atomic (marked *). For a plain dict",
            "  it is one C call with no check point inside, as atomic as D[k] = v. Acting on",
            "  its result is the hazard: D[k] = D.get(k, 0) + 1 loses updates even on 3.10+,",
            "  because the call is a check point between the read and the write.",
            "* The first five are atomic because each is one opcode whose C code never reaches",
            "  a check point. D[k] = v can still run Python code (a key's __hash__ or __eq__,",
            "  an old value's __del__), and a switch can happen in there.",
            "* L[i] = L[i] + 1 survives 3.10+ for the lucky reason counter += 1 does (part 2).",
            "* Check-then-act breaks on any version: another thread can act between the check",
            "  and the action. Use a lock, or one call that does both (D.setdefault(k, v)).",
            "* Without a GIL, CPython 3.13t keeps single operations atomic with per-object",
            "  locks; the last column shows what goes wrong without them.",
        ]
        .join("\n"),
    );
    Ok(Report { operations })
}
