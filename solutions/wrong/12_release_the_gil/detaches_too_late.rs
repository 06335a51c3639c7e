// Wrong: asks for the Python token and calls detach, but only after the loop has run with the
// GIL held, around handing back the result.
// Fails: gil released

#[pyfunction]
fn crunch(py: Python<'_>, n: u64) -> u64 {
    let total = squares(n);
    py.detach(|| total)
}
