// Wrong: looks, lets go of the lock, builds, then stores: no deadlock, but a caller arriving
// during the import finds no table either and builds it a second time.
// Fails: table builds

fn lookup(py: &mut GilGuard<'_>, cache: &Cache, ctx: &Context, key: u64) -> u64 {
    let missing = cache.table.lock_py_attached(py).is_none();
    if missing {
        let built = build_table(py, ctx);
        *cache.table.lock_py_attached(py) = Some(built);
    }
    cache.table.lock_py_attached(py).as_ref().map_or(0, |t| t.value(key))
}
