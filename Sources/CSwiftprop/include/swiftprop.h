/*
 * swiftprop.h: the C ABI of the swiftprop engine, its one declaration.
 *
 * Every function returns a status (SP_OK or an SP_* error code) and, on
 * error, writes a NUL-terminated message of at most error_capacity bytes
 * (truncated if needed) to `error` when it is not NULL. No function traps
 * on bad input: NULL pointers, negative or mismatched sizes and unknown
 * handles are reported as errors.
 *
 * Arrays are dense, row-major (C order), of the network's dtype (float or
 * double, see sp_network_info); `void *` arguments point to such arrays.
 * The parameter vector of a network is W0, b0, W1, b1, ... concatenated,
 * each W of shape (inputs, outputs) in row-major order.
 *
 * A handle may be used from any thread, but not by two threads at once.
 */
#ifndef SWIFTPROP_H
#define SWIFTPROP_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The vocabulary: every code of the engine is numbered here and nowhere
 * else. The Swift core reads these constants (it never renumbers them);
 * the CPython extension exports them as module constants, and the Python
 * package builds its name -> code tables from sp_name. Each list ends in a
 * *_COUNT sentinel, so a code added here and forgotten in Swift fails the
 * round-trip tests on both sides. */

enum {
    SP_OK = 0,
    SP_INVALID_ARGUMENT = 1, /* a size, a name code, a setting out of range */
    SP_INVALID_VALUE = 2,    /* NaN or infinity in the data */
    SP_OUT_OF_MEMORY = 3,
    SP_BUSY = 4,             /* the network is inside fit */
    SP_DIVERGED = 5,         /* the loss or a gradient is not finite */
    SP_INVALID_HANDLE = 6,
    SP_CALLBACK_ERROR = 7,   /* the fit callback asked to abort */
    SP_STATUS_COUNT
};

enum { SP_FLOAT32 = 0, SP_FLOAT64, SP_DTYPE_COUNT };

/* Activations, losses, weight initialisers, optimizers. */
enum { SP_IDENTITY = 0, SP_SIGMOID, SP_TANH, SP_RELU, SP_LEAKY_RELU, SP_SOFTMAX, SP_ELU,
       SP_EXP, SP_ACTIVATION_COUNT };
enum { SP_MSE = 0, SP_BINARY_CROSS_ENTROPY, SP_CROSS_ENTROPY, SP_HUBER, SP_POISSON,
       SP_LOSS_COUNT };
enum { SP_XAVIER = 0, SP_HE, SP_NORMAL, SP_INITIALIZER_COUNT };
enum { SP_SGD = 0, SP_ADAM, SP_RMSPROP, SP_OPTIMIZER_COUNT };

/* Stop reasons of sp_network_fit and sp_network_fit_lbfgs (the last five:
 * L-BFGS only, see sp_lbfgs_options). */
enum { SP_COMPLETED = 0, SP_CONVERGED, SP_STOPPED_BY_CALLBACK, SP_INTERRUPTED,
       SP_STOPPED_DIVERGED, SP_CONVERGED_GTOL, SP_CONVERGED_FTOL, SP_MAX_ITER,
       SP_MAX_FUN, SP_LINE_SEARCH_FAILED, SP_STOP_REASON_COUNT };

/* Learning-rate schedules of sp_network_fit (sp_schedule). */
enum { SP_SCHEDULE_CONSTANT = 0, SP_SCHEDULE_INV_SCALING, SP_SCHEDULE_ADAPTIVE,
       SP_SCHEDULE_STEP, SP_SCHEDULE_EXPONENTIAL, SP_SCHEDULE_COSINE, SP_SCHEDULE_PLATEAU,
       SP_SCHEDULE_COUNT };

/* What sp_network_fit watches to stop early, to reduce the rate on a
 * plateau and to keep the best parameters. */
enum { SP_MONITOR_LOSS = 0, SP_MONITOR_VAL_LOSS, SP_MONITOR_ACCURACY, SP_MONITOR_VAL_ACCURACY,
       SP_MONITOR_R2, SP_MONITOR_VAL_R2, SP_MONITOR_COUNT };

/* Metrics sp_network_fit records per epoch: a bit set. */
enum { SP_METRIC_ACCURACY = 1, SP_METRIC_R2 = 2 };

/* The lists above, for sp_name. */
enum { SP_VOCABULARY_STATUS = 0, SP_VOCABULARY_DTYPE, SP_VOCABULARY_ACTIVATION,
       SP_VOCABULARY_LOSS, SP_VOCABULARY_INITIALIZER, SP_VOCABULARY_OPTIMIZER,
       SP_VOCABULARY_STOP_REASON, SP_VOCABULARY_SCHEDULE, SP_VOCABULARY_MONITOR,
       SP_VOCABULARY_COUNT };

/* The name of `code` in `vocabulary` as the Python API spells it
 * ("leaky_relu", "cross_entropy", "adam"), NUL-terminated in `name`
 * (capacity bytes, truncated if needed). SP_INVALID_ARGUMENT for a code
 * or vocabulary that does not exist. */
int32_t sp_name(int32_t vocabulary, int32_t code, char *name, int64_t capacity);

/* What a loss needs: the output activation it is fused with
 * (*output_activation, -1 for any) and whether its targets may be given
 * as class labels (*takes_labels, 0 or 1). */
int32_t sp_loss_info(int32_t loss, int32_t *output_activation, int32_t *takes_labels,
                     char *error, int64_t error_capacity);

/* Optimizer settings: the kind and its settings as `count` doubles, in the
 * order sp_optimizer_setting names them. Every kind's settings begin with
 * "lr" (> 0) and "l2" (>= 0, weight decay on the weights only); a new
 * setting changes neither this struct nor any signature. */
typedef struct sp_optimizer {
    int32_t kind;           /* SP_SGD, SP_ADAM, ... */
    int32_t count;          /* values in `values` */
    const double *values;
} sp_optimizer;

/* How many settings optimizer `kind` takes and how many state vectors of
 * parameter_count values it keeps (0, 1 or 2: velocity, moments). */
int32_t sp_optimizer_info(int32_t kind, int32_t *settings, int32_t *state_vectors,
                          char *error, int64_t error_capacity);
/* The name of setting `index` of optimizer `kind` ("lr", "momentum", ...),
 * NUL-terminated in `name` (capacity bytes). */
int32_t sp_optimizer_setting(int32_t kind, int32_t index, char *name, int64_t capacity);

typedef struct sp_fit_options {
    int64_t epochs;         /* >= 1 */
    int64_t batch_size;     /* >= 1; >= rows means full batch */
    int64_t report_every;   /* call back every N-th epoch (and the first and last); 0 never */
    int64_t patience;       /* >= 1 */
    int64_t poll_interval_ns; /* least time between two polls */
    double tolerance;       /* < 0: no convergence test */
    int32_t shuffle;        /* 0 or 1 */
} sp_fit_options;

/* Called by sp_network_fit from the calling thread. kind 0: a poll between
 * steps (epoch, losses and lr are meaningless); kind 1: epoch `epoch`
 * (0-based) ended with these losses (val_loss NaN without validation data)
 * and *lr the learning rate it used: the callback may write a new rate
 * (> 0, finite) to *lr, used from the next epoch on in place of the
 * schedule's. Return 0 to go on, 1 to stop cleanly, 2 to abort
 * (SP_CALLBACK_ERROR). */
typedef int32_t (*sp_fit_callback)(void *context, int32_t kind, int64_t epoch,
                                   double loss, double val_loss, double *lr);

/* A learning-rate schedule: its kind and its settings after lr, in the
 * order sp_schedule_setting names them, and an optional linear warm-up. */
typedef struct sp_schedule {
    int32_t kind;           /* SP_SCHEDULE_CONSTANT, ... */
    int32_t count;          /* values in `values` */
    const double *values;
    int64_t warmup_epochs;  /* 0: none */
    double warmup_start;    /* the warm-up's first factor, in [0, 1] */
} sp_schedule;

/* How many settings schedule `kind` takes, and the name of setting
 * `index` ("power_t", "gamma", ...). */
int32_t sp_schedule_info(int32_t kind, int32_t *settings, char *error, int64_t error_capacity);
int32_t sp_schedule_setting(int32_t kind, int32_t index, char *name, int64_t capacity);

/* The rest of sp_network_fit's inputs and outputs; NULL pointers and zero
 * fields mean: none, or the default. */
typedef struct sp_fit_extras {
    const void *sample_weight;     /* rows values of the dtype, or NULL */
    const void *val_sample_weight; /* val_rows values, or NULL */
    sp_schedule schedule;          /* kind SP_SCHEDULE_CONSTANT: a fixed rate */
    int32_t monitor;               /* SP_MONITOR_*, or -1: val_loss with validation data, else loss */
    int32_t restore_best;          /* 1: end with the best epoch's parameters */
    int32_t metrics;               /* SP_METRIC_* bits */
    int32_t l2_per_sample;         /* 1: divide l2 by each batch's rows or weight sum */
    double loss_scale;             /* recorded loss = loss_scale x data loss (0 means 1) */
    double penalty_scale;          /* + penalty_scale x (l2/2) sum ||W||^2, per batch */
    /* Per-epoch records (history_capacity values each), or NULL. */
    double *lr_history;
    double *accuracy_history, *val_accuracy_history;
    double *r2_history, *val_r2_history;
    double *l2_history;            /* the l2 term (l2/2) sum ||W||^2, batch-weighted */
    int64_t restored_epoch;        /* out: the epoch restore_best restored, or -1 */
    /* NULL, or NumPy's legacy MT19937 state (RandomState.get_state(): 624
     * key words, then pos in 0...624), in and out: with shuffle on, the rows
     * are shuffled every epoch (even as one batch) in place, from the
     * previous epoch's order, with RandomState.shuffle's draws from this
     * stream: scikit-learn's MLP batch order. */
    uint32_t *numpy_shuffle_state;
} sp_fit_extras;

typedef struct sp_fit_result {
    int64_t epochs;         /* epochs completed (entries written) */
    int32_t stop_reason;    /* SP_COMPLETED, ... */
} sp_fit_result;

typedef struct sp_network_description {
    int32_t dtype;
    int32_t layer_count;
    int64_t inputs;
    int64_t outputs;
    int64_t parameter_count;
} sp_network_description;

/* sizes has layer_count + 1 entries; activations has layer_count;
 * layer_count is in [1, 100000]. */
int32_t sp_network_create(int32_t layer_count, const int64_t *sizes,
                          const int32_t *activations, int32_t loss, int32_t dtype,
                          int32_t initializer, uint64_t seed, int64_t *handle,
                          char *error, int64_t error_capacity);
int32_t sp_network_destroy(int64_t handle);
int32_t sp_network_info(int64_t handle, sp_network_description *description,
                        char *error, int64_t error_capacity);

int32_t sp_network_get_parameters(int64_t handle, void *values, int64_t count,
                                  char *error, int64_t error_capacity);
int32_t sp_network_set_parameters(int64_t handle, const void *values, int64_t count,
                                  char *error, int64_t error_capacity);
int32_t sp_network_get_generator(int64_t handle, uint64_t *state,
                                 char *error, int64_t error_capacity);
int32_t sp_network_set_generator(int64_t handle, uint64_t state,
                                 char *error, int64_t error_capacity);
int32_t sp_network_reset_optimizer(int64_t handle, char *error, int64_t error_capacity);
/* Dropout rates, one per layer (count == layer_count): each in [0, 1), the
 * output layer's 0. Training steps (sp_network_train_step, each step of
 * sp_network_fit) drop a hidden layer's outputs with its rate (inverted
 * dropout, masks drawn from the network's generator); no other call does.
 * L-BFGS refuses a network with a rate > 0. Setting is all or nothing. */
int32_t sp_network_set_dropout(int64_t handle, const double *rates, int64_t count,
                               char *error, int64_t error_capacity);
int32_t sp_network_get_dropout(int64_t handle, double *rates, int64_t count,
                               char *error, int64_t error_capacity);
/* The optimizer's memory, for saving: *kind is -1 before any training step,
 * else the optimizer's code, with its state vectors (sp_optimizer_info) in
 * `first` and `second` (SGD: velocity; Adam: the two moments) and the
 * number of steps taken in *step. first/second hold parameter_count values
 * of the network's dtype; second may be NULL for a kind with fewer than two
 * state vectors. */
int32_t sp_network_get_optimizer(int64_t handle, int32_t *kind, int64_t *step, void *first,
                                 void *second, int64_t count,
                                 char *error, int64_t error_capacity);
int32_t sp_network_set_optimizer(int64_t handle, int32_t kind, int64_t step,
                                 const void *first, const void *second, int64_t count,
                                 char *error, int64_t error_capacity);

/* x: rows x inputs; out: rows x outputs (out_count values). */
int32_t sp_network_predict(int64_t handle, const void *x, int64_t rows, int64_t columns,
                           void *out, int64_t out_count,
                           char *error, int64_t error_capacity);
/* y: rows x y_columns (must equal outputs). */
/* sample_weight (here and below): rows values of the dtype, finite, >= 0,
 * with a positive sum, or NULL; the loss is then the weighted mean. */
int32_t sp_network_loss(int64_t handle, const void *x, const void *y, int64_t rows,
                        int64_t x_columns, int64_t y_columns, const void *sample_weight,
                        double *loss,
                        char *error, int64_t error_capacity);
/* out: the flat gradient (parameter_count values); loss may be NULL. */
int32_t sp_network_gradients(int64_t handle, const void *x, const void *y, int64_t rows,
                             int64_t x_columns, int64_t y_columns,
                             const void *sample_weight, void *out,
                             int64_t out_count, double *loss,
                             char *error, int64_t error_capacity);
/* out: parameter_count doubles, whatever the dtype. */
int32_t sp_network_numerical_gradients(int64_t handle, const void *x, const void *y,
                                       int64_t rows, int64_t x_columns, int64_t y_columns,
                                       double epsilon, double *out, int64_t out_count,
                                       char *error, int64_t error_capacity);
int32_t sp_network_train_step(int64_t handle, const void *x, const void *y, int64_t rows,
                              int64_t x_columns, int64_t y_columns,
                              const void *sample_weight, const sp_optimizer *optimizer, double *loss,
                              char *error, int64_t error_capacity);
/* The forward pass, layer by layer: z and a receive every layer's
 * pre-activations and activations, rows x outputs_l values per layer, one
 * layer after the other (count values each: rows x the sum of outputs_l). */
int32_t sp_network_forward(int64_t handle, const void *x, int64_t rows, int64_t columns,
                           void *z, void *a, int64_t count,
                           char *error, int64_t error_capacity);
/* The backward pass without an update: deltas (laid out as z above, count
 * values), the flat gradient (parameter_count values) and dx = delta_0 W_0^T
 * (rows x inputs values); loss may be NULL. */
int32_t sp_network_backward(int64_t handle, const void *x, const void *y, int64_t rows,
                            int64_t x_columns, int64_t y_columns, void *deltas,
                            int64_t count, void *gradients, int64_t gradient_count,
                            void *dx, int64_t dx_count, double *loss,
                            char *error, int64_t error_capacity);
/* extras may be NULL (no weights, a fixed rate, no metrics).
 * val_x / val_y may be NULL with val_rows 0. loss_history and (with
 * validation) val_history hold history_capacity >= options->epochs doubles;
 * gradient_norms, when not NULL, holds history_capacity x layer_count
 * doubles and receives each epoch's mean ||dW|| per layer. */
int32_t sp_network_fit(int64_t handle, const void *x, const void *y, int64_t rows,
                       int64_t x_columns, int64_t y_columns,
                       const void *val_x, const void *val_y, int64_t val_rows,
                       const sp_optimizer *optimizer, const sp_fit_options *options,
                       sp_fit_extras *extras, sp_fit_callback callback, void *context,
                       double *loss_history, double *val_history, double *gradient_norms,
                       int64_t history_capacity, sp_fit_result *result, char *error, int64_t error_capacity);

/* Interrupts of the calls that can run long (predict, loss, gradients,
 * numerical_gradients, forward, backward): the calling thread installs a
 * poll before the call and removes it (NULL) after. The engine calls it
 * between blocks of work, at most about every 20 ms; a nonzero return
 * abandons the call with SP_CALLBACK_ERROR, leaving the network unchanged
 * (outputs are then partly written). The hook is per thread, so calls on
 * other threads are not affected. */
typedef int32_t (*sp_interrupt_poll)(void *context);
void sp_set_interrupt_poll(sp_interrupt_poll poll, void *context);
/* What the engine calls: the installed poll's answer, or 0 without one. */
int32_t sp_poll_interrupt(void);
/* Whether the calling thread has a poll installed (1) or not (0). */
int32_t sp_has_interrupt_poll(void);
/* Full-batch L-BFGS (sp_network_fit_lbfgs): minimises
 *   F = scale * loss + (l2 / 2) * sum of the squared weights (not biases)
 * over all rows, with m = memory correction pairs and a strong Wolfe line
 * search of at most max_ls evaluations. Stops, as SciPy's L-BFGS-B does:
 * before any iteration when max |dF/dp| <= gtol (SP_CONVERGED_GTOL); after
 * an iteration when iterations >= max_iter (SP_MAX_ITER), else when
 * evaluations > max_fun (SP_MAX_FUN), else when max |dF/dp| <= gtol, else
 * when (F_prev - F) / max(|F_prev|, |F|, 1) <= ftol (SP_CONVERGED_FTOL);
 * SP_LINE_SEARCH_FAILED when no step lowers F even along -gradient;
 * SP_STOPPED_DIVERGED when F or its gradient is not finite at the start. */
typedef struct sp_lbfgs_options {
    int64_t max_iter;       /* >= 1 */
    int64_t max_fun;        /* >= 1 */
    int64_t memory;         /* >= 1 */
    int64_t max_ls;         /* >= 1 */
    int64_t report_every;   /* call back every N-th iteration (and the first); 0 never */
    int64_t poll_interval_ns; /* least time between two polls */
    double gtol;            /* >= 0 */
    double ftol;            /* >= 0 */
    double l2;              /* >= 0 */
    double scale;           /* > 0 */
} sp_lbfgs_options;

typedef struct sp_lbfgs_result {
    int64_t iterations;     /* iterations completed (entries written) */
    int64_t evaluations;    /* objective evaluations (forward and backward passes) */
    double loss;            /* F at the final parameters */
    int32_t stop_reason;
} sp_lbfgs_result;

/* sample_weight: NULL, or rows weights >= 0 with a positive sum (the loss
 * is then their weighted mean). loss_history holds history_capacity >=
 * options->max_iter doubles and receives F after each iteration. The callback is sp_network_fit's: kind
 * 0 polls between evaluations, kind 1 reports iteration `epoch` (0-based)
 * with loss F (val_loss NaN). The network keeps the last accepted iterate
 * whatever happens; on SP_CALLBACK_ERROR, *result is still filled. */
int32_t sp_network_fit_lbfgs(int64_t handle, const void *x, const void *y, int64_t rows,
                             int64_t x_columns, int64_t y_columns, const void *sample_weight,
                             const sp_lbfgs_options *options, sp_fit_callback callback,
                             void *context, double *loss_history, int64_t history_capacity,
                             sp_lbfgs_result *result, char *error, int64_t error_capacity);

/* Threads. The engine shares a large matrix product (and a large
 * parameter update or element-wise pass) over at most *maximum threads
 * (the calling thread and one helper); sp_threads_set sets the most it may
 * use (limit >= 1; 1 keeps all work on the calling thread). The work is
 * cut into units (whole column panels of a product's result, fixed pieces
 * of an array) that each thread claims as it becomes free; every value is
 * computed in the same order whichever thread runs its unit, so the
 * thread count never changes a result's bits. *split_products counts the
 * pieces of work offered to the helper, *helper_parts the units the
 * helper ran (a helper that wakes late finds them all taken), since the
 * process started. Any pointer may be NULL. */
int32_t sp_threads_set(int64_t limit, char *error, int64_t error_capacity);
void sp_threads_info(int64_t *limit, int64_t *maximum, int64_t *split_products,
                     int64_t *helper_parts);

/* What this build of the engine was compiled for: the matrix kernel's
 * tile height (*tile_rows: 8 with AVX-512's 32 vector registers, else 6)
 * and whether its products use fused multiply-adds (*fused_multiply_add,
 * 0 on the x86-64-v2 baseline build, 1 on x86-64-v3 and v4). */
void sp_build_info(int32_t *tile_rows, int32_t *fused_multiply_add);

#ifdef __cplusplus
}
#endif

#endif /* SWIFTPROP_H */
