// Wrong: looks at TABLE detached, lets go, builds, then stores: no deadlock, but a caller that
// arrives while the first one sleeps finds no table either and builds it again.
// Fails: table builds

fn lookup(py: Python<'_>, key: u64, entries: u64, delay_ms: u64) -> PyResult<u64> {
    let missing = TABLE.lock_py_attached(py).unwrap_or_else(|p| p.into_inner()).is_none();
    if missing {
        let built = build_table(py, entries, delay_ms)?;
        *TABLE.lock_py_attached(py).unwrap_or_else(|p| p.into_inner()) = Some(built);
    }
    let table = TABLE.lock_py_attached(py).unwrap_or_else(|p| p.into_inner());
    Ok(value(table.as_deref(), key))
}
