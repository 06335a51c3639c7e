//! Instruction-by-instruction traces as swim lanes: one column per thread, time running down,
//! a dashed line wherever the GIL changes hands (the lost update, replayed).

use super::Figure;
use super::svg::{Anchor, Svg, style, text_width};

const WIDTH: f64 = 800.0;
const ROW: f64 = 22.0;
const MONO: &str = "font-family=\"monospace\"";

/// One instruction in a [`StepLanes`] trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceStep {
    /// Which lane (thread) ran it, an index into the lanes.
    pub lane: usize,
    /// What it did, e.g. `LOAD_GLOBAL counter -> 41`.
    pub text: String,
    /// Drawn highlighted: the read and the write the lesson is about.
    pub emphasis: bool,
}

/// A trace drawn as swim lanes, built with [`StepLanes::new`], drawn with
/// [`StepLanes::render`].
///
/// ```
/// use gil_core::figure::StepLanes;
///
/// let fig = StepLanes::new("lost-update", "One lost update", &["T1", "T2"])
///     .step(0, "LOAD_GLOBAL counter -> 41", true)
///     .step(1, "LOAD_GLOBAL counter -> 41", true)
///     .step(1, "STORE_GLOBAL counter = 42", true)
///     .step(0, "STORE_GLOBAL counter = 42", true)
///     .render();
/// assert!(fig.svg().contains("GIL: T1"));
/// ```
#[derive(Clone, Debug)]
pub struct StepLanes {
    name: String,
    title: String,
    caption: String,
    lanes: Vec<String>,
    steps: Vec<TraceStep>,
}

impl StepLanes {
    /// An empty trace with one lane per name.
    pub fn new(name: &str, title: &str, lanes: &[&str]) -> StepLanes {
        StepLanes {
            name: name.to_owned(),
            title: title.to_owned(),
            caption: String::new(),
            lanes: lanes.iter().map(|l| (*l).to_owned()).collect(),
            steps: Vec::new(),
        }
    }

    /// One line under the title.
    pub fn caption(mut self, caption: &str) -> Self {
        self.caption = caption.to_owned();
        self
    }

    /// Add the next instruction, run by lane `lane` (out-of-range lanes go to the last one).
    pub fn step(mut self, lane: usize, text: &str, emphasis: bool) -> Self {
        self.steps.push(TraceStep {
            lane: lane.min(self.lanes.len().saturating_sub(1)),
            text: text.to_owned(),
            emphasis,
        });
        self
    }

    /// Draw it.
    pub fn render(&self) -> Figure {
        let top = if self.caption.is_empty() { 50.0 } else { 66.0 };
        let lanes = self.lanes.len().max(1) as f64;
        let lane_width = (WIDTH - 40.0) / lanes;
        let switches = self
            .steps
            .windows(2)
            .filter(|w| w[0].lane != w[1].lane)
            .count() as f64;
        let body = (self.steps.len() as f64 + switches) * ROW;
        let height = top + 28.0 + body + 20.0;
        let mut svg = Svg::new(WIDTH, height, &self.title, &self.caption);
        svg.heading(20.0, &self.title, &self.caption);
        for (i, name) in self.lanes.iter().enumerate() {
            let x = 20.0 + i as f64 * lane_width;
            svg.rect(x + 4.0, top, lane_width - 8.0, 28.0 + body, "#f6f6f6");
            svg.styled_text(
                x + lane_width / 2.0,
                top + 19.0,
                Anchor::Middle,
                "font-weight=\"bold\"",
                name,
            );
        }
        let mut y = top + 28.0;
        let mut previous: Option<usize> = None;
        for step in &self.steps {
            if let Some(p) = previous
                && p != step.lane
            {
                let mid = y + ROW / 2.0;
                svg.dashed_line(20.0, mid, WIDTH - 20.0, mid, style::DROP_REQUEST);
                let label = format!("GIL: {} → {}", self.lanes[p], self.lanes[step.lane]);
                let lx = WIDTH - 24.0;
                svg.rect(
                    lx - text_width(&label) - 10.0,
                    mid - 8.0,
                    text_width(&label) + 14.0,
                    16.0,
                    "#ffffff",
                );
                svg.text(lx, mid + 4.0, Anchor::End, &label);
                y += ROW;
            }
            let x = 20.0 + step.lane as f64 * lane_width + 10.0;
            let (fill, ink) = if step.emphasis {
                ("#ffe08a", style::INK)
            } else {
                ("#ffffff", style::FAINT)
            };
            svg.outlined_rect(x, y + 2.0, lane_width - 20.0, ROW - 4.0, fill, ink);
            svg.styled_text(x + 8.0, y + 15.0, Anchor::Start, MONO, &step.text);
            previous = Some(step.lane);
            y += ROW;
        }
        Figure::new(&self.name, &self.title, svg.finish())
    }
}
