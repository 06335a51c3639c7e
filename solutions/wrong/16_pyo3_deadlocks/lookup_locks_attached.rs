// Wrong: fixes square_many but still waits for TABLE with `lock()`, holding the GIL: the second
// caller holds the GIL while the first, back from time.sleep, needs it to finish the table.
// Fails: lookup finished

fn lookup(py: Python<'_>, key: u64, entries: u64, delay_ms: u64) -> PyResult<u64> {
    let mut table = TABLE.lock().unwrap_or_else(|p| p.into_inner());
    if table.is_none() {
        *table = Some(build_table(py, entries, delay_ms)?);
    }
    Ok(value(table.as_deref(), key))
}
