// Style: the interval set first, then two threads started by hand; the switches read from the
// statistics' per-thread figures.

fn count_switches(
    gil: &Gil,
    interval: Duration,
    spin: &(dyn Fn(&mut GilGuard<'_>) + Sync),
) -> anyhow::Result<u64> {
    gil.set_switch_interval(interval)?;
    std::thread::scope(|s| {
        for name in ["A", "B"] {
            s.spawn(move || gil.attach(name, spin));
        }
    });
    Ok(gil.stats().switches)
}
