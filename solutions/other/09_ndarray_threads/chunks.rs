// Style: a static split, each worker taking a chunk of ceil(arrays / workers), none left over.

fn pool_sums(gil: &Gil, arrays: &[Array1<f64>], workers: usize) -> Vec<f64> {
    let chunk = arrays.len().div_ceil(workers);
    gil.run_threads(workers, |w, py| {
        let mine = arrays.iter().skip(w * chunk).take(chunk);
        mine.map(|array| py.detach(|| sum_of_squares(array)))
            .collect::<Vec<f64>>()
    })
    .concat()
}
