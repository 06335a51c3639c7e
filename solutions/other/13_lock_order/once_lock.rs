// Style: a PyOnceLock: the first caller builds the table attached, every other caller waits
// for it detached.

fn lookup(py: &mut GilGuard<'_>, cache: &Cache, ctx: &Context, key: u64) -> u64 {
    cache.once.get_or_init(py, |py| build_table(py, ctx)).value(key)
}
