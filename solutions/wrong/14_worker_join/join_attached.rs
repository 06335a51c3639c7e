// Wrong: joins the workers while attached: each worker waits for the GIL to build its result,
// and the caller holds the GIL while it waits for them. The harness says who waits for what.
// Fails: workers stuck

fn square_many(_py: &mut GilGuard<'_>, gil: &Gil, ctx: &Context, items: &[u64]) -> Vec<u64> {
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .iter()
            .map(|&x| s.spawn(move || work(gil, ctx, x)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}
