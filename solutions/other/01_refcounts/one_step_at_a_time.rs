// Style: one closure per step of the script, the list's references kept in a vec! of clones.

fn replay(a: &PyObject, rc: &Rc<Vec<u8>>, k: usize, note: &mut dyn FnMut()) {
    let b = {
        a.incref();
        Rc::clone(rc)
    };
    note();
    (0..k).for_each(|_| a.incref());
    let mut items = vec![Rc::clone(rc); k];
    note();
    drop(b);
    a.decref();
    note();
    if items.pop().is_some() {
        a.decref();
    }
    note();
    for item in items.drain(..) {
        drop(item);
        a.decref();
    }
    note();
}
