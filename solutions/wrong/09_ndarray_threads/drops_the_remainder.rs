// Wrong: splits the arrays into `workers` equal chunks of arrays.len() / workers, so the
// remainder is never computed.
// Fails: total of the pool's sums

fn pool_sums(gil: &Gil, arrays: &[Array1<f64>], workers: usize) -> Vec<f64> {
    let chunk = arrays.len() / workers;
    let done: Vec<Vec<(usize, f64)>> = gil.run_threads(workers, |w, py| {
        (w * chunk..(w + 1) * chunk)
            .map(|i| (i, py.detach(|| sum_of_squares(&arrays[i]))))
            .collect()
    });
    let mut sums = vec![0.0; arrays.len()];
    for (i, sum) in done.into_iter().flatten() {
        sums[i] = sum;
    }
    sums
}
