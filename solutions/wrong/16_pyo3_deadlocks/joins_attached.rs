// Wrong: fixes lookup but joins the workers attached: each worker waits in Python::attach for
// the GIL that square_many holds while it waits for them.
// Fails: square_many finished

fn square_many(_py: Python<'_>, items: Vec<u64>) -> Vec<u64> {
    std::thread::scope(|s| {
        let handles: Vec<_> = items.iter().map(|&x| s.spawn(move || work(x))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}
