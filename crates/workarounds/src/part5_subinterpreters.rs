//! Part 5 — subinterpreters (PEP 684, PEP 734): one GIL per interpreter, objects sent, not shared.
//!
//! Each model interpreter is its own [`Gil`]. The same countdown runs on N threads in one
//! interpreter (they take turns) and on one thread in each of N interpreters (they do not).
//! Then two interpreters exchange data over channels: a value is *moved* to the other side, so
//! no object is ever reachable from two interpreters at once.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use crossbeam::channel;
use gil_core::measure::{self, Stopwatch, fmt_count, fmt_duration};
use gil_core::report::{Table, for_rust_readers, kv, note};
use gil_core::{Gil, session, work};

use crate::{Config, expected};

/// The Python this part models (Python 3.14, PEP 734).
pub const PYTHON: &str = r#"
from concurrent.futures import InterpreterPoolExecutor    # 3.14

def countdown(n):
    while n > 0:
        n -= 1

with InterpreterPoolExecutor(max_workers=4) as executor:
    list(executor.map(countdown, [N // 4] * 4))    # one GIL each
"#;

/// The claim part 6 quotes for subinterpreters.
pub const SEPARATE: &str = "Threads in different interpreters ran at the same time: one GIL each.";
/// The claim made instead where the simulator expects no gain (or no GIL).
pub const SEPARATE_ONE_CORE: &str = "With one core even separate interpreters take turns on it.";

/// What part 5 measured.
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
    /// Median round trip of a small message between two interpreters.
    pub message_round_trip: Duration,
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

/// Run part 5 (in `--simulated` mode, its simulated figures only).
pub fn run(cfg: &Config) -> anyhow::Result<()> {
    let n = expected::parallel_threads();
    let each = cfg.items / n as u64;
    kv("work", format!("{n} x countdown({})", fmt_count(each)));
    if session::simulated() {
        let e = expected::part5(cfg, session::sim_cores(), each, n);
        if crate::long_enough(expected::work(expected::ITEM, each), "raise --items") {
            claim(n, e, e);
        }
        kv(
            "message round trip",
            format!(
                "{} (simulated price)",
                fmt_duration(expected::price::INTERPRETER_ROUND_TRIP)
            ),
        );
        explain();
        return Ok(());
    }
    crate::ensure_floats_fit(
        cfg.array_len,
        &format!("a list of {} ints", fmt_count(cfg.array_len as u64)),
        "lower --array-len",
    )?;
    measure(cfg).map(drop)
}

fn claim(n: usize, measured: f64, expected: f64) {
    crate::speedup_claim(
        &format!("{n} interpreters vs {n} threads in one"),
        measured,
        expected,
        SEPARATE,
        SEPARATE_ONE_CORE,
    );
}

/// Run part 5 live and print what it measures.
pub fn measure(cfg: &Config) -> anyhow::Result<Part5> {
    let n = expected::parallel_threads();
    let each = cfg.items / n as u64;
    let shared = cfg.build_gil();
    let interpreters: Vec<Gil> = (0..n).map(|_| cfg.build_gil()).collect();
    let times = crate::medians_in_turns(
        cfg.runs.min(3),
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
    Table::new(&["way", "time"])
        .row([
            format!("one interpreter, {n} threads"),
            fmt_duration(one_interpreter),
        ])
        .row([
            format!("one thread in each of {n} interpreters"),
            fmt_duration(many_interpreters),
        ])
        .print();
    let claims = crate::long_enough(one_interpreter / n as u32, "raise --items");
    if claims {
        claim(
            n,
            measure::speedup(one_interpreter, many_interpreters),
            expected::part5(cfg, session::sim_cores(), each, n),
        );
    }

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
    kv(
        &format!("list of {} ints sent to interp2", fmt_count(len as u64)),
        format!("summed there to {}", fmt_count(received_sum)),
    );
    kv("message round trip", fmt_duration(message_round_trip));
    explain();
    Ok(Part5 {
        interpreters: n,
        one_interpreter,
        many_interpreters,
        received_sum,
        expected_sum,
        message_round_trip,
    })
}

fn explain() {
    note(
        "Interpreters with a GIL each run in parallel like processes, inside one process. \
         The price is isolation: an object belongs to one interpreter, and what another \
         needs is sent (CPython pickles most of it, so the model's hand-over is cheaper).",
    );
    for_rust_readers(
        "Here a Vec is moved through a channel: the sender cannot touch it afterwards, and \
         the compiler checks that. A GilGuard cannot be sent to another thread at all (it is \
         !Send, meaning \"may not cross threads\"), like a CPython thread state.",
    );
    note(
        "In CPython an interpreter has a GIL of its own only when created with one (PEP \
         684, C API, 3.12); concurrent.interpreters and InterpreterPoolExecutor (PEP 734, \
         3.14) create them so. The older Py_NewInterpreter() shares the main GIL.",
    );
}
