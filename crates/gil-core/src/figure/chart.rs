//! Line charts for the lessons' sweeps: switch interval against switches per second, threads
//! against time, cores against speed-up.

use super::Figure;
use super::axis::{fmt_value, nice_max, nice_ticks};
use super::svg::{Anchor, Svg, style, text_width};

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const BOTTOM: f64 = 60.0;

/// How an axis maps values to positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Evenly spaced values, from zero.
    Linear,
    /// Powers of two evenly spaced (thread and core counts: 1, 2, 4, … 64).
    Log2,
    /// Powers of ten evenly spaced (switch intervals from 0.1 ms to 100 ms).
    Log10,
}

/// One line of a [`LineChart`].
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Its name in the legend.
    pub name: String,
    /// Its points, `(x, y)`, drawn in this order.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A series named `name` through `points`.
    pub fn new(name: &str, points: impl IntoIterator<Item = (f64, f64)>) -> Series {
        Series {
            name: name.to_owned(),
            points: points.into_iter().collect(),
        }
    }
}

/// A line chart, built with [`LineChart::new`] and drawn with [`LineChart::render`].
///
/// ```
/// use gil_core::figure::{LineChart, Scale, Series};
///
/// let fig = LineChart::new("threads", "Time against threads", "threads", "seconds")
///     .x_scale(Scale::Log2)
///     .series(Series::new("GIL", [(1.0, 1.0), (2.0, 1.0), (4.0, 1.01)]))
///     .series(Series::new("free-threaded", [(1.0, 1.0), (2.0, 0.5), (4.0, 0.5)]))
///     .render();
/// assert!(fig.svg().contains("free-threaded"));
/// ```
#[derive(Clone, Debug)]
pub struct LineChart {
    name: String,
    title: String,
    caption: String,
    x_label: String,
    y_label: String,
    x_scale: Scale,
    y_scale: Scale,
    series: Vec<Series>,
}

impl LineChart {
    /// An empty chart; `name` becomes the file name, `title` the heading.
    pub fn new(name: &str, title: &str, x_label: &str, y_label: &str) -> LineChart {
        LineChart {
            name: name.to_owned(),
            title: title.to_owned(),
            caption: String::new(),
            x_label: x_label.to_owned(),
            y_label: y_label.to_owned(),
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            series: Vec::new(),
        }
    }

    /// One line under the title.
    pub fn caption(mut self, caption: &str) -> Self {
        self.caption = caption.to_owned();
        self
    }

    /// How x values are spaced (default linear).
    pub fn x_scale(mut self, scale: Scale) -> Self {
        self.x_scale = scale;
        self
    }

    /// How y values are spaced (default linear from zero).
    pub fn y_scale(mut self, scale: Scale) -> Self {
        self.y_scale = scale;
        self
    }

    /// Add a line.
    pub fn series(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Draw it.
    pub fn render(&self) -> Figure {
        let top = if self.caption.is_empty() { 60.0 } else { 76.0 };
        let mut svg = Svg::new(WIDTH, HEIGHT, &self.title, &self.caption);
        svg.heading(20.0, &self.title, &self.caption);
        let points = || {
            self.series
                .iter()
                .flat_map(|s| s.points.iter().copied())
                .filter(|(x, y)| x.is_finite() && y.is_finite())
        };
        let x = Axis::new(self.x_scale, points().map(|p| p.0), LEFT, WIDTH - RIGHT);
        let y = Axis::new(self.y_scale, points().map(|p| p.1), HEIGHT - BOTTOM, top);

        // Grid, ticks and labels.
        for (v, label) in y.ticks() {
            let py = y.pos(v);
            svg.line(LEFT, py, WIDTH - RIGHT, py, style::FAINT, 1.0);
            svg.text(LEFT - 6.0, py + 4.0, Anchor::End, &label);
        }
        for (v, label) in x.ticks() {
            let px = x.pos(v);
            svg.line(px, top, px, HEIGHT - BOTTOM, style::FAINT, 1.0);
            svg.text(px, HEIGHT - BOTTOM + 18.0, Anchor::Middle, &label);
        }
        svg.line(
            LEFT,
            HEIGHT - BOTTOM,
            WIDTH - RIGHT,
            HEIGHT - BOTTOM,
            style::INK,
            1.0,
        );
        svg.line(LEFT, top, LEFT, HEIGHT - BOTTOM, style::INK, 1.0);
        svg.text(
            (LEFT + WIDTH - RIGHT) / 2.0,
            HEIGHT - 18.0,
            Anchor::Middle,
            &self.x_label,
        );
        svg.styled_text(
            0.0,
            0.0,
            Anchor::Middle,
            &format!(
                "transform=\"translate(18 {}) rotate(-90)\"",
                super::svg::num((top + HEIGHT - BOTTOM) / 2.0)
            ),
            &self.y_label,
        );

        // The lines, then the legend over them, in the corner of the plot they cross least.
        let mut drawn: Vec<(f64, f64)> = Vec::new();
        for (i, series) in self.series.iter().enumerate() {
            let colour = style::SERIES[i % style::SERIES.len()];
            let pts: Vec<(f64, f64)> = series
                .points
                .iter()
                .filter(|(px, py)| x.accepts(*px) && y.accepts(*py))
                .map(|(px, py)| (x.pos(*px), y.pos(*py)))
                .collect();
            svg.polyline(&pts, colour, 2.0);
            for (px, py) in &pts {
                svg.circle(*px, *py, 3.5, colour);
            }
            for pair in pts.windows(2) {
                let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
                drawn.extend((0..=16).map(|k| {
                    let t = f64::from(k) / 16.0;
                    (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)
                }));
            }
            drawn.extend(pts);
        }
        let legend_width = self
            .series
            .iter()
            .map(|s| text_width(&s.name))
            .fold(0.0, f64::max)
            + 40.0;
        let legend_height = 10.0 + 18.0 * self.series.len() as f64;
        let (left, right) = (LEFT + 10.0, WIDTH - RIGHT - 10.0 - legend_width);
        let (upper, lower) = (top + 8.0, HEIGHT - BOTTOM - 8.0 - legend_height);
        let (lx, ly) = [(left, upper), (right, upper), (right, lower), (left, lower)]
            .into_iter()
            .min_by_key(|(cx, cy)| {
                drawn
                    .iter()
                    .filter(|(px, py)| {
                        (cx - 4.0..=cx + legend_width + 4.0).contains(px)
                            && (cy - 4.0..=cy + legend_height + 4.0).contains(py)
                    })
                    .count()
            })
            .unwrap_or((left, upper));
        svg.outlined_rect(lx, ly, legend_width, legend_height, "#ffffff", style::FAINT);
        for (i, series) in self.series.iter().enumerate() {
            let colour = style::SERIES[i % style::SERIES.len()];
            let row = ly + 16.0 + 18.0 * i as f64;
            svg.line(lx + 8.0, row - 4.0, lx + 26.0, row - 4.0, colour, 2.0);
            svg.circle(lx + 17.0, row - 4.0, 3.5, colour);
            svg.text(lx + 32.0, row, Anchor::Start, &series.name);
        }
        Figure::new(&self.name, &self.title, svg.finish())
    }
}

/// The nearest of 1, 2, 5 × 10^k above (`up`) or below `v`: log axes end on round values
/// close to the data.
fn round_125(v: f64, up: bool) -> f64 {
    let magnitude = 10f64.powf(v.log10().floor());
    let steps = [1.0, 2.0, 5.0, 10.0].map(|m| m * magnitude);
    if up {
        steps
            .into_iter()
            .find(|s| *s >= v * (1.0 - 1e-9))
            .unwrap_or(v)
    } else {
        steps
            .into_iter()
            .rev()
            .find(|s| *s <= v * (1.0 + 1e-9))
            .unwrap_or(v)
    }
}

/// One axis: its scale, the range of values it shows and the pixels it spans.
struct Axis {
    scale: Scale,
    lo: f64,
    hi: f64,
    from_px: f64,
    to_px: f64,
}

impl Axis {
    fn new(scale: Scale, values: impl Iterator<Item = f64>, from_px: f64, to_px: f64) -> Axis {
        let values: Vec<f64> = values
            .filter(|v| scale == Scale::Linear || *v > 0.0)
            .collect();
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = match scale {
            _ if values.is_empty() => (0.0, 1.0),
            Scale::Linear => (min.min(0.0), nice_max(max)),
            Scale::Log2 => (min.log2().floor().exp2(), max.log2().ceil().exp2()),
            Scale::Log10 => (round_125(min, false), round_125(max, true)),
        };
        let hi = if hi > lo { hi } else { lo * 2.0 + 1.0 };
        Axis {
            scale,
            lo,
            hi,
            from_px,
            to_px,
        }
    }

    fn accepts(&self, v: f64) -> bool {
        v.is_finite() && (self.scale == Scale::Linear || v > 0.0)
    }

    fn fraction(&self, v: f64) -> f64 {
        match self.scale {
            Scale::Linear => (v - self.lo) / (self.hi - self.lo),
            Scale::Log2 => (v.log2() - self.lo.log2()) / (self.hi.log2() - self.lo.log2()),
            Scale::Log10 => (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10()),
        }
    }

    fn pos(&self, v: f64) -> f64 {
        self.from_px + self.fraction(v) * (self.to_px - self.from_px)
    }

    fn ticks(&self) -> Vec<(f64, String)> {
        let values: Vec<f64> = match self.scale {
            Scale::Linear => nice_ticks(self.lo, self.hi, 6),
            Scale::Log2 => {
                let (a, b) = (self.lo.log2().round() as i32, self.hi.log2().round() as i32);
                (a..=b).map(|e| 2f64.powi(e)).collect()
            }
            Scale::Log10 => {
                let (a, b) = (
                    self.lo.log10().round() as i32,
                    self.hi.log10().round() as i32,
                );
                (a - 1..=b)
                    .flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(e)))
                    .filter(|v| *v >= self.lo * (1.0 - 1e-9) && *v <= self.hi * (1.0 + 1e-9))
                    .collect()
            }
        };
        values.into_iter().map(|v| (v, fmt_value(v))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axes_end_on_round_values_near_the_data() {
        assert_eq!(round_125(0.1, false), 0.1);
        assert_eq!(round_125(37.0, true), 50.0);
        assert_eq!(round_125(37.0, false), 20.0);
        let axis = Axis::new(Scale::Log10, [0.1, 20.0].into_iter(), 0.0, 100.0);
        let ticks: Vec<f64> = axis.ticks().into_iter().map(|t| t.0).collect();
        assert_eq!(ticks.first(), Some(&0.1));
        assert_eq!(ticks.last(), Some(&20.0));
    }

    #[test]
    fn the_legend_avoids_the_corner_the_lines_cross() {
        let falling = LineChart::new("f", "F", "x", "y")
            .series(Series::new("falling", [(0.0, 10.0), (10.0, 0.0)]))
            .render();
        let legend_x: f64 = falling
            .svg()
            .lines()
            .find(|l| l.starts_with("<rect") && l.contains("stroke="))
            .and_then(|l| l.split("x=\"").nth(1))
            .and_then(|v| v.split('"').next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        assert!(
            legend_x > WIDTH / 2.0,
            "legend at x = {legend_x}, over the line"
        );
    }
}
