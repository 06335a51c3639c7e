// Wrong: moves the model object's count by hand and never clones the `Rc`, as if its count
// could be written from the object's; the harness reads `Rc::strong_count` itself.
// Fails: strong_count after b = a

fn replay(a: &PyObject, _rc: &Rc<Vec<u8>>, k: usize, note: &mut dyn FnMut()) {
    a.incref();
    note();
    (0..k).for_each(|_| a.incref());
    note();
    a.decref();
    note();
    a.decref();
    note();
    (1..k).for_each(|_| a.decref());
    note();
}
