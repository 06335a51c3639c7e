// Wrong: releases `lock` between the read and the write. `lock.release(py)` returns through a
// check point, so another thread may take the lock and read the old count before this write.
// Fails: writes outside the lock (yours)

fn count_word(py: &mut GilGuard<'_>, counts: &Dict, lock: &PyLock, word: &'static str) {
    py.detach(|| lock.acquire());
    let n = counts.get(py, word);
    lock.release(py);
    counts.set(py, word, n + 1);
}
