//! Tick positions and labels: round numbers for value axes, round durations for time axes.

/// Tick values from `lo` to `hi`: multiples of 1, 2 or 5 × 10^k, about `target` of them.
pub(crate) fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let step = nice_step((hi - lo).abs() / target.max(1) as f64);
    if step <= 0.0 || !step.is_finite() {
        return vec![lo];
    }
    let first = (lo / step).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// The smallest of 1, 2, 5 × 10^k that is at least `raw`.
pub(crate) fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&s| s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

/// The top of a value axis that starts at zero: the first nice tick at or above `max`.
pub(crate) fn nice_max(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let step = nice_step(max / 5.0);
    (max / step - 1e-9).ceil() * step
}

/// A value label: `0.5`, `12`, `3.4k`, `1.2M`.
pub(crate) fn fmt_value(v: f64) -> String {
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    format!("{}{suffix}", trim(scaled))
}

/// Up to three significant decimals, no trailing zeros.
fn trim(v: f64) -> String {
    let decimals = if v.abs() >= 100.0 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else {
        2
    };
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" { "0".to_owned() } else { s }
}

/// The unit a time axis with ticks `step_ns` apart is labelled in, and nanoseconds per unit.
pub(crate) fn time_unit(step_ns: f64) -> (&'static str, f64) {
    if step_ns >= 1e9 {
        ("s", 1e9)
    } else if step_ns >= 1e6 {
        ("ms", 1e6)
    } else if step_ns >= 1e3 {
        ("µs", 1e3)
    } else {
        ("ns", 1.0)
    }
}

/// A time label in an axis's unit: `0`, `2.5 ms`.
pub(crate) fn fmt_time(ns: f64, unit: &str, per: f64) -> String {
    if ns.abs() < 0.5 {
        return "0".to_owned();
    }
    format!("{} {unit}", trim(ns / per))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_one_two_or_five() {
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(1.3), 2.0);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(70.0), 100.0);
        assert_eq!(
            nice_ticks(0.0, 10.0, 5),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
        assert_eq!(nice_max(7.3), 8.0);
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(fmt_value(12_345.0), "12.3k");
        assert_eq!(fmt_value(0.5), "0.5");
        assert_eq!(fmt_value(2_000_000.0), "2M");
        let (unit, per) = time_unit(nice_step(20e6 / 5.0));
        assert_eq!(unit, "ms");
        assert_eq!(fmt_time(4e6, unit, per), "4 ms");
        assert_eq!(fmt_time(2.5e3, "µs", 1e3), "2.5 µs");
    }
}
