/* swiftprop._cpu: what the CPU and the operating system support, read with
 * cpuid and xgetbv. Compiled for plain x86-64 (setup.py), so that it runs on
 * any x86-64 CPU, before any of the engine's kernels is loaded: the engine
 * levels need more (swiftprop/_dispatch.py picks one).
 *
 * features() -> dict {name: bool}, names as Linux's /proc/cpuinfo spells
 * them ("sse4_2", "avx2", "avx512f", ...), plus "os_avx" (the OS saves
 * the YMM state: XCR0 bits 1 and 2) and "os_avx512" (and the opmask and
 * ZMM state: XCR0 bits 5, 6 and 7). A CPU may report AVX or AVX-512 that
 * the OS has not enabled (a hypervisor, a kernel booted without it); their
 * instructions then fault, so a level needs both.
 *
 * On other architectures features() returns an empty dict. */

#include <Python.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define SP_X86 1
#endif

#ifdef SP_X86
/* XCR0, the state components the OS saves; 0 when xgetbv is unavailable
 * (the OS has not set CR4.OSXSAVE). */
static unsigned long long
extended_control_register(int osxsave)
{
    if (!osxsave) {
        return 0;
    }
    unsigned int low, high;
    __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    return ((unsigned long long)high << 32) | low;
}
#endif

static int
add(PyObject *dict, const char *name, int value)
{
    PyObject *flag = PyBool_FromLong(value);
    if (flag == NULL) {
        return -1;
    }
    int status = PyDict_SetItemString(dict, name, flag);
    Py_DECREF(flag);
    return status;
}

static PyObject *
cpu_features(PyObject *module, PyObject *unused)
{
    PyObject *dict = PyDict_New();  /* new reference, returned */
    if (dict == NULL) {
        return NULL;
    }
#ifdef SP_X86
    unsigned int a = 0, b = 0, c = 0, d = 0;
    unsigned int c1 = 0, d1 = 0, b7 = 0, c7 = 0, c81 = 0;
    unsigned int max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf >= 1 && __get_cpuid(1, &a, &b, &c, &d)) {
        c1 = c;
        d1 = d;
    }
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        b7 = b;
        c7 = c;
    }
    if (__get_cpuid_max(0x80000000, NULL) >= 0x80000001
        && __get_cpuid(0x80000001, &a, &b, &c, &d)) {
        c81 = c;
    }
    (void)c7;
    unsigned long long xcr0 = extended_control_register((c1 >> 27) & 1);
    struct { const char *name; int value; } table[] = {
        /* x86-64 (v1) */
        {"sse2", (d1 >> 26) & 1},
        /* x86-64-v2 */
        {"sse3", c1 & 1},
        {"ssse3", (c1 >> 9) & 1},
        {"cx16", (c1 >> 13) & 1},
        {"sse4_1", (c1 >> 19) & 1},
        {"sse4_2", (c1 >> 20) & 1},
        {"popcnt", (c1 >> 23) & 1},
        {"lahf_lm", c81 & 1},
        /* x86-64-v3 */
        {"fma", (c1 >> 12) & 1},
        {"movbe", (c1 >> 22) & 1},
        {"osxsave", (c1 >> 27) & 1},
        {"avx", (c1 >> 28) & 1},
        {"f16c", (c1 >> 29) & 1},
        {"abm", (c81 >> 5) & 1},  /* LZCNT */
        {"bmi1", (b7 >> 3) & 1},
        {"avx2", (b7 >> 5) & 1},
        {"bmi2", (b7 >> 8) & 1},
        /* x86-64-v4 */
        {"avx512f", (b7 >> 16) & 1},
        {"avx512dq", (b7 >> 17) & 1},
        {"avx512cd", (b7 >> 28) & 1},
        {"avx512bw", (b7 >> 30) & 1},
        {"avx512vl", (b7 >> 31) & 1},
        /* What the OS saves on a context switch. */
        {"os_avx", (xcr0 & 0x6) == 0x6},
        {"os_avx512", (xcr0 & 0xE6) == 0xE6},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (add(dict, table[i].name, table[i].value) < 0) {
            Py_DECREF(dict);
            return NULL;
        }
    }
#endif
    return dict;
}

static PyMethodDef cpu_methods[] = {
    {"features", cpu_features, METH_NOARGS,
     "features() -> dict: the CPU's and the OS's features, by name"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef cpu_module = {
    PyModuleDef_HEAD_INIT, "_cpu",
    "What the CPU and the OS support (cpuid, xgetbv).", -1, cpu_methods,
};

PyMODINIT_FUNC
PyInit__cpu(void)
{
    return PyModule_Create(&cpu_module);
}
