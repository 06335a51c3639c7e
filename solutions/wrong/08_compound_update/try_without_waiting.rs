// Wrong: takes the lock with try_acquire (`acquire(blocking=False)`) and goes on without it when
// another thread holds it, so the read and the write are not one step after all.
// Fails: total in the dict (yours) | writes outside the lock (yours) | total in the dict (yours, free-threaded)

fn count_word(py: &mut GilGuard<'_>, counts: &Dict, lock: &PyLock, word: &'static str) {
    let mine = lock.try_acquire();
    let n = counts.get(py, word);
    counts.set(py, word, n + 1);
    if mine {
        lock.release(py);
    }
}
