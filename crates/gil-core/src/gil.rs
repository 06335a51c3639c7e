//! The lock itself: CPython's `take_gil` / `drop_gil` (`Python/ceval_gil.c`) in safe Rust.
//!
//! [`Gil`] is the interpreter-wide lock; [`GilGuard`] is one thread's hold on it (CPython's
//! "attached thread state"). Everything that CPython's eval loop and `Py_BEGIN_ALLOW_THREADS`
//! do with the GIL is a method on the guard: [`GilGuard::check_point`] and
//! [`GilGuard::detach`]. The names are PyO3's current ones: [`Gil::attach`] (formerly
//! `with_gil`) and `detach` (formerly `allow_threads`, renamed in PyO3 0.26).

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::protocol::{Event, Lock, Next, Outcome, Release, ThreadState};
use crate::stats::{GilStats, ThreadStats};
use crate::timeline::{Mark, Span, StepWatch, ThreadLife, Timeline};
use crate::waits::{self, Resource, ThreadKey, ThreadTag, Waiting};

#[cfg(doc)]
use crate::protocol::MIN_SWITCH_WAIT;

/// CPython's default switch interval: `sys.getswitchinterval()` returns `0.005`.
pub const DEFAULT_SWITCH_INTERVAL: Duration = Duration::from_millis(5);

/// CPython ≤ 3.1's default `sys.setcheckinterval`: release the GIL every 100 ticks.
pub const OLD_GIL_CHECK_INTERVAL: u32 = 100;

/// Which interpreter the model behaves like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// CPython 3.2 and later: waiters ask for the GIL with a drop request after one switch
    /// interval, and the holder, once it has dropped, waits until someone else has taken it
    /// (forced switching).
    Gil,
    /// CPython ≤ 3.1 ("the old GIL"): every `check_interval` ticks the holder releases and at
    /// once re-acquires the lock. No drop request, no forced switching: whoever wins the race
    /// for the lock runs, and on a multi-core machine that is usually the thread that just let go.
    OldGil {
        /// Ticks (check points) between two releases; CPython's default was 100.
        check_interval: u32,
    },
    /// The PEP 703 free-threaded build (`python3.13t`): no global lock at all. Check points and
    /// `detach` still exist and are still measured, and never wait for a lock here. (CPython's
    /// stop-the-world pauses, which do make attached threads wait, are not part of this lock.)
    FreeThreaded,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Gil => f.write_str("GIL (CPython 3.2+)"),
            Mode::OldGil { check_interval } => {
                write!(f, "old GIL (CPython <= 3.1, every {check_interval} ticks)")
            }
            Mode::FreeThreaded => f.write_str("free-threaded (PEP 703)"),
        }
    }
}

/// The Global Interpreter Lock of one model interpreter.
///
/// Cloning is cheap and gives another handle to the same lock (it is an `Arc` inside), so a
/// `Gil` can be moved into `'static` threads; scoped threads can simply borrow it.
///
/// ```
/// use gil_core::Gil;
/// let gil = Gil::new();
/// std::thread::scope(|s| {
///     for name in ["T1", "T2"] {
///         let gil = &gil;
///         s.spawn(move || {
///             let mut py = gil.acquire(name);
///             for _ in 0..1000 {
///                 py.check_point(); // "between two bytecodes"
///             }
///             py.detach(|| std::thread::sleep(std::time::Duration::from_millis(1)));
///         });
///     }
/// });
/// assert_eq!(gil.stats().threads.len(), 2);
/// ```
#[derive(Clone)]
pub struct Gil {
    inner: Arc<Inner>,
}

/// Shared state of one GIL.
struct Inner {
    mode: Mode,
    /// `gil->mutex` and `gil->switch_mutex` of CPython, merged into one (see the crate docs),
    /// guarding the lock word; every change to it is a [`Lock::step`] of the protocol.
    state: Mutex<Lock>,
    /// `gil->cond`: signalled when the GIL is released.
    released: Condvar,
    /// `gil->switch_cond`: signalled when a thread takes the GIL, so a forced-out holder can go on.
    switched: Condvar,
    /// The eval breaker's drop-request bit: a copy of the lock word's, written under `state`
    /// after every protocol step and read with one relaxed load at every check point.
    drop_request: AtomicBool,
    /// The switch interval in nanoseconds (`sys.setswitchinterval`).
    switch_interval_ns: AtomicU64,
    /// Hands out thread-state ids; 0 means "nobody".
    next_thread_id: AtomicU64,
    /// Guards alive now: `threading.active_count()` of the model.
    attached: AtomicUsize,
    /// Time zero of the timeline.
    epoch: Instant,
    /// Whether releases are recorded into `record`.
    recording: AtomicBool,
    record: Mutex<Record>,
}

/// What the instrumentation collected since the last reset.
#[derive(Default)]
struct Record {
    /// One entry per finished guard, up to [`FINISHED_CAP`]; past that, a guard's figures are
    /// added to the entry of the same name, so a loop that attaches millions of times stays
    /// in bounded memory.
    finished: Vec<ThreadStats>,
    spans: Vec<Span>,
    lives: Vec<ThreadLife>,
    /// Stretches spent detached, for the timeline.
    detached: Vec<Span>,
    /// Drop requests and forced drops, for the timeline.
    marks: Vec<Mark>,
}

/// How many finished guards [`Record`] lists one by one.
const FINISHED_CAP: usize = 4096;

impl Record {
    fn keep(&mut self, stats: &ThreadStats) {
        if self.finished.len() < FINISHED_CAP {
            self.finished.push(stats.clone());
        } else if let Some(same) = self
            .finished
            .iter_mut()
            .rev()
            .find(|t| t.name == stats.name)
        {
            same.absorb(stats);
        } else if let Some(last) = self.finished.last_mut() {
            last.absorb(stats);
        }
    }
}

impl Inner {
    /// Names this interpreter in the wait-for registry.
    fn address(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// The thread holding the GIL now, as the wait-for registry names it.
    fn holder(&self, lock_word: &Lock) -> Option<ThreadKey> {
        lock_word.is_locked().then_some(ThreadKey {
            gil: self.address(),
            id: lock_word.last_holder(),
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A thread that panicked while holding a model lock has already released the GIL in its
    // guard's destructor; the data is still consistent, so poisoning is not an error here.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Default for Gil {
    fn default() -> Self {
        Self::new()
    }
}

impl Gil {
    /// A CPython 3.2+ GIL with the default 5 ms switch interval.
    pub fn new() -> Self {
        Self::with_mode(Mode::Gil)
    }

    /// No global lock: the PEP 703 free-threaded build.
    pub fn free_threaded() -> Self {
        Self::with_mode(Mode::FreeThreaded)
    }

    /// The pre-3.2 GIL: release and re-acquire every `check_interval` check points.
    pub fn old_gil(check_interval: u32) -> Self {
        Self::with_mode(Mode::OldGil {
            check_interval: check_interval.max(1),
        })
    }

    /// A GIL that behaves like `mode`.
    pub fn with_mode(mode: Mode) -> Self {
        Gil {
            inner: Arc::new(Inner {
                mode,
                state: Mutex::new(Lock::new(mode, DEFAULT_SWITCH_INTERVAL)),
                released: Condvar::new(),
                switched: Condvar::new(),
                drop_request: AtomicBool::new(false),
                switch_interval_ns: AtomicU64::new(DEFAULT_SWITCH_INTERVAL.as_nanos() as u64),
                next_thread_id: AtomicU64::new(1),
                attached: AtomicUsize::new(0),
                epoch: Instant::now(),
                recording: AtomicBool::new(false),
                record: Mutex::new(Record::default()),
            }),
        }
    }

    /// Which interpreter this GIL models.
    pub fn mode(&self) -> Mode {
        self.inner.mode
    }

    /// True for the free-threaded build, which has no lock to wait for.
    pub fn is_free_threaded(&self) -> bool {
        self.inner.mode == Mode::FreeThreaded
    }

    /// `threading.active_count()`: model threads attached to this interpreter right now,
    /// holding the GIL or not (a thread inside `detach` is still alive and counted).
    pub fn active_count(&self) -> usize {
        self.inner.attached.load(Relaxed)
    }

    /// `sys.getswitchinterval()`: how long a waiter waits before it sets a drop request.
    pub fn switch_interval(&self) -> Duration {
        Duration::from_nanos(self.inner.switch_interval_ns.load(Relaxed))
    }

    /// `sys.setswitchinterval(seconds)`. Like CPython, a zero interval is refused and any
    /// positive one is accepted; waiters wait at least [`MIN_SWITCH_WAIT`] whatever is set,
    /// while [`Gil::switch_interval`] reports the value as set.
    pub fn set_switch_interval(&self, interval: Duration) -> anyhow::Result<()> {
        anyhow::ensure!(
            !interval.is_zero(),
            "switch interval must be greater than 0 (CPython raises ValueError too)"
        );
        let nanos = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX);
        let mut state = lock(&self.inner.state);
        state.set_interval(interval);
        self.inner.switch_interval_ns.store(nanos, Relaxed);
        Ok(())
    }

    /// Attach the calling thread to the interpreter: block until it holds the GIL.
    ///
    /// `name` labels the thread in statistics and in the timeline chart. The returned guard
    /// releases the GIL when dropped, also when the thread panics.
    pub fn acquire(&self, name: &str) -> GilGuard<'_> {
        let id = self.inner.next_thread_id.fetch_add(1, Relaxed);
        self.inner.attached.fetch_add(1, Relaxed);
        if self.inner.recording.load(Relaxed) {
            lock(&self.inner.record).lives.push(ThreadLife {
                thread: id,
                name: name.to_owned(),
                born: self.inner.epoch.elapsed(),
                died: None,
            });
        }
        let mode = self.inner.mode;
        let mut guard = GilGuard {
            inner: &self.inner,
            thread: ThreadState::new(id, name, mode),
            // Free-threaded there is no lock to share: each thread steps a private one, so
            // attaching and detaching never touch a shared mutex.
            private: (mode == Mode::FreeThreaded).then(|| Lock::new(mode, self.switch_interval())),
            tag: ThreadTag {
                key: ThreadKey {
                    gil: self.inner.address(),
                    id,
                },
                name: name.into(),
            },
            outer: None,
            _not_send: PhantomData,
        };
        guard.outer = waits::enter(guard.tag.clone());
        guard.take();
        guard
    }

    /// Run `f` holding the GIL, like PyO3's `Python::attach` (formerly `with_gil`).
    pub fn attach<R>(&self, name: &str, f: impl FnOnce(&mut GilGuard<'_>) -> R) -> R {
        let mut py = self.acquire(name);
        f(&mut py)
    }

    /// Start `n` model Python threads named `T1`…`Tn`, each running `f(index, guard)` while
    /// attached, and wait for all of them. Results come back in thread order.
    pub fn run_threads<R, F>(&self, n: usize, f: F) -> Vec<R>
    where
        R: Send,
        F: Fn(usize, &mut GilGuard<'_>) -> R + Sync,
    {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n)
                .map(|i| {
                    let f = &f;
                    scope.spawn(move || self.attach(&format!("T{}", i + 1), |py| f(i, py)))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    }

    /// Counters and per-thread figures since the last [`Gil::reset_stats`].
    ///
    /// Per-thread figures appear once a thread's guard has been dropped.
    pub fn stats(&self) -> GilStats {
        let counters = lock(&self.inner.state).counters();
        GilStats {
            mode: self.inner.mode,
            switch_interval: self.switch_interval(),
            switches: counters.switches,
            forced_switches: counters.forced_switches,
            drop_requests: counters.drop_requests,
            threads: lock(&self.inner.record).finished.clone(),
        }
    }

    /// Forget all statistics and timeline data collected so far.
    pub fn reset_stats(&self) {
        lock(&self.inner.state).reset_counters();
        let mut record = lock(&self.inner.record);
        record.finished.clear();
        record.spans.clear();
        record.lives.clear();
        record.detached.clear();
        record.marks.clear();
    }

    /// Start recording who holds the GIL when (clears any earlier recording).
    ///
    /// Recording costs a clock read and a short lock at each release, never at a check point
    /// that does not switch, so it can stay on while timing.
    pub fn record_timeline(&self) {
        let mut record = lock(&self.inner.record);
        record.spans.clear();
        record.lives.clear();
        record.detached.clear();
        record.marks.clear();
        self.inner.recording.store(true, Relaxed);
    }

    /// Stop recording and return what was recorded since [`Gil::record_timeline`].
    pub fn take_timeline(&self) -> Timeline {
        self.inner.recording.store(false, Relaxed);
        let mut record = lock(&self.inner.record);
        Timeline::new(
            std::mem::take(&mut record.spans),
            std::mem::take(&mut record.lives),
            self.switch_interval(),
        )
        .with_detail(
            std::mem::take(&mut record.detached),
            std::mem::take(&mut record.marks),
        )
    }
}

impl fmt::Debug for Gil {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gil")
            .field("mode", &self.inner.mode)
            .field("switch_interval", &self.switch_interval())
            .finish()
    }
}

/// One thread's attachment to the interpreter: proof that it may run "bytecode".
///
/// While the guard exists and is not inside [`detach`](Self::detach), this thread
/// holds the GIL (in GIL modes). Dropping the guard releases it — during a panic too, so a
/// crashing thread never leaves the others waiting forever. Like PyO3's `Python<'py>` token,
/// a guard belongs to the thread that made it and cannot be sent to another one.
pub struct GilGuard<'gil> {
    inner: &'gil Inner,
    /// This thread's side of the protocol: its phase, the old GIL's countdown, its figures.
    thread: ThreadState,
    /// Free-threaded: this thread's own lock word, which nobody else needs.
    private: Option<Lock>,
    /// Who this thread is, for the wait-for registry ([`waits`]).
    tag: ThreadTag,
    /// The model thread this guard's thread was before (a guard inside another one).
    outer: Option<ThreadTag>,
    /// `!Send`: the GIL is held by a thread, not by a value that could move between threads.
    _not_send: PhantomData<*const ()>,
}

impl GilGuard<'_> {
    /// The eval breaker, consulted "between two bytecodes".
    ///
    /// With nobody waiting this is one relaxed atomic load (old GIL: one local decrement), so
    /// model code can call it on every loop iteration. If a waiter has set a drop request, the
    /// holder releases the GIL, waits until another thread has taken it (forced switching), and
    /// queues to take it back.
    #[inline]
    pub fn check_point(&mut self) {
        let drop_request = &self.inner.drop_request;
        if let Some(why) = self.thread.check_point(|| drop_request.load(Relaxed)) {
            self.switch(why);
        }
    }

    /// Detach from the interpreter: run `f` with the GIL released, then take it back. CPython's
    /// `Py_BEGIN_ALLOW_THREADS` … `Py_END_ALLOW_THREADS`; PyO3's `Python::detach` (called
    /// `allow_threads` before PyO3 0.26). Blocking calls (sleep, file and socket I/O) and long
    /// native computations belong in here; other threads run "Python" meanwhile.
    pub fn detach<R>(&mut self, f: impl FnOnce() -> R) -> R {
        self.release(Release::Detach);
        let result = f();
        self.take();
        result
    }

    /// The old name of [`detach`](Self::detach), as PyO3 called it before 0.26.
    #[deprecated(note = "renamed to `detach`, as in PyO3 0.26")]
    pub fn allow_threads<R>(&mut self, f: impl FnOnce() -> R) -> R {
        self.detach(f)
    }

    /// This thread's figures so far (hold time includes the hold in progress).
    pub fn stats(&self) -> ThreadStats {
        self.thread.stats_at(self.inner.epoch.elapsed())
    }

    /// The label given to [`Gil::acquire`].
    pub fn name(&self) -> &str {
        &self.thread.stats().name
    }

    /// The interpreter mode this guard runs under.
    pub fn mode(&self) -> Mode {
        self.inner.mode
    }

    /// A check point said to let go (a drop request, or the old GIL's tick): release, then
    /// queue to take the GIL back.
    #[cold]
    #[inline(never)]
    fn switch(&mut self, why: Release) {
        self.release(why);
        self.take();
    }

    /// `take_gil`: wait for the GIL, asking the holder to drop it after each switch interval.
    fn take(&mut self) {
        self.drive(Event::Take);
    }

    /// `drop_gil`: let go, wake one waiter, and (if a drop was requested and forced switching
    /// applies) wait until some other thread has actually taken the GIL.
    fn release(&mut self, why: Release) {
        let inner = self.inner;
        if let Some(since) = self.thread.held_since()
            && inner.recording.load(Relaxed)
        {
            lock(&inner.record).spans.push(Span {
                thread: self.thread.id(),
                start: since,
                end: inner.epoch.elapsed(),
            });
        }
        self.drive(Event::Drop(why));
    }

    /// Deliver `event` to the protocol, then do what it says — wake, sleep on a condition
    /// variable and deliver what the wait ended with — until the thread runs or is away.
    fn drive(&mut self, event: Event) {
        let inner = self.inner;
        if let Some(private) = &mut self.private {
            step(inner, private, &mut self.thread, event);
            return;
        }
        let mut state = lock(&inner.state);
        let mut outcome = step(inner, &mut state, &mut self.thread, event);
        // Written in the wait-for registry while this thread waits for the GIL.
        let mut waiting: Option<Waiting> = None;
        loop {
            inner.drop_request.store(state.drop_request(), Relaxed);
            let Outcome {
                next,
                wake_waiter,
                wake_switch_waiters,
            } = outcome;
            if wake_waiter {
                inner.released.notify_one();
            }
            if wake_switch_waiters {
                inner.switched.notify_all();
            }
            if let Next::Wait(_) = next {
                let holder = inner.holder(&state);
                match &mut waiting {
                    Some(waiting) => waiting.holder_is(holder),
                    None => {
                        let gil = Resource::Gil(inner.address());
                        waiting = waits::wait_for(Some(&self.tag), gil, holder);
                    }
                }
            }
            let event = match next {
                Next::Run | Next::Away => return,
                Next::Wait(None) => {
                    state = inner
                        .released
                        .wait(state)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    Event::Retry { timed_out: false }
                }
                Next::Wait(Some(timeout)) => {
                    let (next, wait) = inner
                        .released
                        .wait_timeout(state, timeout)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    state = next;
                    Event::Retry {
                        timed_out: wait.timed_out(),
                    }
                }
                Next::WaitSwitch => {
                    state = inner
                        .switched
                        .wait(state)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    Event::SwitchRetry
                }
            };
            outcome = step(inner, &mut state, &mut self.thread, event);
        }
    }
}

/// One protocol step of `thread` now, recorded for the timeline if one is being recorded.
fn step(inner: &Inner, lock_word: &mut Lock, thread: &mut ThreadState, event: Event) -> Outcome {
    let at = inner.epoch.elapsed();
    if !inner.recording.load(Relaxed) {
        return lock_word.step(thread, event, at);
    }
    let watch = StepWatch::before(thread);
    let outcome = lock_word.step(thread, event, at);
    let mut record = lock(&inner.record);
    let record = &mut *record;
    watch.after(thread, at, &mut record.detached, &mut record.marks);
    outcome
}

impl Drop for GilGuard<'_> {
    fn drop(&mut self) {
        waits::leave(self.outer.take());
        self.inner.attached.fetch_sub(1, Relaxed);
        if self.thread.is_holding() {
            // A thread that ends (or unwinds) does not wait for the switch: CPython drops the
            // GIL with no thread state at thread exit, which skips forced switching.
            self.release(Release::Exit);
        }
        let mut record = lock(&self.inner.record);
        if self.inner.recording.load(Relaxed) {
            let died = self.inner.epoch.elapsed();
            let id = self.thread.id();
            if let Some(life) = record.lives.iter_mut().find(|l| l.thread == id) {
                life.died = Some(died);
            }
        }
        record.keep(self.thread.stats());
    }
}

impl fmt::Debug for GilGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GilGuard")
            .field("name", &self.thread.stats().name)
            .field("holding", &self.thread.is_holding())
            .finish()
    }
}
