// Wrong: collects the sums in the order the computations finish, not in the order of the arrays.
// Fails: pool matches sequential

fn pool_sums(gil: &Gil, arrays: &[Array1<f64>], workers: usize) -> Vec<f64> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let sums = std::sync::Mutex::new(Vec::new());
    gil.run_threads(workers, |_, py| {
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let Some(array) = arrays.get(i) else { break };
            let sum = py.detach(|| sum_of_squares(array));
            sums.lock().unwrap().push(sum);
        }
    });
    sums.into_inner().unwrap()
}
