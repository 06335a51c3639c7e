// Wrong: waits for `lock` while holding the GIL. A thread switched out between its read and its
// write holds `lock` and needs the GIL back to release it; the waiter never lets go of the GIL.
// Fails: deadlock

fn count_word(py: &mut GilGuard<'_>, counts: &Dict, lock: &PyLock, word: &'static str) {
    lock.acquire();
    let n = counts.get(py, word);
    counts.set(py, word, n + 1);
    lock.release(py);
}
