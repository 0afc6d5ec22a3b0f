# Python on GStreamer's threads while the interpreter exits.
#
# Streaming threads run Python to open a model, to compile it for new caps and to call ovfastpython's
# function. A program may end with its pipeline still playing; once Python finalizes, a thread that asks
# for the GIL is ended with pthread_exit, and the forced unwind aborts the process when it meets
# openvino's C++ frames ("terminate called without an active exception": 3 of 5 runs that ended during
# caps negotiation). So every element thread enters Python through this gate; at exit a hook closes it
# and waits, with the GIL let go, for the threads inside to leave. After that the elements run no more
# Python: a model is not opened or compiled (the element fails), ovfastpython drops its frames.

cdef gint _python_inside = 0
cdef gint _python_closed = 0


cdef bint _python_enter() noexcept nogil:
    """True if this thread may take the GIL now; then _python_leave() after its Python."""
    if g_atomic_int_get(&_python_closed):
        return False
    g_atomic_int_inc(&_python_inside)
    if g_atomic_int_get(&_python_closed):        # closed between the check and the count: the hook
        _python_leave()                          # may have seen nobody inside already
        return False
    return True


cdef void _python_leave() noexcept nogil:
    g_atomic_int_dec_and_test(&_python_inside)


def _close_python_gate(double timeout=60.0):
    """atexit: no element thread enters Python after this; waits (up to timeout seconds, the GIL let go)
    for those inside, e.g. in the middle of compiling a model, to finish."""
    cdef int waited = 0, limit = <int>(timeout * 1000)
    g_atomic_int_set(&_python_closed, 1)
    with nogil:
        while g_atomic_int_get(&_python_inside) > 0 and waited < limit:
            g_usleep(1000)
            waited += 1


cdef void _python_drop(PyObject** slot) noexcept nogil:
    """Drops the reference an element holds in *slot; once the interpreter exits it is left to its end."""
    if slot[0] != NULL:
        if _python_enter():
            with gil:
                Py_DECREF(<object>slot[0])
            _python_leave()
        slot[0] = NULL


cdef void _python_release(PyObject** slot) noexcept nogil:
    """Calls release() of the object in *slot (an element's session or model: it lets go of what it shares
    with other elements), then drops the reference."""
    if slot[0] != NULL and _python_enter():
        with gil:
            try:
                (<object>slot[0]).release()
            except BaseException:     # nothing to report it to; release() raises only on a bug
                import traceback
                traceback.print_exc()
        _python_leave()
    _python_drop(slot)
