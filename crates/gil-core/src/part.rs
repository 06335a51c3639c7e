//! One part of a lesson as one typed value: its text, a live run and a simulated run that
//! return the same figures, and one way of showing them.
//!
//! The runner, not the part, decides where figures come from, once: with `--simulated` only
//! [`Part::simulate`] runs; otherwise [`Part::simulate`] gives the idle-machine expectation and
//! [`Part::live`] the measurement, and [`Part::show`] gets both ([`Run`]). On a machine with
//! fewer free cores than the part needs ([`Part::cores_needed`]) the simulator's figures lead,
//! and one table sets each claim's live figure beside the idle machine's, one row each. A renderer that draws figures (terminal
//! today, pictures next) therefore serves both runs.
//!
//! ```
//! use gil_core::claim::{Claim, Unit};
//! use gil_core::context::Cx;
//! use gil_core::part::{Part, Run};
//!
//! /// Part 9: counting to three.
//! struct Count;
//!
//! impl Part<u64> for Count {
//!     type Figures = u64;
//!     fn title(&self) -> &'static str { "counting" }
//!     fn live(&self, _: &Cx, cfg: &u64) -> anyhow::Result<u64> { Ok(*cfg) }
//!     fn simulate(&self, _: &Cx, _: &u64) -> anyhow::Result<u64> { Ok(3) }
//!     fn show(&self, cx: &mut Cx, _: &u64, run: Run<'_, u64>) -> anyhow::Result<()> {
//!         cx.claim(Claim {
//!             figure: "count",
//!             unit: Unit::Count,
//!             measured: *run.figures as f64,
//!             expected: *run.expected as f64,
//!             low: 3.0,
//!             high: 3.0,
//!             text: "It counted to three.",
//!         });
//!         Ok(())
//!     }
//! }
//! ```

use crate::claim::Pass;
use crate::context::Cx;
use crate::report::Out;
use crate::{claim, report};

/// Where a part's live figures go in its markdown text, when some prose must follow them.
pub const FIGURES_MARKER: &str = "<!-- figures -->";

/// One part of a lesson, configured by the lesson's `C`.
pub trait Part<C>: Sync {
    /// What both runs return: the figures [`Part::show`] prints and claims rest on.
    type Figures;

    /// Title, e.g. "the countdown, one thread against two".
    fn title(&self) -> &'static str;

    /// The few lines of Python the part models, framed before its text ("" for none).
    fn python(&self) -> &'static str {
        ""
    }

    /// The part's prose in markdown (`include_str!` of the `.md` beside the part, which the
    /// crate docs and the book include too). Printed before the figures, or around them at
    /// [`FIGURES_MARKER`]; `<!-- deep -->` sections only with `--deep`.
    fn text(&self) -> &'static str {
        ""
    }

    /// Free cores the live run needs to show what an idle machine shows (default 1).
    fn cores_needed(&self, _cfg: &C) -> usize {
        1
    }

    /// Measure the figures on this machine.
    fn live(&self, cx: &Cx, cfg: &C) -> anyhow::Result<Self::Figures>;

    /// Compute the figures an idle machine with `cx.sim_cores()` cores shows (deterministic).
    fn simulate(&self, cx: &Cx, cfg: &C) -> anyhow::Result<Self::Figures>;

    /// Print the figures and state their claims (`cx.claim`).
    fn show(&self, cx: &mut Cx, cfg: &C, run: Run<'_, Self::Figures>) -> anyhow::Result<()>;
}

/// The figures a part shows, beside the simulator's expectation for an idle machine. In a
/// simulated run both are the simulator's.
#[derive(Debug)]
pub struct Run<'a, F> {
    /// The figures to print.
    pub figures: &'a F,
    /// What the simulator expects on an idle machine (the claims' expectations).
    pub expected: &'a F,
}

impl<F> Clone for Run<'_, F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F> Copy for Run<'_, F> {}

/// A part as the lesson's table lists it: any [`Part`] of the lesson's configuration, its
/// figures' type hidden so that one table holds parts of different figures.
pub trait LessonPart<C>: Sync {
    /// The part's title.
    fn title(&self) -> &'static str;
    /// The part's Python ("" for none).
    fn python(&self) -> &'static str;
    /// Run the part: text, figures from where the runner chose, text after them.
    fn run(&self, cx: &mut Cx, cfg: &C) -> anyhow::Result<()>;
}

impl<C, P: Part<C>> LessonPart<C> for P {
    fn title(&self) -> &'static str {
        Part::title(self)
    }

    fn python(&self) -> &'static str {
        Part::python(self)
    }

    fn run(&self, cx: &mut Cx, cfg: &C) -> anyhow::Result<()> {
        let (before, after) = split_at_figures(self.text());
        if !before.trim().is_empty() {
            cx.markdown(before);
            cx.blank();
        }
        if cx.simulated() {
            let figures = self.simulate(cx, cfg)?;
            let run = Run {
                figures: &figures,
                expected: &figures,
            };
            self.show(cx, cfg, run)?;
        } else {
            let expected = self.simulate(cx, cfg)?;
            let figures = self.live(cx, cfg)?;
            let needed = self.cores_needed(cfg);
            if let Some(free) = cx.too_busy_for(needed) {
                show_busy(self, cx, cfg, &figures, &expected, needed, free)?;
            } else {
                let run = Run {
                    figures: &figures,
                    expected: &expected,
                };
                self.show(cx, cfg, run)?;
            }
        }
        if !after.trim().is_empty() {
            cx.blank();
            cx.markdown(after);
        }
        Ok(())
    }
}

/// A busy machine: the simulator's idle-machine figures lead, as in a simulated run; then one
/// table sets this run's figure beside the idle machine's for each claim, one row each. The
/// part's own text about the live figures goes nowhere ([`Out::Discard`]); its claims are
/// still recorded.
fn show_busy<C, P: Part<C>>(
    part: &P,
    cx: &mut Cx,
    cfg: &C,
    live: &P::Figures,
    expected: &P::Figures,
    needed: usize,
    free: f64,
) -> anyhow::Result<()> {
    cx.indented(&busy_note(needed, free), "  ", "  ");
    cx.blank();
    cx.set_pass(Pass::Lead);
    let lead = part.show(
        cx,
        cfg,
        Run {
            figures: expected,
            expected,
        },
    );
    cx.set_pass(Pass::Beside);
    let shown = cx.set_out(Out::Discard);
    let beside = lead.and_then(|()| {
        report::muted(|| {
            part.show(
                cx,
                cfg,
                Run {
                    figures: live,
                    expected,
                },
            )
        })
    });
    cx.set_out(shown);
    cx.set_pass(Pass::Only);
    let rows = cx.take_compared();
    if !rows.is_empty() {
        cx.blank();
        cx.line(claim::side_by_side(&rows));
    }
    beside
}

/// What a part says once when the machine has fewer free cores than it needs.
pub fn busy_note(needed: usize, free: f64) -> String {
    let cores = if needed == 1 { "core" } else { "cores" };
    format!(
        "Too busy for this part ({needed} free {cores} needed, about {free:.1} free): the \
         simulator's figures for an idle machine, then this run's beside them."
    )
}

/// `text` before and after [`FIGURES_MARKER`] (all of it before when there is none).
pub fn split_at_figures(text: &str) -> (&str, &str) {
    text.split_once(FIGURES_MARKER).unwrap_or((text, ""))
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::claim::{Claim, Compared, Unit};
    use crate::probe::MachineLoad;
    use crate::session::Session;

    /// A part whose live run counts to `cfg` and whose idle machine counts to three.
    struct Count;

    impl Part<u64> for Count {
        type Figures = u64;
        fn title(&self) -> &'static str {
            "counting"
        }
        fn cores_needed(&self, _: &u64) -> usize {
            2
        }
        fn live(&self, _: &Cx, cfg: &u64) -> anyhow::Result<u64> {
            Ok(*cfg)
        }
        fn simulate(&self, _: &Cx, _: &u64) -> anyhow::Result<u64> {
            Ok(3)
        }
        fn show(&self, cx: &mut Cx, _: &u64, run: Run<'_, u64>) -> anyhow::Result<()> {
            for (figure, low) in [("count", 3.0), ("count, at least two", 2.0)] {
                cx.claim(Claim {
                    figure,
                    unit: Unit::Count,
                    measured: *run.figures as f64,
                    expected: *run.expected as f64,
                    low,
                    high: 3.0,
                    text: "It counted to three.",
                });
            }
            Ok(())
        }
    }

    fn live_cx(free: f64) -> Cx {
        let mut cx = Cx::new(Session {
            simulated: false,
            ..Session::simulated(2)
        });
        cx.set_load(MachineLoad {
            cores: 2,
            free,
            known: true,
        });
        cx
    }

    #[test]
    fn a_busy_machine_records_each_live_claim_once_beside_the_idle_figure() {
        assert_eq!(live_cx(0.2).too_busy_for(2), Some(0.2));
        assert_eq!(live_cx(1.8).too_busy_for(2), None);
        assert_eq!(live_cx(0.2).too_busy_for(0), None);

        let mut cx = live_cx(0.2);
        LessonPart::run(&Count, &mut cx, &2).unwrap();
        // The leading idle-machine showing records nothing; the live one records both claims.
        let held: Vec<bool> = cx.claims().iter().map(|r| r.held).collect();
        assert_eq!(held, [false, true]);
        assert!(
            cx.claims()
                .iter()
                .all(|r| r.measured == 2.0 && r.expected == 3.0)
        );
        // The rows were printed and handed over: none is left for the next part.
        assert!(cx.take_compared().is_empty());
    }

    #[test]
    fn a_part_shows_through_its_context_and_a_busy_machine_shows_the_live_pass_nowhere() {
        let mut cx = Cx::new(Session::simulated(2));
        cx.set_out(Out::buffer());
        LessonPart::run(&Count, &mut cx, &2).unwrap();
        let Out::Buffer(text) = cx.set_out(Out::Discard) else {
            panic!("the buffer went away");
        };
        assert_eq!(
            text,
            "  count: 3\n  ✓ It counted to three.\n  count, at least two: 3\n  ✓ It counted to \
             three.\n"
        );

        let mut cx = live_cx(0.2);
        cx.set_out(Out::buffer());
        LessonPart::run(&Count, &mut cx, &2).unwrap();
        let Out::Buffer(text) = cx.set_out(Out::Discard) else {
            panic!("the buffer went away");
        };
        // The idle machine's figures lead, then the table; the live pass printed nothing.
        assert!(text.starts_with("  Too busy for this part"), "{text}");
        assert_eq!(text.matches("  count: 3\n").count(), 1, "{text}");
        assert!(!text.contains("count: 2"), "{text}");
        assert!(text.contains("this run"), "{text}");
    }

    #[test]
    fn the_side_by_side_table_gives_each_claim_one_row_within_80_columns() {
        let row = |figure: &str, held| Compared {
            figure: figure.to_owned(),
            idle: "2.00x".to_owned(),
            this_run: "1.01x".to_owned(),
            held,
            needs: "1.50-2.50x".to_owned(),
        };
        let table = claim::side_by_side(&[
            row("GIL time, two threads / one", true),
            row("free-threaded speedup, two threads over one", false),
        ]);
        assert_eq!(
            table,
            "    result                                    idle machine  this run  needs
    ----------------------------------------  ------------  --------  ----------
  ✓ GIL time, two threads / one                      2.00x     1.01x  1.50-2.50x
  ✗ free-threaded speedup, two threads over          2.00x     1.01x  1.50-2.50x
    one"
        );
        let long = "a figure whose name is far too long to share one line with its figures";
        let table = claim::side_by_side(&[row(long, false)]);
        assert!(
            table.lines().all(|l| l.chars().count() <= report::WIDTH),
            "{table}"
        );
        assert_eq!(table.lines().filter(|l| l.contains('✗')).count(), 1);
    }

    #[test]
    fn the_busy_note_names_the_cores() {
        assert!(busy_note(1, 0.1).contains("(1 free core needed,"));
        assert!(busy_note(2, 0.4).contains("(2 free cores needed, about 0.4 free)"));
    }
}
