// Wrong: waits for the Rust lock with `lock()`, holding the GIL: while the first caller's import
// runs detached, the second takes the GIL and waits for the lock, and the first can never
// re-attach to finish. The deadlock watchdog names the cycle and ends the program.
// Fails: deadlock

fn lookup(py: &mut GilGuard<'_>, cache: &Cache, ctx: &Context, key: u64) -> u64 {
    let mut table = cache.table.lock();
    if table.is_none() {
        *table = Some(build_table(py, ctx));
    }
    table.as_ref().map_or(0, |t| t.value(key))
}
