/* The history buffer's hot path in C: `log()` of a row shaped like the last one.
 *
 * engine/buffer.py is the whole buffer; this file only makes its commonest call cheap. A `Rows`
 * holds the rows of one all-number chunk (keys, row-major doubles, steps, times) in memory it
 * owns; a `Lane` holds what an append needs: the chunk rows of the last shape go to, whether it
 * may take rows (armed), the next step, the rows logged, and the throttle deadline.
 *
 * `Lane.append_like_last(d)` returns 0 (not taken: the caller's slow path runs), 1 (appended) or
 * 2 (appended, and the writer is behind: the caller waits). It never runs Python code: keys are
 * compared by pointer (the dict was made by the same code as the last one, so its keys are the
 * same objects) or as exact str, values are read only from exact floats, ints and bools (a
 * number of any other type goes to the slow path), so under the GIL it is atomic with respect
 * to every other thread. It takes no row while the buffer's Python lock is held: the Python
 * side changes a Lane only under that lock. Without a GIL (free-threaded builds) it takes the
 * lock itself, without blocking.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* -- Rows ----------------------------------------------------------------------------------- */

/* Rows per chunk, as engine/buffer.py CHUNK_ROWS: the writer converts one chunk at a time, so
 * a writer that fell behind never holds a backlog's worth of copies at once. */
#define CHUNK_ROWS 32768
#define CHUNK_VALUES (1 << 20)  /* and values: a wide row fills a chunk in fewer rows */

typedef struct {
    PyObject_HEAD
    PyObject *keys;      /* tuple of str */
    Py_ssize_t width;
    double *values;      /* n * width, row-major */
    int64_t *steps;
    double *times;
    Py_ssize_t n, cap;
} Rows;

static int rows_grow(Rows *self) {
    Py_ssize_t cap = self->cap ? self->cap * 2 : 64;
    size_t w = (size_t)(self->width ? self->width : 1);
    double *values = PyMem_Realloc(self->values, sizeof(double) * w * (size_t)cap);
    if (values == NULL) return -1;
    self->values = values;
    int64_t *steps = PyMem_Realloc(self->steps, sizeof(int64_t) * (size_t)cap);
    if (steps == NULL) return -1;
    self->steps = steps;
    double *times = PyMem_Realloc(self->times, sizeof(double) * (size_t)cap);
    if (times == NULL) return -1;
    self->times = times;
    self->cap = cap;
    return 0;
}

static int rows_init(Rows *self, PyObject *args, PyObject *kwds) {
    PyObject *keys;
    static char *names[] = {"keys", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!", names, &PyTuple_Type, &keys)) return -1;
    Py_ssize_t width = PyTuple_GET_SIZE(keys);
    for (Py_ssize_t j = 0; j < width; j++) {
        if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(keys, j))) {
            PyErr_SetString(PyExc_TypeError, "Rows keys must be str");
            return -1;
        }
    }
    Py_XSETREF(self->keys, Py_NewRef(keys));
    self->width = width;
    return 0;
}

static void rows_dealloc(Rows *self) {
    Py_XDECREF(self->keys);
    PyMem_Free(self->values);
    PyMem_Free(self->steps);
    PyMem_Free(self->times);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Number types of other libraries read like floats (numpy's scalars): their conversion is
 * their own C code, which runs no Python code. Set once by engine/buffer.py. */
static PyObject *extra_types = NULL;  /* a tuple of types, or NULL */

static int is_extra(PyTypeObject *t) {
    if (extra_types == NULL) return 0;
    Py_ssize_t n = PyTuple_GET_SIZE(extra_types);
    for (Py_ssize_t i = 0; i < n; i++) {
        if ((PyObject *)t == PyTuple_GET_ITEM(extra_types, i)) return 1;
    }
    return 0;
}

/* A number as a double without running Python code; 0 when it is not one we read here. */
static inline int as_double(PyObject *v, double *out) {
    if (PyFloat_Check(v)) {  /* float and its subclasses (numpy.float64) hold a C double */
        *out = PyFloat_AS_DOUBLE(v);
        return 1;
    }
    if (PyLong_CheckExact(v) || PyBool_Check(v)) {
        double d = PyLong_AsDouble(v);
        if (d == -1.0 && PyErr_Occurred()) {  /* too big for a double: the slow path says so */
            PyErr_Clear();
            return 0;
        }
        *out = d;
        return 1;
    }
    if (is_extra(Py_TYPE(v))) {
        double d = PyFloat_AsDouble(v);
        if (d == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
        *out = d;
        return 1;
    }
    return 0;
}

static PyObject *set_number_types(PyObject *module, PyObject *types) {
    if (!PyTuple_Check(types)) {
        PyErr_SetString(PyExc_TypeError, "set_number_types takes a tuple of types");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(types); i++) {
        if (!PyType_Check(PyTuple_GET_ITEM(types, i))) {
            PyErr_SetString(PyExc_TypeError, "set_number_types takes a tuple of types");
            return NULL;
        }
    }
    Py_XSETREF(extra_types, Py_NewRef(types));
    Py_RETURN_NONE;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Rows.push(values, step, time): one row of numbers, from the slow path. */
static PyObject *rows_push(Rows *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || !PyTuple_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "push(values: tuple, step: int, time: float)");
        return NULL;
    }
    PyObject *values = args[0];
    if (PyTuple_GET_SIZE(values) != self->width) {
        PyErr_SetString(PyExc_ValueError, "push: a row of another width");
        return NULL;
    }
    long long step = PyLong_AsLongLong(args[1]);
    if (step == -1 && PyErr_Occurred()) return NULL;
    double t = PyFloat_AsDouble(args[2]);
    if (t == -1.0 && PyErr_Occurred()) return NULL;
    if (self->n == self->cap && rows_grow(self) < 0) return PyErr_NoMemory();
    double *row = self->values + self->n * self->width;
    for (Py_ssize_t j = 0; j < self->width; j++) {
        double d = PyFloat_AsDouble(PyTuple_GET_ITEM(values, j));
        if (d == -1.0 && PyErr_Occurred()) return NULL;
        row[j] = d;
    }
    self->steps[self->n] = (int64_t)step;
    self->times[self->n] = t;
    self->n++;
    Py_RETURN_NONE;
}

static PyObject *bytes_of(const void *data, Py_ssize_t size) {
    return PyBytes_FromStringAndSize(size ? (const char *)data : NULL, size);
}

/* Copies of the three arrays: the writer reads them once, after the chunk was taken. */
static PyObject *rows_values(Rows *self, PyObject *unused) {
    return bytes_of(self->values, (Py_ssize_t)sizeof(double) * self->n * self->width);
}
static PyObject *rows_steps(Rows *self, PyObject *unused) {
    return bytes_of(self->steps, (Py_ssize_t)sizeof(int64_t) * self->n);
}
static PyObject *rows_times(Rows *self, PyObject *unused) {
    return bytes_of(self->times, (Py_ssize_t)sizeof(double) * self->n);
}

static Py_ssize_t rows_len(Rows *self) { return self->n; }

static PyObject *rows_first_step(Rows *self, PyObject *unused) {
    if (self->n == 0) Py_RETURN_NONE;
    return PyLong_FromLongLong(self->steps[0]);
}
static PyObject *rows_first_time(Rows *self, PyObject *unused) {
    if (self->n == 0) Py_RETURN_NONE;
    return PyFloat_FromDouble(self->times[0]);
}

static PyMethodDef rows_methods[] = {
    {"push", (PyCFunction)(void (*)(void))rows_push, METH_FASTCALL, "Append one row (slow path)."},
    {"values_bytes", (PyCFunction)rows_values, METH_NOARGS, "The values, row-major float64."},
    {"steps_bytes", (PyCFunction)rows_steps, METH_NOARGS, "The steps, int64."},
    {"times_bytes", (PyCFunction)rows_times, METH_NOARGS, "The times, float64."},
    {"first_step", (PyCFunction)rows_first_step, METH_NOARGS, "The first row's step, or None."},
    {"first_time", (PyCFunction)rows_first_time, METH_NOARGS, "The first row's time, or None."},
    {NULL}
};

static PyObject *rows_get_keys(Rows *self, void *closure) { return Py_NewRef(self->keys); }

static PyGetSetDef rows_getset[] = {
    {"keys", (getter)rows_get_keys, NULL, "The keys, in order.", NULL},
    {NULL}
};

static PySequenceMethods rows_as_sequence = {.sq_length = (lenfunc)rows_len};

static PyTypeObject RowsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "runlake.engine._native.Rows",
    .tp_doc = "Rows of one all-number chunk, in memory of its own.",
    .tp_basicsize = sizeof(Rows),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)rows_init,
    .tp_dealloc = (destructor)rows_dealloc,
    .tp_methods = rows_methods,
    .tp_getset = rows_getset,
    .tp_as_sequence = &rows_as_sequence,
};

/* -- Lane ----------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *lock;      /* the buffer's threading.Lock */
    PyObject *locked;    /* its bound `locked` (or `acquire`/`release` without a GIL) */
    PyObject *release;
    Rows *cur;           /* rows of the last shape, or NULL */
    int armed;
    unsigned long long step;  /* up to 2**63: one past the last int64 step, then never armed */
    long long rows_logged;
    double deadline;
} Lane;

static int lane_init(Lane *self, PyObject *args, PyObject *kwds) {
    PyObject *lock;
    unsigned long long step = 0;
    static char *names[] = {"lock", "step", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|K", names, &lock, &step)) return -1;
#ifdef Py_GIL_DISABLED
    PyObject *check = PyObject_GetAttrString(lock, "acquire");
#else
    PyObject *check = PyObject_GetAttrString(lock, "locked");
#endif
    if (check == NULL) return -1;
    PyObject *release = PyObject_GetAttrString(lock, "release");
    if (release == NULL) {
        Py_DECREF(check);
        return -1;
    }
    Py_XSETREF(self->lock, Py_NewRef(lock));
    Py_XSETREF(self->locked, check);
    Py_XSETREF(self->release, release);
    self->step = step;
    self->deadline = Py_HUGE_VAL;
    return 0;
}

static void lane_dealloc(Lane *self) {
    Py_XDECREF(self->lock);
    Py_XDECREF(self->locked);
    Py_XDECREF(self->release);
    Py_XDECREF(self->cur);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Whether `d` has exactly the keys of `rows`, in order; its values then go to `row`. */
static int take_row(Rows *rows, PyObject *d, double *row) {
    if (PyDict_GET_SIZE(d) != rows->width) return 0;
    Py_ssize_t pos = 0, j = 0;
    PyObject *key, *value;
    PyObject **want = &PyTuple_GET_ITEM(rows->keys, 0);
    while (PyDict_Next(d, &pos, &key, &value)) {
        PyObject *k = want[j];
        if (key != k && !(PyUnicode_CheckExact(key) && PyUnicode_Compare(key, k) == 0)) {
            return 0;
        }
        if (!as_double(value, &row[j])) return 0;
        j++;
    }
    return j == rows->width;
}

static PyObject *lane_append_like_last(Lane *self, PyObject *d) {
    Rows *rows = self->cur;
    if (!self->armed || rows == NULL || !PyDict_CheckExact(d)) return PyLong_FromLong(0);
#ifdef Py_GIL_DISABLED
    PyObject *got = PyObject_CallOneArg(self->locked, Py_False);  /* acquire(blocking=False) */
    if (got == NULL) return NULL;
    int mine = PyObject_IsTrue(got);
    Py_DECREF(got);
    if (!mine) return PyLong_FromLong(0);
    rows = self->cur;
    if (!self->armed || rows == NULL) goto fallback;
#else
    PyObject *busy = PyObject_CallNoArgs(self->locked);
    if (busy == NULL) return NULL;
    int held = (busy == Py_True);
    Py_DECREF(busy);
    if (held) return PyLong_FromLong(0);  /* a Python-side change is under way */
#endif
    if (rows->n >= CHUNK_ROWS || (rows->n > 0 && (rows->n + 1) * rows->width > CHUNK_VALUES) ||
        self->step > (unsigned long long)INT64_MAX) {
        goto fallback;  /* full: the slow path starts the next chunk (or waits for the writer) */
    }  /* full: the slow path starts the next chunk */
    if (rows->n == rows->cap && rows_grow(rows) < 0) {
        PyErr_Clear();
        goto fallback;
    }
    double *row = rows->values + rows->n * rows->width;
    if (!take_row(rows, d, row)) goto fallback;
    double t = now();
    rows->steps[rows->n] = (int64_t)self->step;
    rows->times[rows->n] = t;
    rows->n++;
    self->step++;
    self->rows_logged++;
#ifdef Py_GIL_DISABLED
    {
        PyObject *r = PyObject_CallNoArgs(self->release);
        if (r == NULL) return NULL;
        Py_DECREF(r);
    }
#endif
    return PyLong_FromLong(t > self->deadline ? 2 : 1);
fallback:
#ifdef Py_GIL_DISABLED
    {
        PyObject *r = PyObject_CallNoArgs(self->release);
        if (r == NULL) return NULL;
        Py_DECREF(r);
    }
#endif
    return PyLong_FromLong(0);
}

static PyObject *lane_get_cur(Lane *self, void *c) {
    return self->cur ? Py_NewRef((PyObject *)self->cur) : Py_NewRef(Py_None);
}
static int lane_set_cur(Lane *self, PyObject *v, void *c) {
    if (v == NULL || v == Py_None) {
        Py_CLEAR(self->cur);
        return 0;
    }
    if (!PyObject_TypeCheck(v, &RowsType)) {
        PyErr_SetString(PyExc_TypeError, "cur must be Rows or None");
        return -1;
    }
    Py_XSETREF(self->cur, (Rows *)Py_NewRef(v));
    return 0;
}
static PyObject *lane_get_armed(Lane *self, void *c) { return PyBool_FromLong(self->armed); }
static int lane_set_armed(Lane *self, PyObject *v, void *c) {
    int b = v == NULL ? 0 : PyObject_IsTrue(v);
    if (b < 0) return -1;
    self->armed = b;
    return 0;
}
static PyObject *lane_get_step(Lane *self, void *c) {
    return PyLong_FromUnsignedLongLong(self->step);
}
static int lane_set_step(Lane *self, PyObject *v, void *c) {
    if (v == NULL) {
        PyErr_SetString(PyExc_TypeError, "step cannot be deleted");
        return -1;
    }
    unsigned long long s = PyLong_AsUnsignedLongLong(v);  /* a negative step raises */
    if (s == (unsigned long long)-1 && PyErr_Occurred()) return -1;
    self->step = s;
    return 0;
}
static PyObject *lane_get_rows(Lane *self, void *c) { return PyLong_FromLongLong(self->rows_logged); }
static int lane_set_rows(Lane *self, PyObject *v, void *c) {
    if (v == NULL) {
        PyErr_SetString(PyExc_TypeError, "rows_logged cannot be deleted");
        return -1;
    }
    long long s = PyLong_AsLongLong(v);
    if (s == -1 && PyErr_Occurred()) return -1;
    self->rows_logged = s;
    return 0;
}
static PyObject *lane_get_deadline(Lane *self, void *c) { return PyFloat_FromDouble(self->deadline); }
static int lane_set_deadline(Lane *self, PyObject *v, void *c) {
    if (v == NULL) {
        PyErr_SetString(PyExc_TypeError, "deadline cannot be deleted");
        return -1;
    }
    double d = PyFloat_AsDouble(v);
    if (d == -1.0 && PyErr_Occurred()) return -1;
    self->deadline = d;
    return 0;
}

static PyGetSetDef lane_getset[] = {
    {"cur", (getter)lane_get_cur, (setter)lane_set_cur, "Rows of the last shape, or None.", NULL},
    {"armed", (getter)lane_get_armed, (setter)lane_set_armed, "Whether appends may take rows.", NULL},
    {"step", (getter)lane_get_step, (setter)lane_set_step, "The step of the next row.", NULL},
    {"rows_logged", (getter)lane_get_rows, (setter)lane_set_rows, "Rows appended so far.", NULL},
    {"deadline", (getter)lane_get_deadline, (setter)lane_set_deadline,
     "When the oldest untaken row is too old (inf: never).", NULL},
    {NULL}
};

static PyMethodDef lane_methods[] = {
    {"append_like_last", (PyCFunction)lane_append_like_last, METH_O,
     "0: not taken, 1: appended, 2: appended and the writer is behind."},
    {NULL}
};

static PyTypeObject LaneType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "runlake.engine._native.Lane",
    .tp_doc = "The hot path's state of one history buffer.",
    .tp_basicsize = sizeof(Lane),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)lane_init,
    .tp_dealloc = (destructor)lane_dealloc,
    .tp_methods = lane_methods,
    .tp_getset = lane_getset,
};

/* -- module --------------------------------------------------------------------------------- */

static PyMethodDef module_methods[] = {
    {"set_number_types", set_number_types, METH_O,
     "Types (numpy's scalars) whose values the hot path reads as floats."},
    {NULL}
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT, "_native",
    "The history buffer's hot path in C (engine/buffer.py falls back to Python without it).", -1,
    module_methods,
};

PyMODINIT_FUNC PyInit__native(void) {
    if (PyType_Ready(&RowsType) < 0 || PyType_Ready(&LaneType) < 0) return NULL;
    PyObject *m = PyModule_Create(&native_module);
    if (m == NULL) return NULL;
    if (PyModule_AddIntConstant(m, "CHUNK_ROWS", CHUNK_ROWS) < 0 ||
        PyModule_AddIntConstant(m, "CHUNK_VALUES", CHUNK_VALUES) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "Rows", (PyObject *)&RowsType) < 0 ||
        PyModule_AddObjectRef(m, "Lane", (PyObject *)&LaneType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
#ifdef Py_GIL_DISABLED
    PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED);
#endif
    return m;
}
