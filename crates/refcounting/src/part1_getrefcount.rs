//! Part 1 — counting references: `sys.getrefcount` step by step, beside `Rc::strong_count`.
//!
#![doc = include_str!("part1_getrefcount.md")]

use std::rc::Rc;

use gil_core::claim::{Claim, Unit};
use gil_core::context::Cx;
use gil_core::object::{Counting, Fate, IMMORTAL_REFCNT, PyObject};
use gil_core::part::{Part, Run};
use gil_core::report::{Table, kv};

use crate::setup::Config;

/// The Python this part models.
pub const PYTHON: &str = "\
import sys
a = []
print(sys.getrefcount(a))
b = a
c = [a]                       # a list slot is a reference too
del b
del c
print(sys.getrefcount(None))
del a";

/// `sys.getrefcount(None)` on 64-bit CPython 3.14 and later: `_Py_IMMORTAL_INITIAL_REFCNT`,
/// `3ULL << 30` in `Include/refcount.h`. (3.12 and 3.13 report `_Py_IMMORTAL_REFCNT`, `UINT_MAX`,
/// which is what the model's [`IMMORTAL_REFCNT`] is.)
pub const PY314_IMMORTAL_INITIAL_REFCNT: u64 = 3 << 30;

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
    pub fate: Fate,
    /// How many times `a` was freed (1 when all is well).
    pub deallocs: u64,
}

/// Part 1 as the lesson runs it: the walk-through is deterministic, so a live run and the
/// simulator compute the same figures.
pub struct GetRefcount;

impl Part<Config> for GetRefcount {
    type Figures = Report;

    fn title(&self) -> &'static str {
        "counting references"
    }

    fn python(&self) -> &'static str {
        PYTHON
    }

    fn text(&self) -> &'static str {
        include_str!("part1_getrefcount.md")
    }

    /// Deterministic: the same figures on any machine, so a busy one changes nothing.
    fn cores_needed(&self, _: &Config) -> usize {
        0
    }

    fn live(&self, _: &Cx, _: &Config) -> anyhow::Result<Report> {
        Ok(walk())
    }

    fn simulate(&self, _: &Cx, _: &Config) -> anyhow::Result<Report> {
        Ok(walk())
    }

    fn show(&self, cx: &mut Cx, _: &Config, run: Run<'_, Report>) -> anyhow::Result<()> {
        let report = run.figures;
        let steps = &report.steps;
        let mut table = Table::new(&["after", "sys.getrefcount(a)", "the count itself"]);
        for s in steps {
            table.push([
                s.statement.to_owned(),
                s.getrefcount.to_string(),
                s.refcnt.to_string(),
            ]);
        }
        table.print();
        println!();
        let extra = steps.first().map_or(0, |s| s.getrefcount - s.refcnt);
        cx.claim(Claim {
            figure: "getrefcount(a) - the count",
            unit: Unit::Count,
            measured: extra as f64,
            expected: 1.0,
            low: 1.0,
            high: 1.0,
            text: "sys.getrefcount reads one more than the names you can see: its \
                   parameter holds `a` during the call (3.14 may show one less inside \
                   functions).",
        });
        println!();
        kv("sys.getrefcount(None)", report.immortal_getrefcount);
        cx.claim(Claim {
            figure: "times the list was freed",
            unit: Unit::Count,
            measured: report.deallocs as f64,
            expected: 1.0,
            low: 1.0,
            high: 1.0,
            text: "`del a` took the count to zero and freed the list, once.",
        });
        Ok(())
    }
}

/// Bind and unbind names to one model list (and an `Rc` beside it) and record the counts
/// after each step, then ask an immortal object its count and delete the last name.
pub fn walk() -> Report {
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

    let immortal_getrefcount = PyObject::immortal("NoneType").getrefcount();
    debug_assert_eq!(immortal_getrefcount, IMMORTAL_REFCNT);

    a.decref(); // del a: the last reference
    let audit = a.audit();
    Report {
        steps,
        immortal_getrefcount,
        fate: audit.fate(),
        deallocs: audit.deallocs,
    }
}
