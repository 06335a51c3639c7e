// Wrong: squares the items in the caller instead: no deadlock, but no worker ever runs, so
// nothing is done in parallel and no result is built by a worker.
// Fails: workers that attached

fn square_many(_py: &mut GilGuard<'_>, _gil: &Gil, _ctx: &Context, items: &[u64]) -> Vec<u64> {
    items.iter().map(|&x| x * x).collect()
}
