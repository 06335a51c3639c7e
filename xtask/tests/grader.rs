//! The grader graded: each fixture exercise in `tests/fixtures` (a stand-alone course with one
//! exercise per way to go wrong) must get its own verdict, and the other commands must do what
//! they say without ever touching a learner's file uninvited.
//!
//! Each test copies the fixtures to its own directory under cargo's scratch dir
//! (`CARGO_TARGET_TMPDIR`), so the fixture builds stay cached from one test run to the next and
//! no test sees another's progress file.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A fresh copy of the fixture course, named after the test.
fn course(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("grader-fixtures")
        .join(name);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for dir in ["exercises", "solutions", "kit", ".git"] {
        let _ = std::fs::remove_dir_all(root.join(dir));
    }
    copy_dir(&fixtures, &root);
    let _ = std::fs::remove_file(root.join("target/grader/progress.json"));
    root
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn xtask(root: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("CARGO_TARGET_DIR")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

fn run(root: &Path, args: &[&str]) -> Output {
    xtask(root, args).output().unwrap()
}

/// `cargo xtask check NAME --json`, parsed.
fn check(root: &Path, name: &str) -> Value {
    let output = run(root, &["check", name, "--json"]);
    let text = String::from_utf8_lossy(&output.stdout);
    let verdict: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "no JSON verdict ({e}):\n{text}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(
        output.status.success(),
        verdict["passed"] == true,
        "exit code agrees with the verdict"
    );
    assert_eq!(verdict["exercise"], name);
    verdict
}

fn assert_verdict(verdict: &Value, kind: &str, message_part: &str) {
    assert_eq!(verdict["verdict"], kind, "{verdict:#}");
    let message = verdict["message"].as_str().unwrap();
    assert!(message.contains(message_part), "message: {message}");
    if kind != "pass" && kind != "skipped" {
        assert_eq!(
            verdict["hint"],
            format!("cargo xtask hint {}", verdict["exercise"].as_str().unwrap())
        );
    }
}

#[test]
fn a_correct_program_passes_every_run() {
    let root = course("correct");
    let verdict = check(&root, "correct");
    assert_verdict(&verdict, "pass", "every check holds on all 3 runs");
    assert_eq!(
        verdict["run"], 3,
        "a race exercise runs as often as the manifest says"
    );
    assert_eq!(verdict["hint"], Value::Null);
    let checks = verdict["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 5);
    assert!(checks.iter().all(|c| c["passed"] == true));
    let (a, b) = (
        verdict["params"]["a"].as_i64().unwrap(),
        verdict["params"]["b"].as_i64().unwrap(),
    );
    assert!((2..=9).contains(&a) && (100..=999).contains(&b));
    assert_eq!(checks[0]["actual"], (a * b).to_string());
    // After a pass, the lesson and where to go next, in JSON as for people.
    assert_eq!(verdict["learned"], "What this fixture showed.");
    let next = verdict["next"].as_str().unwrap();
    assert!(next.starts_with("cargo xtask check "), "{next}");
    assert_eq!(verdict["all_done"], false);
    let shown = run(&root, &["check", "correct"]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.contains("What this showed:\n  What this fixture showed.\n"),
        "{text}"
    );
    assert!(text.contains(&format!("\n  {next}\n")), "{text}");
}

#[test]
fn code_that_does_not_compile_shows_the_compiler_output() {
    let root = course("compile_error");
    let verdict = check(&root, "compile_error");
    assert_verdict(&verdict, "compile error", "compile error");
    let output = verdict["compiler_output"].as_str().unwrap();
    assert!(output.contains("mismatched types"), "{output}");
    assert!(
        output.contains("exercises/src/bin/compile_error.rs"),
        "{output}"
    );
}

#[test]
fn a_todo_left_in_place_says_not_done_yet() {
    let root = course("todo");
    let verdict = check(&root, "todo");
    assert_verdict(&verdict, "panic", "not done yet: the TODO is still there");
    assert_eq!(verdict["todo"], true);
    let message = verdict["message"].as_str().unwrap();
    assert!(message.contains("exercises/src/bin/todo.rs:4"), "{message}");
}

#[test]
fn a_panic_is_a_panic() {
    let root = course("panics");
    let verdict = check(&root, "panics");
    assert_verdict(&verdict, "panic", "index out of bounds");
    assert_eq!(verdict["todo"], false);
}

#[test]
fn a_non_zero_exit_shows_the_error() {
    let root = course("exits_nonzero");
    let verdict = check(&root, "exits_nonzero");
    assert_verdict(
        &verdict,
        "non-zero exit",
        "exited with code 3: error: cannot find",
    );
}

#[test]
fn a_hang_times_out_and_its_children_die_with_it() {
    let root = course("hangs");
    let started = Instant::now();
    let verdict = check(&root, "hangs");
    assert_verdict(&verdict, "timeout", "did not finish in 2 s");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    let stdout = verdict["stdout"].as_str().unwrap();
    let pid: i32 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("child pid:"))
        .expect("the fixture prints its child's pid")
        .trim()
        .parse()
        .unwrap();
    // The child was killed with the group; give init a moment to reap it.
    let gone = (0..50).any(|_| {
        let alive = Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z "));
        if alive {
            std::thread::sleep(Duration::from_millis(100));
        }
        !alive
    });
    assert!(
        gone,
        "the hung program's child process {pid} outlived the check"
    );
}

#[test]
fn an_output_flood_is_cut_off() {
    let root = course("floods");
    let started = Instant::now();
    let verdict = check(&root, "floods");
    assert_verdict(&verdict, "output flood", "printed more than 1 MiB");
    assert!(verdict["stdout"].as_str().unwrap().len() <= 1 << 20);
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn a_hard_coded_answer_fails_on_the_drawn_parameters() {
    let root = course("hard_coded");
    let verdict = check(&root, "hard_coded");
    assert_verdict(&verdict, "wrong result", "`product` must equal a * b");
    let failed: Vec<&Value> = verdict["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .collect();
    assert_eq!(failed.len(), 1, "only the product is wrong: {failed:?}");
    assert_eq!(failed[0]["actual"], "1009");
}

#[test]
fn a_wrong_answer_shows_expected_and_actual() {
    let root = course("wrong_answer");
    let verdict = check(&root, "wrong_answer");
    let (a, b) = (
        verdict["params"]["a"].as_i64().unwrap(),
        verdict["params"]["b"].as_i64().unwrap(),
    );
    assert_verdict(
        &verdict,
        "wrong result",
        &format!("= {}, got {}", a * b, a * b + 1),
    );
    // The human form shows the same as a diff, without colour when not on a terminal.
    let output = run(&root, &["check", "wrong_answer"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("\n    - product: "), "{text}");
    assert!(text.contains("\n    + product: "), "{text}");
    assert!(
        text.contains("stuck? cargo xtask hint wrong_answer"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "no colour off a terminal: {text:?}");
}

#[test]
fn a_check_can_compare_with_the_solutions_run() {
    let root = course("too_slow");
    let verdict = check(&root, "too_slow");
    assert_verdict(
        &verdict,
        "wrong result",
        "`speedup` must be at least 0.5 * solution = 1",
    );
    let speedup = &verdict["checks"][3];
    assert_eq!(speedup["solution"], "2.00x");
}

#[test]
fn a_missing_tool_skips_without_passing() {
    let root = course("needs_tool");
    let verdict = check(&root, "needs_tool");
    assert_verdict(&verdict, "skipped", "needs gil-lessons-no-such-tool");
    assert_eq!(verdict["passed"], false);
}

#[test]
fn a_custom_run_command_runs_the_learners_file() {
    let root = course("custom_run");
    let verdict = check(&root, "custom_run");
    assert_verdict(&verdict, "wrong result", "got 0");
    assert!(
        verdict["command"]
            .as_str()
            .unwrap()
            .starts_with("sh exercises/scripts/custom_run.sh ")
    );
    std::fs::copy(
        root.join("solutions/scripts/custom_run.sh"),
        root.join("exercises/scripts/custom_run.sh"),
    )
    .unwrap();
    assert_verdict(&check(&root, "custom_run"), "pass", "pass");
}

#[test]
fn a_copied_solution_passes() {
    let root = course("copied");
    for name in ["wrong_answer", "todo", "compile_error"] {
        std::fs::copy(
            root.join(format!("solutions/src/bin/{name}.rs")),
            root.join(format!("exercises/src/bin/{name}.rs")),
        )
        .unwrap();
        assert_verdict(&check(&root, name), "pass", "pass");
    }
}

#[test]
fn a_seed_draws_the_same_parameters_again() {
    let root = course("seed");
    let first = run(&root, &["check", "correct", "--json", "--seed", "12345"]);
    let second = run(&root, &["check", "correct", "--json", "--seed", "12345"]);
    let params = |o: &Output| serde_json::from_slice::<Value>(&o.stdout).unwrap()["params"].clone();
    assert_eq!(params(&first), params(&second));
}

#[test]
fn bad_input_is_one_line_never_a_panic() {
    let root = course("bad_input");
    let cases: [&[&str]; 4] = [
        &["check", "no_such_exercise"],
        &["hint", "no_such_exercise"],
        &["hint", "correct", "--level", "4"],
        &["reset", "no_such_exercise", "--yes"],
    ];
    for args in cases {
        let output = run(&root, args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let manifest = root.join("exercises/exercises.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replacen("runs = 3", "runs = 3\nretries = 2", 1),
    )
    .unwrap();
    let output = run(&root, &["check", "correct"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("exercises/exercises.toml: line 10: unknown field `retries`"),
        "{stderr}"
    );
}

#[test]
fn list_shows_progress_and_what_is_next() {
    let root = course("list");
    check(&root, "correct");
    check(&root, "wrong_answer");
    let output = run(&root, &["list"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("1/20 passed"), "{text}");
    assert!(text.contains("✓ pass"), "{text}");
    assert!(text.contains("✗ wrong result"), "{text}");
    assert!(text.contains("· not checked"), "{text}");
    let rows: Value = serde_json::from_slice(&run(&root, &["list", "--json"]).stdout).unwrap();
    let status = |i: usize| rows[i]["status"].as_str().unwrap().to_owned();
    assert_eq!(
        (status(0), status(1), status(8)),
        ("pass".into(), "not checked".into(), "fail".into())
    );
    assert_eq!(
        rows[1]["next"], true,
        "the first exercise not passing is next"
    );
    // `check` without a name grades that one.
    let next: Value = serde_json::from_slice(&run(&root, &["check", "--json"]).stdout).unwrap();
    assert_eq!(next["exercise"], "compile_error");
    // An edit after the check is noticed.
    std::fs::write(root.join("exercises/src/bin/correct.rs"), "fn main() {}\n").unwrap();
    let rows: Value = serde_json::from_slice(&run(&root, &["list", "--json"]).stdout).unwrap();
    assert_eq!(rows[0]["edited_since"], true);
}

#[test]
fn hints_come_one_tier_at_a_time() {
    let root = course("hints");
    let hint = |args: &[&str]| String::from_utf8_lossy(&run(&root, args).stdout).into_owned();
    let first = hint(&["hint", "correct"]);
    assert!(
        first.contains("1. Multiply a by b.") && !first.contains("2. "),
        "{first}"
    );
    let second = hint(&["hint", "correct"]);
    assert!(
        second.contains("2. Use `*`.") && !second.contains("3. "),
        "{second}"
    );
    let all = hint(&["hint", "correct", "--level", "3"]);
    assert!(
        all.contains("3. kit::report") && all.contains("last of 3"),
        "{all}"
    );
}

#[test]
fn a_damaged_progress_file_neither_panics_nor_reaches_the_terminal_raw() {
    let root = course("damaged");
    std::fs::create_dir_all(root.join("target/grader")).unwrap();
    std::fs::write(
        root.join("target/grader/progress.json"),
        r#"{"exercises":{"correct":{"hints_seen":18446744073709551615},
            "todo":{"status":"fail","verdict":"\u001b[2Jwiped"}}}"#,
    )
    .unwrap();
    let output = run(&root, &["hint", "correct"]);
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("last of 3"));
    let output = run(&root, &["list"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && !text.contains('\u{1b}'),
        "{text:?}"
    );
    assert!(text.contains("?[2Jwiped"), "{text}");
}

fn git(root: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

#[test]
fn reset_asks_first_then_restores_the_handed_out_file() {
    let root = course("reset");
    git(&root, &["init", "-q"]);
    git(&root, &["add", "exercises"]);
    git(&root, &["commit", "-q", "-m", "handed out"]);
    let file = root.join("exercises/src/bin/todo.rs");
    let original = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, "fn main() { /* my attempt */ }\n").unwrap();

    let mut answer_no = xtask(&root, &["reset", "todo"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(answer_no.stdin.as_mut().unwrap(), b"n\n").unwrap();
    let output = answer_no.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("[y/N]"));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "fn main() { /* my attempt */ }\n"
    );

    let output = run(&root, &["reset", "todo"]);
    assert!(output.status.success(), "no answer means no");
    assert_ne!(std::fs::read_to_string(&file).unwrap(), original);

    let output = run(&root, &["reset", "todo", "--yes"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), original);
}

#[test]
fn a_changed_shipped_function_is_named_not_graded() {
    let root = course("shipped");
    git(&root, &["init", "-q"]);
    git(&root, &["add", "exercises"]);
    git(&root, &["commit", "-q", "-m", "handed out"]);
    let file = root.join("exercises/src/bin/shipped.rs");
    let handed_out = std::fs::read_to_string(&file).unwrap();
    // The learner's answer in place of the stub's one line (the one that names "double x").
    let answer: String = handed_out
        .lines()
        .map(|line| {
            if line.contains("\"double x\"") {
                "    x + x\n".to_owned()
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    std::fs::write(&file, &answer).unwrap();
    assert_verdict(&check(&root, "shipped"), "pass", "every check holds");

    // The fix put into the shipped reference (and called from the learner's function).
    let edited = answer.replace("    x * 2\n", "    x << 1\n");
    std::fs::write(&file, edited).unwrap();
    let verdict = check(&root, "shipped");
    assert_verdict(&verdict, "changed shipped code", "`double_as_shipped`");
    assert_eq!(verdict["checks"].as_array().unwrap().len(), 0, "not graded");

    let harness = answer.replace(
        "println!(\"yours: {}\", double(a));",
        "println!(\"yours: {}\", 2 * a);",
    );
    std::fs::write(&file, harness).unwrap();
    let verdict = check(&root, "shipped");
    assert_verdict(
        &verdict,
        "changed shipped code",
        "the harness below the fence line",
    );
}

/// Every file below `dir` with its modification time and length.
fn snapshot(dir: &Path) -> Vec<(PathBuf, std::time::SystemTime, u64)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            files.extend(snapshot(&entry.path()));
        } else {
            files.push((entry.path(), meta.modified().unwrap(), meta.len()));
        }
    }
    files.sort();
    files
}

#[test]
fn grading_never_writes_to_exercises() {
    let root = course("read_only");
    let before = snapshot(&root.join("exercises"));
    for name in ["correct", "compile_error", "wrong_answer"] {
        check(&root, name);
    }
    run(&root, &["list"]);
    run(&root, &["hint", "correct"]);
    assert_eq!(before, snapshot(&root.join("exercises")));
}

#[test]
fn watch_checks_again_when_the_file_is_saved() {
    let root = course("watch");
    let mut child = xtask(&root, &["watch", "wrong_answer"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines, heard) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let wait_for = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(120);
        while let Ok(line) = heard.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if line.contains(needle) {
                return true;
            }
        }
        false
    };
    let saw_failure = wait_for("✗ wrong_answer — wrong result");
    let saw_watching = saw_failure && wait_for("watching exercises/src/bin/wrong_answer.rs");
    if saw_watching {
        std::fs::copy(
            root.join("solutions/src/bin/wrong_answer.rs"),
            root.join("exercises/src/bin/wrong_answer.rs"),
        )
        .unwrap();
    }
    let saw_pass = saw_watching && wait_for("✓ wrong_answer — pass");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        saw_failure && saw_watching && saw_pass,
        "{saw_failure} {saw_watching} {saw_pass}"
    );
}

#[test]
fn verify_passes_solutions_and_finds_the_planted_problems() {
    let root = course("verify");
    // The fixtures added for evidence and isolation are right or wrong on purpose in ways the
    // other tests look at; verify the classic set (and its wrong answers).
    let classic = [
        "correct",
        "compile_error",
        "todo",
        "panics",
        "exits_nonzero",
        "hangs",
        "floods",
        "hard_coded",
        "wrong_answer",
        "too_slow",
        "needs_tool",
        "custom_run",
    ];
    let mut args = vec!["verify", "--repeat", "2", "--no-clippy"];
    args.extend(classic);
    let output = run(&root, &args);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{text}");
    // The fixture course plants exactly three problems: a handed-out exercise that does not
    // compile, one that is already right, and one that fails only by hanging.
    let problems: Vec<&str> = text.lines().filter(|l| l.starts_with("  - ")).collect();
    assert_eq!(problems.len(), 3, "{text}");
    assert!(
        problems[0].contains("compile_error: the handed-out exercise does not compile"),
        "{text}"
    );
    assert!(
        problems[1].contains("correct: the untouched exercise passes"),
        "{text}"
    );
    assert!(
        problems[2].contains("hangs: the untouched exercise only fails by timing out"),
        "{text}"
    );
    for name in ["wrong_answer", "todo", "floods", "custom_run"] {
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap();
        assert!(row.contains("passes 2/2"), "{row}");
        assert!(row.contains("fails 1/1"), "hard-coded output fails: {row}");
    }
    let row = text.lines().find(|l| l.starts_with("needs_tool ")).unwrap();
    assert!(row.contains("skipped"), "{row}");
    let row = text.lines().find(|l| l.starts_with("correct ")).unwrap();
    assert!(
        row.contains("1✗ 2/2"),
        "its wrong answer fails every draw: {row}"
    );
}

#[test]
fn the_right_number_without_the_mechanism_fails_and_says_what_is_missing() {
    let root = course("evidence");
    for (name, label, why) in [
        (
            "no_mechanism",
            "additions",
            "the product must come from the adder",
        ),
        (
            "double_work",
            "additions",
            "the product must come from the adder",
        ),
        (
            "configured_late",
            "unit at first addition",
            "set the adder's unit before",
        ),
    ] {
        for _ in 0..3 {
            let verdict = check(&root, name);
            assert_verdict(&verdict, "wrong result", &format!("`{label}` must equal"));
            let failed: Vec<&Value> = verdict["checks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["passed"] == false)
                .collect();
            assert_eq!(
                failed[0]["label"], label,
                "{name}: the evidence gives it away"
            );
            assert!(failed[0]["why"].as_str().unwrap().contains(why), "{name}");
            assert_eq!(
                verdict["checks"][0]["passed"], true,
                "{name}: the product is right"
            );
        }
    }
    let verdict = check(&root, "no_mechanism");
    let b = verdict["params"]["b"].as_i64().unwrap();
    assert!(
        verdict["message"]
            .as_str()
            .unwrap()
            .ends_with(&format!("must equal b = {b}, got 0")),
        "{verdict:#}"
    );
}

#[test]
fn a_slip_that_shows_on_odd_sizes_fails_on_every_draw() {
    let root = course("draws");
    for seed in 1..=6 {
        let output = run(
            &root,
            &["check", "odd_sizes", "--json", "--seed", &seed.to_string()],
        );
        let verdict: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(
            verdict["verdict"], "wrong result",
            "seed {seed}: {verdict:#}"
        );
        assert_eq!(
            verdict["params"]["b"].as_i64().unwrap() % 2,
            1,
            "b is always odd"
        );
    }
}

/// Live processes started by a run of the grader with process id `grader` (their environment
/// carries its mark).
fn marked_by(grader: u32) -> Vec<i32> {
    let mark = format!("GIL_LESSONS_RUN={grader}-");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                env.split(|&b| b == 0)
                    .any(|e| e.starts_with(mark.as_bytes()))
            })
        })
        .collect()
}

/// Processes whose command line is exactly `words` (as /proc/PID/cmdline splits it), alive.
fn running(words: &[&str]) -> Vec<i32> {
    let wanted: Vec<u8> = words
        .iter()
        .flat_map(|w| [w.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == wanted))
        .filter(|pid| {
            !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
        })
        .collect()
}

/// Wait up to five seconds for `words` to stop running.
fn gone(words: &[&str]) -> bool {
    (0..50).any(|_| {
        let none = running(words).is_empty();
        if !none {
            std::thread::sleep(Duration::from_millis(100));
        }
        none
    })
}

#[test]
fn a_setsid_daemon_changes_no_grade_and_does_not_outlive_the_check() {
    let root = course("daemon");
    let verdict = check(&root, "daemon");
    // It keeps stdout open, yet its parent's lines are read and graded.
    assert_verdict(&verdict, "pass", "every check holds");
    assert!(
        gone(&["sleep", "607"]),
        "the setsid child outlived the check"
    );
}

#[test]
fn a_program_writing_relative_paths_reaches_nothing_of_the_course() {
    let root = course("relative");
    let verdict = check(&root, "writes_relative");
    assert_verdict(&verdict, "pass", "every check holds");
    let rows: Value = serde_json::from_slice(&run(&root, &["list", "--json"]).stdout).unwrap();
    let passed: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "pass")
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        passed,
        ["writes_relative"],
        "its fake progress file landed in a scratch directory"
    );
}

#[test]
fn a_program_that_changes_the_course_is_named_and_changes_no_grade() {
    let root = course("tampers");
    git(&root, &["init", "-q"]);
    git(&root, &["add", "exercises", "solutions"]);
    git(&root, &["commit", "-q", "-m", "handed out"]);
    check(&root, "wrong_answer");
    let verdict = check(&root, "tampers");
    assert_verdict(
        &verdict,
        "changed course files",
        "solutions/src/bin/correct.rs",
    );
    let message = verdict["message"].as_str().unwrap();
    assert!(message.contains("target/grader/progress.json"), "{message}");
    assert!(message.contains("`git checkout solutions/`"), "{message}");
    let rows: Value = serde_json::from_slice(&run(&root, &["list", "--json"]).stdout).unwrap();
    let status = |name: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .map(|r| r["status"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(
        status("correct"),
        "not checked",
        "the fake passes were put back"
    );
    assert_eq!(
        status("wrong_answer"),
        "fail",
        "the grader's own record stands"
    );
    assert_eq!(status("tampers"), "fail");
    // The next check of `correct` finds its solution gone, and says why before blaming the course.
    let output = run(&root, &["check", "correct"]);
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(
        text.contains("changed since checkout")
            && text.contains("git checkout solutions/src/bin/correct.rs"),
        "{text}"
    );
}

#[test]
fn sigterm_or_sighup_to_the_grader_stops_the_program_and_its_children() {
    for signal in [libc::SIGTERM, libc::SIGHUP] {
        let root = course(&format!("signal{signal}"));
        // Built first (as the grader builds it), so the check below starts the program at once.
        // A plain build: a check would also wait out the exercise's 2 s time limit.
        let built = Command::new(env!("CARGO"))
            .args(["build", "--release", "--quiet", "--package", "exercises"])
            .args(["--bin", "hangs", "--manifest-path"])
            .arg(root.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", root.join("target"))
            .status()
            .unwrap();
        assert!(built.success(), "the fixture builds");
        let mut grader = xtask(&root, &["check", "hangs"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The program and its `sleep` child.
        let started = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            marked_by(grader.id()).len() >= 2
        });
        assert!(started, "the hanging program started its child");
        // SAFETY: a signal to the grader process this test started.
        unsafe {
            libc::kill(grader.id() as i32, signal);
        }
        let status = grader.wait().unwrap();
        assert!(!status.success());
        let all_gone = (0..50).any(|_| {
            let none = marked_by(grader.id()).is_empty();
            if !none {
                std::thread::sleep(Duration::from_millis(100));
            }
            none
        });
        assert!(
            all_gone,
            "signal {signal}: the program or its child outlived the grader"
        );
    }
}
