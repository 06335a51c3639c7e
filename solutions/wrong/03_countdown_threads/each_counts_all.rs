// Wrong: each of the two threads counts down the whole of n (twice the work), yet reports the
// share it should have counted.
// Fails: countdown steps, two threads (GIL)

fn two_threads(gil: &Gil, n: u64) -> Vec<u64> {
    gil.run_threads(2, |i, py| {
        countdown(py, n);
        if i == 0 { n / 2 } else { n - n / 2 }
    })
}
