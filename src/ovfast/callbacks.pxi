# The callback pump: the one Python thread that runs InferRequest callbacks.
#
# OpenVINO calls our C callback on its own thread; taking the GIL there would stall every completion of
# the compiled model behind Python. The C callback only queues the request; this thread takes the GIL once
# per batch of queued completions and runs their Python callbacks.

_pump_thread = None
_pump_lock = threading.Lock()


def _pump_run():
    cdef vector[ovf_request_state*] batch
    cdef ovf_request_state* s
    cdef InferRequest req
    _callback_thread.active = True
    while True:
        with nogil:
            ovf_pump_pop_all(batch, 200)
        for s in batch:
            req = <InferRequest>s.owner
            s.owner = NULL
            try:
                req._deliver()
            finally:
                s.settle()
                cpython.Py_DECREF(req)
        batch.clear()


def _ensure_pump():
    global _pump_thread
    if _pump_thread is not None:
        return
    with _pump_lock:
        if _pump_thread is None:
            t = threading.Thread(target=_pump_run, name="ovfast-callbacks", daemon=True)
            t.start()
            _pump_thread = t
