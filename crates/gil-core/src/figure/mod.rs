//! Pictures of what the model did: SVG figures and traces, one renderer for every lesson.
//!
//! A part builds a chart from the model's own types and hands it to its context,
//! [`Cx::figure`](crate::context::Cx::figure):
//!
//! * [`TimelineChart`]: a [`Timeline`] as swim lanes, one lane per thread (holding, waiting,
//!   detached, finished), switch-interval ticks, drop requests and forced drops marked, and an
//!   optional zoom panel;
//! * [`LineChart`]: a sweep (switch interval against switches per second, threads against
//!   time, cores against speed-up) with linear or logarithmic axes;
//! * [`StepLanes`]: an instruction trace, one lane per thread, a line wherever the GIL changed
//!   hands (the lost update).
//!
//! [`Figures::show`] writes the figure to the directory of `--svg DIR` (as `partN-NAME.svg`) and a
//! timeline also to the trace of `--trace FILE`, which [`trace_json`] writes as Chrome Trace
//! Event JSON for Perfetto or `chrome://tracing`. With neither flag it does nothing, not even
//! draw. Output depends only on the figures, never on the clock: `--simulated` runs give the
//! same bytes every time, which the book (`cargo xtask book`) relies on.
//!
//! The SVG is written by hand (`svg.rs`, about 200 lines) rather than with a chart crate: the
//! lanes are rectangles a chart crate does not lay out for us, every lesson links gil-core (so
//! a crate here would be compiled by `cargo xtask list` too, or gil-core twice with a feature),
//! and printing every coordinate ourselves is what keeps the bytes identical between runs.

mod axis;
mod chart;
mod lanes;
mod steps;
mod svg;
mod trace;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;

pub use chart::{LineChart, Scale, Series};
pub use lanes::TimelineChart;
pub use steps::{StepLanes, TraceStep};
pub use trace::trace_json;

use crate::timeline::Timeline;

/// A finished SVG figure: its file name (without `.svg`), its title and the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figure {
    name: String,
    title: String,
    svg: String,
}

impl Figure {
    pub(crate) fn new(name: &str, title: &str, svg: String) -> Figure {
        Figure {
            name: file_stem(name),
            title: title.to_owned(),
            svg,
        }
    }

    /// The file name, without `.svg`: lower case letters, digits and `-`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The heading drawn on the figure (also its SVG `<title>`).
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The SVG document.
    pub fn svg(&self) -> &str {
        &self.svg
    }
}

/// Something [`Cx::figure`](crate::context::Cx::figure) can draw: every chart type of this
/// module.
pub trait Draw {
    /// Draw it as an SVG figure.
    fn render(&self) -> Figure;

    /// The timeline it shows, for `--trace` (none for charts of figures).
    fn timeline(&self) -> Option<&Timeline> {
        None
    }
}

impl Draw for TimelineChart<'_> {
    fn render(&self) -> Figure {
        TimelineChart::render(self)
    }

    fn timeline(&self) -> Option<&Timeline> {
        Some(self.recording())
    }
}

impl Draw for LineChart {
    fn render(&self) -> Figure {
        LineChart::render(self)
    }
}

impl Draw for StepLanes {
    fn render(&self) -> Figure {
        StepLanes::render(self)
    }
}

/// Where a lesson run's figures go: the `--svg` directory and the `--trace` file, either
/// optional. Clones share one destination. The default goes nowhere.
#[derive(Clone, Default)]
pub struct Figures {
    inner: Option<Arc<Mutex<Destination>>>,
}

#[derive(Default)]
struct Destination {
    svg_dir: Option<PathBuf>,
    trace: Option<PathBuf>,
    written: Vec<PathBuf>,
    timelines: Vec<(String, Timeline)>,
}

impl Figures {
    /// Figures to `svg_dir` (created if missing) and timelines to `trace`.
    pub fn new(svg_dir: Option<PathBuf>, trace: Option<PathBuf>) -> anyhow::Result<Figures> {
        if svg_dir.is_none() && trace.is_none() {
            return Ok(Figures::default());
        }
        if let Some(dir) = &svg_dir {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the --svg directory {}", dir.display()))?;
        }
        Ok(Figures {
            inner: Some(Arc::new(Mutex::new(Destination {
                svg_dir,
                trace,
                ..Destination::default()
            }))),
        })
    }

    /// Whether figures go anywhere at all.
    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// Write part `part`'s `figure` to the SVG directory (`partN-NAME.svg`, `-2`, `-3`… for a
    /// name used twice) and keep its timeline for the trace.
    pub fn show(&self, part: u8, figure: &impl Draw) -> anyhow::Result<()> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        let mut dest = inner.lock().unwrap_or_else(PoisonError::into_inner);
        let rendered = figure.render();
        if let Some(timeline) = figure.timeline()
            && dest.trace.is_some()
        {
            let name = format!("part {part}: {}", rendered.title());
            dest.timelines.push((name, timeline.clone()));
        }
        if let Some(dir) = dest.svg_dir.clone() {
            let path = unused_path(
                &dir,
                &format!("part{part}-{}", rendered.name()),
                &dest.written,
            );
            std::fs::write(&path, rendered.svg())
                .with_context(|| format!("cannot write the figure {}", path.display()))?;
            dest.written.push(path);
        }
        Ok(())
    }

    /// Write the trace file, if one was asked for; returns what was written (figures, trace).
    pub fn finish(&self) -> anyhow::Result<(Vec<PathBuf>, Option<PathBuf>)> {
        let Some(inner) = &self.inner else {
            return Ok((Vec::new(), None));
        };
        let dest = inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(path) = &dest.trace {
            let json = serde_json::to_string(&trace_json(&dest.timelines))?;
            std::fs::write(path, json + "\n")
                .with_context(|| format!("cannot write the trace {}", path.display()))?;
        }
        Ok((dest.written.clone(), dest.trace.clone()))
    }
}

impl fmt::Debug for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            None => f.write_str("Figures(off)"),
            Some(inner) => {
                let dest = inner.lock().unwrap_or_else(PoisonError::into_inner);
                f.debug_struct("Figures")
                    .field("svg_dir", &dest.svg_dir)
                    .field("trace", &dest.trace)
                    .finish()
            }
        }
    }
}

/// Two handles are equal when they write to the same place.
impl PartialEq for Figures {
    fn eq(&self, other: &Self) -> bool {
        match (&self.inner, &other.inner) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Figures {}

/// `dir/stem.svg`, or `dir/stem-2.svg`… if this run already wrote that one.
fn unused_path(dir: &Path, stem: &str, written: &[PathBuf]) -> PathBuf {
    (1..)
        .map(|n| match n {
            1 => dir.join(format!("{stem}.svg")),
            n => dir.join(format!("{stem}-{n}.svg")),
        })
        .find(|p| !written.contains(p))
        .unwrap_or_else(|| dir.join(format!("{stem}.svg")))
}

/// A file-name-safe version of `name`: lower case, `-` for anything else.
fn file_stem(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "figure".to_owned()
    } else {
        out
    }
}
