//! The lesson run through its table, as `main` runs it; the run's context holds its claims.

use clap::Parser;
use gil_core::lesson::{self, LessonArgs};
use refcounting::{Config, LESSON, SizeArgs};

/// The binary's flags, parsed the way `main` parses them.
#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    sizes: SizeArgs,
    #[command(flatten)]
    lesson: LessonArgs,
}

fn parse(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("refcounting").chain(args.iter().copied())).unwrap()
}

#[test]
fn every_part_is_reached_through_the_lesson_table_and_every_simulated_claim_holds() {
    let cli = parse(&["--simulated", "--quick"]);
    let cfg = Config::from_flags(cli.lesson.quick, &cli.sizes, &cli.lesson.gil);
    let cx = lesson::run(&LESSON, &cli.lesson, &cfg).unwrap();
    assert_eq!(LESSON.parts.len(), 5);
    let claims = cx.claims();
    // Part 4's only simulated figure (Arc against Rc) rests on the model's assumed price of
    // an atomic update, so it is printed without a claim; every other part states a result.
    for part in [1, 2, 3, 5] {
        assert!(
            claims.iter().any(|c| c.part == part),
            "no claim in part {part}"
        );
    }
    assert!(claims.iter().all(|c| c.held), "{claims:#?}");
    for assumed in ["atomic incref+decref", "Arc clone+drop", "lock per object"] {
        assert!(
            !claims
                .iter()
                .any(|c| c.claim.contains(assumed) || c.part == 4),
            "a simulated claim rests on the assumed atomic cost ({assumed}): {claims:#?}"
        );
    }

    let cli = parse(&["--part", "9"]);
    assert!(lesson::run(&LESSON, &cli.lesson, &cfg).is_err());
}
