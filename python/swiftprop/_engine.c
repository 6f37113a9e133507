/*
 * swiftprop._engine: the CPython shim over the Swift engine's C ABI.
 *
 * Every function keeps CPython's order: parse the arguments, acquire the
 * buffers, check dtype and shape against the network, release the GIL,
 * call Swift, take the GIL back, release every buffer, return or raise.
 * The parsing and the acquiring are one step: a function lists its
 * positional arguments as a table of converters (a handle, an array,
 * optimizer settings, fit options, a number), and parse_arguments runs
 * them. Converters follow the protocol of PyArg_ParseTuple's "O&": one
 * that holds something returns Py_CLEANUP_SUPPORTED and is called again
 * with NULL to give it back when a later argument fails. After a
 * successful parse the function releases what the converters hold
 * (release_arrays, release_optimizer). The functions are METH_FASTCALL,
 * as Argument Clinic makes CPython's own: no argument tuple, no format
 * string to interpret on every call (predict on one row is the hot path).
 *
 * Arrays are acquired C-contiguous with their format; inputs are never
 * requested writable, so read-only arrays (memmaps, frozen arrays) work.
 * The Python layer has already converted its inputs with
 * np.ascontiguousarray; these checks are the safety net for direct callers.
 *
 * The engine's codes are numbered in swiftprop.h only: the module exports
 * every SP_* constant, and name(), loss_info(), optimizer_info() and
 * optimizer_setting() describe them (swiftprop._codes builds its tables
 * from these).
 *
 * References: every PyObject* taken by object_converter is borrowed;
 * every Py_buffer is released exactly once (a released or never acquired
 * buffer has obj == NULL, and PyBuffer_Release on it is a no-op).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

#include "swiftprop.h"

#define ERROR_CAPACITY 512
#define NAME_CAPACITY 128

/* ------------------------------------------------------- limited API */

/* With Py_LIMITED_API (setup.py, on CPython >= 3.11: one abi3 build for
 * every later version) a type's tp_name and the PySequence_Fast_GET_*
 * macros are out of reach; these stand in for them. */

/* Raises TypeError "<prefix>, not <the type of object>"; returns 0. */
static int
type_error(const char *prefix, PyObject *object)
{
#ifdef Py_LIMITED_API
    PyObject *name = PyType_GetName(Py_TYPE(object));  /* new reference */
    if (name != NULL) {
        PyErr_Format(PyExc_TypeError, "%s, not %U", prefix, name);
        Py_DECREF(name);
    }
#else
    PyErr_Format(PyExc_TypeError, "%s, not %.100s", prefix,
                 Py_TYPE(object)->tp_name);
#endif
    return 0;
}

/* The size and item i (borrowed) of a PySequence_Fast result, which is a
 * list or a tuple. */
static Py_ssize_t
fast_size(PyObject *sequence)
{
    return PyList_Check(sequence) ? PyList_Size(sequence)
                                  : PyTuple_Size(sequence);
}

static PyObject *
fast_item(PyObject *sequence, Py_ssize_t i)
{
    return PyList_Check(sequence) ? PyList_GetItem(sequence, i)
                                  : PyTuple_GetItem(sequence, i);
}

/* ---------------------------------------------------------------- errors */

/* The one table from an ABI status to a Python exception; raises it with
 * the engine's message and returns NULL. SP_CALLBACK_ERROR keeps the
 * exception the fit callback left pending (KeyboardInterrupt, or what the
 * reporter raised). */
static PyObject *
raise_status(int32_t status, const char *message)
{
    PyObject *type;
    switch (status) {
    case SP_OUT_OF_MEMORY: type = PyExc_MemoryError; break;
    case SP_BUSY: type = PyExc_RuntimeError; break;
    case SP_DIVERGED: type = PyExc_FloatingPointError; break;
    case SP_CALLBACK_ERROR:
        if (PyErr_Occurred())
            return NULL;
        type = PyExc_RuntimeError;
        break;
    default: type = PyExc_ValueError; break;
    }
    PyErr_SetString(type, message[0] ? message : "swiftprop engine error");
    return NULL;
}

/* ------------------------------------------------------------- arguments */

/* A positional argument: an "O&" converter and where it puts its result. */
typedef struct {
    int (*convert)(PyObject *object, void *address);
    void *address;
} argument;

#define MAX_ARGUMENTS 16

/* The table of a function's arguments and its length, for parse_arguments. */
#define ARGUMENTS(table) (table), Py_ARRAY_LENGTH(table)

/*
 * Converts args[i] with arguments[i] for each given argument; the last
 * `optional` arguments may be left out (their addresses keep their
 * defaults). On failure, gives back what the converters before hold
 * (calling those that returned Py_CLEANUP_SUPPORTED with NULL, as
 * PyArg_ParseTuple does) and returns -1 with the error set; else 0.
 */
static int
parse_arguments(PyObject *const *args, Py_ssize_t nargs, const char *function,
                const argument *arguments, Py_ssize_t count, Py_ssize_t optional)
{
    Py_ssize_t required = count - optional;
    if (nargs < required || nargs > count) {
        if (optional == 0)
            PyErr_Format(PyExc_TypeError, "%s() takes exactly %zd argument%s "
                         "(%zd given)", function, count, count == 1 ? "" : "s",
                         nargs);
        else
            PyErr_Format(PyExc_TypeError, "%s() takes from %zd to %zd arguments "
                         "(%zd given)", function, required, count, nargs);
        return -1;
    }
    int holds[MAX_ARGUMENTS];
    if (count > MAX_ARGUMENTS) {
        PyErr_Format(PyExc_SystemError, "%s() has more than %d arguments",
                     function, MAX_ARGUMENTS);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        holds[i] = arguments[i].convert(args[i], arguments[i].address);
        if (holds[i] == 0) {
            while (i-- > 0) {
                if (holds[i] == Py_CLEANUP_SUPPORTED)
                    arguments[i].convert(NULL, arguments[i].address);
            }
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ converters */

/* "O&" converters for numbers, with PyArg_ParseTuple's conversions. */
static int
int32_converter(PyObject *object, void *address)
{
    long value = PyLong_AsLong(object);
    if (value == -1 && PyErr_Occurred())
        return 0;
    if (value < INT32_MIN || value > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "signed integer is out of range");
        return 0;
    }
    *(int32_t *)address = (int32_t)value;
    return 1;
}

static int
int64_converter(PyObject *object, void *address)
{
    long long value = PyLong_AsLongLong(object);
    if (value == -1 && PyErr_Occurred())
        return 0;
    *(int64_t *)address = (int64_t)value;
    return 1;
}

/* Modulo 2^64, as "K" (seeds and generator states are 64-bit patterns). */
static int
uint64_converter(PyObject *object, void *address)
{
    if (!PyLong_Check(object)) {
        return type_error("an integer is required", object);
    }
    unsigned long long value = PyLong_AsUnsignedLongLongMask(object);
    if (value == (unsigned long long)-1 && PyErr_Occurred())
        return 0;
    *(uint64_t *)address = (uint64_t)value;
    return 1;
}

static int
double_converter(PyObject *object, void *address)
{
    double value = PyFloat_AsDouble(object);
    if (value == -1.0 && PyErr_Occurred())
        return 0;
    *(double *)address = value;
    return 1;
}

/* Any object, borrowed (as "O"). */
static int
object_converter(PyObject *object, void *address)
{
    *(PyObject **)address = object;
    return 1;
}

/* A network handle and what sp_network_info says about it. */
typedef struct {
    int64_t handle;
    sp_network_description shape;
} network_arg;

/* "O&" converter: an int handle, described by the engine (an unknown
 * handle raises ValueError here). Holds nothing. */
static int
network_converter(PyObject *object, void *address)
{
    network_arg *network = (network_arg *)address;
    network->handle = PyLong_AsLongLong(object);
    if (network->handle == -1 && PyErr_Occurred())
        return 0;
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_network_info(network->handle, &network->shape, error,
                                     ERROR_CAPACITY);
    if (status != SP_OK) {
        raise_status(status, error);
        return 0;
    }
    return 1;
}

/* The size an array's second dimension must have. */
enum { ANY_COLUMNS = 0, INPUT_COLUMNS, OUTPUT_COLUMNS, LAYER_COLUMNS };

/* How an array is acquired (flags, or-ed). */
enum {
    WRITABLE = 1, /* the engine writes into it */
    FLOAT64 = 2,  /* float64 whatever the network's dtype */
    OPTIONAL = 4, /* None is accepted and passed to the engine as NULL */
};

/* An array argument: what it must be, and the buffer once acquired. */
typedef struct array_arg {
    const network_arg *network;         /* its dtype and sizes */
    const char *name;                   /* for error messages */
    int ndim;                           /* 1 or 2 */
    int columns;                        /* ANY_COLUMNS, INPUT_COLUMNS, ... */
    int flags;                          /* WRITABLE | FLOAT64 | OPTIONAL */
    const struct array_arg *rows_like;  /* same number of rows as this one */
    const struct array_arg *size_like;  /* same number of values as this one */
    Py_buffer view;                     /* view.obj is NULL when not held */
} array_arg;

static Py_ssize_t
rows_of(const array_arg *array)
{
    return array->view.ndim >= 1 ? array->view.shape[0] : 0;
}

static Py_ssize_t
count_of(const array_arg *array)
{
    Py_ssize_t itemsize = array->view.itemsize ? array->view.itemsize : 1;
    return array->view.len / itemsize;
}

static int
is_present(const array_arg *array)
{
    return array->view.obj != NULL;
}

/* The struct-module code of a buffer's element, without byte-order marks. */
static char
format_code(const Py_buffer *view)
{
    const char *format = view->format ? view->format : "B";
    if (format[0] == '@' || format[0] == '=' || format[0] == '<')
        format++;
    return format[1] == '\0' ? format[0] : '?';
}

static int64_t
expected_columns(const array_arg *array)
{
    const sp_network_description *shape = &array->network->shape;
    switch (array->columns) {
    case INPUT_COLUMNS: return shape->inputs;
    case OUTPUT_COLUMNS: return shape->outputs;
    case LAYER_COLUMNS: return shape->layer_count;
    default: return -1;
    }
}

/* Checks an acquired buffer against its description; 0, or -1 with
 * TypeError/ValueError set. */
static int
check_array(const array_arg *array)
{
    const Py_buffer *view = &array->view;
    const char *name = array->name;
    int float32 = !(array->flags & FLOAT64)
        && array->network->shape.dtype == SP_FLOAT32;
    if (format_code(view) != (float32 ? 'f' : 'd')
        || view->itemsize != (float32 ? 4 : 8)) {
        PyErr_Format(PyExc_TypeError, "%s must have dtype %s, got format '%s'",
                     name, float32 ? "float32" : "float64",
                     view->format ? view->format : "B");
        return -1;
    }
    if (view->ndim != array->ndim) {
        PyErr_Format(PyExc_ValueError, "%s must be %d-D, got %d-D", name,
                     array->ndim, view->ndim);
        return -1;
    }
    int64_t columns = expected_columns(array);
    if (array->ndim == 2 && columns >= 0 && view->shape[1] != columns) {
        PyErr_Format(PyExc_ValueError, "%s has %zd columns, expected %lld", name,
                     view->shape[1], (long long)columns);
        return -1;
    }
    const array_arg *other = array->rows_like;
    if (other != NULL && is_present(other) && rows_of(array) != rows_of(other)) {
        PyErr_Format(PyExc_ValueError, "%s has %zd samples, but %s has %zd", name,
                     rows_of(array), other->name, rows_of(other));
        return -1;
    }
    other = array->size_like;
    if (other != NULL && is_present(other) && count_of(array) != count_of(other)) {
        PyErr_Format(PyExc_ValueError, "%s and %s must have the same size",
                     other->name, name);
        return -1;
    }
    return 0;
}

static void
release_array(array_arg *array)
{
    PyBuffer_Release(&array->view);  /* a no-op when nothing is held */
}

/* Releases every array of a parsed call: release_arrays(&x, &y, &out). */
static void
release_array_list(array_arg *const *arrays, size_t count)
{
    for (size_t i = 0; i < count; i++)
        release_array(arrays[i]);
}
#define release_arrays(...)                                              \
    release_array_list((array_arg *const[]){__VA_ARGS__},                \
                       sizeof((array_arg *const[]){__VA_ARGS__})         \
                       / sizeof(array_arg *))

/* "O&" converter: acquires `object` as its array_arg describes it, C-
 * contiguous with its format (writable only for WRITABLE), and checks it.
 * Called with NULL, releases it. */
static int
array_converter(PyObject *object, void *address)
{
    array_arg *array = (array_arg *)address;
    if (object == NULL) {
        release_array(array);
        return 1;
    }
    if (object == Py_None && (array->flags & OPTIONAL))
        return Py_CLEANUP_SUPPORTED;  /* view.obj and view.buf stay NULL */
    int writable = array->flags & WRITABLE;
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(object, &array->view, flags) < 0) {
        PyErr_Format(PyExc_TypeError,
                     "%s must be a C-contiguous%s float array "
                     "(use np.ascontiguousarray)", array->name,
                     writable ? " writable" : "");
        array->view.obj = NULL;
        return 0;
    }
    if (check_array(array) < 0) {
        release_array(array);
        return 0;
    }
    return Py_CLEANUP_SUPPORTED;
}

/* Optimizer settings: a kind and its values, owned until released. */
typedef struct {
    sp_optimizer settings;
    double *values;  /* PyMem; NULL when not held */
} optimizer_arg;

static void
release_optimizer(optimizer_arg *optimizer)
{
    PyMem_Free(optimizer->values);
    optimizer->values = NULL;
}

/* "O&" converter: a tuple (kind, values), the values a sequence of floats
 * in the order sp_optimizer_setting names them. Called with NULL, frees
 * them. */
static int
optimizer_converter(PyObject *object, void *address)
{
    optimizer_arg *optimizer = (optimizer_arg *)address;
    if (object == NULL) {
        release_optimizer(optimizer);
        return 1;
    }
    if (!PyTuple_Check(object) || PyTuple_Size(object) != 2) {
        PyErr_SetString(PyExc_TypeError,
                        "optimizer must be a tuple (kind, values)");
        return 0;
    }
    long kind = PyLong_AsLong(PyTuple_GetItem(object, 0));
    if (kind == -1 && PyErr_Occurred())
        return 0;
    if (kind < INT32_MIN || kind > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "unknown optimizer code %ld", kind);
        return 0;
    }
    PyObject *sequence = PySequence_Fast(PyTuple_GetItem(object, 1),
                                         "optimizer values must be a sequence");
    if (sequence == NULL)
        return 0;
    Py_ssize_t count = fast_size(sequence);
    if (count > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many optimizer values");
        Py_DECREF(sequence);
        return 0;
    }
    double *values = PyMem_New(double, count > 0 ? count : 1);
    if (values == NULL) {
        Py_DECREF(sequence);
        PyErr_NoMemory();
        return 0;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        values[i] = PyFloat_AsDouble(fast_item(sequence, i));
        if (values[i] == -1.0 && PyErr_Occurred()) {
            PyMem_Free(values);
            Py_DECREF(sequence);
            return 0;
        }
    }
    Py_DECREF(sequence);
    optimizer->values = values;
    optimizer->settings.kind = (int32_t)kind;
    optimizer->settings.count = (int32_t)count;
    optimizer->settings.values = values;
    return Py_CLEANUP_SUPPORTED;
}

/* "O&" converter: fit's settings tuple (epochs, batch_size, shuffle,
 * report_every, tol, patience, poll_interval_ns). Holds nothing. */
static int
fit_options_converter(PyObject *object, void *address)
{
    sp_fit_options *options = (sp_fit_options *)address;
    long long epochs, batch_size, report_every, patience, poll_ns;
    int shuffle;
    double tolerance;
    if (!PyTuple_Check(object)) {
        return type_error("settings must be a tuple", object);
    }
    if (!PyArg_ParseTuple(object, "LLpLdLL;settings must be (epochs, batch_size, "
                          "shuffle, report_every, tol, patience, poll_interval_ns)",
                          &epochs, &batch_size, &shuffle, &report_every, &tolerance,
                          &patience, &poll_ns))
        return 0;
    options->epochs = epochs;
    options->batch_size = batch_size;
    options->shuffle = shuffle;
    options->report_every = report_every;
    options->tolerance = tolerance;
    options->patience = patience;
    options->poll_interval_ns = poll_ns;
    return 1;
}

/* "O&" converter: fit_lbfgs's settings tuple (max_iter, max_fun, memory,
 * max_ls, report_every, poll_interval_ns, gtol, ftol, l2, scale). Holds
 * nothing. */
static int
lbfgs_options_converter(PyObject *object, void *address)
{
    sp_lbfgs_options *options = (sp_lbfgs_options *)address;
    long long max_iter, max_fun, memory, max_ls, report_every, poll_ns;
    double gtol, ftol, l2, scale;
    if (!PyTuple_Check(object)) {
        return type_error("settings must be a tuple", object);
    }
    if (!PyArg_ParseTuple(object, "LLLLLLdddd;settings must be (max_iter, "
                          "max_fun, memory, max_ls, report_every, "
                          "poll_interval_ns, gtol, ftol, l2, scale)",
                          &max_iter, &max_fun, &memory, &max_ls, &report_every,
                          &poll_ns, &gtol, &ftol, &l2, &scale))
        return 0;
    options->max_iter = max_iter;
    options->max_fun = max_fun;
    options->memory = memory;
    options->max_ls = max_ls;
    options->report_every = report_every;
    options->poll_interval_ns = poll_ns;
    options->gtol = gtol;
    options->ftol = ftol;
    options->l2 = l2;
    options->scale = scale;
    return 1;
}

/* ------------------------------------------------------------- vocabulary */

static PyObject *
engine_name(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    int32_t vocabulary, code;
    const argument arguments[] = {
        {int32_converter, &vocabulary}, {int32_converter, &code},
    };
    if (parse_arguments(args, nargs, "name", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    char name[NAME_CAPACITY] = "";
    int32_t status = sp_name(vocabulary, code, name, NAME_CAPACITY);
    if (status != SP_OK)
        return raise_status(status, name);  /* name holds the message */
    return PyUnicode_FromString(name);
}

static PyObject *
engine_loss_info(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    int32_t loss;
    const argument arguments[] = {
        {int32_converter, &loss},
    };
    if (parse_arguments(args, nargs, "loss_info", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    int32_t output_activation = -1, takes_labels = 0;
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_loss_info(loss, &output_activation, &takes_labels, error,
                                  ERROR_CAPACITY);
    if (status != SP_OK)
        return raise_status(status, error);
    return Py_BuildValue("(iO)", output_activation,
                         takes_labels ? Py_True : Py_False);
}

static PyObject *
engine_optimizer_info(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    int32_t kind;
    const argument arguments[] = {
        {int32_converter, &kind},
    };
    if (parse_arguments(args, nargs, "optimizer_info", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    int32_t settings = 0, state_vectors = 0;
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_optimizer_info(kind, &settings, &state_vectors, error,
                                       ERROR_CAPACITY);
    if (status != SP_OK)
        return raise_status(status, error);
    return Py_BuildValue("(ii)", settings, state_vectors);
}

static PyObject *
engine_optimizer_setting(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    int32_t kind, index;
    const argument arguments[] = {
        {int32_converter, &kind}, {int32_converter, &index},
    };
    if (parse_arguments(args, nargs, "optimizer_setting", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    char name[NAME_CAPACITY] = "";
    int32_t status = sp_optimizer_setting(kind, index, name, NAME_CAPACITY);
    if (status != SP_OK)
        return raise_status(status, name);  /* name holds the message */
    return PyUnicode_FromString(name);
}

static PyObject *
engine_schedule_info(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    int32_t kind;
    const argument arguments[] = {
        {int32_converter, &kind},
    };
    if (parse_arguments(args, nargs, "schedule_info", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    int32_t settings = 0;
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_schedule_info(kind, &settings, error, ERROR_CAPACITY);
    if (status != SP_OK)
        return raise_status(status, error);
    return PyLong_FromLong(settings);
}

static PyObject *
engine_schedule_setting(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    int32_t kind, index;
    const argument arguments[] = {
        {int32_converter, &kind}, {int32_converter, &index},
    };
    if (parse_arguments(args, nargs, "schedule_setting", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    char name[NAME_CAPACITY] = "";
    int32_t status = sp_schedule_setting(kind, index, name, NAME_CAPACITY);
    if (status != SP_OK)
        return raise_status(status, name);  /* name holds the message */
    return PyUnicode_FromString(name);
}

/* ------------------------------------------------------------- lifetime */

static PyObject *
engine_create(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *sizes_object, *activations_object;
    int32_t loss, dtype, initializer;
    uint64_t seed;
    const argument arguments[] = {
        {object_converter, &sizes_object}, {object_converter, &activations_object},
        {int32_converter, &loss}, {int32_converter, &dtype},
        {int32_converter, &initializer}, {uint64_converter, &seed},
    };
    if (parse_arguments(args, nargs, "create", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    PyObject *sizes_seq = PySequence_Fast(sizes_object, "sizes must be a sequence");
    if (sizes_seq == NULL)
        return NULL;
    PyObject *acts_seq = PySequence_Fast(activations_object, "activations must be a sequence");
    if (acts_seq == NULL) {
        Py_DECREF(sizes_seq);
        return NULL;
    }
    PyObject *result = NULL;
    int64_t *sizes = NULL;
    int32_t *activations = NULL;
    Py_ssize_t layer_count = fast_size(acts_seq);
    if (layer_count < 1 || layer_count > 100000
        || fast_size(sizes_seq) != layer_count + 1) {
        PyErr_SetString(PyExc_ValueError,
                        "sizes must have one more entry than activations");
        goto done;
    }
    sizes = PyMem_New(int64_t, layer_count + 1);
    activations = PyMem_New(int32_t, layer_count);
    if (sizes == NULL || activations == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i <= layer_count; i++) {
        sizes[i] = PyLong_AsLongLong(fast_item(sizes_seq, i));
        if (sizes[i] == -1 && PyErr_Occurred())
            goto done;
    }
    for (Py_ssize_t i = 0; i < layer_count; i++) {
        long value = PyLong_AsLong(fast_item(acts_seq, i));
        if (value == -1 && PyErr_Occurred())
            goto done;
        if (value < 0 || value >= SP_ACTIVATION_COUNT) {
            /* never truncated to another code */
            PyErr_Format(PyExc_ValueError, "unknown activation code %ld in "
                         "layer %zd", value, i);
            goto done;
        }
        activations[i] = (int32_t)value;
    }
    int64_t handle = 0;
    char error[ERROR_CAPACITY] = "";
    int32_t status;
    Py_BEGIN_ALLOW_THREADS
    status = sp_network_create((int32_t)layer_count, sizes, activations, loss, dtype,
                               initializer, seed, &handle, error,
                               ERROR_CAPACITY);
    Py_END_ALLOW_THREADS
    if (status != SP_OK) {
        raise_status(status, error);
        goto done;
    }
    result = PyLong_FromLongLong(handle);
done:
    PyMem_Free(sizes);
    PyMem_Free(activations);
    Py_DECREF(sizes_seq);
    Py_DECREF(acts_seq);
    return result;
}

static PyObject *
engine_destroy(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    int64_t handle;
    const argument arguments[] = {
        {int64_converter, &handle},
    };
    if (parse_arguments(args, nargs, "destroy", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    return PyBool_FromLong(sp_network_destroy(handle) == SP_OK);
}

static PyObject *
engine_info(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    network_arg net;
    const argument arguments[] = {
        {network_converter, &net},
    };
    if (parse_arguments(args, nargs, "info", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    const sp_network_description *d = &net.shape;
    return Py_BuildValue("(iiLLL)", d->dtype, d->layer_count, (long long)d->inputs,
                         (long long)d->outputs, (long long)d->parameter_count);
}

/* ----------------------------------------------------- parameters, state */

static PyObject *
engine_get_parameters(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    network_arg net;
    array_arg out = {.network = &net, .name = "out", .ndim = 1, .flags = WRITABLE};
    const argument arguments[] = {
        {network_converter, &net}, {array_converter, &out},
    };
    if (parse_arguments(args, nargs, "get_parameters", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_network_get_parameters(net.handle, out.view.buf,
                                               count_of(&out), error, ERROR_CAPACITY);
    release_arrays(&out);
    if (status != SP_OK)
        return raise_status(status, error);
    Py_RETURN_NONE;
}

static PyObject *
engine_set_parameters(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    network_arg net;
    array_arg values = {.network = &net, .name = "values", .ndim = 1};
    const argument arguments[] = {
        {network_converter, &net}, {array_converter, &values},
    };
    if (parse_arguments(args, nargs, "set_parameters", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    char error[ERROR_CAPACITY] = "";
    int32_t status;
    Py_BEGIN_ALLOW_THREADS
    status = sp_network_set_parameters(net.handle, values.view.buf, count_of(&values),
                                       error, ERROR_CAPACITY);
    Py_END_ALLOW_THREADS
    release_arrays(&values);
    if (status != SP_OK)
        return raise_status(status, error);
    Py_RETURN_NONE;
}

static PyObject *
engine_get_generator(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    int64_t handle;
    const argument arguments[] = {
        {int64_converter, &handle},
    };
    if (parse_arguments(args, nargs, "get_generator", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    uint64_t state = 0;
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_network_get_generator(handle, &state, error, ERROR_CAPACITY);
    if (status != SP_OK)
        return raise_status(status, error);
    return PyLong_FromUnsignedLongLong(state);
}

static PyObject *
engine_set_generator(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    int64_t handle;
    uint64_t state;
    const argument arguments[] = {
        {int64_converter, &handle}, {uint64_converter, &state},
    };
    if (parse_arguments(args, nargs, "set_generator", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_network_set_generator(handle, state, error, ERROR_CAPACITY);
    if (status != SP_OK)
        return raise_status(status, error);
    Py_RETURN_NONE;
}

static PyObject *
engine_set_dropout(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    int64_t handle;
    PyObject *rates_object;
    const argument arguments[] = {
        {int64_converter, &handle}, {object_converter, &rates_object},
    };
    if (parse_arguments(args, nargs, "set_dropout", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    /* New reference, released at done. */
    PyObject *rates_seq = PySequence_Fast(rates_object, "rates must be a sequence");
    if (rates_seq == NULL)
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t count = fast_size(rates_seq);
    double *rates = PyMem_New(double, count > 0 ? count : 1);
    if (rates == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        rates[i] = PyFloat_AsDouble(fast_item(rates_seq, i));
        if (rates[i] == -1.0 && PyErr_Occurred())
            goto done;
    }
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_network_set_dropout(handle, rates, count, error, ERROR_CAPACITY);
    if (status != SP_OK) {
        raise_status(status, error);
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    PyMem_Free(rates);
    Py_DECREF(rates_seq);
    return result;
}

static PyObject *
engine_get_dropout(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    network_arg net;
    const argument arguments[] = {
        {network_converter, &net},
    };
    if (parse_arguments(args, nargs, "get_dropout", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    Py_ssize_t count = net.shape.layer_count;
    double *rates = PyMem_New(double, count > 0 ? count : 1);
    if (rates == NULL)
        return PyErr_NoMemory();
    PyObject *result = NULL;
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_network_get_dropout(net.handle, rates, count, error, ERROR_CAPACITY);
    if (status != SP_OK) {
        raise_status(status, error);
        goto done;
    }
    result = PyList_New(count);  /* new reference, returned */
    if (result == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *rate = PyFloat_FromDouble(rates[i]);
        if (rate == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        if (PyList_SetItem(result, i, rate) < 0) {  /* steals `rate` */
            Py_CLEAR(result);
            goto done;
        }
    }
done:
    PyMem_Free(rates);
    return result;
}

static PyObject *
engine_reset_optimizer(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    int64_t handle;
    const argument arguments[] = {
        {int64_converter, &handle},
    };
    if (parse_arguments(args, nargs, "reset_optimizer", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_network_reset_optimizer(handle, error, ERROR_CAPACITY);
    if (status != SP_OK)
        return raise_status(status, error);
    Py_RETURN_NONE;
}

static PyObject *
engine_get_optimizer(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    network_arg net;
    array_arg first = {.network = &net, .name = "first", .ndim = 1, .flags = WRITABLE};
    array_arg second = {.network = &net, .name = "second", .ndim = 1,
                        .flags = WRITABLE | OPTIONAL, .size_like = &first};
    const argument arguments[] = {
        {network_converter, &net}, {array_converter, &first},
        {array_converter, &second},
    };
    if (parse_arguments(args, nargs, "get_optimizer", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    int32_t kind = -1;
    int64_t step = 0;
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_network_get_optimizer(net.handle, &kind, &step, first.view.buf,
                                              second.view.buf, count_of(&first),
                                              error, ERROR_CAPACITY);
    release_arrays(&first, &second);
    if (status != SP_OK)
        return raise_status(status, error);
    return Py_BuildValue("(iL)", kind, (long long)step);
}

static PyObject *
engine_set_optimizer(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    network_arg net;
    int32_t kind;
    int64_t step;
    array_arg first = {.network = &net, .name = "first", .ndim = 1};
    array_arg second = {.network = &net, .name = "second", .ndim = 1,
                        .flags = OPTIONAL, .size_like = &first};
    const argument arguments[] = {
        {network_converter, &net}, {int32_converter, &kind}, {int64_converter, &step},
        {array_converter, &first}, {array_converter, &second},
    };
    if (parse_arguments(args, nargs, "set_optimizer", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_network_set_optimizer(net.handle, kind, step, first.view.buf,
                                              second.view.buf, count_of(&first),
                                              error, ERROR_CAPACITY);
    release_arrays(&first, &second);
    if (status != SP_OK)
        return raise_status(status, error);
    Py_RETURN_NONE;
}

/* ----------------------------------------------------------- computation */

/*
 * Ctrl-C during the calls that can run long (predict, loss, gradients,
 * numerical_gradients, forward): instead of Py_BEGIN/END_ALLOW_THREADS they
 * release the GIL with BEGIN_INTERRUPTIBLE, which also installs
 * interrupt_poll as the engine's per-thread poll (sp_set_interrupt_poll).
 * Between blocks of work, at most every 20 ms, the engine calls it: it
 * takes the GIL back, runs the signal handlers and releases the GIL again.
 * A handler that raised (KeyboardInterrupt) stops the call with
 * SP_CALLBACK_ERROR, and raise_status keeps the pending exception.
 */
typedef struct {
    PyThreadState *thread_state;
} interrupt_context;

static int32_t
interrupt_poll(void *raw_context)
{
    interrupt_context *context = (interrupt_context *)raw_context;
    PyEval_RestoreThread(context->thread_state);
    int interrupted = PyErr_CheckSignals() < 0;
    context->thread_state = PyEval_SaveThread();
    return interrupted;
}

#define BEGIN_INTERRUPTIBLE(context)                                         \
    interrupt_context context = {PyEval_SaveThread()};                       \
    sp_set_interrupt_poll(interrupt_poll, &context)
#define END_INTERRUPTIBLE(context)                                           \
    sp_set_interrupt_poll(NULL, NULL);                                       \
    PyEval_RestoreThread(context.thread_state)

static PyObject *
engine_predict(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    network_arg net;
    array_arg x = {.network = &net, .name = "X", .ndim = 2, .columns = INPUT_COLUMNS};
    array_arg out = {.network = &net, .name = "out", .ndim = 2,
                     .columns = OUTPUT_COLUMNS, .flags = WRITABLE};
    const argument arguments[] = {
        {network_converter, &net}, {array_converter, &x}, {array_converter, &out},
    };
    if (parse_arguments(args, nargs, "predict", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    char error[ERROR_CAPACITY] = "";
    int32_t status;
    BEGIN_INTERRUPTIBLE(interrupts);
    status = sp_network_predict(net.handle, x.view.buf, rows_of(&x), net.shape.inputs,
                                out.view.buf, count_of(&out), error, ERROR_CAPACITY);
    END_INTERRUPTIBLE(interrupts);
    release_arrays(&x, &out);
    if (status != SP_OK)
        return raise_status(status, error);
    Py_RETURN_NONE;
}

/* The samples X and y of a call, y with as many rows as X. */
#define SAMPLES(net, x, y)                                                   \
    array_arg x = {.network = &(net), .name = "X", .ndim = 2,                \
                   .columns = INPUT_COLUMNS};                                \
    array_arg y = {.network = &(net), .name = "y", .ndim = 2,                \
                   .columns = OUTPUT_COLUMNS, .rows_like = &x}

/* Per-row sample weights, optional (None: every row counts 1). */
#define SAMPLE_WEIGHTS(net, w, x)                                            \
    array_arg w = {.network = &(net), .name = "sample_weight", .ndim = 1,    \
                   .flags = OPTIONAL, .rows_like = &x}

static PyObject *
engine_loss(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    network_arg net;
    SAMPLES(net, x, y);
    SAMPLE_WEIGHTS(net, w, x);
    const argument arguments[] = {
        {network_converter, &net}, {array_converter, &x}, {array_converter, &y},
        {array_converter, &w},
    };
    if (parse_arguments(args, nargs, "loss", ARGUMENTS(arguments), 1) < 0)
        return NULL;
    double loss = NAN;
    char error[ERROR_CAPACITY] = "";
    int32_t status;
    BEGIN_INTERRUPTIBLE(interrupts);
    status = sp_network_loss(net.handle, x.view.buf, y.view.buf, rows_of(&x),
                             net.shape.inputs, net.shape.outputs, w.view.buf, &loss,
                             error, ERROR_CAPACITY);
    END_INTERRUPTIBLE(interrupts);
    release_arrays(&x, &y, &w);
    if (status != SP_OK)
        return raise_status(status, error);
    return PyFloat_FromDouble(loss);
}

static PyObject *
engine_gradients(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    network_arg net;
    SAMPLES(net, x, y);
    array_arg out = {.network = &net, .name = "out", .ndim = 1, .flags = WRITABLE};
    SAMPLE_WEIGHTS(net, w, x);
    const argument arguments[] = {
        {network_converter, &net}, {array_converter, &x}, {array_converter, &y},
        {array_converter, &out}, {array_converter, &w},
    };
    if (parse_arguments(args, nargs, "gradients", ARGUMENTS(arguments), 1) < 0)
        return NULL;
    double loss = NAN;
    char error[ERROR_CAPACITY] = "";
    int32_t status;
    BEGIN_INTERRUPTIBLE(interrupts);
    status = sp_network_gradients(net.handle, x.view.buf, y.view.buf, rows_of(&x),
                                  net.shape.inputs, net.shape.outputs, w.view.buf,
                                  out.view.buf, count_of(&out), &loss, error,
                                  ERROR_CAPACITY);
    END_INTERRUPTIBLE(interrupts);
    release_arrays(&x, &y, &out, &w);
    if (status != SP_OK)
        return raise_status(status, error);
    return PyFloat_FromDouble(loss);
}

static PyObject *
engine_numerical_gradients(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    network_arg net;
    SAMPLES(net, x, y);
    double epsilon;
    array_arg out = {.network = &net, .name = "out", .ndim = 1,
                     .flags = WRITABLE | FLOAT64};
    const argument arguments[] = {
        {network_converter, &net}, {array_converter, &x}, {array_converter, &y},
        {double_converter, &epsilon}, {array_converter, &out},
    };
    if (parse_arguments(args, nargs, "numerical_gradients", ARGUMENTS(arguments),
                        0) < 0)
        return NULL;
    char error[ERROR_CAPACITY] = "";
    int32_t status;
    BEGIN_INTERRUPTIBLE(interrupts);
    status = sp_network_numerical_gradients(net.handle, x.view.buf, y.view.buf,
                                            rows_of(&x), net.shape.inputs,
                                            net.shape.outputs, epsilon,
                                            (double *)out.view.buf, count_of(&out),
                                            error, ERROR_CAPACITY);
    END_INTERRUPTIBLE(interrupts);
    release_arrays(&x, &y, &out);
    if (status != SP_OK)
        return raise_status(status, error);
    Py_RETURN_NONE;
}

static PyObject *
engine_train_step(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    network_arg net;
    SAMPLES(net, x, y);
    optimizer_arg optimizer = {{0}, NULL};
    SAMPLE_WEIGHTS(net, w, x);
    const argument arguments[] = {
        {network_converter, &net}, {array_converter, &x}, {array_converter, &y},
        {optimizer_converter, &optimizer}, {array_converter, &w},
    };
    if (parse_arguments(args, nargs, "train_step", ARGUMENTS(arguments), 1) < 0)
        return NULL;
    double loss = NAN;
    char error[ERROR_CAPACITY] = "";
    int32_t status;
    Py_BEGIN_ALLOW_THREADS
    status = sp_network_train_step(net.handle, x.view.buf, y.view.buf, rows_of(&x),
                                   net.shape.inputs, net.shape.outputs, w.view.buf,
                                   &optimizer.settings, &loss, error, ERROR_CAPACITY);
    Py_END_ALLOW_THREADS
    release_arrays(&x, &y, &w);
    release_optimizer(&optimizer);
    if (status != SP_OK)
        return raise_status(status, error);
    return PyFloat_FromDouble(loss);
}

static PyObject *
engine_forward(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    network_arg net;
    array_arg x = {.network = &net, .name = "X", .ndim = 2, .columns = INPUT_COLUMNS};
    array_arg z = {.network = &net, .name = "z", .ndim = 1, .flags = WRITABLE};
    array_arg a = {.network = &net, .name = "a", .ndim = 1, .flags = WRITABLE,
                   .size_like = &z};
    const argument arguments[] = {
        {network_converter, &net}, {array_converter, &x}, {array_converter, &z},
        {array_converter, &a},
    };
    if (parse_arguments(args, nargs, "forward", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    char error[ERROR_CAPACITY] = "";
    int32_t status;
    BEGIN_INTERRUPTIBLE(interrupts);
    status = sp_network_forward(net.handle, x.view.buf, rows_of(&x), net.shape.inputs,
                                z.view.buf, a.view.buf, count_of(&z), error,
                                ERROR_CAPACITY);
    END_INTERRUPTIBLE(interrupts);
    release_arrays(&x, &z, &a);
    if (status != SP_OK)
        return raise_status(status, error);
    Py_RETURN_NONE;
}

static PyObject *
engine_backward(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    network_arg net;
    SAMPLES(net, x, y);
    array_arg deltas = {.network = &net, .name = "deltas", .ndim = 1,
                        .flags = WRITABLE};
    array_arg gradients = {.network = &net, .name = "gradients", .ndim = 1,
                           .flags = WRITABLE};
    array_arg dx = {.network = &net, .name = "dX", .ndim = 2,
                    .columns = INPUT_COLUMNS, .flags = WRITABLE};
    const argument arguments[] = {
        {network_converter, &net}, {array_converter, &x}, {array_converter, &y},
        {array_converter, &deltas}, {array_converter, &gradients},
        {array_converter, &dx},
    };
    if (parse_arguments(args, nargs, "backward", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    double loss = NAN;
    char error[ERROR_CAPACITY] = "";
    int32_t status;
    Py_BEGIN_ALLOW_THREADS
    status = sp_network_backward(net.handle, x.view.buf, y.view.buf, rows_of(&x),
                                 net.shape.inputs, net.shape.outputs, deltas.view.buf,
                                 count_of(&deltas), gradients.view.buf,
                                 count_of(&gradients), dx.view.buf, count_of(&dx),
                                 &loss, error, ERROR_CAPACITY);
    Py_END_ALLOW_THREADS
    release_arrays(&x, &y, &deltas, &gradients, &dx);
    if (status != SP_OK)
        return raise_status(status, error);
    return PyFloat_FromDouble(loss);
}

/* ------------------------------------------------------------------- fit */

/*
 * What the fit callback needs. Swift calls it from the thread that called
 * fit, with the GIL released; it takes the GIL back (restoring the saved
 * thread state), checks for signals (Ctrl-C) and, at reported epoch ends,
 * calls the Python reporter, then releases the GIL again.
 */
typedef struct {
    PyThreadState *thread_state;
    PyObject *reporter;  /* borrowed; None or callable(epoch, loss, val_loss, lr) */
    PyObject *stop_flag; /* borrowed; None or an object whose truth asks to stop */
} fit_context;

static int32_t
fit_callback(void *raw_context, int32_t kind, int64_t epoch, double loss,
             double val_loss, double *lr)
{
    fit_context *context = (fit_context *)raw_context;
    int32_t answer = 0;
    PyEval_RestoreThread(context->thread_state);
    int stop_requested = context->stop_flag == Py_None
        ? 0 : PyObject_IsTrue(context->stop_flag);
    if (PyErr_CheckSignals() < 0 || stop_requested < 0) {
        answer = 2;  /* the exception (KeyboardInterrupt) stays pending */
    }
    else if (stop_requested) {
        answer = 1;  /* another thread asked this fit to stop */
    }
    else if (kind == 1 && context->reporter != Py_None) {
        /* The reporter returns True/False (go on / stop), or a float: go
         * on with that learning rate from the next epoch on. */
        PyObject *verdict = PyObject_CallFunction(context->reporter, "Lddd",
                                                  (long long)epoch, loss, val_loss,
                                                  *lr);
        if (verdict == NULL) {
            answer = 2;
        }
        else if (PyFloat_CheckExact(verdict)) {
            double rate = PyFloat_AsDouble(verdict);
            Py_DECREF(verdict);
            if (!(rate > 0) || !isfinite(rate)) {
                PyErr_SetString(PyExc_ValueError,
                                "a learning rate set during fit must be finite and > 0");
                answer = 2;
            }
            else {
                *lr = rate;
            }
        }
        else {
            int proceed = PyObject_IsTrue(verdict);
            Py_DECREF(verdict);
            answer = proceed < 0 ? 2 : proceed ? 0 : 1;
        }
    }
    context->thread_state = PyEval_SaveThread();
    return answer;
}

/* fit's optional extras: sample weights, schedule, metrics and their
 * records, the monitor, the loss's scale (sp_fit_extras). */
typedef struct {
    const network_arg *network;
    array_arg weights, val_weights, lr, accuracy, val_accuracy, r2, val_r2, l2;
    double *schedule_values;  /* PyMem; NULL when not held */
    Py_buffer shuffle_state;  /* view.obj NULL when not held */
    sp_fit_extras extras;
    int given;
} fit_extras_arg;

static void
release_fit_extras(fit_extras_arg *e)
{
    release_arrays(&e->weights, &e->val_weights, &e->lr, &e->accuracy,
                   &e->val_accuracy, &e->r2, &e->val_r2, &e->l2);
    PyMem_Free(e->schedule_values);
    e->schedule_values = NULL;
    PyBuffer_Release(&e->shuffle_state);  /* a no-op when nothing is held */
}

/* NumPy's MT19937 state for scikit-learn's batch order: None, or a
 * writable C-contiguous uint32 array of 625 words (key, then pos). */
static int
get_shuffle_state(PyObject *object, Py_buffer *view)
{
    view->obj = NULL;
    if (object == Py_None)
        return 1;
    if (PyObject_GetBuffer(object, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT
                           | PyBUF_WRITABLE) < 0) {
        PyErr_SetString(PyExc_TypeError, "the shuffle state must be a writable "
                        "C-contiguous uint32 array");
        view->obj = NULL;
        return 0;
    }
    if ((format_code(view) != 'I' && format_code(view) != 'L') || view->itemsize != 4 || view->ndim != 1
        || view->shape[0] != 625) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "the shuffle state must be 625 uint32 "
                        "words (MT19937 key and pos)");
        return 0;
    }
    return 1;
}

/* "O&" converter: None, or the tuple (sample_weight, val_sample_weight,
 * (schedule kind, values, warmup_epochs, warmup_start), monitor,
 * restore_best, metrics, l2_per_sample, loss_scale, penalty_scale,
 * lr_history, accuracy_history, val_accuracy_history, r2_history,
 * val_r2_history, l2_history, numpy_shuffle_state), arrays or None. Called with NULL, releases
 * it. */
static int
fit_extras_converter(PyObject *object, void *address)
{
    fit_extras_arg *e = (fit_extras_arg *)address;
    if (object == NULL) {
        release_fit_extras(e);
        return 1;
    }
    if (object == Py_None)
        return 1;
    PyObject *w, *vw, *schedule, *lr, *acc, *vacc, *r2, *vr2, *l2, *values, *state;
    int restore_best, l2_per_sample, monitor, metrics;
    double loss_scale, penalty_scale, warmup_start;
    long long schedule_kind, warmup_epochs;
    if (!PyTuple_Check(object)
        || !PyArg_ParseTuple(object, "OOOiiiiddOOOOOOO;fit extras must be a 16-tuple",
                             &w, &vw, &schedule, &monitor, &restore_best, &metrics,
                             &l2_per_sample, &loss_scale, &penalty_scale, &lr, &acc,
                             &vacc, &r2, &vr2, &l2, &state))
        return 0;
    if (!PyTuple_Check(schedule)
        || !PyArg_ParseTuple(schedule, "LOLd;schedule must be (kind, values, "
                             "warmup_epochs, warmup_start)", &schedule_kind, &values,
                             &warmup_epochs, &warmup_start))
        return 0;
    if (schedule_kind < INT32_MIN || schedule_kind > INT32_MAX) {
        PyErr_Format(PyExc_ValueError, "unknown schedule code %lld", schedule_kind);
        return 0;
    }
    PyObject *sequence = PySequence_Fast(values, "schedule values must be a sequence");
    if (sequence == NULL)
        return 0;
    Py_ssize_t count = fast_size(sequence);
    if (count > 64) {
        Py_DECREF(sequence);
        PyErr_SetString(PyExc_ValueError, "too many schedule values");
        return 0;
    }
    e->schedule_values = PyMem_New(double, count > 0 ? count : 1);
    if (e->schedule_values == NULL) {
        Py_DECREF(sequence);
        PyErr_NoMemory();
        return 0;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        e->schedule_values[i] = PyFloat_AsDouble(fast_item(sequence, i));
        if (e->schedule_values[i] == -1.0 && PyErr_Occurred()) {
            Py_DECREF(sequence);
            release_fit_extras(e);
            return 0;
        }
    }
    Py_DECREF(sequence);
    PyObject *objects[] = {w, vw, lr, acc, vacc, r2, vr2, l2};
    array_arg *arrays[] = {&e->weights, &e->val_weights, &e->lr, &e->accuracy,
                           &e->val_accuracy, &e->r2, &e->val_r2, &e->l2};
    for (size_t i = 0; i < Py_ARRAY_LENGTH(arrays); i++) {
        if (!array_converter(objects[i], arrays[i])) {
            release_fit_extras(e);
            return 0;
        }
    }
    if (!get_shuffle_state(state, &e->shuffle_state)) {
        release_fit_extras(e);
        return 0;
    }
    sp_fit_extras *x = &e->extras;
    x->numpy_shuffle_state = (uint32_t *)e->shuffle_state.buf;
    x->sample_weight = e->weights.view.buf;
    x->val_sample_weight = e->val_weights.view.buf;
    x->schedule.kind = (int32_t)schedule_kind;
    x->schedule.count = (int32_t)count;
    x->schedule.values = e->schedule_values;
    x->schedule.warmup_epochs = warmup_epochs;
    x->schedule.warmup_start = warmup_start;
    x->monitor = monitor;
    x->restore_best = restore_best;
    x->metrics = metrics;
    x->l2_per_sample = l2_per_sample;
    x->loss_scale = loss_scale;
    x->penalty_scale = penalty_scale;
    x->lr_history = (double *)e->lr.view.buf;
    x->accuracy_history = (double *)e->accuracy.view.buf;
    x->val_accuracy_history = (double *)e->val_accuracy.view.buf;
    x->r2_history = (double *)e->r2.view.buf;
    x->val_r2_history = (double *)e->val_r2.view.buf;
    x->l2_history = (double *)e->l2.view.buf;
    x->restored_epoch = -1;
    e->given = 1;
    return Py_CLEANUP_SUPPORTED;
}

static PyObject *
engine_fit(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    network_arg net;
    SAMPLES(net, x, y);
    array_arg vx = {.network = &net, .name = "validation X", .ndim = 2,
                    .columns = INPUT_COLUMNS, .flags = OPTIONAL};
    array_arg vy = {.network = &net, .name = "validation y", .ndim = 2,
                    .columns = OUTPUT_COLUMNS, .flags = OPTIONAL, .rows_like = &vx};
    array_arg losses = {.network = &net, .name = "loss_history", .ndim = 1,
                        .flags = WRITABLE | FLOAT64};
    array_arg val_losses = {.network = &net, .name = "val_history", .ndim = 1,
                            .flags = WRITABLE | FLOAT64 | OPTIONAL};
    array_arg norms = {.network = &net, .name = "gradient_norms", .ndim = 2,
                       .columns = LAYER_COLUMNS, .flags = WRITABLE | FLOAT64};
    optimizer_arg optimizer = {{0}, NULL};
    sp_fit_options options;
    PyObject *reporter, *stop_flag = Py_None;
#define RECORD(field, label, rows)                                           \
    .field = {.network = &net, .name = label, .ndim = 1,                     \
              .flags = WRITABLE | FLOAT64 | OPTIONAL, .size_like = rows}
    fit_extras_arg extras = {
        .network = &net,
        .weights = {.network = &net, .name = "sample_weight", .ndim = 1,
                    .flags = OPTIONAL, .rows_like = &x},
        .val_weights = {.network = &net, .name = "validation sample_weight",
                        .ndim = 1, .flags = OPTIONAL, .rows_like = &vx},
        RECORD(lr, "lr_history", &losses),
        RECORD(accuracy, "accuracy_history", &losses),
        RECORD(val_accuracy, "val_accuracy_history", &losses),
        RECORD(r2, "r2_history", &losses),
        RECORD(val_r2, "val_r2_history", &losses),
        RECORD(l2, "l2_history", &losses),
    };
#undef RECORD
    const argument arguments[] = {
        {network_converter, &net}, {array_converter, &x}, {array_converter, &y},
        {array_converter, &vx}, {array_converter, &vy},
        {optimizer_converter, &optimizer}, {fit_options_converter, &options},
        {object_converter, &reporter}, {array_converter, &losses},
        {array_converter, &val_losses}, {array_converter, &norms},
        {object_converter, &stop_flag}, {fit_extras_converter, &extras},
    };
    if (parse_arguments(args, nargs, "fit", ARGUMENTS(arguments), 2) < 0)
        return NULL;

    PyObject *result = NULL;
    int validating = is_present(&vx);
    if (reporter != Py_None && !PyCallable_Check(reporter)) {
        PyErr_SetString(PyExc_TypeError, "reporter must be callable or None");
        goto done;
    }
    if (validating && !(is_present(&vy) && is_present(&val_losses))) {
        PyErr_SetString(PyExc_TypeError,
                        "validation X needs validation y and val_history");
        goto done;
    }
    if (count_of(&losses) < options.epochs
        || (validating && count_of(&val_losses) < options.epochs)
        || rows_of(&norms) < options.epochs) {
        PyErr_SetString(PyExc_ValueError, "history buffers must hold `epochs` values");
        goto done;
    }

    fit_context context = {NULL, reporter, stop_flag};
    sp_fit_result outcome = {0, SP_COMPLETED};
    char error[ERROR_CAPACITY] = "";
    context.thread_state = PyEval_SaveThread();
    int32_t status = sp_network_fit(
        net.handle, x.view.buf, y.view.buf, rows_of(&x), net.shape.inputs,
        net.shape.outputs, validating ? vx.view.buf : NULL,
        validating ? vy.view.buf : NULL, validating ? rows_of(&vx) : 0,
        &optimizer.settings, &options, extras.given ? &extras.extras : NULL,
        fit_callback, &context,
        (double *)losses.view.buf, validating ? (double *)val_losses.view.buf : NULL,
        (double *)norms.view.buf, count_of(&losses), &outcome, error, ERROR_CAPACITY);
    PyEval_RestoreThread(context.thread_state);
    if (status != SP_OK) {
        raise_status(status, error);
        goto done;
    }
    result = Py_BuildValue("(LiL)", (long long)outcome.epochs, outcome.stop_reason,
                           (long long)(extras.given ? extras.extras.restored_epoch : -1));
done:
    release_arrays(&x, &y, &vx, &vy, &losses, &val_losses, &norms);
    release_optimizer(&optimizer);
    release_fit_extras(&extras);
    return result;
}

/* --------------------------------------------------- threads and build */

static PyObject *
engine_threads_set(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    int64_t limit;
    const argument arguments[] = {
        {int64_converter, &limit},
    };
    if (parse_arguments(args, nargs, "threads_set", ARGUMENTS(arguments), 0) < 0)
        return NULL;
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_threads_set(limit, error, ERROR_CAPACITY);
    if (status != SP_OK)
        return raise_status(status, error);
    Py_RETURN_NONE;
}

static PyObject *
engine_threads_info(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (parse_arguments(args, nargs, "threads_info", NULL, 0, 0) < 0)
        return NULL;
    int64_t limit = 0, maximum = 0, split = 0, helper = 0;
    sp_threads_info(&limit, &maximum, &split, &helper);
    return Py_BuildValue("(LLLL)", (long long)limit, (long long)maximum,
                         (long long)split, (long long)helper);
}

static PyObject *
engine_build_info(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (parse_arguments(args, nargs, "build_info", NULL, 0, 0) < 0)
        return NULL;
    int32_t tile_rows = 0, fused = 0;
    sp_build_info(&tile_rows, &fused);
    return Py_BuildValue("(iO)", (int)tile_rows, fused ? Py_True : Py_False);
}

/* fit_lbfgs(handle, X, Y, settings, reporter, loss_history[, stop_flag[,
 * sample_weight]]) -> (iterations, evaluations, loss, stop_reason): the whole L-BFGS run in
 * Swift with the GIL released; polls and reports go through fit_callback,
 * as fit's do. */
static PyObject *
engine_fit_lbfgs(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    network_arg net;
    SAMPLES(net, x, y);
    array_arg losses = {.network = &net, .name = "loss_history", .ndim = 1,
                        .flags = WRITABLE | FLOAT64};
    SAMPLE_WEIGHTS(net, w, x);
    sp_lbfgs_options options;
    PyObject *reporter, *stop_flag = Py_None;
    const argument arguments[] = {
        {network_converter, &net}, {array_converter, &x}, {array_converter, &y},
        {lbfgs_options_converter, &options}, {object_converter, &reporter},
        {array_converter, &losses}, {object_converter, &stop_flag},
        {array_converter, &w},
    };
    if (parse_arguments(args, nargs, "fit_lbfgs", ARGUMENTS(arguments), 2) < 0)
        return NULL;

    PyObject *result = NULL;
    if (reporter != Py_None && !PyCallable_Check(reporter)) {
        PyErr_SetString(PyExc_TypeError, "reporter must be callable or None");
        goto done;
    }
    if (count_of(&losses) < options.max_iter) {
        PyErr_SetString(PyExc_ValueError,
                        "loss_history must hold `max_iter` values");
        goto done;
    }

    fit_context context = {NULL, reporter, stop_flag};
    sp_lbfgs_result outcome = {0, 0, NAN, SP_COMPLETED};
    char error[ERROR_CAPACITY] = "";
    context.thread_state = PyEval_SaveThread();
    int32_t status = sp_network_fit_lbfgs(
        net.handle, x.view.buf, y.view.buf, rows_of(&x), net.shape.inputs,
        net.shape.outputs, w.view.buf, &options, fit_callback, &context,
        (double *)losses.view.buf, count_of(&losses), &outcome, error,
        ERROR_CAPACITY);
    PyEval_RestoreThread(context.thread_state);
    if (status != SP_OK) {
        raise_status(status, error);
        goto done;
    }
    result = Py_BuildValue("(LLdi)", (long long)outcome.iterations,
                           (long long)outcome.evaluations, outcome.loss,
                           outcome.stop_reason);
done:
    release_arrays(&x, &y, &losses, &w);
    return result;
}

/* ---------------------------------------------------------------- module */

/* A METH_FASTCALL function in the method table. */
#define FASTCALL(function) (PyCFunction)(void (*)(void))(function), METH_FASTCALL

static PyMethodDef engine_methods[] = {
    {"name", FASTCALL(engine_name),
     "name(vocabulary, code) -> the Python API's name of an SP_* code"},
    {"loss_info", FASTCALL(engine_loss_info),
     "loss_info(loss) -> (output activation code or -1, takes class labels)"},
    {"optimizer_info", FASTCALL(engine_optimizer_info),
     "optimizer_info(kind) -> (number of settings, number of state vectors)"},
    {"optimizer_setting", FASTCALL(engine_optimizer_setting),
     "optimizer_setting(kind, index) -> the name of the kind's setting index"},
    {"create", FASTCALL(engine_create),
     "create(sizes, activations, loss, dtype, init, seed) -> handle"},
    {"destroy", FASTCALL(engine_destroy), "destroy(handle) -> bool"},
    {"info", FASTCALL(engine_info),
     "info(handle) -> (dtype, layers, inputs, outputs, parameter_count)"},
    {"get_parameters", FASTCALL(engine_get_parameters),
     "get_parameters(handle, out): copy the flat parameter vector into out"},
    {"set_parameters", FASTCALL(engine_set_parameters),
     "set_parameters(handle, values): replace the flat parameter vector"},
    {"get_generator", FASTCALL(engine_get_generator),
     "get_generator(handle) -> state of the network's SplitMix64 generator"},
    {"set_generator", FASTCALL(engine_set_generator),
     "set_generator(handle, state)"},
    {"set_dropout", FASTCALL(engine_set_dropout),
     "set_dropout(handle, rates): one dropout rate per layer (the output layer's 0)"},
    {"get_dropout", FASTCALL(engine_get_dropout),
     "get_dropout(handle) -> list of each layer's dropout rate"},
    {"reset_optimizer", FASTCALL(engine_reset_optimizer),
     "reset_optimizer(handle): forget the optimizer's state"},
    {"get_optimizer", FASTCALL(engine_get_optimizer),
     "get_optimizer(handle, first, second or None) -> (kind or -1, step)"},
    {"set_optimizer", FASTCALL(engine_set_optimizer),
     "set_optimizer(handle, kind, step, first, second or None)"},
    {"predict", FASTCALL(engine_predict), "predict(handle, X, out)"},
    {"loss", FASTCALL(engine_loss), "loss(handle, X, Y) -> float"},
    {"gradients", FASTCALL(engine_gradients),
     "gradients(handle, X, Y, out[, sample_weight]) -> loss; out receives the flat gradient"},
    {"numerical_gradients", FASTCALL(engine_numerical_gradients),
     "numerical_gradients(handle, X, Y, eps, out): central differences (float64)"},
    {"train_step", FASTCALL(engine_train_step),
     "train_step(handle, X, Y, (kind, values)[, sample_weight]) -> loss before the step"},
    {"forward", FASTCALL(engine_forward),
     "forward(handle, X, z, a): every layer's z and a, concatenated"},
    {"backward", FASTCALL(engine_backward),
     "backward(handle, X, Y, deltas, gradients, dX) -> loss"},
    {"fit", FASTCALL(engine_fit),
     "fit(handle, X, Y, VX, VY, (kind, values), settings, reporter, loss_history, "
     "val_history, gradient_norms[, stop_flag[, extras]]) -> (epochs, stop_reason, "
     "restored_epoch); fit stops cleanly at the next poll once bool(stop_flag) is "
     "true; extras: see fit_extras_converter"},
    {"schedule_info", FASTCALL(engine_schedule_info),
     "schedule_info(kind) -> number of settings after lr"},
    {"schedule_setting", FASTCALL(engine_schedule_setting),
     "schedule_setting(kind, index) -> the name of the schedule's setting index"},
    {"threads_set", FASTCALL(engine_threads_set),
     "threads_set(limit): the most threads a matrix product may use (>= 1)"},
    {"threads_info", FASTCALL(engine_threads_info),
     "threads_info() -> (limit, maximum, split products, helper parts)"},
    {"build_info", FASTCALL(engine_build_info),
     "build_info() -> (kernel tile rows, fused multiply-adds)"},
    {"fit_lbfgs", FASTCALL(engine_fit_lbfgs),
     "fit_lbfgs(handle, X, Y, (max_iter, max_fun, memory, max_ls, report_every, "
     "poll_interval_ns, gtol, ftol, l2, scale), reporter, loss_history"
     "[, stop_flag[, sample_weight]]) -> (iterations, evaluations, loss, "
     "stop_reason)"},
    {NULL, NULL, 0, NULL},
};

/* The constants of swiftprop.h that C or Python code names, under their C
 * names (as zlib exports Z_*): the statuses, dtypes, stop reasons, the
 * lists and every list's *_COUNT. The codes of the lists that grow
 * (activations, losses, initialisers, optimizers) are not exported one by
 * one: the package knows them by name, from name(), so adding one changes
 * nothing here. test_codes.py checks both against the header. */
static int
add_constants(PyObject *module)
{
#define ADD(constant)                                                        \
    do {                                                                     \
        if (PyModule_AddIntMacro(module, constant) < 0)                      \
            return -1;                                                       \
    } while (0)
    /* statuses */
    ADD(SP_OK); ADD(SP_INVALID_ARGUMENT); ADD(SP_INVALID_VALUE);
    ADD(SP_OUT_OF_MEMORY); ADD(SP_BUSY); ADD(SP_DIVERGED);
    ADD(SP_INVALID_HANDLE); ADD(SP_CALLBACK_ERROR); ADD(SP_STATUS_COUNT);
    /* dtypes */
    ADD(SP_FLOAT32); ADD(SP_FLOAT64); ADD(SP_DTYPE_COUNT);
    /* the lists that grow: their counts only */
    ADD(SP_ACTIVATION_COUNT); ADD(SP_LOSS_COUNT); ADD(SP_INITIALIZER_COUNT);
    ADD(SP_OPTIMIZER_COUNT);
    /* stop reasons */
    ADD(SP_COMPLETED); ADD(SP_CONVERGED); ADD(SP_STOPPED_BY_CALLBACK);
    ADD(SP_INTERRUPTED); ADD(SP_STOPPED_DIVERGED); ADD(SP_CONVERGED_GTOL);
    ADD(SP_CONVERGED_FTOL); ADD(SP_MAX_ITER); ADD(SP_MAX_FUN);
    ADD(SP_LINE_SEARCH_FAILED); ADD(SP_STOP_REASON_COUNT);
    /* the lists, for name() */
    ADD(SP_VOCABULARY_STATUS); ADD(SP_VOCABULARY_DTYPE);
    ADD(SP_VOCABULARY_ACTIVATION); ADD(SP_VOCABULARY_LOSS);
    ADD(SP_VOCABULARY_INITIALIZER); ADD(SP_VOCABULARY_OPTIMIZER);
    ADD(SP_VOCABULARY_STOP_REASON); ADD(SP_VOCABULARY_SCHEDULE);
    ADD(SP_VOCABULARY_MONITOR); ADD(SP_VOCABULARY_COUNT);
    /* schedules and monitors: their counts (the codes come from name()) */
    ADD(SP_SCHEDULE_COUNT); ADD(SP_MONITOR_COUNT);
    /* metric bits */
    ADD(SP_METRIC_ACCURACY); ADD(SP_METRIC_R2);
#undef ADD
    return 0;
}

static struct PyModuleDef engine_module = {
    PyModuleDef_HEAD_INIT, "_engine",
    "The CPython shim over the swiftprop Swift engine (see swiftprop.h).", -1,
    engine_methods,
};

PyMODINIT_FUNC
PyInit__engine(void)
{
    PyObject *module = PyModule_Create(&engine_module);
    if (module == NULL)
        return NULL;
    if (add_constants(module) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
