# embed_example.pyx: a batch through an ovfast AsyncInferQueue, driven from C without the GIL.
cimport ovfast
from libc.string cimport memcpy

ovfast.check_version()  # refuses an installed ovfast with another C API version, at import

cdef enum:
    WRONG_ROW = -1  # a status of ours: a row is not the size of the model's input or output

def run(queue, const unsigned char[:, ::1] inputs, unsigned char[:, ::1] outputs):
    """Row k of `inputs` (the bytes of the model's one input) -> row k of `outputs`."""
    cdef ovfast.ovf_pool* pool = ovfast.queue_pool(queue)  # a reference of ours: unref below
    cdef int job[16]
    cdef int j, jobs, held = 0, st = ovfast.OVFAST_OK
    cdef Py_ssize_t k, n = inputs.shape[0]
    cdef void* data
    cdef size_t size
    with nogil:
        ovfast.pool_size(pool, &jobs, NULL, NULL)
        while held < 16 and held < jobs and held < n and st == ovfast.OVFAST_OK:  # hold up to 16 jobs
            st = ovfast.job_acquire(pool, 5000, &job[held])
            held += st == ovfast.OVFAST_OK
        for k in range(n + held if held else 0):  # start item k on a job, collect item k - held
            j = job[k % held]
            if k >= held and st == ovfast.OVFAST_OK:
                st = ovfast.job_wait(pool, j, -1) or ovfast.job_output(pool, j, 0, &data, &size)
                if st == ovfast.OVFAST_OK:
                    st = WRONG_ROW if size != <size_t>outputs.shape[1] else st
                    memcpy(&outputs[k - held, 0], data, size if st == ovfast.OVFAST_OK else 0)
            if k < n and st == ovfast.OVFAST_OK:
                st = ovfast.job_input(pool, j, 0, &data, &size)
                if st == ovfast.OVFAST_OK:
                    st = WRONG_ROW if size != <size_t>inputs.shape[1] else st
                    memcpy(data, &inputs[k, 0], size if st == ovfast.OVFAST_OK else 0)
                    st = ovfast.job_start(pool, j, NULL, NULL) if st == ovfast.OVFAST_OK else st
        for k in range(held):
            ovfast.job_release(pool, job[k])  # waits for a run still going, then hands the job back
    message = ovfast.last_error().decode() if st != WRONG_ROW else f"rows must be {size} bytes"
    ovfast.pool_unref(pool)
    if st != ovfast.OVFAST_OK:
        raise RuntimeError(f"ovfast status {st}: {message}")
