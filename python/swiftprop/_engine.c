/*
 * swiftprop._engine: the CPython shim over the Swift engine's C ABI.
 *
 * Each function keeps CPython's order: parse the arguments, acquire the
 * buffers (C-contiguous, with their format; inputs are never requested
 * writable, so read-only arrays work), check dtype and shape against the
 * network, release the GIL, call Swift, take the GIL back, release every
 * buffer at one `done:` label, then return or raise. The Python layer has
 * already converted its inputs with np.ascontiguousarray; these checks
 * are the safety net for direct callers.
 *
 * References: every PyObject* parsed with "O" is borrowed; every Py_buffer
 * taken is released exactly once at `done:` (released buffers have
 * obj == NULL, so PyBuffer_Release on them is a no-op).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

#include "swiftprop.h"

#define ERROR_CAPACITY 512

/* ---------------------------------------------------------------- errors */

/* Raises the Python exception for an ABI status and message. */
static PyObject *
raise_status(int32_t status, const char *message)
{
    PyObject *type;
    switch (status) {
    case SP_OUT_OF_MEMORY: type = PyExc_MemoryError; break;
    case SP_BUSY: type = PyExc_RuntimeError; break;
    case SP_DIVERGED: type = PyExc_FloatingPointError; break;
    default: type = PyExc_ValueError; break;
    }
    PyErr_SetString(type, message[0] ? message : "swiftprop engine error");
    return NULL;
}

/* ---------------------------------------------------------------- buffers */

typedef struct {
    int32_t dtype;
    int32_t layer_count;
    int64_t inputs;
    int64_t outputs;
    int64_t parameter_count;
} network_shape;

static int
describe(int64_t handle, network_shape *shape)
{
    sp_network_description d;
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_network_info(handle, &d, error, ERROR_CAPACITY);
    if (status != SP_OK) {
        raise_status(status, error);
        return -1;
    }
    shape->dtype = d.dtype;
    shape->layer_count = d.layer_count;
    shape->inputs = d.inputs;
    shape->outputs = d.outputs;
    shape->parameter_count = d.parameter_count;
    return 0;
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

/*
 * Acquires `object` as a C-contiguous buffer of the network's dtype with
 * `ndim` dimensions (and `columns` columns when ndim is 2 and columns >= 0).
 * Returns 0, or -1 with TypeError/ValueError set and nothing held.
 */
static int
acquire(PyObject *object, const char *name, int32_t dtype, int ndim,
        int64_t columns, int writable, Py_buffer *view)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(object, view, flags) < 0) {
        PyErr_Format(PyExc_TypeError,
                     "%s must be a C-contiguous%s float array "
                     "(use np.ascontiguousarray)", name,
                     writable ? " writable" : "");
        view->obj = NULL;
        return -1;
    }
    char expected = dtype == SP_FLOAT32 ? 'f' : 'd';
    Py_ssize_t itemsize = dtype == SP_FLOAT32 ? 4 : 8;
    if (format_code(view) != expected || view->itemsize != itemsize) {
        PyErr_Format(PyExc_TypeError, "%s must have dtype %s, got format '%s'",
                     name, dtype == SP_FLOAT32 ? "float32" : "float64",
                     view->format ? view->format : "B");
        goto fail;
    }
    if (view->ndim != ndim) {
        PyErr_Format(PyExc_ValueError, "%s must be %d-D, got %d-D", name, ndim,
                     view->ndim);
        goto fail;
    }
    if (ndim == 2 && columns >= 0 && view->shape[1] != columns) {
        PyErr_Format(PyExc_ValueError, "%s has %zd columns, expected %lld", name,
                     view->shape[1], (long long)columns);
        goto fail;
    }
    return 0;
fail:
    PyBuffer_Release(view);
    view->obj = NULL;
    return -1;
}

static Py_ssize_t
rows_of(const Py_buffer *view)
{
    return view->ndim >= 1 ? view->shape[0] : 0;
}

static Py_ssize_t
count_of(const Py_buffer *view)
{
    return view->len / (view->itemsize ? view->itemsize : 1);
}

/* Acquires X and Y with matching rows. */
static int
acquire_samples(PyObject *x_object, PyObject *y_object, const network_shape *shape,
                Py_buffer *x, Py_buffer *y)
{
    if (acquire(x_object, "X", shape->dtype, 2, shape->inputs, 0, x) < 0)
        return -1;
    if (acquire(y_object, "y", shape->dtype, 2, shape->outputs, 0, y) < 0) {
        PyBuffer_Release(x);
        x->obj = NULL;
        return -1;
    }
    if (rows_of(x) != rows_of(y)) {
        PyErr_Format(PyExc_ValueError, "y has %zd samples, but X has %zd",
                     rows_of(y), rows_of(x));
        PyBuffer_Release(x);
        PyBuffer_Release(y);
        x->obj = y->obj = NULL;
        return -1;
    }
    return 0;
}

/* Optimizer settings with room for their values (a bridge from the
 * positional tuple until the settings travel by name). */
typedef struct {
    sp_optimizer optimizer;
    double values[8];
} optimizer_settings;

static int
parse_optimizer(PyObject *tuple, optimizer_settings *settings)
{
    /* (kind, lr, momentum, nesterov, beta1, beta2, eps, l2) */
    int kind, nesterov;
    double lr, momentum, beta1, beta2, eps, l2;
    if (!PyArg_ParseTuple(tuple, "iddidddd;optimizer must be a tuple "
                          "(kind, lr, momentum, nesterov, beta1, beta2, eps, l2)",
                          &kind, &lr, &momentum, &nesterov, &beta1, &beta2,
                          &eps, &l2))
        return -1;
    double *v = settings->values;
    v[0] = lr;
    v[1] = l2;
    settings->optimizer.kind = kind;
    settings->optimizer.values = v;
    if (kind == SP_SGD) {
        v[2] = momentum;
        v[3] = nesterov;
        settings->optimizer.count = 4;
    } else {
        v[2] = beta1;
        v[3] = beta2;
        v[4] = eps;
        settings->optimizer.count = 5;
    }
    return 0;
}

/* ------------------------------------------------------------- lifetime */

static PyObject *
engine_create(PyObject *module, PyObject *args)
{
    PyObject *sizes_object, *activations_object;
    int loss, dtype, initializer;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "OOiiiK:create", &sizes_object, &activations_object,
                          &loss, &dtype, &initializer, &seed))
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
    Py_ssize_t layer_count = PySequence_Fast_GET_SIZE(acts_seq);
    if (layer_count < 1 || layer_count > 100000
        || PySequence_Fast_GET_SIZE(sizes_seq) != layer_count + 1) {
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
        sizes[i] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(sizes_seq, i));
        if (sizes[i] == -1 && PyErr_Occurred())
            goto done;
    }
    for (Py_ssize_t i = 0; i < layer_count; i++) {
        long value = PyLong_AsLong(PySequence_Fast_GET_ITEM(acts_seq, i));
        if (value == -1 && PyErr_Occurred())
            goto done;
        activations[i] = (int32_t)value;
    }
    int64_t handle = 0;
    char error[ERROR_CAPACITY] = "";
    int32_t status;
    Py_BEGIN_ALLOW_THREADS
    status = sp_network_create((int32_t)layer_count, sizes, activations, loss, dtype,
                               initializer, (uint64_t)seed, &handle, error,
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
engine_destroy(PyObject *module, PyObject *args)
{
    long long handle;
    if (!PyArg_ParseTuple(args, "L:destroy", &handle))
        return NULL;
    return PyBool_FromLong(sp_network_destroy(handle) == SP_OK);
}

static PyObject *
engine_info(PyObject *module, PyObject *args)
{
    long long handle;
    if (!PyArg_ParseTuple(args, "L:info", &handle))
        return NULL;
    sp_network_description d;
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_network_info(handle, &d, error, ERROR_CAPACITY);
    if (status != SP_OK)
        return raise_status(status, error);
    return Py_BuildValue("(iiLLL)", d.dtype, d.layer_count, (long long)d.inputs,
                         (long long)d.outputs, (long long)d.parameter_count);
}

/* ----------------------------------------------------- parameters, state */

static PyObject *
engine_get_parameters(PyObject *module, PyObject *args)
{
    long long handle;
    PyObject *out_object;
    if (!PyArg_ParseTuple(args, "LO:get_parameters", &handle, &out_object))
        return NULL;
    network_shape shape;
    if (describe(handle, &shape) < 0)
        return NULL;
    Py_buffer out;
    if (acquire(out_object, "out", shape.dtype, 1, -1, 1, &out) < 0)
        return NULL;
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_network_get_parameters(handle, out.buf, count_of(&out), error,
                                               ERROR_CAPACITY);
    PyBuffer_Release(&out);
    if (status != SP_OK)
        return raise_status(status, error);
    Py_RETURN_NONE;
}

static PyObject *
engine_set_parameters(PyObject *module, PyObject *args)
{
    long long handle;
    PyObject *values_object;
    if (!PyArg_ParseTuple(args, "LO:set_parameters", &handle, &values_object))
        return NULL;
    network_shape shape;
    if (describe(handle, &shape) < 0)
        return NULL;
    Py_buffer values;
    if (acquire(values_object, "values", shape.dtype, 1, -1, 0, &values) < 0)
        return NULL;
    char error[ERROR_CAPACITY] = "";
    int32_t status;
    Py_BEGIN_ALLOW_THREADS
    status = sp_network_set_parameters(handle, values.buf, count_of(&values), error,
                                       ERROR_CAPACITY);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&values);
    if (status != SP_OK)
        return raise_status(status, error);
    Py_RETURN_NONE;
}

static PyObject *
engine_get_generator(PyObject *module, PyObject *args)
{
    long long handle;
    if (!PyArg_ParseTuple(args, "L:get_generator", &handle))
        return NULL;
    uint64_t state = 0;
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_network_get_generator(handle, &state, error, ERROR_CAPACITY);
    if (status != SP_OK)
        return raise_status(status, error);
    return PyLong_FromUnsignedLongLong(state);
}

static PyObject *
engine_set_generator(PyObject *module, PyObject *args)
{
    long long handle;
    unsigned long long state;
    if (!PyArg_ParseTuple(args, "LK:set_generator", &handle, &state))
        return NULL;
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_network_set_generator(handle, state, error, ERROR_CAPACITY);
    if (status != SP_OK)
        return raise_status(status, error);
    Py_RETURN_NONE;
}

static PyObject *
engine_reset_optimizer(PyObject *module, PyObject *args)
{
    long long handle;
    if (!PyArg_ParseTuple(args, "L:reset_optimizer", &handle))
        return NULL;
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_network_reset_optimizer(handle, error, ERROR_CAPACITY);
    if (status != SP_OK)
        return raise_status(status, error);
    Py_RETURN_NONE;
}

static PyObject *
engine_get_optimizer(PyObject *module, PyObject *args)
{
    long long handle;
    PyObject *first_object, *second_object;
    if (!PyArg_ParseTuple(args, "LOO:get_optimizer", &handle, &first_object,
                          &second_object))
        return NULL;
    network_shape shape;
    if (describe(handle, &shape) < 0)
        return NULL;
    PyObject *result = NULL;
    Py_buffer first = {0}, second = {0};
    if (acquire(first_object, "first", shape.dtype, 1, -1, 1, &first) < 0
        || acquire(second_object, "second", shape.dtype, 1, -1, 1, &second) < 0)
        goto done;
    if (count_of(&second) != count_of(&first)) {
        PyErr_SetString(PyExc_ValueError, "first and second must have the same size");
        goto done;
    }
    int32_t kind = -1;
    int64_t step = 0;
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_network_get_optimizer(handle, &kind, &step, first.buf, second.buf,
                                              count_of(&first), error, ERROR_CAPACITY);
    if (status != SP_OK) {
        raise_status(status, error);
        goto done;
    }
    result = Py_BuildValue("(iL)", kind, (long long)step);
done:
    PyBuffer_Release(&first);
    PyBuffer_Release(&second);
    return result;
}

static PyObject *
engine_set_optimizer(PyObject *module, PyObject *args)
{
    long long handle, step;
    int kind;
    PyObject *first_object, *second_object;
    if (!PyArg_ParseTuple(args, "LiLOO:set_optimizer", &handle, &kind, &step,
                          &first_object, &second_object))
        return NULL;
    network_shape shape;
    if (describe(handle, &shape) < 0)
        return NULL;
    PyObject *result = NULL;
    Py_buffer first = {0}, second = {0};
    if (acquire(first_object, "first", shape.dtype, 1, -1, 0, &first) < 0
        || acquire(second_object, "second", shape.dtype, 1, -1, 0, &second) < 0)
        goto done;
    if (count_of(&second) != count_of(&first)) {
        PyErr_SetString(PyExc_ValueError, "first and second must have the same size");
        goto done;
    }
    char error[ERROR_CAPACITY] = "";
    int32_t status = sp_network_set_optimizer(handle, kind, step, first.buf, second.buf,
                                              count_of(&first), error, ERROR_CAPACITY);
    if (status != SP_OK) {
        raise_status(status, error);
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&first);
    PyBuffer_Release(&second);
    return result;
}

/* ----------------------------------------------------------- computation */

static PyObject *
engine_predict(PyObject *module, PyObject *args)
{
    long long handle;
    PyObject *x_object, *out_object;
    if (!PyArg_ParseTuple(args, "LOO:predict", &handle, &x_object, &out_object))
        return NULL;
    network_shape shape;
    if (describe(handle, &shape) < 0)
        return NULL;
    PyObject *result = NULL;
    Py_buffer x = {0}, out = {0};
    if (acquire(x_object, "X", shape.dtype, 2, shape.inputs, 0, &x) < 0)
        goto done;
    if (acquire(out_object, "out", shape.dtype, 2, shape.outputs, 1, &out) < 0)
        goto done;
    char error[ERROR_CAPACITY] = "";
    int32_t status;
    Py_BEGIN_ALLOW_THREADS
    status = sp_network_predict(handle, x.buf, rows_of(&x), shape.inputs, out.buf,
                                count_of(&out), error, ERROR_CAPACITY);
    Py_END_ALLOW_THREADS
    if (status != SP_OK) {
        raise_status(status, error);
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&x);
    PyBuffer_Release(&out);
    return result;
}

static PyObject *
engine_loss(PyObject *module, PyObject *args)
{
    long long handle;
    PyObject *x_object, *y_object;
    if (!PyArg_ParseTuple(args, "LOO:loss", &handle, &x_object, &y_object))
        return NULL;
    network_shape shape;
    if (describe(handle, &shape) < 0)
        return NULL;
    Py_buffer x = {0}, y = {0};
    if (acquire_samples(x_object, y_object, &shape, &x, &y) < 0)
        return NULL;
    double loss = NAN;
    char error[ERROR_CAPACITY] = "";
    int32_t status;
    Py_BEGIN_ALLOW_THREADS
    status = sp_network_loss(handle, x.buf, y.buf, rows_of(&x), shape.inputs,
                             shape.outputs, &loss, error, ERROR_CAPACITY);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    if (status != SP_OK)
        return raise_status(status, error);
    return PyFloat_FromDouble(loss);
}

static PyObject *
engine_gradients(PyObject *module, PyObject *args)
{
    long long handle;
    PyObject *x_object, *y_object, *out_object;
    if (!PyArg_ParseTuple(args, "LOOO:gradients", &handle, &x_object, &y_object,
                          &out_object))
        return NULL;
    network_shape shape;
    if (describe(handle, &shape) < 0)
        return NULL;
    PyObject *result = NULL;
    Py_buffer x = {0}, y = {0}, out = {0};
    if (acquire_samples(x_object, y_object, &shape, &x, &y) < 0)
        return NULL;
    if (acquire(out_object, "out", shape.dtype, 1, -1, 1, &out) < 0)
        goto done;
    double loss = NAN;
    char error[ERROR_CAPACITY] = "";
    int32_t status;
    Py_BEGIN_ALLOW_THREADS
    status = sp_network_gradients(handle, x.buf, y.buf, rows_of(&x), shape.inputs,
                                  shape.outputs, out.buf, count_of(&out), &loss,
                                  error, ERROR_CAPACITY);
    Py_END_ALLOW_THREADS
    if (status != SP_OK) {
        raise_status(status, error);
        goto done;
    }
    result = PyFloat_FromDouble(loss);
done:
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    PyBuffer_Release(&out);
    return result;
}

static PyObject *
engine_numerical_gradients(PyObject *module, PyObject *args)
{
    long long handle;
    double epsilon;
    PyObject *x_object, *y_object, *out_object;
    if (!PyArg_ParseTuple(args, "LOOdO:numerical_gradients", &handle, &x_object,
                          &y_object, &epsilon, &out_object))
        return NULL;
    network_shape shape;
    if (describe(handle, &shape) < 0)
        return NULL;
    PyObject *result = NULL;
    Py_buffer x = {0}, y = {0}, out = {0};
    if (acquire_samples(x_object, y_object, &shape, &x, &y) < 0)
        return NULL;
    if (acquire(out_object, "out", SP_FLOAT64, 1, -1, 1, &out) < 0)
        goto done;
    char error[ERROR_CAPACITY] = "";
    int32_t status;
    Py_BEGIN_ALLOW_THREADS
    status = sp_network_numerical_gradients(handle, x.buf, y.buf, rows_of(&x),
                                            shape.inputs, shape.outputs, epsilon,
                                            (double *)out.buf, count_of(&out), error,
                                            ERROR_CAPACITY);
    Py_END_ALLOW_THREADS
    if (status != SP_OK) {
        raise_status(status, error);
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    PyBuffer_Release(&out);
    return result;
}

static PyObject *
engine_train_step(PyObject *module, PyObject *args)
{
    long long handle;
    PyObject *x_object, *y_object, *optimizer_tuple;
    if (!PyArg_ParseTuple(args, "LOOO!:train_step", &handle, &x_object, &y_object,
                          &PyTuple_Type, &optimizer_tuple))
        return NULL;
    optimizer_settings optimizer;
    if (parse_optimizer(optimizer_tuple, &optimizer) < 0)
        return NULL;
    network_shape shape;
    if (describe(handle, &shape) < 0)
        return NULL;
    Py_buffer x = {0}, y = {0};
    if (acquire_samples(x_object, y_object, &shape, &x, &y) < 0)
        return NULL;
    double loss = NAN;
    char error[ERROR_CAPACITY] = "";
    int32_t status;
    Py_BEGIN_ALLOW_THREADS
    status = sp_network_train_step(handle, x.buf, y.buf, rows_of(&x), shape.inputs,
                                   shape.outputs, &optimizer.optimizer, &loss, error,
                                   ERROR_CAPACITY);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    if (status != SP_OK)
        return raise_status(status, error);
    return PyFloat_FromDouble(loss);
}

static PyObject *
engine_forward(PyObject *module, PyObject *args)
{
    long long handle;
    PyObject *x_object, *z_object, *a_object;
    if (!PyArg_ParseTuple(args, "LOOO:forward", &handle, &x_object, &z_object,
                          &a_object))
        return NULL;
    network_shape shape;
    if (describe(handle, &shape) < 0)
        return NULL;
    PyObject *result = NULL;
    Py_buffer x = {0}, z = {0}, a = {0};
    if (acquire(x_object, "X", shape.dtype, 2, shape.inputs, 0, &x) < 0)
        goto done;
    if (acquire(z_object, "z", shape.dtype, 1, -1, 1, &z) < 0
        || acquire(a_object, "a", shape.dtype, 1, -1, 1, &a) < 0)
        goto done;
    if (count_of(&z) != count_of(&a)) {
        PyErr_SetString(PyExc_ValueError, "z and a must have the same size");
        goto done;
    }
    char error[ERROR_CAPACITY] = "";
    int32_t status;
    Py_BEGIN_ALLOW_THREADS
    status = sp_network_forward(handle, x.buf, rows_of(&x), shape.inputs, z.buf, a.buf,
                                count_of(&z), error, ERROR_CAPACITY);
    Py_END_ALLOW_THREADS
    if (status != SP_OK) {
        raise_status(status, error);
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&x);
    PyBuffer_Release(&z);
    PyBuffer_Release(&a);
    return result;
}

static PyObject *
engine_backward(PyObject *module, PyObject *args)
{
    long long handle;
    PyObject *x_object, *y_object, *deltas_object, *gradients_object, *dx_object;
    if (!PyArg_ParseTuple(args, "LOOOOO:backward", &handle, &x_object, &y_object,
                          &deltas_object, &gradients_object, &dx_object))
        return NULL;
    network_shape shape;
    if (describe(handle, &shape) < 0)
        return NULL;
    PyObject *result = NULL;
    Py_buffer x = {0}, y = {0}, deltas = {0}, gradients = {0}, dx = {0};
    if (acquire_samples(x_object, y_object, &shape, &x, &y) < 0)
        return NULL;
    if (acquire(deltas_object, "deltas", shape.dtype, 1, -1, 1, &deltas) < 0
        || acquire(gradients_object, "gradients", shape.dtype, 1, -1, 1, &gradients) < 0
        || acquire(dx_object, "dX", shape.dtype, 2, shape.inputs, 1, &dx) < 0)
        goto done;
    double loss = NAN;
    char error[ERROR_CAPACITY] = "";
    int32_t status;
    Py_BEGIN_ALLOW_THREADS
    status = sp_network_backward(handle, x.buf, y.buf, rows_of(&x), shape.inputs,
                                 shape.outputs, deltas.buf, count_of(&deltas),
                                 gradients.buf, count_of(&gradients), dx.buf,
                                 count_of(&dx), &loss, error, ERROR_CAPACITY);
    Py_END_ALLOW_THREADS
    if (status != SP_OK) {
        raise_status(status, error);
        goto done;
    }
    result = PyFloat_FromDouble(loss);
done:
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    PyBuffer_Release(&deltas);
    PyBuffer_Release(&gradients);
    PyBuffer_Release(&dx);
    return result;
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
    PyObject *reporter;  /* borrowed; None or callable(epoch, loss, val_loss) */
    PyObject *stop_flag; /* borrowed; None or an object whose truth asks to stop */
} fit_context;

static int32_t
fit_callback(void *raw_context, int32_t kind, int64_t epoch, double loss,
             double val_loss)
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
        PyObject *verdict = PyObject_CallFunction(context->reporter, "Ldd",
                                                  (long long)epoch, loss, val_loss);
        if (verdict == NULL) {
            answer = 2;
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

static PyObject *
engine_fit(PyObject *module, PyObject *args)
{
    long long handle;
    PyObject *x_object, *y_object, *vx_object, *vy_object, *optimizer_tuple;
    PyObject *settings, *reporter, *loss_object, *val_object, *norms_object;
    PyObject *stop_flag = Py_None;
    if (!PyArg_ParseTuple(args, "LOOOOO!O!OOOO|O:fit", &handle, &x_object, &y_object,
                          &vx_object, &vy_object, &PyTuple_Type, &optimizer_tuple,
                          &PyTuple_Type, &settings, &reporter, &loss_object,
                          &val_object, &norms_object, &stop_flag))
        return NULL;
    optimizer_settings optimizer;
    if (parse_optimizer(optimizer_tuple, &optimizer) < 0)
        return NULL;
    sp_fit_options options;
    long long epochs, batch_size, report_every, patience, poll_ns;
    int shuffle;
    double tolerance;
    if (!PyArg_ParseTuple(settings, "LLpLdLL;settings must be (epochs, batch_size, "
                          "shuffle, report_every, tol, patience, poll_interval_ns)",
                          &epochs, &batch_size, &shuffle, &report_every, &tolerance,
                          &patience, &poll_ns))
        return NULL;
    options.epochs = epochs;
    options.batch_size = batch_size;
    options.shuffle = shuffle;
    options.report_every = report_every;
    options.tolerance = tolerance;
    options.patience = patience;
    options.poll_interval_ns = poll_ns;
    if (reporter != Py_None && !PyCallable_Check(reporter)) {
        PyErr_SetString(PyExc_TypeError, "reporter must be callable or None");
        return NULL;
    }
    network_shape shape;
    if (describe(handle, &shape) < 0)
        return NULL;

    PyObject *result = NULL;
    Py_buffer x = {0}, y = {0}, vx = {0}, vy = {0}, losses = {0}, val_losses = {0};
    Py_buffer norms = {0};
    int validating = vx_object != Py_None;
    if (acquire_samples(x_object, y_object, &shape, &x, &y) < 0)
        return NULL;
    if (validating && acquire_samples(vx_object, vy_object, &shape, &vx, &vy) < 0)
        goto done;
    if (acquire(loss_object, "loss_history", SP_FLOAT64, 1, -1, 1, &losses) < 0)
        goto done;
    if (validating
        && acquire(val_object, "val_history", SP_FLOAT64, 1, -1, 1, &val_losses) < 0)
        goto done;
    if (acquire(norms_object, "gradient_norms", SP_FLOAT64, 2, shape.layer_count, 1,
                &norms) < 0)
        goto done;
    if (count_of(&losses) < epochs || (validating && count_of(&val_losses) < epochs)
        || rows_of(&norms) < epochs) {
        PyErr_SetString(PyExc_ValueError, "history buffers must hold `epochs` values");
        goto done;
    }

    fit_context context = {NULL, reporter, stop_flag};
    sp_fit_result outcome = {0, SP_COMPLETED};
    char error[ERROR_CAPACITY] = "";
    context.thread_state = PyEval_SaveThread();
    int32_t status = sp_network_fit(
        handle, x.buf, y.buf, rows_of(&x), shape.inputs, shape.outputs,
        validating ? vx.buf : NULL, validating ? vy.buf : NULL,
        validating ? rows_of(&vx) : 0, &optimizer.optimizer, &options, fit_callback, &context,
        (double *)losses.buf, validating ? (double *)val_losses.buf : NULL,
        (double *)norms.buf, count_of(&losses), &outcome, error, ERROR_CAPACITY);
    PyEval_RestoreThread(context.thread_state);
    if (status == SP_CALLBACK_ERROR) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "fit was stopped by its callback");
        goto done;
    }
    if (status != SP_OK) {
        raise_status(status, error);
        goto done;
    }
    result = Py_BuildValue("(Li)", (long long)outcome.epochs, outcome.stop_reason);
done:
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    PyBuffer_Release(&vx);
    PyBuffer_Release(&vy);
    PyBuffer_Release(&losses);
    PyBuffer_Release(&val_losses);
    PyBuffer_Release(&norms);
    return result;
}

/* ---------------------------------------------------------------- module */

static PyMethodDef engine_methods[] = {
    {"create", engine_create, METH_VARARGS,
     "create(sizes, activations, loss, dtype, init, seed) -> handle"},
    {"destroy", engine_destroy, METH_VARARGS, "destroy(handle) -> bool"},
    {"info", engine_info, METH_VARARGS,
     "info(handle) -> (dtype, layers, inputs, outputs, parameter_count)"},
    {"get_parameters", engine_get_parameters, METH_VARARGS,
     "get_parameters(handle, out): copy the flat parameter vector into out"},
    {"set_parameters", engine_set_parameters, METH_VARARGS,
     "set_parameters(handle, values): replace the flat parameter vector"},
    {"get_generator", engine_get_generator, METH_VARARGS,
     "get_generator(handle) -> state of the network's SplitMix64 generator"},
    {"set_generator", engine_set_generator, METH_VARARGS,
     "set_generator(handle, state)"},
    {"reset_optimizer", engine_reset_optimizer, METH_VARARGS,
     "reset_optimizer(handle): forget momentum and moments"},
    {"get_optimizer", engine_get_optimizer, METH_VARARGS,
     "get_optimizer(handle, first, second) -> (kind or -1, step)"},
    {"set_optimizer", engine_set_optimizer, METH_VARARGS,
     "set_optimizer(handle, kind, step, first, second)"},
    {"predict", engine_predict, METH_VARARGS, "predict(handle, X, out)"},
    {"loss", engine_loss, METH_VARARGS, "loss(handle, X, Y) -> float"},
    {"gradients", engine_gradients, METH_VARARGS,
     "gradients(handle, X, Y, out) -> loss; out receives the flat gradient"},
    {"numerical_gradients", engine_numerical_gradients, METH_VARARGS,
     "numerical_gradients(handle, X, Y, eps, out): central differences (float64)"},
    {"train_step", engine_train_step, METH_VARARGS,
     "train_step(handle, X, Y, optimizer) -> loss before the step"},
    {"forward", engine_forward, METH_VARARGS,
     "forward(handle, X, z, a): every layer's z and a, concatenated"},
    {"backward", engine_backward, METH_VARARGS,
     "backward(handle, X, Y, deltas, gradients, dX) -> loss"},
    {"fit", engine_fit, METH_VARARGS,
     "fit(handle, X, Y, VX, VY, optimizer, settings, reporter, loss_history, "
     "val_history, gradient_norms[, stop_flag]) -> (epochs, stop_reason); "
     "fit stops cleanly at the next poll once bool(stop_flag) is true"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef engine_module = {
    PyModuleDef_HEAD_INIT, "_engine",
    "The CPython shim over the swiftprop Swift engine (see swiftprop.h).", -1,
    engine_methods,
};

PyMODINIT_FUNC
PyInit__engine(void)
{
    return PyModule_Create(&engine_module);
}
