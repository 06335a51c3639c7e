/* A minimal extension module with shared state: one counter that bump(n) adds n to.
 *
 * Compiled by part 5 (and exercise py6) against the running interpreter's own headers:
 *   -DMODULE=name          the module's name
 *   -DDECLARE_NOT_USED     declare the Py_mod_gil slot: "runs safely without the GIL"
 *   -DOWN_LOCK             guard the counter with a lock of its own (PyMutex, 3.13+)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define PASTE(a, b) a##b
#define INIT(name) PASTE(PyInit_, name)
#define TEXT(name) #name
#define NAME(name) TEXT(name)

static long long hits; /* shared by every thread that calls bump() */
#ifdef OWN_LOCK
static PyMutex hits_lock;
#endif

static PyObject *bump(PyObject *self, PyObject *arg)
{
    long long n = PyLong_AsLongLong(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    for (long long i = 0; i < n; i++) {
#ifdef OWN_LOCK
        PyMutex_Lock(&hits_lock);
#endif
        /* A read, then a write: without a lock another thread can write in between. */
        long long seen = *(volatile long long *)&hits;
        for (volatile int work = 0; work < 20; work++) /* the new value takes a moment */
            ;
        *(volatile long long *)&hits = seen + 1;
#ifdef OWN_LOCK
        PyMutex_Unlock(&hits_lock);
#endif
    }
    Py_RETURN_NONE;
}

static PyObject *total(PyObject *self, PyObject *unused)
{
    return PyLong_FromLongLong(hits);
}

static PyMethodDef methods[] = {
    {"bump", bump, METH_O, "Add n to the shared counter, one at a time."},
    {"total", total, METH_NOARGS, "The shared counter."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot slots[] = {
#ifdef DECLARE_NOT_USED
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, NAME(MODULE), NULL, 0, methods, slots,
};

PyMODINIT_FUNC INIT(MODULE)(void)
{
    return PyModuleDef_Init(&module);
}
