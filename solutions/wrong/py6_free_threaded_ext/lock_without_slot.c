// Wrong: guards the counter but never declares the slot: the import turns the GIL back on
// Fails: GIL enabled after import (harness)|warnings on import (harness)
/* Exercise py6: make a C extension module free-threading ready.
 *
 * On a free-threaded Python (3.13t, 3.14t), importing a module that does not declare the
 * Py_mod_gil slot switches the GIL back on for the whole process, with a RuntimeWarning.
 * Declaring the slot is a promise: the module's own shared state is safe without the GIL.
 * This module's state is one counter, `hits`, that bump(n) adds n to, one at a time.
 *
 * TODO: keep that promise, then make it:
 *   1. guard the read and the write of `hits` in bump() with a lock of the module's own
 *      (a `static PyMutex`, locked with PyMutex_Lock and unlocked with PyMutex_Unlock);
 *   2. declare {Py_mod_gil, Py_MOD_GIL_NOT_USED} in `slots` below.
 * The grader compiles this file against the interpreter's own headers, imports it in a
 * fresh free-threaded interpreter (is the GIL still off? any warning?) and has several
 * threads call bump() at once (did any update get lost?).
 *
 * Check it: cargo xtask check py6_free_threaded_ext   (needs python3.13t or python3.14t)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static long long hits; /* shared by every thread that calls bump() */
static PyMutex hits_lock; /* guards hits */

static PyObject *bump(PyObject *self, PyObject *arg)
{
    long long n = PyLong_AsLongLong(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    for (long long i = 0; i < n; i++) {
        PyMutex_Lock(&hits_lock);
        long long seen = *(volatile long long *)&hits;
        for (volatile int work = 0; work < 20; work++) /* the new value takes a moment */
            ;
        *(volatile long long *)&hits = seen + 1;
        PyMutex_Unlock(&hits_lock);
    }
    Py_RETURN_NONE;
}

static PyModuleDef_Slot slots[] = {
    {0, NULL},
};

/* ── You do not need to change anything below this line. ── */

static PyObject *total(PyObject *self, PyObject *unused)
{
    return PyLong_FromLongLong(hits);
}

static PyMethodDef methods[] = {
    {"bump", bump, METH_O, "Add n to the shared counter, one at a time."},
    {"total", total, METH_NOARGS, "The shared counter."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "counter", NULL, 0, methods, slots,
};

PyMODINIT_FUNC PyInit_counter(void)
{
    return PyModuleDef_Init(&module);
}
