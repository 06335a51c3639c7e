//! `cargo run --release -p practice`: lesson 6, the GIL in your own Python program. The lesson
//! text is in the crate docs (`cargo doc --no-deps --open -p practice`).

use std::process::ExitCode;

fn main() -> ExitCode {
    gil_core::lesson::start::<practice::Cli>()
}
