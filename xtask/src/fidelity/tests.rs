//! The rows of every experiment from a sample of the script's output, and the real command.

use std::time::Instant;

use super::table::{Lost, Value};
use super::*;

/// What fidelity.py printed on CPython 3.11 (quick sizes).
const SAMPLE: &str = r#"{"version": "3.11.7", "implementation": "cpython", "gil_enabled": true, "switch_interval_ms": 5.0, "quick": true, "cpu": {"n": 2000000, "repeats": 1, "one_s": 0.175, "ratio": 1.15}, "sleep": {"threads": 4, "seconds": 0.05, "repeats": 3, "speedup": 3.94}, "socket": {"threads": 4, "delay_s": 0.05, "repeats": 3, "speedup": 3.35}, "mixed": {"workers": 3, "n": 1000000, "cpu_s": 0.050, "io_s": 0.1, "repeats": 1, "ratio": 1.42}, "hold": {"seconds": 0.3, "count": 26, "median_ms": 11.9}, "convoy": {"round_trips": 50, "batches": 3, "alone_ms": 0.024, "beside_ms": 0.021, "beside_1ms_ms": 0.032}, "counter": {"threads": 10, "increments": 100000, "runs": 2, "worst_lost": 0, "runs_lost": 0, "wall_s": 0.091}}"#;

/// The sample, edited by `edit`, as the script's JSON object.
fn sample(edit: impl FnOnce(&mut serde_json::Value)) -> Map<String, serde_json::Value> {
    let mut value: serde_json::Value = serde_json::from_str(SAMPLE).unwrap();
    edit(&mut value);
    value.as_object().unwrap().clone()
}

fn part<E: Experiment>(report: &Map<String, serde_json::Value>) -> E::Cpython {
    script::figures(E::NAME, report[E::NAME].clone()).unwrap()
}

/// `E`'s rows for the report's figures and these model and simulator figures.
fn rows_of<E: Experiment>(
    report: &Map<String, serde_json::Value>,
    live: impl FnOnce(&E::Cpython) -> E::Live,
    sim: impl FnOnce(&E::Cpython) -> E::Simulated,
) -> Vec<Row> {
    let header: Header = serde_json::from_value(serde_json::Value::Object(report.clone())).unwrap();
    let py = part::<E>(report);
    E::rows(&header, &py, &live(&py), &sim(&py))
}

/// Every experiment's rows, with model figures near the sample's: the cpu ratio 10 % off,
/// the mixed ratio doubled, a 5 ms hold, and ≤ 3.9 check points losing updates. The
/// simulator's figures are the same, except a cpu ratio 50 % off and a 12 ms hold.
fn rows_beside_a_model(report: &Map<String, serde_json::Value>) -> Vec<Row> {
    let lost = |worst, runs_lost| Lost {
        worst,
        runs_lost,
        runs: 2,
    };
    let convoy = || convoy::Live {
        alone_ms: 0.03,
        beside_ms: 0.03,
        beside_1ms_ms: 0.03,
    };
    let counter = || counter::Live {
        counter: lost(0, 0),
        counter_old: lost(300_000, 2),
    };
    let hold = |ms| hold::Live {
        median_ms: Some(ms),
        count: 10,
    };
    [
        rows_of::<cpu::Cpu>(
            report,
            |py| cpu::Live {
                steps: 1,
                one_s: py.one_s,
                ratio: py.ratio * 1.1,
            },
            |py| cpu::Simulated {
                one_s: py.one_s,
                ratio: py.ratio * 1.5,
            },
        ),
        rows_of::<sleep::Sleep>(
            report,
            |py| sleep::Live {
                speedup: py.speedup,
            },
            |py| sleep::Simulated {
                speedup: py.speedup,
            },
        ),
        rows_of::<socket::Socket>(
            report,
            |py| socket::Live {
                speedup: py.speedup,
            },
            |py| socket::Simulated {
                speedup: py.speedup,
            },
        ),
        rows_of::<mixed::Mixed>(
            report,
            |py| mixed::Live {
                steps: 1,
                cpu_s: py.cpu_s,
                ratio: py.ratio * 2.0,
            },
            |py| mixed::Simulated {
                ratio: py.ratio * 2.0,
            },
        ),
        rows_of::<convoy::Convoy>(report, |_| convoy(), |_| convoy()),
        rows_of::<hold::Hold>(report, |_| hold(5.0), |_| hold(12.0)),
        rows_of::<counter::Counter>(report, |_| counter(), |_| counter()),
    ]
    .concat()
}

#[test]
fn the_sample_parses_into_every_experiments_figures() {
    let report = sample(|_| {});
    let header: Header = serde_json::from_value(serde_json::Value::Object(report.clone())).unwrap();
    assert_eq!(header.version, "3.11.7");
    assert!(header.gil_enabled);
    assert_eq!(part::<cpu::Cpu>(&report).n, 2_000_000);
    assert_eq!(part::<counter::Counter>(&report).threads, 10);
    assert_eq!(part::<hold::Hold>(&report).median_ms, Some(11.9));
    let renamed = sample(|v| v["cpu"]["ratioo"] = v["cpu"]["ratio"].take());
    let renamed: serde_json::Value = renamed["cpu"].clone();
    assert!(script::figures::<cpu::Cpython>("cpu", renamed).is_err());
}

#[test]
fn a_hold_of_null_parses_as_none() {
    let report = sample(|v| v["hold"]["median_ms"] = serde_json::Value::Null);
    assert_eq!(part::<hold::Hold>(&report).median_ms, None);
}

#[test]
fn rows_cover_every_experiment_and_quote_cpython_for_the_other_policy() {
    let rows = rows_beside_a_model(&sample(|_| {}));
    assert_eq!(rows.len(), 11);
    let verdicts: Vec<Agreement> = rows.iter().map(|r| r.model_agrees).collect();
    assert_eq!(verdicts[0], Agreement::Within, "cpu ratio within 25 %");
    assert_eq!(verdicts[3], Agreement::Miss, "mixed ratio doubled");
    assert_eq!(verdicts[7], Agreement::Miss, "hold 5 ms vs 11.9 ms");
    assert_eq!(verdicts[8], Agreement::Within, "neither lost");
    assert_eq!(verdicts[9], Agreement::NotCompared, "3.9 is not run");
    assert!(rows[9].cpython.to_string().contains("bpo-29988"));
    assert_eq!(
        verdicts[10],
        Agreement::Within,
        "3.11: none lost, none possible"
    );
    assert_eq!(rows[10].model.to_string(), "loss impossible");
    let simulator: Vec<Agreement> = rows.iter().map(|r| r.simulator_agrees).collect();
    assert_eq!(simulator[0], Agreement::Miss, "cpu ratio 50 % off");
    assert_eq!(simulator[7], Agreement::Within, "hold 12 ms vs 11.9 ms");
    assert_eq!(simulator[8], Agreement::Within, "neither lost");
    assert_eq!(table::tally(&rows, |r| r.model_agrees), (8, 10));
    assert_eq!(table::tally(&rows, |r| r.simulator_agrees), (8, 10));

    let old = sample(|v| {
        v["version"] = "3.9.18".into();
        v["counter"]["worst_lost"] = 400_000.into();
        v["counter"]["runs_lost"] = 2.into();
    });
    let rows = rows_beside_a_model(&old);
    assert_eq!(rows[8].model_agrees, Agreement::NotCompared);
    assert_eq!(rows[9].model_agrees, Agreement::Within);
    assert_eq!(rows[10].model.to_string(), "loss possible");
    assert_eq!(rows[10].model_agrees, Agreement::Within);
}

#[test]
fn without_a_gil_the_hold_row_is_not_compared() {
    let rows = rows_beside_a_model(&sample(|v| v["gil_enabled"] = false.into()));
    assert_eq!(rows[7].model_agrees, Agreement::NotCompared);
    assert_eq!(rows[7].cpython.to_string(), "no GIL");
    assert!(rows[8].experiment.contains("free-threaded"));
}

#[test]
fn the_table_is_aligned_markdown() {
    let table = table::render(&rows_beside_a_model(&sample(|_| {})));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 13);
    assert!(lines[0].starts_with("| experiment"));
    assert!(lines[1].starts_with("| ---"));
    let width = lines[0].chars().count();
    assert!(lines.iter().all(|l| l.chars().count() == width), "{table}");
    assert!(lines.iter().all(|l| l.matches('|').count() == 8), "{table}");
    assert!(table.contains("| 1.15x "));
    assert!(table.contains("| MISS "));
}

#[test]
fn a_named_python_that_does_not_exist_is_an_error() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let args = FidelityArgs {
        quick: true,
        json: false,
        python: Some("/nonexistent/python3".into()),
        timeout: 10,
    };
    let error = measure(root, &args).err().expect("must fail");
    assert_eq!(
        format!("{error:#}"),
        "--python /nonexistent/python3: no such program"
    );
}

/// The real command, quick sizes, when this machine has a `python3`.
#[test]
fn quick_run_fills_every_row() {
    if python::find(&Choice::OnPath(python::DEFAULT))
        .ok()
        .flatten()
        .is_none()
    {
        println!("skipped: no python3 on PATH");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let args = FidelityArgs {
        quick: true,
        json: false,
        python: None,
        timeout: 150,
    };
    let clock = Instant::now();
    let fidelity = measure(root, &args).unwrap().expect("python3 exists");
    assert_eq!(fidelity.rows.len(), 11);
    for row in &fidelity.rows {
        for value in [&row.cpython, &row.model, &row.simulator] {
            let filled = match value {
                Value::Ratio(x) | Value::Millis(x) => x.is_finite() && *x > 0.0,
                Value::Lost(lost) => lost.runs > 0,
                Value::Possible(_) | Value::Quoted(_) => true,
                Value::Missing(why) => why == "no GIL",
            };
            assert!(filled, "{}: {value:?}", row.experiment);
        }
    }
    let json = fidelity.to_json();
    assert_eq!(json["rows"].as_array().map(Vec::len), Some(11));
    assert!(json["model"]["mode"].is_string(), "{json}");
    println!(
        "{}\n(took {:.1} s)",
        table::render(&fidelity.rows),
        clock.elapsed().as_secs_f64()
    );
}

/// `E` on the simulator for the sample's figures (edited by `edit`), on an idle 2-core machine.
fn simulated<E: Experiment>(edit: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
    let report = sample(edit);
    let header: Header = serde_json::from_value(serde_json::Value::Object(report.clone())).unwrap();
    let sim = Simulator::new(&header, 2).unwrap();
    serde_json::to_value(E::simulate(&sim, &part::<E>(&report))).unwrap()
}

#[test]
fn the_simulator_gives_exact_figures_for_cpythons_sizes() {
    let figure = |value: &serde_json::Value| value.as_f64().unwrap();
    let cpu = simulated::<cpu::Cpu>(|_| {});
    assert_eq!(gil_core::measure::fmt_ratio(figure(&cpu["ratio"])), "1.01x");
    assert_eq!(simulated::<sleep::Sleep>(|_| {})["speedup"], 4.0);
    assert_eq!(simulated::<socket::Socket>(|_| {})["speedup"], 4.0);
    let mixed = simulated::<mixed::Mixed>(|_| {});
    assert!((figure(&mixed["ratio"]) - 1.6716).abs() < 1e-4, "{mixed}");
    // The sums gil_core::sim documents, on its idle machine: the server answers in CPython's
    // lone round trip (24 µs) and the I/O thread runs one wake-up later; beside a spinner each
    // round trip also waits an interval, a timer slack and two more wake-ups (the convoy). A
    // contended hold is an interval, a timer slack and two wake-ups.
    let machine = gil_core::sim::Machine::idle(2);
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let (wake, slack) = (ms(machine.wake_latency), ms(machine.timer_slack));
    let convoy = simulated::<convoy::Convoy>(|_| {});
    for (key, expected) in [
        ("alone_ms", 0.024 + wake),
        ("beside_ms", 5.0 + 0.024 + slack + 3.0 * wake),
        ("beside_1ms_ms", 1.0 + 0.024 + slack + 3.0 * wake),
    ] {
        assert!(
            (figure(&convoy[key]) - expected).abs() < 1e-6,
            "{key}: {convoy}"
        );
    }
    let hold = simulated::<hold::Hold>(|_| {});
    let expected = 5.0 + slack + 2.0 * wake;
    assert!(
        (figure(&hold["median_ms"]) - expected).abs() < 1e-6,
        "{hold}"
    );
    // 0.3 s of two threads taking turns: one hold per interval and a bit.
    let holds = 300.0 / expected;
    assert!((figure(&hold["count"]) - holds).abs() <= 1.0, "{hold}");
}

#[test]
fn the_simulated_counter_loses_updates_exactly_where_cpython_does() {
    let counter = simulated::<counter::Counter>(|_| {});
    assert_eq!(counter["counter"]["runs_lost"], 0, "3.10+ loses none");
    assert_eq!(
        counter["counter_old"]["runs_lost"], 2,
        "<=3.9 loses every run"
    );
    assert!(counter["counter_old"]["worst"].as_u64() > Some(0));
    let free = simulated::<counter::Counter>(|v| v["gil_enabled"] = false.into());
    assert_eq!(free["counter"]["runs_lost"], 2, "no GIL: every run loses");
    assert!(free["counter"]["worst"].as_u64() > Some(0));
    let again = simulated::<counter::Counter>(|_| {});
    assert_eq!(again, counter, "the same figures every time");
}
