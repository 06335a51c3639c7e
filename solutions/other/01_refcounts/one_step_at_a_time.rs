// Style: one closure per step of the script, the list's references kept in a vec! of clones.

fn replay(a: &PyObject, rc: &Rc<Vec<u8>>, k: usize) -> Vec<(isize, usize)> {
    let counts = || (a.getrefcount(), Rc::strong_count(rc));
    let mut seen = Vec::with_capacity(5);
    let b = {
        a.incref();
        Rc::clone(rc)
    };
    seen.push(counts());
    (0..k).for_each(|_| a.incref());
    let mut items = vec![Rc::clone(rc); k];
    seen.push(counts());
    drop(b);
    a.decref();
    seen.push(counts());
    if items.pop().is_some() {
        a.decref();
    }
    seen.push(counts());
    for item in items.drain(..) {
        drop(item);
        a.decref();
    }
    seen.push(counts());
    seen
}
