// Wrong: gives every worker n / workers numbers, so the last n % workers are never summed.
// Fails: checksum

fn run_workers(n: u64, workers: u64) -> anyhow::Result<Vec<WorkerReport>> {
    let chunk = n / workers;
    let children = (0..workers)
        .map(|w| worker_command(w * chunk, (w + 1) * chunk).spawn())
        .collect::<Result<Vec<_>, _>>()?;
    children
        .into_iter()
        .map(|child| WorkerReport::parse(&child.wait_with_output()?.stdout))
        .collect()
}
