//! Part 4: without a GIL, detaching still matters: stop-the-world pauses.
//!
#![doc = include_str!("part4_stop_the_world.md")]
//!
//! The live run uses [`World`], a small model of that handshake beside the free-threaded
//! [`Gil`]; the simulator has the same rules ([`Step::StopTheWorld`]).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::measure::fmt_duration;
use gil_core::part::{Part, Run};
use gil_core::sim::{Script, Step, simulate};
use gil_core::{Gil, GilGuard, Mode, Timeline, report};

use crate::{Config, show_timeline};

/// The Python this part models.
pub const PYTHON: &str = "
# python3.13t: one thread runs Python, one calls ext.crunch() (Rust),
# and the garbage collector runs meanwhile
Thread(target=python_loop).start()
Thread(target=ext.crunch).start()   # attached, or inside py.detach
gc.collect()";

/// How long the pause's own work takes.
const COLLECT: Duration = Duration::from_millis(1);

/// How one run came out.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// From the request until no other thread was attached.
    pub time_to_stop: Duration,
    /// The Python thread's longest stretch without running.
    pub python_stalled: Duration,
    /// Who was attached when.
    pub timeline: Timeline,
}

/// What part 4 measured (or simulated).
#[derive(Clone, Debug)]
pub struct Figures {
    /// The native call stays attached.
    pub attached: Outcome,
    /// The native call runs detached.
    pub detached: Outcome,
}

/// A model of the free-threaded build's stop-the-world handshake for live threads.
#[derive(Default)]
pub struct World {
    /// The eval breaker's stop bit: one relaxed load at each check point.
    stop: AtomicBool,
    state: Mutex<WorldState>,
    changed: Condvar,
}

#[derive(Default)]
struct WorldState {
    attached: usize,
    stopping: bool,
}

impl World {
    fn state(&self) -> std::sync::MutexGuard<'_, WorldState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Become attached, waiting first if a pause is under way.
    pub fn attach(&self) {
        let mut s = self.state();
        while s.stopping {
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s.attached += 1;
    }

    /// Stop being attached.
    pub fn detach(&self) {
        self.state().attached -= 1;
        self.changed.notify_all();
    }

    /// A check point: if a pause is asked for, stop until it is over. `py` detaches meanwhile
    /// so the timeline shows the wait.
    pub fn check_point(&self, py: &mut GilGuard<'_>) {
        if self.stop.load(Ordering::Relaxed) {
            py.detach(|| {
                self.detach();
                self.attach();
            });
        }
    }

    /// Run `f` with every other thread stopped; returns how long stopping them took.
    pub fn stop_the_world(&self, f: impl FnOnce()) -> Duration {
        let asked = Instant::now();
        let mut s = self.state();
        s.stopping = true;
        self.stop.store(true, Ordering::Relaxed);
        while s.attached > 0 {
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        let time_to_stop = asked.elapsed();
        drop(s);
        f();
        self.state().stopping = false;
        self.stop.store(false, Ordering::Relaxed);
        self.changed.notify_all();
        time_to_stop
    }
}

/// Burn CPU for `d` with no check point: native code.
fn crunch(d: Duration) {
    let end = Instant::now() + d;
    let mut x = 0u64;
    while Instant::now() < end {
        for i in 0..1000u64 {
            x = black_box(x.wrapping_add(i * i));
        }
    }
    black_box(x);
}

/// When the collector asks, after the run began.
fn request_at(cfg: &Config) -> Duration {
    cfg.long_call / 5
}

/// How long the Python thread runs Python (live: wall time; simulated: its work).
fn python_work(cfg: &Config) -> Duration {
    cfg.long_call + cfg.long_call / 2
}

fn live_run(cfg: &Config, detached: bool) -> Outcome {
    let gil = Gil::with_mode(Mode::FreeThreaded);
    let world = World::default();
    gil.record_timeline();
    let (stalled, time_to_stop) = std::thread::scope(|s| {
        let python = s.spawn(|| {
            gil.attach("python", |py| {
                world.attach();
                // Python runs for a fixed wall time; its longest gap between two check points
                // is how long it stood still.
                let end = Instant::now() + python_work(cfg);
                let (mut last, mut worst) = (Instant::now(), Duration::ZERO);
                while last < end {
                    crunch(Duration::from_micros(20));
                    world.check_point(py);
                    py.check_point();
                    let now = Instant::now();
                    worst = worst.max(now - last);
                    last = now;
                }
                world.detach();
                worst
            })
        });
        s.spawn(|| {
            gil.attach("native", |py| {
                world.attach();
                if detached {
                    py.detach(|| {
                        world.detach();
                        crunch(cfg.long_call);
                        world.attach();
                    });
                } else {
                    crunch(cfg.long_call);
                }
                world.check_point(py);
                world.detach();
            })
        });
        let time_to_stop = gil.attach("collector", |py| {
            py.detach(|| std::thread::sleep(request_at(cfg)));
            world.stop_the_world(|| std::thread::sleep(COLLECT))
        });
        let stalled = python
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (stalled, time_to_stop)
    });
    Outcome {
        time_to_stop,
        python_stalled: stalled,
        timeline: gil.take_timeline(),
    }
}

/// Both runs on the live model.
pub fn live(cfg: &Config) -> Figures {
    Figures {
        attached: live_run(cfg, false),
        detached: live_run(cfg, true),
    }
}

fn sim_run(cfg: &Config, cores: usize, detached: bool) -> Outcome {
    let native = if detached {
        Step::NativeReleased(cfg.long_call)
    } else {
        Step::NativeHolding(cfg.long_call)
    };
    let run = simulate(
        &cfg.sim_free_threaded(cores),
        vec![
            Script::new("python", vec![Step::Bytecode(python_work(cfg))]),
            Script::new("native", vec![native]),
            Script::new(
                "collector",
                vec![Step::Blocking(request_at(cfg)), Step::StopTheWorld(COLLECT)],
            ),
        ],
    );
    Outcome {
        time_to_stop: run
            .pauses
            .first()
            .map_or(Duration::ZERO, |p| p.time_to_stop()),
        python_stalled: run.finished[0].saturating_sub(python_work(cfg)),
        timeline: run.timeline,
    }
}

/// Both runs on the simulator, for an idle machine with `cores` cores.
pub fn simulated(cfg: &Config, cores: usize) -> Figures {
    Figures {
        attached: sim_run(cfg, cores, false),
        detached: sim_run(cfg, cores, true),
    }
}

/// Part 4 in the lesson's table.
pub struct StopTheWorld;

impl Part<Config> for StopTheWorld {
    type Figures = Figures;

    fn title(&self) -> &'static str {
        "without a GIL, detaching still matters: stop-the-world"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        include_str!("part4_stop_the_world.md")
    }

    fn cores_needed(&self, _cfg: &Config) -> usize {
        // The Python thread and the native call run at once.
        2
    }

    fn live(&self, _cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        Ok(live(cfg))
    }

    fn simulate(&self, cx: &Cx, cfg: &Config) -> anyhow::Result<Figures> {
        Ok(simulated(cfg, cx.sim_cores()))
    }

    fn show(&self, cx: &mut Cx, cfg: &Config, run: Run<'_, Figures>) -> anyhow::Result<()> {
        show(cx, cfg, run.figures, run.expected)
    }
}

fn print_outcome(cx: &Cx, what: &str, o: &Outcome, figure: &str) -> anyhow::Result<()> {
    report::kv(
        &format!("{what}: the pause waited"),
        fmt_duration(o.time_to_stop),
    );
    report::kv(
        &format!("{what}: Python stood still up to"),
        fmt_duration(o.python_stalled),
    );
    show_timeline(
        cx,
        figure,
        &format!("A stop-the-world pause, the native {what}"),
        &o.timeline,
    )
}

/// Print the figures and the claims they support, beside the simulator's `expected`.
fn show(cx: &mut Cx, cfg: &Config, f: &Figures, expected: &Figures) -> anyhow::Result<()> {
    report::note(&format!(
        "Free-threaded (always, in this part). A native call of {} starts with the Python \
         thread; {} in, the collector asks the world to stop for {}.",
        fmt_duration(cfg.long_call),
        fmt_duration(request_at(cfg)),
        fmt_duration(COLLECT)
    ));
    print_outcome(cx, "call attached", &f.attached, "call-attached")?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let rest = ms(cfg.long_call - request_at(cfg));
    cx.claim(Claim {
        figure: "call attached: the pause waited",
        unit: Unit::Millis,
        measured: ms(f.attached.time_to_stop),
        expected: ms(expected.attached.time_to_stop),
        low: rest * 0.8,
        high: rest * 1.5,
        text: "The pause waited for the attached call to return, and the Python thread, \
               stopped at its first check point, waited with it.",
    });
    print_outcome(cx, "call detached", &f.detached, "call-detached")?;
    cx.claim(Claim {
        figure: "call detached: the pause waited",
        unit: Unit::Millis,
        measured: ms(f.detached.time_to_stop),
        expected: ms(expected.detached.time_to_stop),
        low: 0.0,
        high: rest * 0.1,
        text: "Detached, the call did not hold the pause up: the Python thread stopped only \
               for the collection itself.",
    });
    report::for_rust_readers(
        "PyO3's guide says to detach for long work on free-threaded builds too, for this \
         reason. A thread attached and blocked on something only another pause-stopped \
         thread can give is a deadlock, with or without a GIL.",
    );
    Ok(())
}
