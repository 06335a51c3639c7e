// Style: the two threads started by hand, the larger share first.

fn two_threads(gil: &Gil, n: u64) -> Vec<u64> {
    let shares = [n.div_ceil(2), n / 2];
    std::thread::scope(|s| {
        let handles: Vec<_> = shares
            .iter()
            .map(|&share| {
                s.spawn(move || {
                    gil.attach("counter", |py| countdown(py, share));
                    share
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}
