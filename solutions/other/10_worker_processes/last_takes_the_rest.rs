// Style: equal chunks of n / workers, the last worker also taking the remainder.

fn run_workers(n: u64, workers: u64) -> anyhow::Result<Vec<WorkerReport>> {
    let chunk = n / workers;
    let mut children = Vec::new();
    for w in 0..workers {
        let to = if w + 1 == workers { n } else { (w + 1) * chunk };
        children.push(worker_command(w * chunk, to).spawn()?);
    }
    let mut reports = Vec::new();
    for child in children {
        reports.push(WorkerReport::parse(&child.wait_with_output()?.stdout)?);
    }
    Ok(reports)
}
