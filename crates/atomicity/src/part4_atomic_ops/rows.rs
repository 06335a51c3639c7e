//! The eight rows of part 4, each written once as a loop body of [`Op`]s.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use gil_core::bytecode::Site;

use super::containers::{Dict, Interp, List};

/// Threads and operations per thread of one hammer run.
#[derive(Clone, Copy, Debug)]
pub struct Size {
    /// Threads.
    pub threads: usize,
    /// Operations (loop iterations) per thread.
    pub ops: u64,
}

impl Size {
    pub(super) fn total(self) -> u64 {
        self.threads as u64 * self.ops
    }

    /// Keys of the check-then-act row: each thread walks all of them.
    fn keys(self) -> usize {
        (self.ops as usize / 4).max(1)
    }
}

/// What a row's threads share: the containers and the counters of what went wrong.
#[derive(Debug)]
pub struct Shared {
    pub(super) list: List,
    pub(super) dict: Dict,
    /// Bad outcomes seen by readers: torn reads, values nobody stored, failed pops.
    bad: AtomicU64,
    /// Pop: which values were popped already.
    seen: Vec<AtomicBool>,
    /// Check-then-act: how many times a key was made.
    made: AtomicU64,
}

impl Shared {
    fn new(list: List, dict: Dict, seen: usize) -> Self {
        Shared {
            list,
            dict,
            bad: AtomicU64::new(0),
            seen: (0..seen).map(|_| AtomicBool::new(false)).collect(),
            made: AtomicU64::new(0),
        }
    }
}

/// One model thread's registers while it runs a row.
#[derive(Clone, Copy, Debug, Default)]
pub struct Regs {
    /// Which thread (0-based).
    pub(super) thread: usize,
    /// Loop iterations done.
    pub(super) iteration: u64,
    /// A value carried from one instruction to the next (`v` in `v = L[0]`).
    value: u64,
    /// The result of `k in D`.
    present: bool,
}

impl Regs {
    /// Fresh registers for thread `thread`.
    pub(super) fn for_thread(thread: usize) -> Self {
        Regs {
            thread,
            ..Regs::default()
        }
    }
}

/// One modelled instruction of a row's loop body: does its work and says what kind of
/// instruction it was, or `None` when it did not run (the branch not taken).
pub type Op = fn(&mut Regs, &Shared, &Interp<'_, '_>, Size) -> Option<Site>;

/// A row of the table: the Python, its verdict, and its loop body.
pub struct Row {
    /// The Python code hammered (also its label).
    pub code: &'static str,
    /// Whether the GIL makes it atomic: one opcode whose C code reaches no check point.
    pub atomic_under_gil: bool,
    /// Whether the Python FAQ ("What kinds of global value mutation are thread-safe?")
    /// lists this operation; otherwise the verdict is the course's own reasoning.
    pub in_faq: bool,
    pub(super) setup: fn(Size) -> Shared,
    /// The loop body; the last op is the back edge, which counts the iteration.
    pub(super) body: &'static [Op],
    pub(super) iterations: fn(Size) -> u64,
    pub(super) violations: fn(&Shared, Size) -> u64,
}

/// `JUMP_BACKWARD`: the end of one iteration.
fn back_edge(r: &mut Regs, _: &Shared, _: &Interp<'_, '_>, _: Size) -> Option<Site> {
    r.iteration += 1;
    Some(Site::BackEdge)
}

fn ops(size: Size) -> u64 {
    size.ops
}

fn bad(s: &Shared, _: Size) -> u64 {
    s.bad.load(Relaxed)
}

/// A value that says who stored it: writer thread + 1 in the high half, iteration below.
fn stamp(thread: usize, iteration: u64) -> u64 {
    (thread as u64 + 1) << 32 | iteration
}

/// What `make(k)` does: about a hundred nanoseconds of work, which is why one caches it.
fn make(k: usize) -> u64 {
    let mut x = k as u64;
    for _ in 0..64 {
        x = black_box(x).wrapping_mul(31).wrapping_add(7);
    }
    x
}

/// The eight rows: the Python FAQ's verdict where it lists the operation, the course's own
/// (the same rule: one opcode whose C code reaches no check point) where it does not.
pub static ROWS: [Row; 8] = [
    Row {
        code: "L.append(x)",
        atomic_under_gil: true,
        in_faq: true,
        setup: |z| Shared::new(List::new([], z.total() as usize), Dict::new(0), 0),
        body: &[
            |r, s, ip, z| {
                s.list.append(ip, r.thread as u64 * z.ops + r.iteration);
                Some(Site::Call)
            },
            back_edge,
        ],
        iterations: ops,
        // Appends that are missing from the list.
        violations: |s, z| z.total().saturating_sub(s.list.len() as u64),
    },
    Row {
        code: "x = L.pop()",
        atomic_under_gil: true,
        in_faq: true,
        setup: |z| {
            let total = z.total();
            Shared::new(
                List::new(0..total, total as usize),
                Dict::new(0),
                total as usize,
            )
        },
        body: &[
            |_, s, ip, _| {
                // A pop that got nothing, or a value somebody else popped too.
                match s.list.pop(ip) {
                    Some(x) if !s.seen[x as usize].swap(true, Relaxed) => {}
                    _ => {
                        s.bad.fetch_add(1, Relaxed);
                    }
                }
                Some(Site::Call)
            },
            back_edge,
        ],
        iterations: ops,
        violations: bad,
    },
    Row {
        code: "x = L[i]",
        atomic_under_gil: true,
        in_faq: true,
        setup: |_| Shared::new(List::new([0], 1), Dict::new(0), 0),
        body: &[
            |r, s, ip, z| {
                // Even threads store stamps into L[0], odd ones read it: a value nobody
                // stored is a torn read.
                if r.thread % 2 == 0 {
                    s.list.set(ip, 0, stamp(r.thread, r.iteration));
                } else {
                    let x = s.list.get(0);
                    let (writer, j) = ((x >> 32) as usize, x & 0xFFFF_FFFF);
                    if x != 0 && (writer == 0 || writer > z.threads || j >= z.ops) {
                        s.bad.fetch_add(1, Relaxed);
                    }
                }
                Some(Site::Opcode)
            },
            back_edge,
        ],
        iterations: ops,
        violations: bad,
    },
    Row {
        code: "D[k] = v",
        atomic_under_gil: true,
        in_faq: true,
        setup: |z| Shared::new(List::new([], 0), Dict::new(z.total() as usize), 0),
        body: &[
            |r, s, ip, z| {
                let k = r.thread * z.ops as usize + r.iteration as usize;
                s.dict.set(ip, k, r.iteration);
                Some(Site::Opcode)
            },
            back_edge,
        ],
        iterations: ops,
        // len(D) off from the keys really present.
        violations: |s, _| s.dict.len().abs_diff(s.dict.count_present()) as u64,
    },
    Row {
        code: "x = D.get(k, d)",
        atomic_under_gil: true,
        in_faq: false,
        setup: |_| Shared::new(List::new([], 0), Dict::new(1), 0),
        body: &[
            |r, s, ip, _| {
                // Even threads set and delete D[0]; odd ones read it with a default: anything
                // but the value or the default is a torn read.
                const VALUE: u64 = 7;
                const DEFAULT: u64 = 1;
                if r.thread % 2 == 0 {
                    if r.iteration % 2 == 0 {
                        s.dict.set(ip, 0, VALUE);
                    } else {
                        s.dict.delete(ip, 0);
                    }
                    return Some(Site::Opcode);
                }
                let x = s.dict.get(ip, 0, DEFAULT);
                if x != VALUE && x != DEFAULT {
                    s.bad.fetch_add(1, Relaxed);
                }
                Some(Site::Call)
            },
            back_edge,
        ],
        iterations: ops,
        violations: bad,
    },
    Row {
        code: "L[i] = L[i] + 1",
        atomic_under_gil: false,
        in_faq: false,
        setup: |_| Shared::new(List::new([0], 1), Dict::new(0), 0),
        body: &[
            |r, s, _, _| {
                r.value = s.list.get(0); // BINARY_SUBSCR
                Some(Site::Opcode)
            },
            |_, _, _, _| Some(Site::Fast), // LOAD_CONST 1
            |r, _, _, _| {
                r.value += 1; // BINARY_OP (+)
                Some(Site::Opcode)
            },
            |r, s, ip, _| {
                s.list.set(ip, 0, r.value); // STORE_SUBSCR
                Some(Site::Opcode)
            },
            back_edge,
        ],
        iterations: ops,
        // Increments lost.
        violations: |s, z| z.total().saturating_sub(s.list.get(0)),
    },
    Row {
        code: "D[k] = D.get(k, 0) + 1",
        atomic_under_gil: false,
        in_faq: false,
        setup: |_| Shared::new(List::new([], 0), Dict::new(1), 0),
        body: &[
            |r, s, ip, _| {
                r.value = s.dict.get(ip, 0, 0); // CALL D.get
                Some(Site::Call)
            },
            |r, _, _, _| {
                r.value += 1; // BINARY_OP (+)
                Some(Site::Opcode)
            },
            |r, s, ip, _| {
                s.dict.set(ip, 0, r.value); // STORE_SUBSCR
                Some(Site::Opcode)
            },
            back_edge,
        ],
        iterations: ops,
        violations: |s, z| z.total().saturating_sub(s.dict.peek(0).unwrap_or(0)),
    },
    Row {
        code: "if k not in D: D[k] = make(k)",
        atomic_under_gil: false,
        in_faq: false,
        setup: |z| Shared::new(List::new([], 0), Dict::new(z.keys()), 0),
        // Every thread walks the same keys; the loop variable is the key.
        body: &[
            |r, s, ip, _| {
                r.present = s.dict.contains(ip, r.iteration as usize); // CONTAINS_OP
                Some(Site::Fast)
            },
            |_, _, _, _| Some(Site::Fast), // POP_JUMP_IF_TRUE on a bool
            |r, s, _, _| {
                (!r.present).then(|| {
                    r.value = make(r.iteration as usize); // CALL make
                    s.made.fetch_add(1, Relaxed);
                    Site::Call
                })
            },
            |r, s, ip, _| {
                (!r.present).then(|| {
                    s.dict.set(ip, r.iteration as usize, r.value); // STORE_SUBSCR
                    Site::Opcode
                })
            },
            back_edge,
        ],
        iterations: |z| z.keys() as u64,
        // Keys made more than once.
        violations: |s, z| s.made.load(Relaxed).saturating_sub(z.keys() as u64),
    },
];
