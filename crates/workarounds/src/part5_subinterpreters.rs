//! Part 5 — subinterpreters (PEP 684, PEP 734): one GIL per interpreter, objects sent, not shared.
//!
#![doc = include_str!("part5_subinterpreters.md")]
//!
//! Each model interpreter is its own [`Gil`]. The same countdown runs on N threads in one
//! interpreter (they take turns) and on one thread in each of N interpreters (they do not).
//! Then two interpreters exchange data over channels: a value is *moved* to the other side, so
//! no object is ever reachable from two interpreters at once.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use crossbeam::channel;
use gil_core::context::Cx;
use gil_core::measure::{self, Stopwatch, fmt_count, fmt_duration};
use gil_core::part::{Part, Run};
use gil_core::report::{Table, kv, note};
use gil_core::{Gil, claim, work};

use crate::{Config, expected};

/// The part's prose (also its documentation, and the book's page).
pub const TEXT: &str = include_str!("part5_subinterpreters.md");

/// The Python this part models (Python 3.14, PEP 734).
pub const PYTHON: &str = r#"
from concurrent.futures import InterpreterPoolExecutor    # 3.14

with InterpreterPoolExecutor(max_workers=4) as executor:
    list(executor.map(countdown, [N // 4] * 4))    # one GIL each
"#;

/// The claim part 6 quotes for subinterpreters.
pub const SEPARATE: &str = "Threads in different interpreters ran at the same time: one GIL each.";
/// The claim made instead where the simulator expects no gain (or no GIL).
pub const SEPARATE_ONE_CORE: &str = "With one core even separate interpreters take turns on it.";

/// What part 5 measured on this machine.
#[derive(Clone, Debug)]
pub struct Part5 {
    /// Interpreters (and threads) used.
    pub interpreters: usize,
    /// N threads in one interpreter.
    pub one_interpreter: Duration,
    /// One thread in each of N interpreters.
    pub many_interpreters: Duration,
    /// Sum the receiving interpreter computed over the list it was sent.
    pub received_sum: u64,
    /// The sum the sending interpreter expected.
    pub expected_sum: u64,
    /// Length of the list sent.
    pub list_len: usize,
    /// Median round trip of a small message between two interpreters.
    pub message_round_trip: Duration,
    /// Median time to start a model interpreter (its lock and a thread attached to it).
    pub start: Duration,
}

/// Part 5's figures, from this machine or from the simulator.
#[derive(Clone, Debug)]
pub struct Figures {
    /// Interpreters (and threads).
    pub n: usize,
    /// Countdown steps per thread.
    pub each: u64,
    /// One thread's work (too short to compare below [`crate::MIN_WORK`]).
    pub work: Duration,
    /// One thread in each interpreter over all threads in one.
    pub speedup: f64,
    /// Starting a model interpreter.
    pub start: Duration,
    /// A message to another interpreter and its answer back.
    pub round_trip: Duration,
    /// The live run's own figures.
    pub live: Option<Part5>,
}

/// A message between interpreters: owned data only, nothing that points into the sender.
#[derive(Debug)]
enum Message {
    /// A list of ints to add up.
    List(Vec<u64>),
    /// A small value, for timing a round trip.
    Ping(u64),
    /// No more messages.
    Stop,
}

/// Part 5 in the lesson's table.
pub struct Subinterpreters;

impl Part<Config> for Subinterpreters {
    type Figures = Figures;

    fn title(&self) -> &'static str {
        "subinterpreters, one GIL each"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        TEXT
    }

    fn cores_needed(&self, _cfg: &Config) -> usize {
        measure::cores()
    }

    fn live(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        crate::ensure_floats_fit(
            cfg.array_len,
            &format!("a list of {} ints", fmt_count(cfg.array_len as u64)),
            "lower --array-len",
        )?;
        let n = expected::parallel_threads(cx);
        let m = measure(cfg, n)?;
        Ok(Figures {
            n,
            each: cfg.items / n as u64,
            work: m.one_interpreter / n as u32,
            speedup: measure::speedup(m.one_interpreter, m.many_interpreters),
            start: m.start,
            round_trip: m.message_round_trip,
            live: Some(m),
        })
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        let n = expected::parallel_threads(cx);
        let each = cfg.items / n as u64;
        Ok(Figures {
            n,
            each,
            work: expected::work(expected::ITEM, each),
            speedup: expected::part5(cfg, cx.sim_cores(), each, n),
            start: expected::price::INTERPRETER_START,
            round_trip: expected::price::INTERPRETER_ROUND_TRIP,
            live: None,
        })
    }

    fn show(&self, cx: &mut Cx, _cfg: &Config, run: Run<'_, Figures>) -> anyhow::Result<()> {
        let (f, n) = (run.figures, run.figures.n);
        kv("work", format!("{n} x countdown({})", fmt_count(f.each)));
        if let Some(m) = &f.live {
            Table::new(&["way", "time"])
                .row([
                    format!("one interpreter, {n} threads"),
                    fmt_duration(m.one_interpreter),
                ])
                .row([
                    format!("one thread in each of {n} interpreters"),
                    fmt_duration(m.many_interpreters),
                ])
                .print();
        }
        if crate::long_enough(f.work, "raise --items") {
            cx.claim(claim::speedup(
                &format!("{n} interpreters vs {n} threads in one"),
                f.speedup,
                run.expected.speedup,
                SEPARATE,
                SEPARATE_ONE_CORE,
            ));
        }
        if let Some(m) = &f.live {
            kv(
                &format!(
                    "list of {} ints sent to interp2",
                    fmt_count(m.list_len as u64)
                ),
                format!("summed there to {}", fmt_count(m.received_sum)),
            );
        }
        note(if cx.showing_simulated() {
            "At the simulator's calibrated prices:"
        } else {
            "Measured here:"
        });
        kv("model interpreter start", fmt_duration(f.start));
        kv("message round trip", fmt_duration(f.round_trip));
        Ok(())
    }
}

/// Median time to start a model interpreter: a fresh lock and a thread that attaches to it.
fn interpreter_start(cfg: &Config) -> Duration {
    measure::repeat(if cfg.quick() { 10 } else { 30 }, || {
        let interp = cfg.build_gil();
        std::thread::scope(|s| {
            s.spawn(|| interp.attach("interp", |_py| ()));
        });
    })
    .middle()
}

/// Run part 5 on this machine with `n` interpreters (printing nothing).
pub fn measure(cfg: &Config, n: usize) -> anyhow::Result<Part5> {
    let each = cfg.items / n as u64;
    let shared = cfg.build_gil();
    let interpreters: Vec<Gil> = (0..n).map(|_| cfg.build_gil()).collect();
    let times = gil_core::measure::fastest_in_turns(
        cfg.runs,
        &mut [
            &mut || drop(shared.run_threads(n, |_, py| work::countdown(py, each))),
            &mut || {
                std::thread::scope(|s| {
                    for (i, interp) in interpreters.iter().enumerate() {
                        s.spawn(move || {
                            let name = format!("interp{}", i + 1);
                            interp.attach(&name, |py| work::countdown(py, each));
                        });
                    }
                });
            },
        ],
    );
    let (one_interpreter, many_interpreters) = (times[0], times[1]);
    let start = interpreter_start(cfg);

    // Sending: interpreter 1 builds a list and sends it; interpreter 2 sums it and answers.
    let len = cfg.array_len;
    let (to_b, b_inbox) = channel::bounded::<Message>(1);
    let (to_a, a_inbox) = channel::bounded::<u64>(1);
    let (a, b) = (&interpreters[0], &interpreters[1]);
    let (expected_sum, received_sum, message_round_trip) = std::thread::scope(|s| {
        s.spawn(move || {
            b.attach("interp2", |py| {
                for message in b_inbox.iter() {
                    let answer = match message {
                        Message::List(list) => py.detach(|| list.iter().sum::<u64>()),
                        Message::Ping(x) => x,
                        Message::Stop => break,
                    };
                    if to_a.send(answer).is_err() {
                        break;
                    }
                }
            });
        });
        a.attach("interp1", |py| -> anyhow::Result<(u64, u64, Duration)> {
            // Send a message and wait for the answer. Blocking on a channel is I/O: the GIL is
            // released while waiting, as CPython's interpreter queues do.
            let mut ask = |message: Message| {
                py.detach(|| -> anyhow::Result<u64> {
                    to_b.send(message).ok().context("interp2 is gone")?;
                    a_inbox.recv().context("interp2 did not answer")
                })
            };
            let list: Vec<u64> = (0..len as u64).collect();
            let expected: u64 = list.iter().sum();
            let received = ask(Message::List(list))?;
            // `list` has moved: using it here would not compile. That is the rule.
            let pings = if cfg.quick() { 200 } else { 2_000 };
            let mut times = Vec::with_capacity(pings);
            for i in 0..pings as u64 {
                let clock = Stopwatch::start();
                let back = ask(Message::Ping(i))?;
                times.push(clock.elapsed());
                ensure!(back == i, "ping {i} came back as {back}");
            }
            let _ = to_b.send(Message::Stop);
            Ok((expected, received, measure::Samples(times).middle()))
        })
    })?;
    ensure!(
        received_sum == expected_sum,
        "interp2 summed {received_sum}, expected {expected_sum}"
    );
    Ok(Part5 {
        interpreters: n,
        one_interpreter,
        many_interpreters,
        received_sum,
        expected_sum,
        message_round_trip,
        start,
        list_len: len,
    })
}
