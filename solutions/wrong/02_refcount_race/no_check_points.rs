// Wrong: the threads hold the GIL but never reach a check point, so they run one after another;
// the counts come out right without the eval loop the exercise models.
// Fails: check points, both phases (plain, GIL)

fn with_gil(gil: &Gil, obj: &PyObject, threads: usize, refs: u64, op: fn(&PyObject)) {
    gil.run_threads(threads, |_, _py| {
        for _ in 0..refs {
            op(obj);
        }
    });
}
