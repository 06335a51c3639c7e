//! One way to run a lesson: the flags every lesson shares, its table of parts, and the runner
//! that frames them (title, machine probe, each part's Python, "Now try").
//!
//! A lesson's `main` parses its own clap struct with [`LessonArgs`] flattened into it, builds
//! its own configuration, and hands both to [`run_lesson`] with its [`Lesson`] table. Tests call
//! [`run_lesson`] (or a part's function) the same way.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::GilArgs;
use crate::figure::Figures;
use crate::session::{self, Session};
use crate::{Gil, Mode, claim, measure, probe, report};

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
    /// The parts, in teaching order.
    pub parts: &'static [Part<C>],
    /// The exercises that go with this lesson, e.g. `03_countdown_threads`.
    pub exercises: &'static [&'static str],
}

/// One part of a lesson.
pub struct Part<C: 'static> {
    /// Title, e.g. "Two threads counting down".
    pub title: &'static str,
    /// The few lines of Python the part models, shown before its figures ("" for none).
    pub python: &'static str,
    /// Runs the part, printing as it goes.
    pub run: fn(&C) -> anyhow::Result<()>,
}

impl<C> Lesson<C> {
    /// The parts `--part` selects: one, or all of them.
    fn selected(&self, part: Option<u8>) -> anyhow::Result<Vec<(usize, &Part<C>)>> {
        let all = self.parts.iter().enumerate().map(|(i, p)| (i + 1, p));
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
    let parts = lesson.selected(args.part)?;
    if let Some(path) = &args.claims {
        claim::write_to(path)?;
    }
    let figures = Figures::new(args.svg.clone(), args.trace.clone())?;
    session::begin(Session {
        lesson: lesson.name,
        part: 0,
        simulated: args.simulated,
        cores: args.sim_cores(),
        quick: args.quick,
        steadier: lesson.steadier,
        figures: figures.clone(),
    });
    let claims_before = claim::log().len();

    report::lesson_title(lesson.number, lesson.title, lesson.shows);
    if args.part.is_none() {
        println!();
        for (n, part) in &parts {
            println!("  Part {n}: {}", part.title);
        }
        if !lesson.intro.is_empty() {
            println!();
            report::note(lesson.intro);
        }
    }
    println!();
    if args.simulated {
        report::indented(
            &format!(
                "simulated machine: {} idle, and every figure below comes from the simulator \
                 (--simulated), so it is the same on every run.",
                cores_text(args.sim_cores())
            ),
            "",
            "  ",
        );
    } else {
        let load = probe::sample();
        println!("{load}");
        let note = match args.cores {
            Some(n) => format!(
                "Expected figures are simulated for {} (--cores).",
                cores_text(n.into())
            ),
            None => format!(
                "The lesson sizes its threads to these {}; expected figures assume they are idle.",
                cores_text(load.cores)
            ),
        };
        report::indented(&note, "", "");
    }

    for (n, part) in parts {
        session::enter_part(u8::try_from(n).unwrap_or(u8::MAX));
        report::part_heading(n, part.title);
        if !part.python.is_empty() {
            report::python(part.python);
        }
        println!();
        (part.run)(cfg)?;
    }

    let made: Vec<_> = claim::log().split_off(claims_before);
    if !made.is_empty() {
        let held = made.iter().filter(|r| r.held).count();
        println!();
        let summary = if made.len() == 1 && held == 1 {
            "The one result this run stated held.".to_owned()
        } else if held == made.len() {
            format!("All {} results this run stated held.", made.len())
        } else {
            format!(
                "{held} of {} results held this run; the ✗ lines above say why the others did not.",
                made.len()
            )
        };
        report::indented(&summary, "", "");
    }
    report::now_try(lesson.exercises);
    let (written, trace) = figures.finish()?;
    if let Some(dir) = &args.svg {
        println!();
        let figures = match written.len() {
            1 => "1 figure".to_owned(),
            n => format!("{n} figures"),
        };
        report::indented(&format!("{figures} written to {}", dir.display()), "", "  ");
    }
    if let Some(trace) = trace {
        report::indented(
            &format!(
                "Trace written to {}: open it in ui.perfetto.dev or chrome://tracing.",
                trace.display()
            ),
            "",
            "  ",
        );
    }
    claim::finish()
}

fn cores_text(n: usize) -> String {
    match n {
        1 => "1 core".to_owned(),
        n => format!("{n} cores"),
    }
}

/// `main` of a lesson binary: errors as one line, quiet on a closed pipe.
pub fn main(real_main: impl FnOnce() -> anyhow::Result<()>) -> ExitCode {
    crate::cli::run(real_main)
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

    static PARTS: [Part<u32>; 2] = [
        Part {
            title: "one",
            python: "x = 1",
            run: |_| Ok(()),
        },
        Part {
            title: "two",
            python: "",
            run: |cfg| {
                anyhow::ensure!(*cfg == 7, "cfg reached the part");
                Ok(())
            },
        },
    ];

    static LESSON: Lesson<u32> = Lesson {
        name: "demo",
        number: 9,
        title: "A demo",
        shows: "It shows the runner.",
        intro: "",
        steadier: "",
        parts: &PARTS,
        exercises: &["00_demo"],
    };

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
        let err = run_lesson(&LESSON, &parse(&["--part", "3"]).unwrap(), &7).unwrap_err();
        assert_eq!(err.to_string(), "there is no part 3: demo has parts 1 to 2");
        assert!(run_lesson(&LESSON, &args, &8).is_err());
    }
}
