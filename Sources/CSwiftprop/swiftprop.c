/* The header include/swiftprop.h is the whole of this target: it declares
 * the C ABI that SwiftpropABI exports, for the CPython shim and the ABI
 * tests. SwiftPM needs one source file to build a C target. */
#include "swiftprop.h"
