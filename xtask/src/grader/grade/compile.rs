//! Compile errors, in every track: the verdict names the learner's file, keeps the compiler's
//! messages in order, and adds a line in the course's terms for the errors learners of this
//! course meet most.

/// The line a `run` command (exercise 12's `real-gil exercise`) prints on standard error
/// before the compiler's messages when the learner's file does not compile:
/// `compile error in FILE:`.
pub const COMPILE_ERROR_HEAD: &str = "compile error in ";

/// The verdict's message for a compile error in `file`.
pub(super) fn compile_error_message(file: &str, output: &str) -> String {
    let errors = output
        .lines()
        .filter(|l| l.starts_with("error[") || l.starts_with("error:"))
        .filter(|l| !l.starts_with("error: could not compile"))
        .count();
    match errors {
        0 | 1 => format!("compile error in {file}"),
        n => format!("compile error in {file} ({n} errors)"),
    }
}

/// What the course adds to the compiler's messages, one line each.
pub fn course_notes(output: &str) -> Vec<String> {
    let mut notes = Vec::new();
    let pyo3 = output.contains("pyo3") || output.contains("Python<");
    if output.contains("no method named `allow_threads` found") && pyo3 {
        notes.push(
            "PyO3 calls it `detach` (renamed in PyO3 0.26): `py.detach(|| …)` runs the closure \
             with the GIL released."
                .to_owned(),
        );
    }
    let closure_error = output.contains("error[E0500]") || output.contains("error[E0501]");
    if closure_error && (output.contains("detach") || output.contains("allow_threads")) {
        notes.push(
            "The closure given to `detach` runs without the GIL, so it may not touch `py`: \
             get what it needs from Python before the call, and use `py` again after it."
                .to_owned(),
        );
    }
    notes
}

/// The compiler's output with the course's notes in front of it.
pub(super) fn with_notes(output: &str) -> String {
    let notes = course_notes(output);
    if notes.is_empty() {
        return output.to_owned();
    }
    let mut text: String = notes.iter().map(|n| format!("note: {n}\n")).collect();
    text.push('\n');
    text.push_str(output);
    text
}

/// A `run` command's report that the learner's file does not compile: the file and the
/// compiler's messages, from [`COMPILE_ERROR_HEAD`] on.
pub(super) fn reported_compile_error(stderr: &str) -> Option<(String, String)> {
    let at = stderr.find(COMPILE_ERROR_HEAD)?;
    let rest = &stderr[at + COMPILE_ERROR_HEAD.len()..];
    let (file, messages) = rest.split_once('\n').unwrap_or((rest, ""));
    let file = file.trim().trim_end_matches(':').to_owned();
    Some((file, messages.trim_end().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyo3_renames_and_closures_get_a_line_in_the_courses_terms() {
        let renamed = "error[E0599]: no method named `allow_threads` found for struct \
                       `pyo3::Python<'py>` in the current scope";
        assert!(course_notes(renamed)[0].contains("`detach`"));
        let closure = "error[E0500]: closure requires unique access to `*py` but it is \
                       already borrowed\n  | py.detach(|| { py.check_point() })";
        assert!(course_notes(closure)[0].contains("may not touch `py`"));
        assert!(course_notes("error[E0308]: mismatched types").is_empty());
        assert!(with_notes(renamed).starts_with("note: PyO3 calls it `detach`"));
    }

    #[test]
    fn a_run_commands_report_names_the_file_and_keeps_the_messages_in_order() {
        let stderr = "real-gil: building …\ncompile error in exercises/python/12.rs:\n\
                      error[E0599]: first\nerror: second\n";
        let (file, messages) = reported_compile_error(stderr).unwrap();
        assert_eq!(file, "exercises/python/12.rs");
        assert_eq!(messages, "error[E0599]: first\nerror: second");
        assert_eq!(
            compile_error_message(&file, &messages),
            "compile error in exercises/python/12.rs (2 errors)"
        );
        assert_eq!(reported_compile_error("error: other\n"), None);
    }
}
