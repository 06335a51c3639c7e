//! Reading the value of one `label: value` line as a number.
//!
//! The rules: the first number in the text, thousands separators `,` and `_`
//! removed; a time unit right after it (`s`, `ms`, `µs`/`us`, `ns`) converts it to seconds; an
//! `x` after it (`1.04x`) is ignored; `true`/`yes` read as 1 and `false`/`no` as 0.

/// A time unit found after a number; the number itself is always stored in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// `s`
    Seconds,
    /// `ms`
    Millis,
    /// `µs` or `us`
    Micros,
    /// `ns`
    Nanos,
}

impl Unit {
    fn parse(word: &str) -> Option<Unit> {
        match word {
            "s" => Some(Unit::Seconds),
            "ms" => Some(Unit::Millis),
            "µs" | "μs" | "us" => Some(Unit::Micros),
            "ns" => Some(Unit::Nanos),
            _ => None,
        }
    }

    /// How many of this unit make a second.
    pub fn per_second(self) -> f64 {
        match self {
            Unit::Seconds => 1.0,
            Unit::Millis => 1e3,
            Unit::Micros => 1e6,
            Unit::Nanos => 1e9,
        }
    }

    /// The unit's symbol as the lessons print it.
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Seconds => "s",
            Unit::Millis => "ms",
            Unit::Micros => "µs",
            Unit::Nanos => "ns",
        }
    }
}

/// A number read from a value, in seconds if it carried a time unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Number {
    /// The value (seconds for times).
    pub value: f64,
    /// The unit it was written in, to print expected values the same way.
    pub unit: Option<Unit>,
}

/// Read a value's number, or `None` when it holds none.
pub fn number(text: &str) -> Option<Number> {
    if let Some(truth) = truth_word(text) {
        return Some(Number {
            value: if truth { 1.0 } else { 0.0 },
            unit: None,
        });
    }
    let (_, end, value) = first_number(text)?;
    let (value, unit) = match Unit::parse(unit_word(&text[end..])) {
        Some(unit) => (value / unit.per_second(), Some(unit)),
        None => (value, None),
    };
    Some(Number { value, unit })
}

/// Does the value begin with a number (or a truth word)? Such values compare as numbers in an
/// `expect = "solution"` check; any other value compares as text.
pub fn is_numeric(text: &str) -> bool {
    let text = text.trim_start();
    truth_word(text).is_some() || first_number(text).is_some_and(|(start, _, _)| start == 0)
}

/// Is the value a truth word (`true`/`yes`, `false`/`no`), and which?
pub fn truth(text: &str) -> Option<bool> {
    truth_word(text)
}

/// "yes" or "no".
pub fn yes_no(truth: bool) -> &'static str {
    if truth { "yes" } else { "no" }
}

/// `true`/`yes` or `false`/`no` as the value's first word.
fn truth_word(text: &str) -> Option<bool> {
    let word: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric())
        .collect();
    match word.to_ascii_lowercase().as_str() {
        "true" | "yes" => Some(true),
        "false" | "no" => Some(false),
        _ => None,
    }
}

/// The byte range and value of the first number in `text`.
fn first_number(text: &str) -> Option<(usize, usize, f64)> {
    let bytes = text.as_bytes();
    let digit = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_digit);
    let first = (0..bytes.len()).find(|&i| digit(i))?;
    // A minus sign counts when it sits right before the digits and does not end a word (`T1-2`).
    let start = if first > 0
        && bytes[first - 1] == b'-'
        && (first < 2 || !bytes[first - 2].is_ascii_alphanumeric())
    {
        first - 1
    } else {
        first
    };
    let mut digits = String::new();
    if start < first {
        digits.push('-');
    }
    // `_` before a digit, or `,` before exactly three digits, separates thousands.
    let is_separator = |i: usize| match bytes.get(i) {
        Some(b'_') => digit(i + 1),
        Some(b',') => (1..=3).all(|k| digit(i + k)) && !digit(i + 4),
        _ => false,
    };
    let mut i = first;
    loop {
        if digit(i) {
            digits.push(bytes[i] as char);
            i += 1;
        } else if is_separator(i) {
            i += 1;
        } else {
            break;
        }
    }
    if bytes.get(i) == Some(&b'.') && digit(i + 1) {
        digits.push('.');
        i += 1;
        while digit(i) {
            digits.push(bytes[i] as char);
            i += 1;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(i + 1), Some(b'-' | b'+')));
        if digit(i + 1 + sign) {
            digits.push('e');
            digits.push_str(&text[i + 1..i + 1 + sign]);
            i += 1 + sign;
            while digit(i) {
                digits.push(bytes[i] as char);
                i += 1;
            }
        }
    }
    digits.parse().ok().map(|value| (start, i, value))
}

/// The word right after a number (after optional spaces): a candidate unit.
fn unit_word(rest: &str) -> &str {
    let rest = rest.trim_start();
    let end = rest
        .char_indices()
        .find(|&(_, c)| !c.is_alphabetic())
        .map_or(rest.len(), |(i, _)| i);
    &rest[..end]
}

/// A number for people: integers without a fraction, others with up to six significant digits,
/// in `unit` when one is given (the value is in seconds then).
pub fn show(value: f64, unit: Option<Unit>) -> String {
    let (value, suffix) = match unit {
        Some(unit) => (value * unit.per_second(), format!(" {}", unit.symbol())),
        None => (value, String::new()),
    };
    let text = if !value.is_finite() {
        format!("{value}")
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else if value != 0.0 && value.abs() < 1e-4 {
        format!("{value:.3e}")
    } else {
        let decimals = (5 - value.abs().log10().floor() as i32).clamp(0, 9) as usize;
        let fixed = format!("{value:.decimals$}");
        // Only a fraction loses its trailing zeros: "4131.0" becomes "4131", "41310" stays.
        if fixed.contains('.') {
            fixed.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            fixed
        }
    };
    text + &suffix
}

/// `value` shown the way `like` (what a program printed) shows its number: in its time unit,
/// and with thousands separators if it uses them.
pub fn show_like(value: f64, like: &str) -> String {
    let shown = show(value, number(like).and_then(|n| n.unit));
    let bytes = like.as_bytes();
    let grouped = (1..bytes.len().saturating_sub(3)).any(|i| {
        matches!(bytes[i], b',' | b'_')
            && bytes[i - 1].is_ascii_digit()
            && bytes[i + 1..=i + 3].iter().all(u8::is_ascii_digit)
    });
    if grouped { group(&shown) } else { shown }
}

/// Thousands separators in the first run of digits: "4000000 ms" becomes "4,000,000 ms".
fn group(text: &str) -> String {
    let start = text.find(|c: char| c.is_ascii_digit()).unwrap_or(0);
    let end = text[start..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(text.len(), |i| start + i);
    let digits = &text[start..end];
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    format!("{}{out}{}", &text[..start], &text[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Option<f64> {
        number(text).map(|n| n.value)
    }

    #[test]
    fn plain_and_separated_numbers() {
        assert_eq!(value("1000000"), Some(1e6));
        assert_eq!(value("1,000,000"), Some(1e6));
        assert_eq!(value("1_000_000"), Some(1e6));
        assert_eq!(value("  42 lost updates"), Some(42.0));
        assert_eq!(value("-3.5"), Some(-3.5));
        assert_eq!(value("2.5e3"), Some(2500.0));
        assert_eq!(value("nothing here"), None);
        assert_eq!(value(""), None);
    }

    #[test]
    fn the_first_number_wins() {
        assert_eq!(value("3 of 10 threads"), Some(3.0));
        assert_eq!(value("T1-2 held it"), Some(1.0));
        assert_eq!(value("(1.5, 2.0)"), Some(1.5));
        assert_eq!(
            value("4,3"),
            Some(4.0),
            "a comma is a separator only before three digits"
        );
    }

    fn close(text: &str, expected: f64) -> bool {
        value(text).is_some_and(|v| (v - expected).abs() <= 1e-12 * expected.abs())
    }

    #[test]
    fn time_units_become_seconds() {
        assert!(close("1.50 s", 1.5));
        assert!(close("45.60 ms", 0.0456));
        assert!(close("789.0 µs", 789e-6));
        assert!(
            close("789.0 μs", 789e-6),
            "Greek mu as well as the micro sign"
        );
        assert!(close("789us", 789e-6));
        assert!(close("12.0 ns", 12e-9));
        assert_eq!(
            value("3 switches"),
            Some(3.0),
            "words that are not units are ignored"
        );
        assert_eq!(number("45.60 ms").and_then(|n| n.unit), Some(Unit::Millis));
    }

    #[test]
    fn ratios_ignore_their_x() {
        assert_eq!(value("1.04x"), Some(1.04));
        assert_eq!(value("0.98x slower"), Some(0.98));
    }

    #[test]
    fn truth_words_read_as_one_and_zero() {
        assert_eq!(value("true"), Some(1.0));
        assert_eq!(value("Yes (every time)"), Some(1.0));
        assert_eq!(value("false"), Some(0.0));
        assert_eq!(value("no"), Some(0.0));
        assert_eq!(value("none"), None);
    }

    #[test]
    fn numeric_values_start_with_a_number() {
        assert!(is_numeric("1,000 ms"));
        assert!(is_numeric("-2"));
        assert!(is_numeric("yes"));
        assert!(!is_numeric("T1 T2 T1"));
        assert!(!is_numeric("hello"));
    }

    #[test]
    fn numbers_are_shown_readably() {
        assert_eq!(show(372477.0, None), "372477");
        assert_eq!(show(1.5, None), "1.5");
        assert_eq!(show(2.0 / 3.0, None), "0.666667");
        assert_eq!(show(0.0456, Some(Unit::Millis)), "45.6 ms");
        assert_eq!(show(1.2e-7, None), "1.200e-7");
        assert_eq!(show(0.4131, Some(Unit::Millis)), "413.1 ms");
        assert_eq!(show(41310.0, None), "41310", "an integer keeps its zeros");
        assert_eq!(show(0.04131, Some(Unit::Nanos)), "41310000 ns");
    }

    #[test]
    fn expected_values_take_the_printed_form() {
        assert_eq!(show_like(4_000_000.0, "3,999,998"), "4,000,000");
        assert_eq!(show_like(4_000_000.0, "3999998"), "4000000");
        assert_eq!(show_like(1500.0, "1_499"), "1,500");
        assert_eq!(show_like(0.005, "31.2 ms"), "5 ms");
        assert_eq!(show_like(-1234.5, "-1,000.5"), "-1,234.5");
    }
}
