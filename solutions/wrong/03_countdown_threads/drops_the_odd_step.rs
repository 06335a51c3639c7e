// Wrong: gives both threads n / 2, so an odd n loses its last step.
// Fails: counted by two threads

fn two_threads(gil: &Gil, n: u64) -> Vec<u64> {
    gil.run_threads(2, |_, py| {
        countdown(py, n / 2);
        n / 2
    })
}
