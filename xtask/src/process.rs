//! Running a program safely: gil-core's [`gil_core::process`] (own process group, time limit,
//! output cap, nothing left behind), plus what only xtask does: adopt orphans and stop every
//! running program on SIGINT, SIGTERM or SIGHUP.

pub use gil_core::process::*;

/// Once per process: become a child subreaper (Linux), and on SIGINT, SIGTERM or SIGHUP kill
/// every running program and whatever it started, then exit.
///
/// The program runs in its own process group, so the terminal's Ctrl-C would not reach it.
pub fn kill_children_on_interrupt() {
    adopt_orphans();
    let _ = ctrlc::set_handler(|| {
        stop_every_run();
        std::process::exit(130);
    });
}
