// Wrong: works the counts out from k instead of taking and dropping references on `a` and `rc`.
// Fails: increfs a received

fn replay(_a: &PyObject, _rc: &Rc<Vec<u8>>, k: usize) -> Vec<(isize, usize)> {
    let k = k as isize;
    // (references you can see, strong count) after each step; getrefcount adds its argument.
    [(2, 2), (2 + k, 2 + k), (1 + k, 1 + k), (k, k), (1, 1)]
        .into_iter()
        .map(|(seen, strong)| (seen + 1, strong as usize))
        .collect()
}
