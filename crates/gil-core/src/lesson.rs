//! One way to run a lesson: the flags every lesson shares, its table of parts, and the runner
//! that frames them (title, intro, machine probe, each part's Python, "Now try").
//!
//! Every lesson's `main` is the same: its clap struct (its own size flags beside the flattened
//! [`LessonArgs`]) implements [`LessonCli`], saying how to build the lesson's configuration,
//! and `main` is `lesson::start::<Cli>()`. The runner ([`run`], [`run_lesson`]) makes the
//! run's [`Cx`], prints the frame and runs each [`crate::part::Part`] in it. Tests call [`run`]
//! and read the claims from the returned context.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::claim::Sink;
use crate::cli::GilArgs;
use crate::context::Cx;
use crate::figure::Figures;
use crate::part::LessonPart;
use crate::session::Session;
use crate::{Gil, Mode, glossary, measure, probe};

/// The default switch interval in milliseconds, as the flags show it.
pub const DEFAULT_SWITCH_INTERVAL_MS: f64 = crate::cli::DEFAULT_SWITCH_INTERVAL_MS;

/// Flags every lesson binary shares: `#[command(flatten)]` it into the lesson's clap struct.
#[derive(clap::Args, Clone, Debug)]
pub struct LessonArgs {
    /// Run only part N (1 to the lesson's number of parts)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..))]
    pub part: Option<u8>,

    /// Small sizes, one run per figure: done in a moment, but noisy
    #[arg(long)]
    pub quick: bool,

    /// The interpreter: --free-threaded and --switch-interval
    #[command(flatten)]
    pub gil: GilArgs,

    /// Run every part on the deterministic simulator only: no clock, same output every time
    #[arg(long)]
    pub simulated: bool,

    /// Cores the simulator assumes, 1 to 1024 [default: this machine's]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub cores: Option<u16>,

    /// Also append every claim this run makes to FILE, one JSON object per line
    #[arg(long, value_name = "FILE")]
    pub claims: Option<PathBuf>,

    /// Also print the CPython internals (opcodes, constants, issue numbers)
    #[arg(long)]
    pub deep: bool,

    /// Print the glossary of the course's terms and stop
    #[arg(long)]
    pub glossary: bool,

    /// Also write this run's figures to DIR as SVG files (partN-NAME.svg)
    #[arg(long, value_name = "DIR")]
    pub svg: Option<PathBuf>,

    /// Also write the model's timelines to FILE as Chrome Trace Event JSON (open it in
    /// ui.perfetto.dev or chrome://tracing)
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
}

impl LessonArgs {
    /// The switch interval (validated when the flags were parsed).
    pub fn interval(&self) -> Duration {
        self.gil.interval()
    }

    /// Whether `--free-threaded` was given.
    pub fn free_threaded(&self) -> bool {
        self.gil.free_threaded
    }

    /// `Mode::FreeThreaded` with `--free-threaded`, otherwise `mode`.
    pub fn mode(&self, mode: Mode) -> Mode {
        self.gil.mode(mode)
    }

    /// A fresh interpreter in [`LessonArgs::mode`] with the chosen switch interval.
    pub fn build_gil(&self, mode: Mode) -> Gil {
        self.gil.build_with(mode)
    }

    /// Cores the simulator assumes: `--cores`, or this machine's.
    pub fn sim_cores(&self) -> usize {
        self.cores.map_or_else(measure::cores, usize::from)
    }
}

/// A lesson: its title, what it shows, its parts and its exercises.
pub struct Lesson<C: 'static> {
    /// The binary's name, e.g. `cpu-bound` (the `lesson` of every claim).
    pub name: &'static str,
    /// Lesson number, 1 to 5.
    pub number: u8,
    /// Title, e.g. "CPU-bound threads under the GIL".
    pub title: &'static str,
    /// One sentence: what the lesson shows.
    pub shows: &'static str,
    /// Prose printed before the first part when the whole lesson runs ("" for none).
    pub intro: &'static str,
    /// Flag suggested for steadier figures when a claim misses, e.g. `--scale 2` ("" if none).
    pub steadier: &'static str,
    /// The parts, in teaching order: `&Countdown` for a [`crate::part::Part`] `Countdown`.
    pub parts: &'static [&'static dyn LessonPart<C>],
    /// The exercises that go with this lesson, e.g. `03_countdown_threads`.
    pub exercises: &'static [&'static str],
}

impl<C> Lesson<C> {
    /// The parts `--part` selects: one, or all of them.
    fn selected(&self, part: Option<u8>) -> anyhow::Result<Vec<(usize, &dyn LessonPart<C>)>> {
        let all = self.parts.iter().enumerate().map(|(i, p)| (i + 1, *p));
        match part {
            None => Ok(all.collect()),
            Some(n) => {
                let count = self.parts.len();
                anyhow::ensure!(
                    (1..=count).contains(&usize::from(n)),
                    "there is no part {n}: {} has parts 1 to {count}",
                    self.name
                );
                Ok(all.filter(|(i, _)| *i == usize::from(n)).collect())
            }
        }
    }
}

/// Run a lesson: title, machine probe, the chosen part(s) with their Python, then "Now try".
pub fn run_lesson<C>(lesson: &Lesson<C>, args: &LessonArgs, cfg: &C) -> anyhow::Result<()> {
    run(lesson, args, cfg).map(drop)
}

/// [`run_lesson`], returning the run's context (its claims, for tests).
pub fn run<C>(lesson: &Lesson<C>, args: &LessonArgs, cfg: &C) -> anyhow::Result<Cx> {
    let parts = lesson.selected(args.part)?;
    let figures = Figures::new(args.svg.clone(), args.trace.clone())?;
    let sink = match &args.claims {
        Some(path) => Sink::to_file(path)?,
        None => Sink::default(),
    };
    let session = Session {
        lesson: lesson.name,
        part: 0,
        simulated: args.simulated,
        cores: args.sim_cores(),
        quick: args.quick,
        steadier: lesson.steadier,
        deep: args.deep,
        figures: figures.clone(),
    };
    let mut cx = Cx::with_sink(session, sink);

    cx.out()
        .lesson_title(lesson.number, lesson.title, lesson.shows);
    if args.glossary {
        cx.blank();
        cx.out().markdown(glossary::GLOSSARY, args.deep);
        return Ok(cx);
    }
    // The parts' headings follow; no list of them first (each title is printed once).
    if args.part.is_none() && !lesson.intro.is_empty() {
        cx.blank();
        cx.note(lesson.intro);
    }
    cx.blank();
    print_source(&mut cx, args);

    for (n, part) in parts {
        cx.enter_part(u8::try_from(n).unwrap_or(u8::MAX));
        cx.out().part_heading(n, part.title());
        if !part.python().is_empty() {
            cx.python(part.python());
        }
        cx.blank();
        part.run(&mut cx, cfg)?;
    }

    summary(&cx);
    cx.out().now_try(lesson.exercises);
    written(&cx, &figures, args)?;
    cx.finish()?;
    Ok(cx)
}

/// Say where `--svg` and `--trace` wrote this run's figures.
fn written(cx: &Cx, figures: &Figures, args: &LessonArgs) -> anyhow::Result<()> {
    let (written, trace) = figures.finish()?;
    if let Some(dir) = &args.svg {
        cx.blank();
        let figures = match written.len() {
            1 => "1 figure".to_owned(),
            n => format!("{n} figures"),
        };
        cx.indented(&format!("{figures} written to {}", dir.display()), "", "  ");
    }
    if let Some(trace) = trace {
        cx.indented(
            &format!(
                "Trace written to {}: open it in ui.perfetto.dev or chrome://tracing.",
                trace.display()
            ),
            "",
            "  ",
        );
    }
    Ok(())
}

/// Where the figures come from, said once for the whole lesson.
fn print_source(cx: &mut Cx, args: &LessonArgs) {
    let machine = format!("an idle {}-core machine", args.sim_cores());
    if args.simulated {
        cx.indented(
            &format!(
                "Every figure below is the simulator's, for {machine}: the same on every \
                 run."
            ),
            "",
            "",
        );
        return;
    }
    let load = probe::sample();
    cx.line(load.to_string());
    let note = match args.cores {
        Some(_) => format!(
            "Beside each figure, in brackets: what the simulator expects on {machine} \
             (--cores)."
        ),
        None => format!(
            "The lesson sizes its threads to these {}. Beside each figure, in brackets: what \
             the simulator expects if they are idle.",
            cores_text(load.cores)
        ),
    };
    cx.indented(&note, "", "");
    cx.set_load(load);
    if load.known && load.busy() >= 0.5 {
        cx.indented(
            &format!(
                "Other programs are using about {:.1} cores: a part that needs more free \
                 cores than are left shows the simulator's figures for an idle machine, with \
                 this run's beside them.",
                load.busy()
            ),
            "",
            "",
        );
    }
}

/// How many stated results held; for misses, the likely cause once.
fn summary(cx: &Cx) {
    let made = cx.claims();
    if made.is_empty() {
        return;
    }
    let busy_at_start = cx.load().is_some_and(|l| l.known && l.busy() >= 0.5);
    cx.blank();
    cx.indented(
        &summary_text(made, busy_at_start, cx.session().steadier),
        "",
        "",
    );
}

/// The summary's sentence: how many of `made` held and, if some missed, the likely cause,
/// said once; when the top of the lesson already said the machine was busy, it refers back
/// instead of saying it again.
fn summary_text(made: &[crate::claim::Record], busy_at_start: bool, steadier: &str) -> String {
    let held = made.iter().filter(|r| r.held).count();
    if made.len() == 1 && held == 1 {
        "The one result this run stated held.".to_owned()
    } else if held == made.len() {
        format!("All {} results this run stated held.", made.len())
    } else {
        let advice = match steadier {
            "" => "Rerun when the machine is quieter.".to_owned(),
            flag => format!("Rerun when the machine is quieter, or with {flag}."),
        };
        let cause = match made.iter().find_map(|r| r.cause.clone()) {
            // The top of the lesson already said the machine was busy: say it once.
            Some(cause) if busy_at_start && cause.starts_with("other programs") => {
                "the busy machine (see the top)".to_owned()
            }
            Some(cause) => cause,
            None => "unknown".to_owned(),
        };
        format!(
            "{held} of {} results held this run (✗ above). Likely cause: {cause}. {advice}",
            made.len()
        )
    }
}

fn cores_text(n: usize) -> String {
    match n {
        1 => "1 core".to_owned(),
        n => format!("{n} cores"),
    }
}

/// `main` of a lesson binary: errors as one line, quiet on a closed pipe. Lessons call
/// [`start`] instead, which uses it.
pub fn main(real_main: impl FnOnce() -> anyhow::Result<()>) -> ExitCode {
    crate::cli::run(real_main)
}

/// What a lesson's command line is: how its `main` builds the configuration and which lesson
/// it runs. Every lesson's `main` is `lesson::start::<Cli>()`.
pub trait LessonCli: clap::Parser {
    /// The lesson's configuration, built from the flags.
    type Config: 'static;

    /// The lesson's table.
    fn lesson() -> &'static Lesson<Self::Config>;

    /// The flags every lesson shares (flattened into the lesson's own).
    fn lesson_args(&self) -> &LessonArgs;

    /// The configuration the flags ask for; bad combinations are one-line errors.
    fn config(&self) -> anyhow::Result<Self::Config>;

    /// Anything to do before the lesson runs (signal handlers, a worker process's own mode).
    /// [`Start::Done`] ends the program there.
    fn prepare(&self) -> anyhow::Result<Start> {
        Ok(Start::Lesson)
    }
}

/// What [`LessonCli::prepare`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Run the lesson.
    Lesson,
    /// The program's work is done (e.g. it was a worker process).
    Done,
}

/// A lesson binary's whole `main`: parse the flags, build the configuration, run the lesson.
pub fn start<M: LessonCli>() -> ExitCode {
    main(|| {
        let cli = M::parse();
        if cli.prepare()? == Start::Done {
            return Ok(());
        }
        let cfg = cli.config()?;
        run_lesson(M::lesson(), cli.lesson_args(), &cfg)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        lesson: LessonArgs,
    }

    fn parse(args: &[&str]) -> Result<LessonArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("lesson").chain(args.iter().copied())).map(|c| c.lesson)
    }

    /// A part whose figures are the configuration it was given; it refuses any but 7.
    struct Echo(&'static str);

    impl crate::part::Part<u32> for Echo {
        type Figures = u32;

        fn title(&self) -> &'static str {
            self.0
        }

        fn live(&self, _: &Cx, cfg: &u32) -> anyhow::Result<u32> {
            Ok(*cfg)
        }

        fn simulate(&self, _: &Cx, cfg: &u32) -> anyhow::Result<u32> {
            anyhow::ensure!(*cfg == 7, "cfg reached the part");
            Ok(*cfg)
        }

        fn show(&self, cx: &mut Cx, _: &u32, run: crate::part::Run<'_, u32>) -> anyhow::Result<()> {
            cx.claim(crate::claim::Claim {
                figure: "configuration seen",
                unit: crate::claim::Unit::Count,
                measured: f64::from(*run.figures),
                expected: f64::from(*run.expected),
                low: 7.0,
                high: 7.0,
                text: "The part saw the lesson's configuration.",
            });
            Ok(())
        }
    }

    const LESSON: Lesson<u32> = Lesson {
        name: "demo",
        number: 9,
        title: "A demo",
        shows: "It shows the runner.",
        intro: "",
        steadier: "",
        parts: &[&Echo("one"), &Echo("two")],
        exercises: &["00_demo"],
    };

    #[test]
    fn a_busy_machine_named_at_the_top_is_not_named_again_in_the_summary() {
        let record = |held| crate::claim::Record {
            lesson: "demo".into(),
            part: 1,
            claim: "x".into(),
            measured: 1.0,
            expected: 1.0,
            low: 1.0,
            high: 1.0,
            held,
            cause: (!held)
                .then(|| "other programs were using about 2.0 of this machine's 2 cores".into()),
        };
        let made = [record(true), record(false), record(false)];
        let once = summary_text(&made, true, "");
        assert!(once.contains("the busy machine (see the top)"), "{once}");
        assert!(!once.contains("other programs"), "{once}");
        let first = summary_text(&made, false, "--scale 2");
        assert!(
            first.contains("other programs were using about 2.0"),
            "{first}"
        );
        assert!(first.contains("or with --scale 2"), "{first}");
        assert_eq!(
            summary_text(&made[..1], true, ""),
            "The one result this run stated held."
        );
    }

    #[test]
    fn flags_parse_and_bad_ones_are_refused() {
        let args = parse(&["--simulated", "--cores", "64", "--switch-interval", "1e-9"]).unwrap();
        assert!(args.simulated);
        assert_eq!(args.sim_cores(), 64);
        assert!(args.interval() > Duration::ZERO);
        for bad in [
            &["--cores", "0"][..],
            &["--part", "0"],
            &["--switch-interval", "0"],
            &["--switch-interval", "-1"],
            &["--switch-interval", "NaN"],
            &["--switch-interval", "101"],
            &["--switch-interval", "fast"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn parts_run_through_the_table_and_bad_parts_are_errors() {
        let args = parse(&["--simulated"]).unwrap();
        run_lesson(&LESSON, &args, &7).unwrap();
        // Each run has its own context: the second does not see the first one's claims.
        for _ in 0..2 {
            let cx = run(&LESSON, &args, &7).unwrap();
            let parts: Vec<(u8, bool)> = cx.claims().iter().map(|r| (r.part, r.held)).collect();
            assert_eq!(parts, [(1, true), (2, true)]);
        }
        let err = run_lesson(&LESSON, &parse(&["--part", "3"]).unwrap(), &7).unwrap_err();
        assert_eq!(err.to_string(), "there is no part 3: demo has parts 1 to 2");
        assert!(run_lesson(&LESSON, &args, &8).is_err());
    }
}
