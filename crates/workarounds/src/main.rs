//! `cargo run --release -p workarounds`: lesson 5, getting around the GIL.
//!
//! The lesson text is in the crate docs (`cargo doc -p workarounds --open`); the parts and their
//! order are in [`workarounds::LESSON`], the flags in [`workarounds::Cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    gil_core::lesson::start::<workarounds::Cli>()
}
