// Wrong: sets the switch interval after the threads have run, so they ran with the default.
// Fails: switch interval when the threads started (ms)

fn count_switches(
    gil: &Gil,
    interval: Duration,
    spin: &(dyn Fn(&mut GilGuard<'_>) + Sync),
) -> anyhow::Result<u64> {
    gil.run_threads(2, |_, py| spin(py));
    gil.set_switch_interval(interval)?;
    Ok(gil.stats().switches)
}
