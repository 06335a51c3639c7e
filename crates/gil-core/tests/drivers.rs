//! The live lock and the simulator drive one protocol (`gil_core::protocol`), so the same
//! scripted scenario fills every statistics field alike: counts exactly, times within a margin.

use std::sync::Barrier;
use std::time::Duration;

use gil_core::sim::{Script, SimConfig, Step, simulate};
use gil_core::{Gil, GilStats, Mode, ThreadStats};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Long enough that a busy machine's delays (tens of milliseconds) move no count.
const INTERVAL: Duration = Duration::from_millis(200);
/// T1 sleeps this long holding the GIL: T2, asking meanwhile, times out once (at 200 ms).
const SLEEP_HOLDING: Duration = Duration::from_millis(300);
const T1_CHECKS: u64 = 1000;
const T2_CHECKS: u64 = 500;
const DETACHED: Duration = Duration::from_millis(1);

/// T1 takes the GIL and sleeps holding it; T2 asks, sets a drop request, and is handed the
/// GIL at T1's first check point (forced switching); T2 detaches for 1 ms, T1 retakes and
/// finishes; T2 retakes and finishes.
fn live(mode: Mode) -> GilStats {
    let gil = Gil::with_mode(mode);
    gil.set_switch_interval(INTERVAL)
        .expect("positive interval");
    let t1_holds = Barrier::new(2);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut py = gil.acquire("T1");
            t1_holds.wait();
            std::thread::sleep(SLEEP_HOLDING);
            for _ in 0..T1_CHECKS {
                py.check_point();
            }
        });
        s.spawn(|| {
            t1_holds.wait();
            let mut py = gil.acquire("T2");
            for _ in 0..T2_CHECKS {
                py.check_point();
            }
            py.detach(|| std::thread::sleep(DETACHED));
            for _ in 0..T2_CHECKS {
                py.check_point();
            }
        });
    });
    gil.stats()
}

fn simulated(mode: Mode) -> GilStats {
    let cfg = SimConfig::new(mode, INTERVAL, 2);
    let checks = |n: u64| Step::Bytecode(cfg.bytecode * n as u32);
    let run = simulate(
        &cfg,
        vec![
            Script::new(
                "T1",
                vec![Step::BlockingHolding(SLEEP_HOLDING), checks(T1_CHECKS)],
            ),
            Script::new(
                "T2",
                vec![
                    checks(T2_CHECKS),
                    Step::Blocking(DETACHED),
                    checks(T2_CHECKS),
                ],
            ),
        ],
    );
    run.stats().clone()
}

/// Every field of the two runs: counts and the first interval exactly, times within a margin
/// wide enough for a busy machine. `Err` says which field differs.
fn compare(live: &GilStats, sim: &GilStats) -> Result<(), String> {
    let counts = |g: &GilStats| {
        (
            g.mode,
            g.switch_interval,
            g.switches,
            g.forced_switches,
            g.drop_requests,
        )
    };
    if counts(live) != counts(sim) {
        return Err(format!(
            "lock counters: live {:?}, simulated {:?}",
            counts(live),
            counts(sim)
        ));
    }
    if live.threads.len() != sim.threads.len() {
        return Err(format!("threads: {live:?} vs {sim:?}"));
    }
    for (l, s) in live.threads.iter().zip(&sim.threads) {
        // Every field is listed, so a field added to ThreadStats must be compared here too.
        let ThreadStats {
            id,
            name,
            held,
            waited,
            detached,
            acquisitions,
            switches_in,
            forced_drops,
            drop_requests,
            check_points,
            first_interval,
        } = l;
        let exact = (
            id,
            name,
            acquisitions,
            switches_in,
            forced_drops,
            drop_requests,
            check_points,
            first_interval,
        );
        let expected = (
            &s.id,
            &s.name,
            &s.acquisitions,
            &s.switches_in,
            &s.forced_drops,
            &s.drop_requests,
            &s.check_points,
            &s.first_interval,
        );
        if exact != expected {
            return Err(format!("{name}: live {exact:?}, simulated {expected:?}"));
        }
        for (field, live, sim) in [
            ("held", held, &s.held),
            ("waited", waited, &s.waited),
            ("detached", detached, &s.detached),
        ] {
            let low = sim.mul_f64(0.9).saturating_sub(ms(1));
            let high = sim.mul_f64(1.5) + ms(60);
            if *live < low || *live > high {
                return Err(format!("{name}.{field}: live {live:?}, simulated {sim:?}"));
            }
        }
    }
    Ok(())
}

fn agree(mode: Mode) {
    let sim = simulated(mode);
    assert!(
        sim.threads
            .iter()
            .all(|t| t.check_points > 0 && t.first_interval == Some(INTERVAL)),
        "the simulator fills check points and the first interval: {sim:?}"
    );
    let mut last = String::new();
    // Three tries: a machine that stalls a thread for 100 ms moves a count.
    for _ in 0..3 {
        match compare(&live(mode), &sim) {
            Ok(()) => return,
            Err(why) => last = why,
        }
    }
    panic!("{mode}: the live lock and the simulator disagree three times: {last}");
}

#[test]
fn the_live_lock_and_the_simulator_fill_the_same_statistics_under_the_gil() {
    let sim = simulated(Mode::Gil);
    // The scenario has the hand-offs it is meant to have.
    assert_eq!(
        (sim.switches, sim.forced_switches, sim.drop_requests),
        (4, 1, 1)
    );
    agree(Mode::Gil);
}

#[test]
fn the_live_lock_and_the_simulator_fill_the_same_statistics_free_threaded() {
    agree(Mode::FreeThreaded);
}
