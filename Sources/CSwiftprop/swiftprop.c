/* The header include/swiftprop.h declares the C ABI that SwiftpropABI
 * exports, for the CPython shim and the ABI tests. The one thing written
 * in C is the interrupt poll: a per-thread hook (C11 _Thread_local, which
 * Swift has no spelling for) that the caller installs around a long call
 * and the engine calls between blocks of work. */
#include "swiftprop.h"

#include <stddef.h>

static _Thread_local sp_interrupt_poll current_poll = NULL;
static _Thread_local void *current_context = NULL;

void
sp_set_interrupt_poll(sp_interrupt_poll poll, void *context)
{
    current_poll = poll;
    current_context = poll != NULL ? context : NULL;
}

int32_t
sp_poll_interrupt(void)
{
    return current_poll != NULL ? current_poll(current_context) : 0;
}

int32_t
sp_has_interrupt_poll(void)
{
    return current_poll != NULL;
}
