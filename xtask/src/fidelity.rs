//! `cargo xtask fidelity`: the model checked against this machine's own CPython, in one table.
//!
//! Runs the experiments of `xtask/fidelity/fidelity.py` on `python3`, one at a time (each run of
//! the script prints one JSON object: its figures, the sizes it used, and the timings the model
//! calibrates against), and right after each one the same experiment on the gil-core model in
//! this process — so both sides of a row see the same machine, which on a busy one matters.
//! Then it prints one table: experiment | CPython | model | tolerance | verdict. A row whose
//! model figure falls outside its declared tolerance says why that can happen, in one line,
//! under the table.
//!
//! The model is sized by *duration*, not by iteration count: a CPython countdown step costs tens
//! of nanoseconds, the model's well under one, so the model first times its own step and then
//! counts down for as long as CPython's loop took. Everything else (threads, sleeps, server
//! delays, round trips, switch intervals) is taken over from CPython's JSON as is.
//!
//! If CPython's GIL is disabled (a free-threaded build), the model runs free-threaded too. With
//! no `python3` the command says so in one line and succeeds: the course never needs Python.

use std::fmt;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use gil_core::bytecode::{CheckPolicy, Program, run_counter};
use gil_core::measure::{cores, fmt_count, fmt_duration, fmt_ratio, time};
use gil_core::report::{heading, kv, note};
use gil_core::work::countdown;
use gil_core::{Gil, GilGuard, Mode};
use io_bound::server::{Behaviour, LoopbackServer, fetch};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::process::{Ending, Limits};

/// `cargo xtask fidelity [--quick] [--json] [--python PATH]`.
#[derive(clap::Args, Debug)]
pub struct FidelityArgs {
    /// Smaller sizes, shorter runs: about 10 s instead of about 30 s, and noisier
    #[arg(long)]
    quick: bool,
    /// Print one JSON object (CPython's figures, the model's, and the rows) instead of the table
    #[arg(long)]
    json: bool,
    /// The Python to measure (any CPython 3.8+; e.g. a 3.9 to see the old check points)
    #[arg(long, default_value = "python3")]
    python: String,
}

/// The CPython side's script, relative to the workspace root.
const SCRIPT: &str = "xtask/fidelity/fidelity.py";

/// The longest the CPython side may take before it is stopped.
const PYTHON_TIMEOUT: Duration = Duration::from_secs(150);

/// Run `cargo xtask fidelity`.
pub fn run(root: &Path, args: &FidelityArgs) -> anyhow::Result<ExitCode> {
    let Some(fidelity) = measure(root, args)? else {
        return Ok(ExitCode::SUCCESS);
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&fidelity.to_json())?);
    } else {
        fidelity.print();
    }
    Ok(ExitCode::SUCCESS)
}

/// The experiments, in the order both sides run them; each is one key of the script's JSON.
const EXPERIMENTS: [&str; 7] = [
    "cpu", "sleep", "socket", "mixed", "hold", "convoy", "counter",
];

/// Measure both sides, one experiment at a time: CPython's run of an experiment, then the
/// model's, so the two see the same machine (on a busy one the load can change within seconds).
/// `None` (after saying so) when there is no Python to measure.
fn measure(root: &Path, args: &FidelityArgs) -> anyhow::Result<Option<Fidelity>> {
    let machine = Machine::now();
    let Some(mut cpython) = PythonRunner::start(root, &args.python, args.quick)? else {
        return Ok(None);
    };
    let header = cpython.header()?;
    eprintln!(
        "fidelity: {} {} (GIL {}) against the model, {} experiments, each on both sides...",
        header.implementation,
        header.version,
        if header.gil_enabled { "on" } else { "off" },
        EXPERIMENTS.len()
    );
    let model = Model::new(&header)?;
    let cpu = model.cpu(&cpython.part("cpu")?)?;
    let sleep_speedup = model.sleeps(&cpython.part("sleep")?)?;
    let socket_speedup = model.socket_waits(&cpython.part("socket")?)?;
    let mixed = model.mixed(&cpython.part("mixed")?)?;
    let (hold_ms, hold_count) = model.holds(&cpython.part("hold")?)?;
    let convoy = model.convoy(&cpython.part("convoy")?)?;
    let counter_sizes: PyCounter = cpython.part("counter")?;
    let (counter, counter_old) = model.lost_updates(&counter_sizes)?;
    let model = ModelReport {
        mode: model.interp.mode.to_string(),
        step_ns: model.step * 1e9,
        cpu,
        sleep_speedup,
        socket_speedup,
        mixed,
        hold_ms,
        hold_count,
        convoy,
        counter,
        counter_old,
    };
    let python = cpython.report()?;
    let rows = rows(&python, &model);
    Ok(Some(Fidelity {
        machine,
        python,
        model,
        rows,
    }))
}

// ---------------------------------------------------------------------------------------------
// The CPython side

/// What `fidelity.py` prints: one JSON object.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
struct PythonReport {
    /// `3.11.7`.
    version: String,
    /// `cpython`, `pypy`, ….
    implementation: String,
    /// `sys._is_gil_enabled()` where it exists, else true.
    gil_enabled: bool,
    /// `sys.getswitchinterval()` in milliseconds.
    switch_interval_ms: f64,
    /// Whether `--quick` sizes were used.
    quick: bool,
    cpu: PyCpu,
    sleep: PySleep,
    socket: PySocket,
    mixed: PyMixed,
    hold: PyHold,
    convoy: PyConvoy,
    counter: PyCounter,
}

/// Two threads counting down `n` each vs one thread counting down `2n`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
struct PyCpu {
    n: u64,
    repeats: usize,
    /// Median time of one thread counting down `2n`, in seconds.
    one_s: f64,
    /// Median of (two threads ÷ one thread).
    ratio: f64,
}

/// `threads` sleeps of `seconds`, one after another vs in threads.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
struct PySleep {
    threads: usize,
    seconds: f64,
    repeats: usize,
    /// Median of the repeats.
    speedup: f64,
}

/// `threads` requests to a server that answers after `delay_s`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
struct PySocket {
    threads: usize,
    delay_s: f64,
    repeats: usize,
    /// Median of the repeats.
    speedup: f64,
}

/// The tutorial's mixed workload.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
struct PyMixed {
    workers: usize,
    n: u64,
    /// Median time of `countdown(n)` alone, in seconds.
    cpu_s: f64,
    io_s: f64,
    repeats: usize,
    /// Median of (all workers ÷ one worker alone).
    ratio: f64,
}

/// How long one CPU-bound thread runs before the other gets the GIL.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
struct PyHold {
    seconds: f64,
    count: usize,
    /// None when no hand-off was seen.
    median_ms: Option<f64>,
}

/// Echo round trips alone and beside a spinning thread.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
struct PyConvoy {
    round_trips: usize,
    /// Each figure is the median of this many batches of `round_trips`.
    batches: usize,
    alone_ms: f64,
    beside_ms: f64,
    beside_1ms_ms: f64,
}

/// `counter += 1` from many threads.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
struct PyCounter {
    threads: usize,
    increments: u64,
    runs: u32,
    worst_lost: u64,
    runs_lost: u32,
    wall_s: f64,
}

impl PythonReport {
    /// Parse the output of a whole run of the script (its last line).
    #[cfg(test)]
    fn parse(stdout: &str) -> anyhow::Result<PythonReport> {
        let object = last_json_line(stdout)?;
        serde_json::from_value(serde_json::Value::Object(object))
            .context("the script's JSON does not have the expected shape")
    }

    /// `(major, minor)` of the version, e.g. `(3, 11)`.
    fn major_minor(&self) -> Option<(u32, u32)> {
        let mut parts = self.version.split('.').map(|part| {
            part.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .ok()
        });
        Some((parts.next()??, parts.next()??))
    }

    /// Whether this Python consults the eval breaker only at back edges and calls (3.10+).
    fn has_modern_check_points(&self) -> bool {
        self.major_minor().is_none_or(|v| v >= (3, 10))
    }
}

/// What every run of the script prints besides its experiments.
#[derive(Clone, Debug, Deserialize)]
struct PyHeader {
    version: String,
    implementation: String,
    gil_enabled: bool,
    switch_interval_ms: f64,
}

/// Runs the script one experiment at a time (`--only NAME`) and gathers what it printed into
/// one object of the [`PythonReport`] shape.
struct PythonRunner<'a> {
    root: &'a Path,
    python: &'a str,
    quick: bool,
    merged: serde_json::Map<String, serde_json::Value>,
}

impl<'a> PythonRunner<'a> {
    /// Ask the script for its header only; `None` (after one line saying so) when the Python
    /// cannot be started.
    fn start(root: &'a Path, python: &'a str, quick: bool) -> anyhow::Result<Option<Self>> {
        let mut runner = PythonRunner {
            root,
            python,
            quick,
            merged: serde_json::Map::new(),
        };
        match runner.call("none") {
            Ok(header) => runner.merged = header,
            Err(error) if is_not_found(&error) => {
                println!(
                    "fidelity: skipped, no `{python}` found on PATH (the rest of the course does not need Python)"
                );
                return Ok(None);
            }
            Err(error) => return Err(error),
        }
        Ok(Some(runner))
    }

    fn header(&self) -> anyhow::Result<PyHeader> {
        serde_json::from_value(serde_json::Value::Object(self.merged.clone()))
            .context("the script's header (version, GIL) does not have the expected shape")
    }

    /// Run experiment `name` on CPython and return its figures.
    fn part<T: serde::de::DeserializeOwned>(&mut self, name: &str) -> anyhow::Result<T> {
        let number = EXPERIMENTS.iter().position(|n| *n == name).unwrap_or(0) + 1;
        eprintln!("fidelity: [{number}/{}] {name}", EXPERIMENTS.len());
        let mut printed = self.call(name)?;
        let figures = printed
            .remove(name)
            .with_context(|| format!("the script printed no {name:?} figures"))?;
        self.merged.insert(name.to_owned(), figures.clone());
        serde_json::from_value(figures).with_context(|| {
            format!("the script's {name:?} figures do not have the expected shape")
        })
    }

    /// Everything gathered, as one report.
    fn report(self) -> anyhow::Result<PythonReport> {
        serde_json::from_value(serde_json::Value::Object(self.merged))
            .context("the script's JSON does not have the expected shape")
    }

    /// `python fidelity.py [--quick] --only ONLY`, parsed.
    fn call(&self, only: &str) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
        let python = self.python;
        let script = self.root.join(SCRIPT);
        let mut args = vec![
            script.to_string_lossy().into_owned(),
            "--only".into(),
            only.into(),
        ];
        if self.quick {
            args.push("--quick".into());
        }
        let limits = Limits {
            timeout: PYTHON_TIMEOUT,
            max_output: 1 << 20,
        };
        let outcome = crate::process::run(Path::new(python), &args, self.root, limits)?;
        let last_error = outcome.stderr.lines().last().unwrap_or("").to_owned();
        match outcome.ending {
            Ending::Exited(0) => {}
            Ending::TimedOut => bail!("{python} {SCRIPT} took longer than {PYTHON_TIMEOUT:?}"),
            ending => bail!(
                "{python} {SCRIPT} failed ({ending:?}; it needs Python 3.8 or later): {last_error}"
            ),
        }
        last_json_line(&outcome.stdout)
            .with_context(|| format!("reading what {python} {SCRIPT} --only {only} printed"))
    }
}

/// The last non-empty line of `stdout`, which must be a JSON object.
fn last_json_line(stdout: &str) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let line = stdout
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .context("the script printed nothing")?;
    serde_json::from_str(line).context("the script's last line is not a JSON object")
}

fn is_not_found(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
    })
}

// ---------------------------------------------------------------------------------------------
// The model side

/// What the model measured, each figure comparable to the same-named one of CPython.
#[derive(Clone, Debug, Serialize)]
struct ModelReport {
    /// `GIL (CPython 3.2+)` or `free-threaded (PEP 703)`.
    mode: String,
    /// One model countdown step, as timed before the experiments.
    step_ns: f64,
    cpu: ModelCpu,
    sleep_speedup: f64,
    socket_speedup: f64,
    mixed: ModelMixed,
    /// Median contended hold in ms (None: no hand-off, e.g. free-threaded).
    hold_ms: Option<f64>,
    hold_count: usize,
    convoy: ModelConvoy,
    /// `counter += 1` under the model's own mode (GIL: 3.10+ check points).
    counter: Lost,
    /// `counter += 1` under the GIL with ≤ 3.9 check points.
    counter_old: Lost,
}

#[derive(Clone, Debug, Serialize)]
struct ModelCpu {
    /// Countdown steps per thread (one thread runs twice as many).
    steps: u64,
    one_s: f64,
    ratio: f64,
}

#[derive(Clone, Debug, Serialize)]
struct ModelMixed {
    steps: u64,
    cpu_s: f64,
    ratio: f64,
}

#[derive(Clone, Debug, Serialize)]
struct ModelConvoy {
    alone_ms: f64,
    beside_ms: f64,
    beside_1ms_ms: f64,
}

/// Lost updates over several runs of the counter race.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
struct Lost {
    /// The most updates one run lost.
    worst: u64,
    /// Runs that lost at least one.
    runs_lost: u32,
    /// Runs made.
    runs: u32,
}

impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} lost ({}/{} runs)",
            fmt_count(self.worst),
            self.runs_lost,
            self.runs
        )
    }
}

/// The model side: a fresh interpreter per experiment, like CPython's, and a countdown timed
/// once so its loops can run as long as CPython's did.
struct Model {
    interp: Interp,
    /// Seconds one model countdown step takes (see [`calibrate_step`]).
    step: f64,
}

impl Model {
    /// Match CPython's GIL (on or off) and switch interval, and time the countdown.
    fn new(header: &PyHeader) -> anyhow::Result<Model> {
        let mode = if header.gil_enabled {
            Mode::Gil
        } else {
            Mode::FreeThreaded
        };
        let interval = Duration::from_secs_f64(header.switch_interval_ms / 1e3);
        anyhow::ensure!(
            !interval.is_zero(),
            "CPython reports a zero switch interval"
        );
        Ok(Model {
            interp: Interp { mode, interval },
            step: calibrate_step(),
        })
    }

    /// Countdown steps that take `seconds` on the model.
    fn steps_for(&self, seconds: f64) -> u64 {
        ((seconds / self.step.max(1e-12)) as u64).max(1)
    }

    /// Steps a spinning thread counts down between two looks at its stop flag (~20 µs).
    fn chunk(&self) -> u64 {
        self.steps_for(20e-6)
    }

    /// Two threads ÷ one thread, the countdown as long as CPython's.
    fn cpu(&self, py: &PyCpu) -> anyhow::Result<ModelCpu> {
        let steps = self.steps_for(py.one_s) / 2;
        let (ones, ratios): (Vec<f64>, Vec<f64>) = (0..py.repeats.max(1))
            .map(|_| {
                let gil = self.interp.gil()?;
                let one = wall(|| gil.run_threads(1, |_, g| countdown(g, 2 * steps)));
                let two = wall(|| gil.run_threads(2, |_, g| countdown(g, steps)));
                Ok((one, two / one))
            })
            .collect::<anyhow::Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        Ok(ModelCpu {
            steps,
            one_s: median(&ones),
            ratio: median(&ratios),
        })
    }

    /// Sleeps one after another ÷ in threads, each inside `allow_threads`.
    fn sleeps(&self, py: &PySleep) -> anyhow::Result<f64> {
        let nap = Duration::from_secs_f64(py.seconds);
        self.overlap(py.threads, py.repeats, |_| {
            std::thread::sleep(nap);
            Ok(())
        })
    }

    /// Requests to lesson 3's slow loopback server, one after another ÷ in threads.
    fn socket_waits(&self, py: &PySocket) -> anyhow::Result<f64> {
        let delay = Duration::from_secs_f64(py.delay_s);
        let server = LoopbackServer::start(Behaviour::Delayed(delay))?;
        let addr = server.addr();
        let speedup = self.overlap(py.threads, py.repeats, |i| {
            fetch(addr, &format!("GET /{i}")).map(drop)
        })?;
        server.shutdown()?;
        Ok(speedup)
    }

    /// `n` blocking calls (each inside `allow_threads`) one after another on one thread ÷ the
    /// same calls on `n` threads at once: the median speedup of `repeats` tries.
    fn overlap(
        &self,
        n: usize,
        repeats: usize,
        call: impl Fn(usize) -> anyhow::Result<()> + Sync,
    ) -> anyhow::Result<f64> {
        let gil = self.interp.gil()?;
        let speedups = (0..repeats.max(1))
            .map(|_| {
                let (sequential, one_by_one) = time(|| {
                    gil.attach("main", |g| {
                        (0..n).try_for_each(|i| g.allow_threads(|| call(i)))
                    })
                });
                let (threaded, together) = time(|| {
                    gil.run_threads(n, |i, g| g.allow_threads(|| call(i)))
                        .into_iter()
                        .collect::<anyhow::Result<()>>()
                });
                sequential?;
                threaded?;
                Ok(one_by_one.as_secs_f64() / together.as_secs_f64().max(1e-9))
            })
            .collect::<anyhow::Result<Vec<f64>>>()?;
        Ok(median(&speedups))
    }

    /// The tutorial's mixed workload: workers together ÷ one worker alone.
    fn mixed(&self, py: &PyMixed) -> anyhow::Result<ModelMixed> {
        let steps = self.steps_for(py.cpu_s);
        let io = Duration::from_secs_f64(py.io_s);
        let worker = |g: &mut GilGuard<'_>| {
            countdown(g, steps);
            g.allow_threads(|| std::thread::sleep(io));
        };
        let gil = self.interp.gil()?;
        let cpu_s = wall(|| gil.attach("alone", |g| countdown(g, steps)));
        let ratios: Vec<f64> = (0..py.repeats.max(1))
            .map(|_| {
                let alone = wall(|| gil.run_threads(1, |_, g| worker(g)));
                let together = wall(|| gil.run_threads(py.workers, |_, g| worker(g)));
                together / alone
            })
            .collect();
        Ok(ModelMixed {
            steps,
            cpu_s,
            ratio: median(&ratios),
        })
    }

    /// Two spinning threads: the median contended hold in ms (None without hand-offs), and
    /// how many holds there were.
    fn holds(&self, py: &PyHold) -> anyhow::Result<(Option<f64>, usize)> {
        let gil = self.interp.gil()?;
        let (length, chunk) = (Duration::from_secs_f64(py.seconds), self.chunk());
        gil.record_timeline();
        let clock = Instant::now();
        gil.run_threads(2, |_, g| {
            while clock.elapsed() < length {
                countdown(g, chunk);
            }
        });
        let holds: Vec<f64> = gil
            .take_timeline()
            .contended_holds()
            .iter()
            .map(|d| d.as_secs_f64() * 1e3)
            .collect();
        Ok(((!holds.is_empty()).then(|| median(&holds)), holds.len()))
    }

    /// Echo round trips alone and beside a spinner, at CPython's interval and at 1 ms: the
    /// median of as many batches as CPython ran.
    fn convoy(&self, py: &PyConvoy) -> anyhow::Result<ModelConvoy> {
        let server = LoopbackServer::start(Behaviour::Echo)?;
        let per_op = |interval: Duration, spin: Option<u64>| -> anyhow::Result<f64> {
            let ms = (0..py.batches.max(1))
                .map(|_| {
                    let gil = self.interp.gil()?;
                    gil.set_switch_interval(interval)?;
                    round_trips(&gil, &server, py.round_trips, spin)
                })
                .collect::<anyhow::Result<Vec<f64>>>()?;
            Ok(median(&ms))
        };
        let convoy = ModelConvoy {
            alone_ms: per_op(self.interp.interval, None)?,
            beside_ms: per_op(self.interp.interval, Some(self.chunk()))?,
            beside_1ms_ms: per_op(Duration::from_millis(1), Some(self.chunk()))?,
        };
        server.shutdown()?;
        Ok(convoy)
    }

    /// The counter race at CPython's sizes: under the model's own mode with 3.10+ check points,
    /// and under the GIL with ≤ 3.9 check points.
    fn lost_updates(&self, py: &PyCounter) -> anyhow::Result<(Lost, Lost)> {
        let old = Interp {
            mode: Mode::Gil,
            interval: self.interp.interval,
        };
        Ok((
            lost_updates(&self.interp.gil()?, CheckPolicy::BackEdgesAndCalls, py),
            lost_updates(&old.gil()?, CheckPolicy::EveryInstruction, py),
        ))
    }
}

/// How to build a fresh model interpreter for each experiment.
struct Interp {
    mode: Mode,
    interval: Duration,
}

impl Interp {
    fn gil(&self) -> anyhow::Result<Gil> {
        let gil = Gil::with_mode(self.mode);
        gil.set_switch_interval(self.interval)?;
        Ok(gil)
    }
}

/// Seconds `f` took.
fn wall<R>(f: impl FnOnce() -> R) -> f64 {
    time(f).1.as_secs_f64()
}

/// The middle value (the lower middle for an even count), as `fidelity.py` computes it.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
        .get(sorted.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(f64::NAN)
}

/// Seconds one model countdown step takes: the best of a few runs of at least 20 ms each.
fn calibrate_step() -> f64 {
    let gil = Gil::new();
    gil.attach("calibrate", |g| {
        let mut steps = 1_000_000u64;
        loop {
            let (_, took) = time(|| countdown(g, steps));
            if took >= Duration::from_millis(20) || steps >= 1 << 36 {
                let best = (0..3)
                    .map(|_| time(|| countdown(g, steps)).1)
                    .min()
                    .unwrap_or(took);
                return best.as_secs_f64() / steps as f64;
            }
            steps *= 4;
        }
    })
}

/// Milliseconds per echo round trip, each send and receive inside `allow_threads` as CPython's
/// socket calls do; with `spin_chunk`, beside one thread counting down in chunks of that many
/// steps until the round trips are done.
fn round_trips(
    gil: &Gil,
    server: &LoopbackServer,
    ops: usize,
    spin_chunk: Option<u64>,
) -> anyhow::Result<f64> {
    let mut conn = TcpStream::connect(server.addr()).context("connecting to the echo server")?;
    conn.set_nodelay(true)?;
    let (stop, spinning) = (
        AtomicBool::new(false),
        AtomicBool::new(spin_chunk.is_none()),
    );
    std::thread::scope(|s| {
        if let Some(chunk) = spin_chunk {
            let (stop, spinning) = (&stop, &spinning);
            s.spawn(move || {
                let mut g = gil.acquire("cpu");
                spinning.store(true, Relaxed);
                while !stop.load(Relaxed) {
                    countdown(&mut g, chunk);
                }
            });
        }
        // Like Python's Thread.start(): the spinner is running before the round trips begin.
        while !spinning.load(Relaxed) {
            std::thread::yield_now();
        }
        let io = s.spawn(|| {
            let mut g = gil.acquire("io");
            let mut back = [0u8; 1];
            let clock = Instant::now();
            for _ in 0..ops {
                g.allow_threads(|| conn.write_all(b"x"))?;
                g.allow_threads(|| conn.read_exact(&mut back))?;
                g.check_point();
            }
            Ok(clock.elapsed().as_secs_f64() * 1e3 / ops.max(1) as f64)
        });
        let result = io.join();
        // Whatever happened to the round trips, the spinner must stop or the scope never ends.
        stop.store(true, Relaxed);
        result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The counter race as CPython ran it: same threads, increments and runs.
fn lost_updates(gil: &Gil, policy: CheckPolicy, sizes: &PyCounter) -> Lost {
    let program = Program::increment();
    let mut lost = Lost {
        worst: 0,
        runs_lost: 0,
        runs: sizes.runs.max(1),
    };
    for _ in 0..lost.runs {
        let run = run_counter(gil, &program, policy, sizes.threads, sizes.increments);
        lost.worst = lost.worst.max(run.lost());
        lost.runs_lost += u32::from(run.lost() > 0);
    }
    lost
}

// ---------------------------------------------------------------------------------------------
// The table

/// One cell of the CPython or model column.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    /// A ratio, shown as `1.04x`.
    Ratio(f64),
    /// A time in milliseconds.
    Millis(f64),
    /// Lost updates.
    Lost(Lost),
    /// A figure this run did not measure, quoted from elsewhere: shown, never compared.
    Quoted(String),
    /// No figure, and why.
    Missing(String),
}

impl Value {
    /// The number a tolerance compares, if any.
    fn number(&self) -> Option<f64> {
        match self {
            Value::Ratio(x) | Value::Millis(x) => Some(*x).filter(|x| x.is_finite()),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Ratio(x) => f.write_str(&fmt_ratio(*x)),
            Value::Millis(ms) => {
                f.write_str(&fmt_duration(Duration::from_secs_f64(ms.max(0.0) / 1e3)))
            }
            Value::Lost(lost) => lost.fmt(f),
            Value::Quoted(text) | Value::Missing(text) => f.write_str(text),
        }
    }
}

/// How far the model may be from CPython and still count as faithful.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Tolerance {
    /// Within ± this share of CPython's figure (0.25: ±25 %).
    Relative(f64),
    /// Within this factor of CPython's figure, either way.
    Factor(f64),
    /// Lost updates: both lose in some run, or neither ever does.
    BothOrNeither,
}

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tolerance::Relative(share) => write!(f, "±{:.0} %", share * 100.0),
            Tolerance::Factor(factor) => write!(f, "×{factor} either way"),
            Tolerance::BothOrNeither => f.write_str("both lose, or neither"),
        }
    }
}

/// Whether the model is within the tolerance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Within,
    Miss,
    /// Nothing measured on one side to compare with.
    NotCompared,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Within => "ok",
            Verdict::Miss => "MISS",
            Verdict::NotCompared => "-",
        }
    }
}

impl Tolerance {
    /// Compare the model's figure with CPython's.
    fn verdict(self, cpython: &Value, model: &Value) -> Verdict {
        let within = match (self, cpython, model) {
            (Tolerance::BothOrNeither, Value::Lost(c), Value::Lost(m)) => {
                (c.runs_lost > 0) == (m.runs_lost > 0)
            }
            (Tolerance::BothOrNeither, ..) => return Verdict::NotCompared,
            (tolerance, cpython, model) => {
                let (Some(c), Some(m)) = (cpython.number(), model.number()) else {
                    return Verdict::NotCompared;
                };
                match tolerance {
                    Tolerance::Relative(share) => (m - c).abs() <= share * c.abs(),
                    Tolerance::Factor(factor) if c > 0.0 && m > 0.0 => (m / c).max(c / m) <= factor,
                    _ => c == m,
                }
            }
        };
        if within {
            Verdict::Within
        } else {
            Verdict::Miss
        }
    }
}

/// One line of the table.
#[derive(Clone, Debug)]
struct Row {
    experiment: String,
    cpython: Value,
    model: Value,
    tolerance: Tolerance,
    verdict: Verdict,
    /// Why this experiment can miss: printed under the table when it does.
    if_missed: &'static str,
}

impl Row {
    fn new(
        experiment: impl Into<String>,
        cpython: Value,
        model: Value,
        tolerance: Tolerance,
        if_missed: &'static str,
    ) -> Row {
        Row {
            experiment: experiment.into(),
            verdict: tolerance.verdict(&cpython, &model),
            cpython,
            model,
            tolerance,
            if_missed,
        }
    }
}

/// Ratio rows: the model is expected within ±25 % of CPython's median.
const RATIO: Tolerance = Tolerance::Relative(0.25);

/// Convoy rows: within a factor of 3; a wake-up race decides each round trip (FACTS.md).
const CONVOY: Tolerance = Tolerance::Factor(3.0);

/// A lone round trip measures loopback and thread wake-ups, not the GIL: on a busy 2-core host
/// it swung between 17 and 165 µs from run to run, on both sides alike.
const LONE_ROUND_TRIP: Tolerance = Tolerance::Factor(5.0);

/// CPython figures measured on another machine (the project's notes), for the version the running Python is not.
const FACTS_OLD: &str = "CPython 3.9 elsewhere: 443,964 lost (10/10 runs)";
const FACTS_NEW: &str = "CPython 3.10-3.13 elsewhere: 0 lost (0/10 runs)";

/// Build the table from both sides' figures.
fn rows(py: &PythonReport, model: &ModelReport) -> Vec<Row> {
    let no_gil = !py.gil_enabled;
    let counter = format!(
        "counter += 1, {} threads × {}",
        py.counter.threads,
        fmt_count(py.counter.increments)
    );
    let cpython_lost = Value::Lost(Lost {
        worst: py.counter.worst_lost,
        runs_lost: py.counter.runs_lost,
        runs: py.counter.runs,
    });
    let modern = py.has_modern_check_points();
    let (modern_cpython, old_cpython) = if no_gil || modern {
        (cpython_lost, Value::Quoted(FACTS_OLD.into()))
    } else {
        (Value::Quoted(FACTS_NEW.into()), cpython_lost)
    };
    let hold = |ms: Option<f64>| match ms {
        _ if no_gil => Value::Missing("no GIL".into()),
        Some(ms) => Value::Millis(ms),
        None => Value::Missing("no hand-off seen".into()),
    };
    let ratio = |experiment: String, cpython: f64, model: f64, if_missed| {
        Row::new(
            experiment,
            Value::Ratio(cpython),
            Value::Ratio(model),
            RATIO,
            if_missed,
        )
    };
    let convoy = |experiment: String, cpython: f64, model: f64, tolerance, if_missed| {
        Row::new(
            experiment,
            Value::Millis(cpython),
            Value::Millis(model),
            tolerance,
            if_missed,
        )
    };
    let interval = fmt_duration(Duration::from_secs_f64(py.switch_interval_ms / 1e3));
    let wake_race = "a round trip pays an interval only if the spinner wakes before the I/O returns: a race that load tilts";
    vec![
        ratio(
            "CPU-bound: 2 threads ÷ 1 thread, same work (wall)".into(),
            py.cpu.ratio,
            model.cpu.ratio,
            "two-thread ratios swing 0.8-1.5 run to run on a busy host; medians of more repeats settle it",
        ),
        ratio(
            format!(
                "I/O: {} threads of blocking sleeps, speedup",
                py.sleep.threads
            ),
            py.sleep.speedup,
            model.sleep_speedup,
            "sleeps overlap on both sides; a miss means threads were scheduled late on a loaded machine",
        ),
        ratio(
            format!(
                "I/O: {} threads of socket waits, speedup",
                py.socket.threads
            ),
            py.socket.speedup,
            model.socket_speedup,
            "both overlap the server's delay; connection set-up on a loaded machine shrinks one side's speedup",
        ),
        ratio(
            format!(
                "mixed: {} workers (CPU, then sleep) ÷ 1 worker (wall)",
                py.mixed.workers
            ),
            py.mixed.ratio,
            model.mixed.ratio,
            "the ratio follows the CPU phase's length; the calibration or CPython's phase was disturbed by load",
        ),
        convoy(
            "convoy: ms per echo round trip, alone".into(),
            py.convoy.alone_ms,
            model.convoy.alone_ms,
            LONE_ROUND_TRIP,
            "a lone loopback round trip is tens of µs of thread wake-ups, which a busy machine delays unevenly",
        ),
        convoy(
            format!("convoy: beside 1 CPU thread, {interval} interval"),
            py.convoy.beside_ms,
            model.convoy.beside_ms,
            CONVOY,
            wake_race,
        ),
        convoy(
            "convoy: beside 1 CPU thread, 1 ms interval".into(),
            py.convoy.beside_1ms_ms,
            model.convoy.beside_1ms_ms,
            CONVOY,
            wake_race,
        ),
        Row::new(
            "GIL hold before a waiting thread gets it (median)",
            hold(py.hold.median_ms),
            hold(model.hold_ms),
            RATIO,
            "other processes delay the waiter's wake-up or the holder's check point: holds stretch past the interval",
        ),
        Row::new(
            format!(
                "{counter}, lost ({})",
                if no_gil {
                    "model: free-threaded"
                } else {
                    "model: 3.10+ check points"
                }
            ),
            modern_cpython,
            Value::Lost(model.counter),
            Tolerance::BothOrNeither,
            "losing needs a switch (without a GIL, true overlap) between the read and the write: a few runs can miss it by chance",
        ),
        Row::new(
            format!("{counter}, lost (model: <=3.9 check points)"),
            old_cpython,
            Value::Lost(model.counter_old),
            Tolerance::BothOrNeither,
            "losing needs a switch (without a GIL, true overlap) between the read and the write: a few runs can miss it by chance",
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Printing

/// Where the figures were taken.
#[derive(Clone, Debug, Serialize)]
struct Machine {
    cpu: String,
    cores: usize,
    /// The 1-minute load average when the run began (Linux), a hint of how disturbed it was.
    load: Option<f64>,
    os: String,
}

impl Machine {
    fn now() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|line| line.starts_with("model name"))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, name)| name.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|text| text.split_whitespace().next()?.parse().ok());
        Machine {
            cpu,
            cores: cores(),
            load,
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {} cores, {}", self.cpu, self.cores, self.os)?;
        if let Some(load) = self.load {
            write!(f, ", load average {load:.1} at start")?;
        }
        Ok(())
    }
}

/// Everything one run found.
struct Fidelity {
    machine: Machine,
    python: PythonReport,
    model: ModelReport,
    rows: Vec<Row>,
}

impl Fidelity {
    fn compared(&self) -> (usize, usize) {
        let compared = self
            .rows
            .iter()
            .filter(|r| r.verdict != Verdict::NotCompared);
        let within = compared
            .clone()
            .filter(|r| r.verdict == Verdict::Within)
            .count();
        (within, compared.count())
    }

    fn print(&self) {
        let py = &self.python;
        heading("Fidelity: the gil-core model beside this machine's Python");
        kv("machine", &self.machine);
        kv(
            "python",
            format!(
                "{} {}, GIL {} (switch interval {} ms)",
                py.implementation,
                py.version,
                if py.gil_enabled {
                    "enabled"
                } else {
                    "disabled"
                },
                py.switch_interval_ms
            ),
        );
        kv(
            "model",
            format!(
                "{}, gil-core in this process (countdown step {:.2} ns; CPython's {:.1} ns)",
                self.model.mode,
                self.model.step_ns,
                py.cpu.one_s * 1e9 / (2 * py.cpu.n).max(1) as f64
            ),
        );
        kv(
            "sizes",
            if py.quick {
                "--quick (small sizes, fewer runs: noisier)"
            } else {
                "full (medians of 3 runs or batches where a figure is a ratio or a time)"
            },
        );
        println!();
        println!("{}", render_table(&self.rows));
        println!();
        let (within, compared) = self.compared();
        kv(
            "within tolerance",
            format!("{within} of {compared} compared rows"),
        );
        for row in self.rows.iter().filter(|r| r.verdict == Verdict::Miss) {
            note(&format!("miss, {}: {}", row.experiment, row.if_missed));
        }
        note(
            "The model is sized by duration: its countdown runs as long as CPython's did, not as many\n\
             steps. Timings on a busy machine are noisy on both sides; re-run before believing a miss.",
        );
    }

    fn to_json(&self) -> serde_json::Value {
        let (within, compared) = self.compared();
        let rows: Vec<_> = self
            .rows
            .iter()
            .map(|row| {
                json!({
                    "experiment": row.experiment,
                    "cpython": row.cpython.to_string(),
                    "cpython_value": row.cpython.number(),
                    "model": row.model.to_string(),
                    "model_value": row.model.number(),
                    "tolerance": row.tolerance.to_string(),
                    "verdict": row.verdict.as_str(),
                    "if_missed": row.if_missed,
                })
            })
            .collect();
        json!({
            "machine": self.machine,
            "python": self.python,
            "model": self.model,
            "rows": rows,
            "within": within,
            "compared": compared,
        })
    }
}

/// The table, as Markdown with aligned columns: readable in a terminal, pasteable in a README.
fn render_table(rows: &[Row]) -> String {
    let header = ["experiment", "CPython", "model", "tolerance", "verdict"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.experiment.clone(),
                r.cpython.to_string(),
                r.model.to_string(),
                r.tolerance.to_string(),
                r.verdict.as_str().to_owned(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
            .collect();
        format!("| {} |", padded.join(" | ")).trim_end().to_owned()
    };
    let mut out = vec![
        line(header),
        line(widths.map(|w| "-".repeat(w)).each_ref().map(String::as_str)),
    ];
    out.extend(
        cells
            .iter()
            .map(|row| line(row.each_ref().map(String::as_str))),
    );
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What fidelity.py printed on CPython 3.11 (quick sizes).
    const SAMPLE: &str = r#"{"version": "3.11.7", "implementation": "cpython", "gil_enabled": true, "switch_interval_ms": 5.0, "quick": true, "cpu": {"n": 2000000, "repeats": 1, "one_s": 0.175, "ratio": 1.15}, "sleep": {"threads": 4, "seconds": 0.05, "repeats": 3, "speedup": 3.94}, "socket": {"threads": 4, "delay_s": 0.05, "repeats": 3, "speedup": 3.35}, "mixed": {"workers": 3, "n": 1000000, "cpu_s": 0.050, "io_s": 0.1, "repeats": 1, "ratio": 1.42}, "hold": {"seconds": 0.3, "count": 26, "median_ms": 11.9}, "convoy": {"round_trips": 50, "batches": 3, "alone_ms": 0.024, "beside_ms": 0.021, "beside_1ms_ms": 0.032}, "counter": {"threads": 10, "increments": 100000, "runs": 2, "worst_lost": 0, "runs_lost": 0, "wall_s": 0.091}}"#;

    fn sample() -> PythonReport {
        PythonReport::parse(SAMPLE).unwrap()
    }

    fn lost(worst: u64, runs_lost: u32) -> Value {
        Value::Lost(Lost {
            worst,
            runs_lost,
            runs: 5,
        })
    }

    fn model_like(py: &PythonReport) -> ModelReport {
        ModelReport {
            mode: Mode::Gil.to_string(),
            step_ns: 0.5,
            cpu: ModelCpu {
                steps: 1,
                one_s: py.cpu.one_s,
                ratio: py.cpu.ratio * 1.1,
            },
            sleep_speedup: py.sleep.speedup,
            socket_speedup: py.socket.speedup,
            mixed: ModelMixed {
                steps: 1,
                cpu_s: py.mixed.cpu_s,
                ratio: py.mixed.ratio * 2.0,
            },
            hold_ms: Some(5.0),
            hold_count: 10,
            convoy: ModelConvoy {
                alone_ms: 0.03,
                beside_ms: 0.03,
                beside_1ms_ms: 0.03,
            },
            counter: Lost {
                worst: 0,
                runs_lost: 0,
                runs: 2,
            },
            counter_old: Lost {
                worst: 300_000,
                runs_lost: 2,
                runs: 2,
            },
        }
    }

    #[test]
    fn parses_what_the_script_prints_after_other_lines() {
        let py = PythonReport::parse(&format!("a warning\n{SAMPLE}\n\n")).unwrap();
        assert_eq!(py.version, "3.11.7");
        assert!(py.gil_enabled);
        assert_eq!(py.cpu.n, 2_000_000);
        assert_eq!(py.counter.threads, 10);
        assert_eq!(py.hold.median_ms, Some(11.9));
        assert_eq!(py.major_minor(), Some((3, 11)));
    }

    #[test]
    fn a_missing_field_or_no_output_is_an_error() {
        assert!(PythonReport::parse("").is_err());
        assert!(PythonReport::parse(&SAMPLE.replace("\"cpu\"", "\"cpuu\"")).is_err());
    }

    #[test]
    fn a_hold_of_null_parses_as_none() {
        let text = SAMPLE.replace("\"median_ms\": 11.9", "\"median_ms\": null");
        assert_eq!(PythonReport::parse(&text).unwrap().hold.median_ms, None);
    }

    #[test]
    fn versions_decide_which_check_points_cpython_has() {
        let mut py = sample();
        for (version, modern) in [("3.9.18", false), ("3.10.0", true), ("3.13.0t", true)] {
            py.version = version.into();
            assert_eq!(py.has_modern_check_points(), modern, "{version}");
        }
        py.version = "2.7.18".into();
        assert_eq!(py.major_minor(), Some((2, 7)));
        assert!(!py.has_modern_check_points());
    }

    #[test]
    fn relative_tolerance_is_a_share_of_cpythons_figure() {
        let t = Tolerance::Relative(0.25);
        let v = |c, m| t.verdict(&Value::Ratio(c), &Value::Ratio(m));
        assert_eq!(v(1.0, 1.24), Verdict::Within);
        assert_eq!(v(1.0, 0.76), Verdict::Within);
        assert_eq!(v(1.0, 1.26), Verdict::Miss);
        assert_eq!(v(4.0, 2.9), Verdict::Miss);
        assert_eq!(v(f64::NAN, 1.0), Verdict::NotCompared);
    }

    #[test]
    fn factor_tolerance_works_both_ways() {
        let t = Tolerance::Factor(3.0);
        let v = |c, m| t.verdict(&Value::Millis(c), &Value::Millis(m));
        assert_eq!(v(5.0, 15.0), Verdict::Within);
        assert_eq!(v(5.0, 1.7), Verdict::Within);
        assert_eq!(v(5.0, 1.6), Verdict::Miss);
        assert_eq!(v(0.03, 5.0), Verdict::Miss);
        assert_eq!(v(0.0, 0.0), Verdict::Within);
        assert_eq!(v(0.0, 1.0), Verdict::Miss);
    }

    #[test]
    fn lost_updates_agree_when_both_or_neither_lose() {
        let t = Tolerance::BothOrNeither;
        assert_eq!(t.verdict(&lost(0, 0), &lost(0, 0)), Verdict::Within);
        assert_eq!(t.verdict(&lost(5, 1), &lost(400_000, 5)), Verdict::Within);
        assert_eq!(t.verdict(&lost(0, 0), &lost(3, 1)), Verdict::Miss);
        assert_eq!(t.verdict(&lost(3, 1), &lost(0, 0)), Verdict::Miss);
    }

    #[test]
    fn quoted_or_missing_figures_are_not_compared() {
        let quoted = Value::Quoted(FACTS_OLD.into());
        assert_eq!(
            Tolerance::BothOrNeither.verdict(&quoted, &lost(1, 1)),
            Verdict::NotCompared
        );
        let missing = Value::Missing("no GIL".into());
        assert_eq!(
            RATIO.verdict(&missing, &Value::Millis(5.0)),
            Verdict::NotCompared
        );
    }

    #[test]
    fn rows_cover_every_experiment_and_quote_facts_for_the_other_policy() {
        let py = sample();
        let rows = rows(&py, &model_like(&py));
        assert_eq!(rows.len(), 10);
        let verdicts: Vec<Verdict> = rows.iter().map(|r| r.verdict).collect();
        assert_eq!(verdicts[0], Verdict::Within, "cpu ratio within 25 %");
        assert_eq!(verdicts[3], Verdict::Miss, "mixed ratio doubled");
        assert_eq!(verdicts[7], Verdict::Miss, "hold 5 ms vs 11.9 ms");
        assert_eq!(verdicts[8], Verdict::Within, "neither lost");
        assert_eq!(verdicts[9], Verdict::NotCompared, "3.9 figure is quoted");
        assert!(rows[9].cpython.to_string().contains("elsewhere"));

        let mut old = py.clone();
        old.version = "3.9.18".into();
        old.counter.worst_lost = 400_000;
        old.counter.runs_lost = 2;
        let rows = super::rows(&old, &model_like(&old));
        assert_eq!(rows[8].verdict, Verdict::NotCompared);
        assert_eq!(rows[9].verdict, Verdict::Within);
    }

    #[test]
    fn without_a_gil_the_hold_row_is_not_compared() {
        let mut py = sample();
        py.gil_enabled = false;
        let rows = rows(&py, &model_like(&py));
        assert_eq!(rows[7].verdict, Verdict::NotCompared);
        assert_eq!(rows[7].cpython.to_string(), "no GIL");
        assert!(rows[8].experiment.contains("free-threaded"));
    }

    #[test]
    fn the_table_is_aligned_markdown() {
        let py = sample();
        let table = render_table(&rows(&py, &model_like(&py)));
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 12);
        assert!(lines[0].starts_with("| experiment"));
        assert!(lines[1].starts_with("| ---"));
        let width = lines[0].chars().count();
        assert!(lines.iter().all(|l| l.chars().count() == width), "{table}");
        assert!(lines.iter().all(|l| l.matches('|').count() == 6), "{table}");
        assert!(table.contains("| 1.15x "));
        assert!(table.contains("| MISS "));
    }

    #[test]
    fn values_print_in_human_units() {
        assert_eq!(Value::Ratio(1.041).to_string(), "1.04x");
        assert_eq!(Value::Millis(5.126).to_string(), "5.13 ms");
        assert_eq!(Value::Millis(0.024).to_string(), "24.0 µs");
        assert_eq!(lost(443_964, 5).to_string(), "443,964 lost (5/5 runs)");
    }

    #[test]
    fn the_median_matches_the_scripts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn a_missing_python_is_skipped_not_failed() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let args = FidelityArgs {
            quick: true,
            json: false,
            python: "no-such-python-for-gil-lessons".into(),
        };
        assert!(measure(root, &args).unwrap().is_none());
    }

    /// The real command, quick sizes, when this machine has a `python3`.
    #[test]
    fn quick_run_fills_every_row() {
        let found = std::process::Command::new("python3")
            .arg("--version")
            .output()
            .is_ok_and(|out| out.status.success());
        if !found {
            println!("skipped: no python3 on PATH");
            return;
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let args = FidelityArgs {
            quick: true,
            json: false,
            python: "python3".into(),
        };
        let clock = Instant::now();
        let fidelity = measure(root, &args).unwrap().expect("python3 exists");
        assert_eq!(fidelity.rows.len(), 10);
        for row in &fidelity.rows {
            for value in [&row.cpython, &row.model] {
                let filled = match value {
                    Value::Ratio(x) | Value::Millis(x) => x.is_finite() && *x > 0.0,
                    Value::Lost(lost) => lost.runs > 0,
                    Value::Quoted(_) => true,
                    Value::Missing(why) => why == "no GIL",
                };
                assert!(filled, "{}: {value:?}", row.experiment);
            }
        }
        let json = fidelity.to_json();
        assert_eq!(json["rows"].as_array().map(Vec::len), Some(10));
        println!(
            "{}\n(took {:.1} s)",
            render_table(&fidelity.rows),
            clock.elapsed().as_secs_f64()
        );
    }
}
