//! A small SVG writer: shapes and text with coordinates printed the same way on every machine.

use std::fmt::Write as _;

/// Colours and type, one place for every figure.
pub(crate) mod style {
    /// Holding the GIL (free-threaded: running).
    pub const HOLDING: &str = "#1f5fa8";
    /// Wanting the GIL while another thread holds it.
    pub const WAITING: &str = "#f2b880";
    /// The GIL released by the thread's own choice.
    pub const DETACHED: &str = "#a8d5a2";
    /// A drop request.
    pub const DROP_REQUEST: &str = "#c0392b";
    /// A forced drop.
    pub const FORCED_DROP: &str = "#7d3c98";
    /// Axes, ticks, labels.
    pub const INK: &str = "#222222";
    /// Grid lines and lane backgrounds.
    pub const FAINT: &str = "#e6e6e6";
    /// Line-chart series, in order (distinguishable with the common colour-vision deficiencies).
    pub const SERIES: [&str; 6] = [
        "#1f5fa8", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9",
    ];
}

/// An SVG document being written: `width` × `height` user units, a title and a description
/// that screen readers and the book's captions use.
pub(crate) struct Svg {
    out: String,
}

impl Svg {
    pub(crate) fn new(width: f64, height: f64, title: &str, desc: &str) -> Svg {
        let mut out = String::new();
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\" \
             role=\"img\">\n<title>{}</title>\n<desc>{}</desc>\n\
             <rect class=\"background\" x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" \
             fill=\"#ffffff\"/>\n",
            escape(title),
            escape(desc),
            w = num(width),
            h = num(height),
        );
        Svg { out }
    }

    pub(crate) fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str) {
        let _ = writeln!(
            self.out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\"/>",
            num(x),
            num(y),
            num(w.max(0.0)),
            num(h.max(0.0)),
        );
    }

    pub(crate) fn outlined_rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, ink: &str) {
        let _ = writeln!(
            self.out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\" \
             stroke=\"{ink}\"/>",
            num(x),
            num(y),
            num(w.max(0.0)),
            num(h.max(0.0)),
        );
    }

    pub(crate) fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, width: f64) {
        let _ = writeln!(
            self.out,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{stroke}\" \
             stroke-width=\"{}\"/>",
            num(x1),
            num(y1),
            num(x2),
            num(y2),
            num(width),
        );
    }

    pub(crate) fn dashed_line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str) {
        let _ = writeln!(
            self.out,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{stroke}\" \
             stroke-dasharray=\"4 3\"/>",
            num(x1),
            num(y1),
            num(x2),
            num(y2),
        );
    }

    /// A closed shape through `points` (markers: triangles, diamonds).
    pub(crate) fn polygon(&mut self, points: &[(f64, f64)], fill: &str) {
        let _ = writeln!(
            self.out,
            "<polygon points=\"{}\" fill=\"{fill}\"/>",
            point_list(points)
        );
    }

    /// An open line through `points`.
    pub(crate) fn polyline(&mut self, points: &[(f64, f64)], stroke: &str, width: f64) {
        let _ = writeln!(
            self.out,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{}\" \
             stroke-linejoin=\"round\"/>",
            point_list(points),
            num(width),
        );
    }

    pub(crate) fn circle(&mut self, x: f64, y: f64, r: f64, fill: &str) {
        let _ = writeln!(
            self.out,
            "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{fill}\"/>",
            num(x),
            num(y),
            num(r),
        );
    }

    /// Text at `x, y` (baseline), anchored `start`, `middle` or `end`.
    pub(crate) fn text(&mut self, x: f64, y: f64, anchor: Anchor, text: &str) {
        self.styled_text(x, y, anchor, "", text);
    }

    /// Text with extra attributes, e.g. `font-weight="bold"` or `font-family="monospace"`.
    pub(crate) fn styled_text(&mut self, x: f64, y: f64, anchor: Anchor, attrs: &str, text: &str) {
        let anchor = match anchor {
            Anchor::Start => "",
            Anchor::Middle => " text-anchor=\"middle\"",
            Anchor::End => " text-anchor=\"end\"",
        };
        let attrs = if attrs.is_empty() {
            String::new()
        } else {
            format!(" {attrs}")
        };
        let _ = writeln!(
            self.out,
            "<text x=\"{}\" y=\"{}\"{anchor}{attrs} fill=\"{}\">{}</text>",
            num(x),
            num(y),
            style::INK,
            escape(text),
        );
    }

    /// The figure's heading and, under it, a one-line caption.
    pub(crate) fn heading(&mut self, x: f64, title: &str, caption: &str) {
        self.styled_text(
            x,
            22.0,
            Anchor::Start,
            "font-size=\"15\" font-weight=\"bold\"",
            title,
        );
        if !caption.is_empty() {
            self.styled_text(x, 40.0, Anchor::Start, "fill-opacity=\"0.8\"", caption);
        }
    }

    pub(crate) fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

/// Where text sits relative to its `x`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Anchor {
    Start,
    Middle,
    End,
}

/// A coordinate with at most two decimals and no trailing zeros: the same bytes for the same
/// figure on every machine, and small files.
pub(crate) fn num(x: f64) -> String {
    let x = if x.is_finite() { x } else { 0.0 };
    let rounded = (x * 100.0).round() / 100.0;
    let mut s = format!("{rounded:.2}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    if s == "-0" { "0".to_owned() } else { s }
}

fn point_list(points: &[(f64, f64)]) -> String {
    points
        .iter()
        .map(|(x, y)| format!("{},{}", num(*x), num(*y)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text safe inside an element or an attribute.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Roughly how wide `text` is at the default 12px sans-serif (for layout, not typesetting).
pub(crate) fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * 6.6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_stable() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(1.5), "1.5");
        assert_eq!(num(1.234), "1.23");
        assert_eq!(num(-0.001), "0");
        assert_eq!(num(f64::NAN), "0");
    }

    #[test]
    fn text_is_escaped() {
        let mut svg = Svg::new(10.0, 10.0, "a < b", "");
        svg.text(0.0, 0.0, Anchor::Start, "x & \"y\"");
        let out = svg.finish();
        assert!(out.contains("<title>a &lt; b</title>"));
        assert!(out.contains(">x &amp; &quot;y&quot;</text>"));
    }
}
