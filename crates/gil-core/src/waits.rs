//! Who waits for whom: the live model's wait-for registry, and a watchdog that explains a
//! deadlock in the course's words instead of leaving a program hung.
//!
//! A model thread that blocks — for the GIL in `take_gil`, or for a model `threading.Lock` —
//! writes down what it waits for and who holds that now; it crosses the entry out when the wait
//! ends. Nothing is written while a thread runs, so a check point stays one relaxed load. When
//! the entries form a cycle that has not changed for a while ("T1 holds `lock` and waits for
//! the GIL; T2 holds the GIL and waits for `lock`"), no thread in it can ever go on: that is a
//! deadlock, and [`deadlock`] names it. [`watchdog`] checks for one in the background, prints it
//! with the way out, and ends the program (every lesson and exercise starts one through
//! [`crate::cli::run`]).

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

/// How long a cycle of waits must stay unchanged before [`crate::cli::run`]'s watchdog calls
/// it a deadlock. Every wait in a cycle is a blocked thread, so this only has to outlast the
/// moment in which the entries are being written.
pub const DEADLOCK_AFTER: Duration = Duration::from_secs(2);

/// The exit code of a program the watchdog ended.
pub const DEADLOCK_EXIT_CODE: i32 = 3;

/// The first line of the watchdog's report on standard error (the grader looks for it).
pub const REPORT_HEAD: &str = "deadlock:";

/// Something a model thread can hold and wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// The GIL of one interpreter (the address of its shared state).
    Gil(usize),
    /// A model `threading.Lock` (its address) and the name the program gave it.
    Lock(usize, &'static str),
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Gil(_) => f.write_str("the GIL"),
            Resource::Lock(_, name) => write!(f, "`{name}`"),
        }
    }
}

/// One model thread: its interpreter, its id there and its name.
#[derive(Clone, Debug)]
pub(crate) struct ThreadTag {
    pub(crate) key: ThreadKey,
    pub(crate) name: Arc<str>,
}

/// Identifies a model thread: the interpreter's address and the thread-state id in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ThreadKey {
    pub(crate) gil: usize,
    pub(crate) id: u64,
}

thread_local! {
    /// The model thread running on this OS thread (set while a `GilGuard` lives).
    static CURRENT: RefCell<Option<ThreadTag>> = const { RefCell::new(None) };
}

/// Say that `tag` runs on this thread from now on; returns whom it replaces (a guard inside
/// another one), to give back to [`leave`].
pub(crate) fn enter(tag: ThreadTag) -> Option<ThreadTag> {
    CURRENT.with(|current| current.replace(Some(tag)))
}

/// Undo [`enter`].
pub(crate) fn leave(previous: Option<ThreadTag>) {
    CURRENT.with(|current| *current.borrow_mut() = previous);
}

/// The model thread on this OS thread, if any.
pub(crate) fn current_key() -> Option<ThreadKey> {
    CURRENT.with(|current| current.borrow().as_ref().map(|tag| tag.key))
}

fn current_tag() -> Option<ThreadTag> {
    CURRENT.with(|current| current.borrow().clone())
}

/// One blocked thread.
#[derive(Clone, Debug)]
struct Entry {
    slot: u64,
    who: ThreadTag,
    on: Resource,
    holder: Option<ThreadKey>,
    /// When `on` and `holder` last changed.
    since: Instant,
}

static REGISTRY: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
static NEXT_SLOT: AtomicU64 = AtomicU64::new(1);

fn registry() -> std::sync::MutexGuard<'static, Vec<Entry>> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

/// A wait in progress, written in the registry until it is dropped.
pub(crate) struct Waiting {
    slot: u64,
    holder: Option<ThreadKey>,
}

/// The calling model thread starts waiting for `on`, which `holder` holds now. `who` is the
/// waiter when the caller knows it (the GIL's own code); otherwise the thread's current tag.
/// A thread that is no model thread is not written down (it cannot be named).
pub(crate) fn wait_for(
    who: Option<&ThreadTag>,
    on: Resource,
    holder: Option<ThreadKey>,
) -> Option<Waiting> {
    let who = who.cloned().or_else(current_tag)?;
    let slot = NEXT_SLOT.fetch_add(1, Relaxed);
    registry().push(Entry {
        slot,
        who,
        on,
        holder,
        since: Instant::now(),
    });
    Some(Waiting { slot, holder })
}

impl Waiting {
    /// The resource changed hands while we waited (or we learned who has it).
    pub(crate) fn holder_is(&mut self, holder: Option<ThreadKey>) {
        if holder == self.holder {
            return;
        }
        self.holder = holder;
        if let Some(entry) = registry().iter_mut().find(|e| e.slot == self.slot) {
            entry.holder = holder;
            entry.since = Instant::now();
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut entries = registry();
        if let Some(at) = entries.iter().position(|e| e.slot == self.slot) {
            entries.swap_remove(at);
        }
    }
}

/// One thread of a deadlock: it holds `holds` and waits for `waits_for`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The model thread's name (`T1`).
    pub thread: String,
    /// What it holds that the previous thread of the cycle waits for.
    pub holds: Resource,
    /// What it waits for, held by the next thread of the cycle.
    pub waits_for: Resource,
}

/// A cycle of model threads, each waiting for what the next one holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deadlock {
    /// The threads in the cycle, starting with the first by name.
    pub links: Vec<Link>,
}

impl Deadlock {
    /// "T1 holds `lock` and waits for the GIL; T2 holds the GIL and waits for `lock`".
    pub fn cycle(&self) -> String {
        self.links
            .iter()
            .map(|l| {
                format!(
                    "{} holds {} and waits for {}",
                    l.thread, l.holds, l.waits_for
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Which way out: a thread that waits for a lock while holding the GIL is the usual cause.
    pub fn fix(&self) -> String {
        let gil_holder_waiting_for_a_lock = self.links.iter().find(|l| {
            matches!(l.holds, Resource::Gil(_)) && matches!(l.waits_for, Resource::Lock(..))
        });
        match gil_holder_waiting_for_a_lock {
            Some(link) => format!(
                "{} waits for {} while holding the GIL, so the thread that holds {} never \
                 gets the GIL back to release it. Wait for a lock with the GIL released \
                 (inside `py.detach`), as CPython's `lock.acquire()` does.",
                link.thread, link.waits_for, link.waits_for
            ),
            None => "Every thread waits for a lock the next one holds: take the locks in one \
                     fixed order in every thread."
                .to_owned(),
        }
    }

    /// The watchdog's report, 80 columns wide: [`REPORT_HEAD`], the cycle one thread a line,
    /// the way out.
    pub fn report(&self) -> String {
        let mut text = format!("{REPORT_HEAD} the model's threads wait for each other:\n");
        let last = self.links.len().saturating_sub(1);
        for (i, link) in self.links.iter().enumerate() {
            let end = if i == last { '.' } else { ';' };
            let line = format!(
                "{} holds {} and waits for {}{end}",
                link.thread, link.holds, link.waits_for
            );
            text.push_str(&wrapped(&line, "  ", "    "));
        }
        text.push_str(&wrapped(&format!("Way out: {}", self.fix()), "", "  "));
        text
    }
}

/// Find a watchdog report ([`Deadlock::report`]) in a program's standard error: the cycle
/// ("T1 holds … ; T2 holds …") and the way out, each as one line of text.
pub fn read_report(stderr: &str) -> Option<(String, String)> {
    let (_, after) = stderr.split_once(REPORT_HEAD)?;
    let mut lines = after.lines().skip(1);
    let mut cycle = Vec::new();
    let mut way_out = Vec::new();
    for line in lines.by_ref() {
        match line.strip_prefix("Way out: ") {
            Some(first) => {
                way_out.push(first.trim());
                break;
            }
            None => cycle.push(line.trim()),
        }
    }
    way_out.extend(lines.take_while(|l| l.starts_with("  ")).map(str::trim));
    let cycle = cycle.join(" ");
    let cycle = cycle.strip_suffix('.').unwrap_or(&cycle);
    (!cycle.is_empty()).then(|| (cycle.to_owned(), way_out.join(" ")))
}

/// `text` in lines of at most 80 columns, each ending in a newline.
fn wrapped(text: &str, first: &str, rest: &str) -> String {
    let options = textwrap::Options::new(crate::report::WIDTH)
        .initial_indent(first)
        .subsequent_indent(rest)
        .word_splitter(textwrap::WordSplitter::NoHyphenation);
    let mut out = textwrap::fill(text, options);
    out.push('\n');
    out
}

/// A cycle of waits that has not changed for at least `after`, if there is one now.
pub fn deadlock(after: Duration) -> Option<Deadlock> {
    let entries = registry().clone();
    find_cycle(&entries, Instant::now(), after)
}

fn find_cycle(entries: &[Entry], now: Instant, after: Duration) -> Option<Deadlock> {
    let settled = |e: &&Entry| now.saturating_duration_since(e.since) >= after;
    let blocked: Vec<&Entry> = entries.iter().filter(settled).collect();
    let waiting_of = |key: ThreadKey| blocked.iter().find(|e| e.who.key == key).copied();
    for start in &blocked {
        let mut path: Vec<&Entry> = vec![start];
        while let Some(next) = path.last().and_then(|e| e.holder).and_then(waiting_of) {
            if let Some(at) = path.iter().position(|e| e.who.key == next.who.key) {
                return Some(describe(&path[at..]));
            }
            path.push(next);
        }
    }
    None
}

/// The cycle `ring` (each entry's holder is the next entry's thread, the last's the first's),
/// written from the thread with the first name.
fn describe(ring: &[&Entry]) -> Deadlock {
    let n = ring.len();
    let mut links: Vec<Link> = (0..n)
        .map(|i| Link {
            thread: ring[i].who.name.to_string(),
            holds: ring[(i + n - 1) % n].on,
            waits_for: ring[i].on,
        })
        .collect();
    let first = (0..n).min_by_key(|&i| &links[i].thread).unwrap_or(0);
    links.rotate_left(first);
    Deadlock { links }
}

/// Start (once per process) a thread that looks for a deadlock every few hundred milliseconds;
/// on finding one that lasted `after`, it prints [`Deadlock::report`] on standard error and
/// ends the program with [`DEADLOCK_EXIT_CODE`].
pub fn watchdog(after: Duration) {
    static STARTED: Once = Once::new();
    STARTED.call_once(|| {
        let every = (after / 4).max(Duration::from_millis(50));
        let spawned = std::thread::Builder::new()
            .name("deadlock watchdog".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(every);
                    if let Some(found) = deadlock(after) {
                        eprint!("{}", found.report());
                        std::process::exit(DEADLOCK_EXIT_CODE);
                    }
                }
            });
        // Without the watchdog a deadlock still hangs, as it would without this module.
        drop(spawned);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(slot: u64, id: u64, name: &str, on: Resource, holder: u64) -> Entry {
        Entry {
            slot,
            who: ThreadTag {
                key: ThreadKey { gil: 1, id },
                name: name.into(),
            },
            on,
            holder: Some(ThreadKey { gil: 1, id: holder }),
            since: Instant::now(),
        }
    }

    #[test]
    fn two_threads_waiting_for_each_other_are_named_in_the_courses_words() {
        let gil = Resource::Gil(1);
        let lock = Resource::Lock(2, "lock");
        let entries = [entry(1, 2, "T2", lock, 1), entry(2, 1, "T1", gil, 2)];
        let later = Instant::now() + Duration::from_secs(3);
        let found = find_cycle(&entries, later, Duration::from_secs(2)).unwrap();
        assert_eq!(
            found.cycle(),
            "T1 holds `lock` and waits for the GIL; T2 holds the GIL and waits for `lock`"
        );
        assert!(
            found
                .fix()
                .starts_with("T2 waits for `lock` while holding the GIL")
        );
        let report = found.report();
        assert!(report.starts_with(REPORT_HEAD), "{report}");
        assert!(report.lines().all(|l| l.chars().count() <= 80), "{report}");
        assert!(
            report.contains("  T2 holds the GIL and waits for `lock`.\n"),
            "{report}"
        );
        let noisy = format!("some output\n{report}more output\n");
        let (cycle, way_out) = read_report(&noisy).unwrap();
        assert_eq!(cycle, found.cycle());
        assert_eq!(way_out, found.fix());
        assert_eq!(read_report("error: no deadlock here\n"), None);
        assert_eq!(
            find_cycle(&entries, Instant::now(), Duration::from_secs(2)),
            None,
            "a fresh cycle may still be moving"
        );
    }

    #[test]
    fn a_chain_that_ends_in_a_running_thread_is_no_deadlock() {
        let gil = Resource::Gil(1);
        let lock = Resource::Lock(2, "lock");
        // T1 waits for the GIL that T2 holds; T2 runs (waits for nothing); T3 waits for T1.
        let entries = [entry(1, 1, "T1", gil, 2), entry(2, 3, "T3", lock, 1)];
        let later = Instant::now() + Duration::from_secs(3);
        assert_eq!(find_cycle(&entries, later, Duration::from_secs(2)), None);
    }

    #[test]
    fn locks_taken_in_opposite_orders_ask_for_one_order() {
        let a = Resource::Lock(2, "a");
        let b = Resource::Lock(3, "b");
        let entries = [entry(1, 1, "T1", b, 2), entry(2, 2, "T2", a, 1)];
        let later = Instant::now() + Duration::from_secs(3);
        let found = find_cycle(&entries, later, Duration::ZERO).unwrap();
        assert_eq!(
            found.cycle(),
            "T1 holds `a` and waits for `b`; T2 holds `b` and waits for `a`"
        );
        assert!(found.fix().contains("one fixed order"));
    }
}
