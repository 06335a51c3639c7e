//! `cargo xtask model-check`: the GIL protocol over every interleaving, and `counter += 1`
//! over every schedule, with gil-core's own breadth-first explorer (`gil_core::model_check`).

use std::process::ExitCode;
use std::time::Instant;

use gil_core::Mode;
use gil_core::bytecode::explore::{self, CounterRow};
use gil_core::measure::fmt_count;
use gil_core::model_check::gil::{
    Model, OLD_CHECK_INTERVAL, Property, SWITCH_CHECKS, Verdict, Wake, modes,
};

/// Check every property for 2 and 3 threads in every mode; print the verdicts, the old
/// GIL's shortest counterexample and the `counter += 1` table. Fails if a verdict is not the
/// expected one (everything holds, except bounded waiting under the old GIL).
pub fn run() -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    println!(
        "The GIL protocol (gil_core::protocol), every interleaving, breadth first.\n\
         Timed waits run out after {SWITCH_CHECKS} check points; the old GIL lets go every \
         {OLD_CHECK_INTERVAL}.\n\
         The first three properties share one walk of every interleaving; bounded waiting\n\
         walks the timely ones (see gil_core::model_check::gil)."
    );
    let mut unexpected = Vec::new();
    let mut starved = None;
    for mode in modes() {
        println!("\n{mode}");
        println!(
            "  {:<7}  {:<28}  {:<18}  {:>9}  {:>6}",
            "threads", "property", "verdict", "states", "time"
        );
        for threads in [2, 3] {
            // Every interleaving for the first three (one walk), timely ones for the last.
            let (timely, all): (Vec<Property>, Vec<Property>) = Property::ALL
                .into_iter()
                .partition(|&p| p == Property::BoundedWaiting);
            let mut verdicts = Model::for_property(mode, threads, all[0]).check_all(&all);
            for property in timely {
                verdicts.push(Model::for_property(mode, threads, property).check(property));
            }
            for verdict in verdicts {
                let (model, property) = (verdict.model, verdict.property);
                print_row(threads, &verdict);
                let old = matches!(mode, Mode::OldGil { .. });
                if verdict.holds() == (old && property == Property::BoundedWaiting) {
                    unexpected.push(format!("{mode}, {threads} threads, {}", property.name()));
                }
                if !verdict.holds() && threads == 2 && starved.is_none() {
                    starved = Some((model, verdict));
                }
            }
        }
    }
    if let Some((model, verdict)) = &starved
        && let Some(path) = &verdict.search.counterexample
    {
        println!(
            "\nShortest schedule that starves a waiter, {} threads,\n{}:",
            model.threads, model.mode
        );
        for line in model.starving_schedule(path) {
            println!("  {line}");
        }
    }
    beyond_the_promise();
    println!();
    print_counter_table(&explore::counter_table());
    println!(
        "\nmodel-check took {:.2} s",
        started.elapsed().as_secs_f64()
    );
    if unexpected.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: unexpected verdicts: {}", unexpected.join("; "));
        Ok(ExitCode::FAILURE)
    }
}

fn print_row(threads: usize, verdict: &Verdict) {
    println!(
        "  {threads:<7}  {:<28}  {:<18}  {:>9}  {:>4.2} s",
        verdict.property.name_in(verdict.model.mode),
        verdict.to_string(),
        fmt_count(verdict.search.explored as u64),
        verdict.elapsed.as_secs_f64(),
    );
}

/// What the 3.2+ GIL does not promise: bounded waiting for three threads when they also make
/// blocking calls, or when a signal may wake any sleeper (POSIX) rather than the longest.
/// Both fail (gil-core's tests pin that); printed here as what the verdicts above do not say.
fn beyond_the_promise() {
    println!(
        "\nBounded waiting above is for threads that only compute. Under the 3.2+ GIL\n\
         with 3 threads, the waiter that set the drop request may still be passed over:"
    );
    let cases = [
        ("others make blocking calls", true, Wake::Longest),
        ("a signal wakes any sleeper (POSIX)", false, Wake::Any),
    ];
    for (case, blocking_calls, wake) in cases {
        let mut model = Model::for_property(Mode::Gil, 3, Property::BoundedWaiting);
        model.blocking_calls = blocking_calls;
        model.wake = wake;
        let verdict = model.check(Property::BoundedWaiting);
        let steps = verdict
            .search
            .counterexample
            .as_ref()
            .map_or(String::new(), |p| format!(", shortest {} steps", p.len()));
        println!(
            "  {case:<36} {verdict}{steps} ({} states)",
            fmt_count(verdict.search.explored as u64)
        );
    }
}

fn print_counter_table(rows: &[CounterRow]) {
    println!("Is `counter += 1` atomic? Two threads, two increments each, every schedule:");
    for row in rows {
        println!("  {row}");
    }
}
