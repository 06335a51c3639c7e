//! `cargo run --release -p workarounds`: lesson 5, getting around the GIL.
//!
//! The lesson text is in the crate docs (`cargo doc -p workarounds --open`); the parts and their
//! order are in [`workarounds::LESSON`].

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use workarounds::{Cli, pool};

fn main() -> ExitCode {
    gil_core::lesson::main(real_main)
}

fn real_main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(parent) = cli.worker {
        // The pool's hidden mode: this process is one of part 1's workers.
        return pool::worker_main(parent);
    }
    let exe = std::env::current_exe().context("cannot find this program to start workers")?;
    workarounds::run(&cli.config(exe)?)
}
