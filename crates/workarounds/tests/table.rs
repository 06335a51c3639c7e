//! The lesson through its Part table, as `main` runs it: in `--simulated` mode every part
//! makes its claims on the simulator's figures, so every claim holds.

use std::path::PathBuf;

use clap::Parser;
use workarounds::{Cli, LESSON};

#[test]
fn every_timed_part_makes_a_claim_and_all_hold_when_simulated() {
    let cli = Cli::try_parse_from(["workarounds", "--simulated", "--quick"]).unwrap();
    let cfg = cli
        .config(PathBuf::from(env!("CARGO_BIN_EXE_workarounds")))
        .unwrap();
    let cx = workarounds::run(&cfg).unwrap();
    let records = cx.claims();
    for part in 1..=5u8 {
        assert!(
            records.iter().any(|r| r.part == part),
            "part {part} made no claim: {records:?}"
        );
    }
    assert!(records.iter().all(|r| r.held), "{records:?}");
    assert!(records.iter().all(|r| r.lesson == LESSON.name));
    assert_eq!(LESSON.parts.len(), 6);
}
