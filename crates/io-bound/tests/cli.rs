//! The binary as a learner runs it: flags, output format, and clean-up on Ctrl-C.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gil_core::report::parse_kv;

fn lesson() -> Command {
    Command::new(env!("CARGO_BIN_EXE_io-bound"))
}

/// Wait for `child` at most `limit`, killing it if it overstays.
fn wait_at_most(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the lesson did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn quick_run_of_one_part_prints_parseable_results() {
    let out = lesson().args(["--quick", "--part", "1"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pairs = parse_kv(&String::from_utf8(out.stdout).unwrap());
    let get = |label: &str| {
        pairs
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {label:?} line"))
    };
    assert_eq!(get("ideal speedup"), "3.00x");
    assert!(get("speedup").ends_with('x'));
    assert_eq!(get("interpreter"), "GIL (CPython 3.2+)");
}

#[test]
fn free_threaded_flag_reaches_the_model() {
    let out = lesson()
        .args(["--quick", "--part", "1", "--free-threaded"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("free-threaded (PEP 703)"), "{stdout}");
}

#[test]
fn bad_flags_fail_with_one_line() {
    for args in [&["--part", "7"][..], &["--switch-interval", "0"][..]] {
        let out = lesson().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} accepted");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
}

#[test]
fn ctrl_c_removes_the_scratch_directory_and_exits_130() {
    // A server that takes 5 s per answer keeps part 2 busy long enough to interrupt it.
    let mut child = lesson()
        .args(["--quick", "--part", "2", "--server-delay-ms", "5000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut scratch = None;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(("scratch dir", path)) = line.split_once(':').map(|(l, v)| (l.trim(), v.trim()))
        {
            scratch = Some(PathBuf::from(path));
        }
        if line.starts_with("server") {
            break; // the network phase has begun: files exist, the server is up
        }
    }
    // Keep reading: a closed pipe would kill the lesson with SIGPIPE before the Ctrl-C arrives
    // (`gil_core::cli::run` restores SIGPIPE's default action).
    let drain = std::thread::spawn(move || lines.for_each(drop));
    let scratch = scratch.expect("the lesson printed no scratch dir");
    assert!(scratch.exists());

    // SAFETY: kill(2) with a child's pid and a valid signal number has no memory effects.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0);
    let status = wait_at_most(&mut child, Duration::from_secs(10));
    assert_eq!(
        status.code(),
        Some(io_bound::cleanup::INTERRUPTED_EXIT_CODE)
    );
    assert!(!scratch.exists(), "{} survived Ctrl-C", scratch.display());
    drain.join().unwrap();
}
