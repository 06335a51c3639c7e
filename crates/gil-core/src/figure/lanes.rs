//! GIL timelines as swim lanes: one lane per thread, coloured by what it did (holding, waiting,
//! detached), ending with a bar where it finished, drop requests and forced drops marked, the
//! switch interval as ticks; optionally a second panel that zooms into a window.

use std::time::Duration;

use super::Figure;
use super::axis::{fmt_time, nice_step, nice_ticks, time_unit};
use super::svg::{Anchor, Svg, style};
use crate::timeline::{LaneState, MarkKind, Timeline};

const WIDTH: f64 = 800.0;
const LEFT: f64 = 80.0;
const PLOT: f64 = 700.0;
const LANE: f64 = 20.0;
const PITCH: f64 = 32.0;
/// Columns per pixel when a lane is reduced to what each column mostly shows.
const COLUMNS_PER_PX: f64 = 2.0;
/// More segments than this in one lane of a panel and the lane is drawn by columns.
const MAX_EXACT_SEGMENTS: usize = 1500;
/// More marks than this in a panel are counted in a note instead of drawn.
const MAX_MARKS: usize = 200;
/// More switch-interval ticks than this and only every n-th is drawn.
const MAX_TICKS: u128 = 140;

/// A swim-lane chart of one [`Timeline`], built with [`TimelineChart::new`] and turned into a
/// [`Figure`] by [`TimelineChart::render`].
///
/// ```
/// use gil_core::{Mode, sim::{simulate, Script, SimConfig, Step}};
/// use gil_core::figure::TimelineChart;
/// use std::time::Duration;
///
/// let ms = Duration::from_millis;
/// let cfg = SimConfig::new(Mode::Gil, ms(5), 2);
/// let run = simulate(&cfg, vec![
///     Script::new("T1", vec![Step::Bytecode(ms(20))]),
///     Script::new("T2", vec![Step::Bytecode(ms(20))]),
/// ]);
/// let fig = TimelineChart::new("two-threads", "Two threads, one GIL", &run.timeline)
///     .caption("simulated, 2 idle cores")
///     .zoom(ms(4), ms(7))
///     .render();
/// assert!(fig.svg().starts_with("<svg"));
/// ```
#[derive(Clone, Debug)]
pub struct TimelineChart<'a> {
    name: String,
    title: String,
    caption: String,
    timeline: &'a Timeline,
    window: Option<(Duration, Duration)>,
    zoom: Option<(Duration, Duration)>,
}

impl<'a> TimelineChart<'a> {
    /// A chart of the whole recording; `name` becomes the file name, `title` the heading.
    pub fn new(name: &str, title: &str, timeline: &'a Timeline) -> Self {
        TimelineChart {
            name: name.to_owned(),
            title: title.to_owned(),
            caption: String::new(),
            timeline,
            window: None,
            zoom: None,
        }
    }

    /// One line under the title: where the figures come from, what to look at.
    pub fn caption(mut self, caption: &str) -> Self {
        self.caption = caption.to_owned();
        self
    }

    /// Draw only `from..to` (times from the start of the GIL's clock) in the main panel.
    pub fn window(mut self, from: Duration, to: Duration) -> Self {
        self.window = Some((from, to.max(from)));
        self
    }

    /// Add a second panel that shows `from..to` magnified, outlined in the first.
    pub fn zoom(mut self, from: Duration, to: Duration) -> Self {
        self.zoom = Some((from, to.max(from)));
        self
    }

    /// The timeline it draws.
    pub fn recording(&self) -> &'a Timeline {
        self.timeline
    }

    /// Draw it.
    pub fn render(&self) -> Figure {
        let lanes = self.timeline.threads().len().max(1) as f64;
        let panel = 12.0 + lanes * PITCH + 30.0;
        let gap = 36.0;
        let top = if self.caption.is_empty() { 44.0 } else { 60.0 };
        let (start, end) = self.timeline.extent();
        let (from, to) = self.window.unwrap_or((start, end));
        let whole = Panel::new(self.timeline, from, to, top, "");
        let zoomed = self
            .zoom
            .map(|(zf, zt)| Panel::new(self.timeline, zf, zt, top + panel + gap, " in the zoom"));
        let notes: Vec<String> = whole
            .notes
            .iter()
            .chain(zoomed.iter().flat_map(|z| z.notes.iter()))
            .cloned()
            .collect();
        let bottom = zoomed.as_ref().map_or(top, |z| z.top) + panel;
        let height = bottom + 40.0 + 18.0 * notes.len() as f64 + 8.0;
        let mut svg = Svg::new(WIDTH, height, &self.title, &self.caption);
        svg.heading(LEFT - 60.0, &self.title, &self.caption);
        whole.draw(&mut svg, start);
        if let Some(zoomed) = &zoomed {
            // Outline the zoomed window in the first panel and join it to the second.
            let x0 = whole.x(zoomed.from);
            let x1 = whole.x(zoomed.to).max(x0 + 1.0);
            let (y0, y1) = (top, top + 12.0 + lanes * PITCH);
            svg.dashed_line(x0, y0, x0, y1, style::INK);
            svg.dashed_line(x1, y0, x1, y1, style::INK);
            svg.dashed_line(x0, y1, LEFT, zoomed.top, style::INK);
            svg.dashed_line(x1, y1, LEFT + PLOT, zoomed.top, style::INK);
            zoomed.draw(&mut svg, start);
        }
        legend(
            &mut svg,
            bottom + 14.0,
            self.timeline.switch_interval(),
            &notes,
        );
        Figure::new(&self.name, &self.title, svg.finish())
    }
}

/// One panel: the lanes of every thread over `from..to`.
struct Panel<'a> {
    timeline: &'a Timeline,
    from: Duration,
    to: Duration,
    top: f64,
    /// Switch intervals between two ticks.
    tick_every: u128,
    draw_marks: bool,
    notes: Vec<String>,
}

impl<'a> Panel<'a> {
    fn new(timeline: &'a Timeline, from: Duration, to: Duration, top: f64, which: &str) -> Self {
        let to = to.max(from + Duration::from_nanos(1));
        let interval = timeline.switch_interval().as_nanos().max(1);
        let tick_every = ((to - from).as_nanos() / interval / MAX_TICKS + 1).max(1);
        let mut notes = Vec::new();
        if tick_every > 1 {
            notes.push(format!(
                "A tick every {tick_every} switch intervals{which}: one per interval would \
                 not fit."
            ));
        }
        let marks = timeline
            .marks()
            .iter()
            .filter(|m| m.at >= from && m.at <= to)
            .count();
        if marks > MAX_MARKS {
            notes.push(format!(
                "{marks} drop requests and forced drops{which}: too dense to draw here."
            ));
        }
        Panel {
            timeline,
            from,
            to,
            top,
            tick_every,
            draw_marks: marks <= MAX_MARKS,
            notes,
        }
    }

    fn span_ns(&self) -> f64 {
        (self.to - self.from).as_nanos() as f64
    }

    fn x(&self, t: Duration) -> f64 {
        let ns = t.as_nanos() as f64 - self.from.as_nanos() as f64;
        LEFT + (ns / self.span_ns()).clamp(0.0, 1.0) * PLOT
    }

    fn lane_top(&self, lane: usize) -> f64 {
        self.top + 12.0 + lane as f64 * PITCH + (PITCH - LANE) / 2.0
    }

    fn draw(&self, svg: &mut Svg, origin: Duration) {
        self.interval_ticks(svg);
        for (lane, life) in self.timeline.threads().iter().enumerate() {
            let y = self.lane_top(lane);
            svg.text(LEFT - 8.0, y + LANE * 0.7, Anchor::End, &life.name);
            svg.rect(LEFT, y + LANE / 2.0 - 0.5, PLOT, 1.0, style::FAINT);
            for (x0, x1, state) in self.runs(life) {
                let fill = match state {
                    LaneState::Holding => style::HOLDING,
                    LaneState::Waiting => style::WAITING,
                    LaneState::Detached => style::DETACHED,
                };
                svg.rect(x0, y, x1 - x0, LANE, fill);
            }
            if let Some(died) = life.died
                && died >= self.from
                && died <= self.to
            {
                let x = self.x(died);
                svg.rect(x - 1.0, y - 3.0, 3.0, LANE + 6.0, style::INK);
            }
        }
        self.marks(svg);
        self.axis(svg, origin);
    }

    /// What to draw of one lane: its segments as they are, waiting underneath and holds and
    /// detached stretches at least a pixel wide on top (a hold of a few microseconds in a
    /// window of milliseconds is the point of a zoom, and must not vanish); or, when there are
    /// too many to draw one by one, [`Panel::columns`].
    fn runs(&self, life: &crate::timeline::ThreadLife) -> Vec<(f64, f64, LaneState)> {
        let visible: Vec<_> = self
            .timeline
            .segments(life)
            .into_iter()
            .filter(|s| s.end > self.from && s.start < self.to)
            .collect();
        if visible.len() > MAX_EXACT_SEGMENTS {
            return self.columns(life);
        }
        let mut runs: Vec<(f64, f64, LaneState)> = Vec::with_capacity(visible.len());
        for layer in [LaneState::Waiting, LaneState::Detached, LaneState::Holding] {
            for seg in visible.iter().filter(|s| s.state == layer) {
                let (x0, mut x1) = (self.x(seg.start), self.x(seg.end));
                if layer != LaneState::Waiting && x1 - x0 < 1.0 {
                    x1 = (x0 + 1.0).min(LEFT + PLOT);
                }
                match runs.last_mut() {
                    Some(last) if last.2 == layer && (last.1 - x0).abs() < 1e-6 => last.1 = x1,
                    _ => runs.push((x0, x1, layer)),
                }
            }
        }
        runs
    }

    /// Each lane reduced to columns of half a pixel, each showing what the thread did for most
    /// of its time, merged into runs: the same picture at any recording length.
    fn columns(&self, life: &crate::timeline::ThreadLife) -> Vec<(f64, f64, LaneState)> {
        let columns = (PLOT * COLUMNS_PER_PX) as usize;
        let cell = self.span_ns() / columns as f64;
        let mut time = vec![[0f64; 3]; columns];
        let from = self.from.as_nanos() as f64;
        for seg in self.timeline.segments(life) {
            let (s, e) = (
                seg.start.as_nanos() as f64 - from,
                seg.end.as_nanos() as f64 - from,
            );
            if e <= 0.0 || s >= self.span_ns() {
                continue;
            }
            let (s, e) = (s.max(0.0), e.min(self.span_ns()));
            let first = (s / cell) as usize;
            let last = ((e / cell).ceil() as usize).min(columns);
            for (c, slot) in time.iter_mut().enumerate().take(last).skip(first) {
                let (c0, c1) = (c as f64 * cell, (c + 1) as f64 * cell);
                slot[seg.state as usize] += e.min(c1) - s.max(c0);
            }
        }
        let mut runs: Vec<(f64, f64, LaneState)> = Vec::new();
        for (c, t) in time.iter().enumerate() {
            let best = [LaneState::Holding, LaneState::Waiting, LaneState::Detached]
                .into_iter()
                .filter(|s| t[*s as usize] > 0.0)
                .max_by(|a, b| t[*a as usize].total_cmp(&t[*b as usize]).then(b.cmp(a)));
            let Some(state) = best else { continue };
            let (x0, x1) = (
                LEFT + c as f64 / COLUMNS_PER_PX,
                LEFT + (c + 1) as f64 / COLUMNS_PER_PX,
            );
            match runs.last_mut() {
                Some(last) if last.2 == state && (last.1 - x0).abs() < 1e-9 => last.1 = x1,
                _ => runs.push((x0, x1, state)),
            }
        }
        runs
    }

    /// A tick above the lanes every switch interval (every n-th when they would crowd).
    fn interval_ticks(&self, svg: &mut Svg) {
        let step = self.timeline.switch_interval().as_nanos().max(1) * self.tick_every;
        let first = self.from.as_nanos().div_ceil(step);
        let last = self.to.as_nanos() / step;
        for k in first..=last {
            let x = self.x(Duration::from_nanos((k * step) as u64));
            svg.line(x, self.top + 2.0, x, self.top + 9.0, style::INK, 1.0);
        }
    }

    /// Drop requests (▼ on the waiter's lane) and forced drops (▲ on the holder's lane).
    fn marks(&self, svg: &mut Svg) {
        let lanes: Vec<u64> = self.timeline.threads().iter().map(|l| l.thread).collect();
        let visible: Vec<_> = self
            .timeline
            .marks()
            .iter()
            .filter(|m| m.at >= self.from && m.at <= self.to)
            .filter_map(|m| lanes.iter().position(|t| *t == m.thread).map(|l| (l, m)))
            .collect();
        if !self.draw_marks {
            return;
        }
        for (lane, mark) in visible {
            let x = self.x(mark.at);
            let y = self.lane_top(lane);
            match mark.kind {
                MarkKind::DropRequest => svg.polygon(
                    &[(x - 4.0, y - 6.0), (x + 4.0, y - 6.0), (x, y)],
                    style::DROP_REQUEST,
                ),
                MarkKind::ForcedDrop => svg.polygon(
                    &[
                        (x - 4.0, y + LANE + 6.0),
                        (x + 4.0, y + LANE + 6.0),
                        (x, y + LANE),
                    ],
                    style::FORCED_DROP,
                ),
            }
        }
    }

    /// The time axis under the lanes, labelled from the start of the recording.
    fn axis(&self, svg: &mut Svg, origin: Duration) {
        let lanes = self.timeline.threads().len().max(1);
        let y = self.top + 12.0 + lanes as f64 * PITCH + 2.0;
        svg.line(LEFT, y, LEFT + PLOT, y, style::INK, 1.0);
        let lo = self.from.saturating_sub(origin).as_nanos() as f64;
        let hi = self.to.saturating_sub(origin).as_nanos() as f64;
        let (unit, per) = time_unit(nice_step((hi - lo) / 7.0));
        for tick in nice_ticks(lo, hi, 7) {
            let x = self.x(origin + Duration::from_nanos(tick.round() as u64));
            svg.line(x, y, x, y + 4.0, style::INK, 1.0);
            svg.text(x, y + 16.0, Anchor::Middle, &fmt_time(tick, unit, per));
        }
    }
}

/// What the colours and marks mean, and what was too dense to draw.
fn legend(svg: &mut Svg, y: f64, interval: Duration, notes: &[String]) {
    let mut x = LEFT;
    for (fill, label) in [
        (style::HOLDING, "holds the GIL"),
        (style::WAITING, "waits for it"),
        (style::DETACHED, "detached (released it)"),
    ] {
        svg.rect(x, y - 10.0, 14.0, 12.0, fill);
        svg.text(x + 19.0, y, Anchor::Start, label);
        x += 34.0 + super::svg::text_width(label);
    }
    svg.rect(x, y - 12.0, 3.0, 16.0, style::INK);
    svg.text(x + 8.0, y, Anchor::Start, "finished");
    let y = y + 20.0;
    let mut x = LEFT;
    svg.polygon(
        &[(x, y - 9.0), (x + 8.0, y - 9.0), (x + 4.0, y - 3.0)],
        style::DROP_REQUEST,
    );
    svg.text(x + 14.0, y, Anchor::Start, "drop request");
    x += 110.0;
    svg.polygon(
        &[(x, y), (x + 8.0, y), (x + 4.0, y - 6.0)],
        style::FORCED_DROP,
    );
    svg.text(x + 14.0, y, Anchor::Start, "forced drop");
    x += 100.0;
    svg.line(x + 4.0, y - 10.0, x + 4.0, y - 3.0, style::INK, 1.0);
    let tick = format!(
        "tick: switch interval ({})",
        crate::measure::fmt_duration(interval)
    );
    svg.text(x + 12.0, y, Anchor::Start, &tick);
    for (i, note) in notes.iter().enumerate() {
        svg.text(LEFT, y + 18.0 * (i + 1) as f64, Anchor::Start, note);
    }
}
