// Style: OS threads started by hand, each attaching to the GIL itself; biased counting (PEP 703).

fn with_gil(gil: &Gil, obj: &PyObject, threads: usize, refs: u64, op: fn(&PyObject)) {
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                let mut py = gil.acquire(&format!("worker {t}"));
                for _ in 0..refs {
                    op(obj);
                    py.check_point();
                }
            });
        }
    });
}

fn counting_without_gil() -> Counting {
    Counting::Biased
}
