//! Part 1 — counting references: `sys.getrefcount` step by step, beside `Rc::strong_count`.

use std::rc::Rc;

use gil_core::object::{Counting, Fate, PyObject};
use gil_core::report::{heading, kv, note};

/// One line of the walk-through: a Python statement and the counts after it ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The Python statement that just ran (the model's version of it).
    pub statement: &'static str,
    /// `sys.getrefcount(a)` on the model object: the true count plus the call's own reference.
    pub getrefcount: isize,
    /// `Py_REFCNT(a)`: the count itself.
    pub refcnt: isize,
    /// `Rc::strong_count(&a)` for the same steps done with an `Rc<Vec<_>>`.
    pub rc_strong_count: usize,
}

/// What part 1 measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// The walk-through, in order.
    pub steps: Vec<Step>,
    /// `sys.getrefcount(None)`: an immortal object's count.
    pub immortal_getrefcount: isize,
    /// What became of `a` after its last name was deleted.
    pub verdict: Fate,
}

/// Run part 1: bind and unbind names to one model list and print its counts after each step.
pub fn run() -> anyhow::Result<Report> {
    heading("Part 1 — counting references: sys.getrefcount, step by step");
    note(
        "Every CPython object carries a reference count: how many names, containers and\n\
         stack slots point at it. Binding a name adds one (Py_INCREF); unbinding takes one\n\
         away (Py_DECREF); at zero the object is freed at once. Below, a model object and a\n\
         Rust Rc go through the same statements.",
    );

    let a = PyObject::new("list", Counting::Plain); // a = []
    let rc_a = Rc::new(Vec::<u8>::new());
    let mut steps = Vec::new();
    let mut step = |statement, rc: &Rc<Vec<u8>>| {
        steps.push(Step {
            statement,
            getrefcount: a.getrefcount(),
            refcnt: a.refcnt(),
            rc_strong_count: Rc::strong_count(rc),
        });
    };
    step("a = []", &rc_a);

    a.incref(); // b = a
    let rc_b = Rc::clone(&rc_a);
    step("b = a", &rc_a);

    a.incref(); // c = [a]: the list's slot is one more reference
    let rc_c = vec![Rc::clone(&rc_a)];
    step("c = [a]", &rc_a);

    a.decref(); // del b
    drop(rc_b);
    step("del b", &rc_a);

    a.decref(); // del c: freeing the outer list drops the reference in its slot
    drop(rc_c);
    step("del c", &rc_a);

    for s in &steps {
        kv(
            &format!("after {}", s.statement),
            format!(
                "getrefcount(a) {}   Py_REFCNT(a) {}   Rc::strong_count(&a) {}",
                s.getrefcount, s.refcnt, s.rc_strong_count
            ),
        );
    }
    note(
        "getrefcount is always one higher than the references you can see: to call it you\n\
         pass `a` as an argument, and the call's parameter is a reference too while the call\n\
         runs. The model really takes and drops that reference. Rc::strong_count borrows\n\
         its argument (&a) instead of owning a reference, so it reports the count itself.\n\
         CPython 3.14 may report one less for local variables inside functions, because its\n\
         interpreter borrows some references instead of counting them; at module level you\n\
         see the numbers above.",
    );

    let none = PyObject::immortal("NoneType");
    let immortal_getrefcount = none.getrefcount();
    kv("getrefcount(None)", immortal_getrefcount);
    note(
        "None, True, small ints and interned strings are immortal since CPython 3.12 (PEP\n\
         683): increfs and decrefs leave them alone, and their count reads as a huge\n\
         sentinel (this is 3.12's on 64-bit builds). No count to update means nothing for\n\
         racing threads to corrupt, and no cache line bouncing between cores.",
    );

    a.decref(); // del a: the last reference
    let verdict = a.audit().fate();
    kv("after del a", verdict);
    note("The count reached zero, so the list was freed right then, not at some later sweep.");

    Ok(Report {
        steps,
        immortal_getrefcount,
        verdict,
    })
}
