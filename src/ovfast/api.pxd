# ovfast's C-level API: drive OpenVINO through ovfast's objects from another extension, with no Python
# (and no GIL) in its loop.
#
#     from ovfast cimport api        # cythonize(..., include_path=[ovfast.get_include()])
#
# The functions come from the ovfast.api module at import, as Cython shares cdef functions (capsules in
# its __pyx_capi__): the extension needs no OpenVINO headers and links nothing of ovfast.
# docs/guides/embedding.md has a complete example.
#
# Versioning: OVFAST_API_VERSION is the version an extension was built against; api.check_version() at
# its import refuses an installed ovfast that provides another. A version only grows when a declaration
# here changes; functions are never changed in place.
#
# Handles and the pool: the C handles are borrowed from their Python objects (valid while those live).
# queue_pool() adds a reference to the pool that pool_unref() drops; keep the AsyncInferQueue itself
# alive as long as you use its pool: jobs are its InferRequests (the pool answers CLOSED once it is gone).
#
# The job pool: every function below `nogil` returns a status (OVFAST_OK or the reason) and never raises;
# last_error() is the calling thread's message for its last failure. A job taken with job_acquire is
# busy for everyone else (Python's start_async, map, imap) until job_release hands it back; release puts
# back the tensors the job had, so memory you bound is never read after release.
from libc.stdint cimport int64_t

cdef extern from *:
    """
    struct ov_compiled_model;
    struct ov_infer_request;
    struct ov_tensor;
    struct ovf_pool;
    """
    # OpenVINO's C handles (openvino/c/openvino.h's ov_*_t are typedefs of these structs)
    cdef struct ov_compiled_model
    cdef struct ov_infer_request
    cdef struct ov_tensor
    # an AsyncInferQueue's job pool
    cdef struct ovf_pool

cdef enum:
    OVFAST_API_VERSION = 1

# The statuses, written once: in C, so that the pool's C++ (_c_api.hpp, compiled after this) returns them too.
cdef extern from *:
    """
    enum ovfast_status {
        OVFAST_OK = 0,
        OVFAST_TIMEOUT = 1,   /* nothing happened within the timeout */
        OVFAST_INVALID = 2,   /* a bad argument: pool, job, port, pointer, size or shape (last_error() says which) */
        OVFAST_NOT_HELD = 3,  /* the job is not held through this API */
        OVFAST_BUSY = 4,      /* the job is running */
        OVFAST_FAILED = 5,    /* OpenVINO refused, or the inference failed */
        OVFAST_CLOSED = 6     /* the pool's AsyncInferQueue is gone */
    };
    """
    enum ovfast_status:
        OVFAST_OK
        OVFAST_TIMEOUT
        OVFAST_INVALID
        OVFAST_NOT_HELD
        OVFAST_BUSY
        OVFAST_FAILED
        OVFAST_CLOSED

# Called on OpenVINO's callback thread without the GIL when a job's run is over; it may read the job's
# outputs, refill its inputs and start it again, or release it. Keep it short: all completions of a
# compiled model run on that one thread.
ctypedef void (*done_fn)(void* ctx, int job) noexcept nogil

# --- version -------------------------------------------------------------------------------------------
# The C-level API version the installed ovfast provides (what ovfast.api.API_VERSION says to Python).
cdef int api_version() noexcept nogil

cdef inline int check_version(int built_against=OVFAST_API_VERSION) except -1:
    """Raises ImportError unless the installed ovfast provides the API version this code was built with."""
    cdef int have = api_version()
    if have != built_against:
        raise ImportError(f"this extension was built against ovfast's C API version {built_against}, but the "
                          f"installed ovfast provides version {have}: rebuild the extension against it")
    return 0

# --- Python objects -> C handles (with the GIL; TypeError for an object of another class) ----------------
# A CompiledModel's ov_compiled_model_t*, borrowed: valid while the CompiledModel lives.
cdef ov_compiled_model* compiled_model_handle(object compiled_model) except NULL
# An InferRequest's ov_infer_request_t*, borrowed: valid while the InferRequest lives.
cdef ov_infer_request* infer_request_handle(object request) except NULL
# A Tensor's ov_tensor_t*, borrowed: valid while the Tensor lives.
cdef ov_tensor* tensor_handle(object tensor) except NULL
# A Tensor's memory and its size in bytes (nbytes may be NULL), borrowed: valid while the Tensor lives.
cdef void* tensor_data(object tensor, size_t* nbytes) except? NULL
# An AsyncInferQueue's job pool, with a reference of yours: pool_unref() it.
cdef ovf_pool* queue_pool(object queue) except NULL

# --- the job pool (no GIL needed; statuses, never exceptions) -------------------------------------------
# Drops the reference queue_pool() gave.
cdef void pool_unref(ovf_pool* pool) noexcept nogil
# The pool's number of jobs, and its model's numbers of inputs and outputs (each pointer may be NULL).
cdef int pool_size(ovf_pool* pool, int* jobs, size_t* inputs, size_t* outputs) noexcept nogil
# Waits up to timeout_ms (negative: no limit) for an idle job and holds it: *job is its id.
cdef int job_acquire(ovf_pool* pool, int64_t timeout_ms, int* job) noexcept nogil
# Where to write input `index` (a static, numeric input) of a held, idle job: the job's own tensor.
cdef int job_input(ovf_pool* pool, int job, size_t index, void** data, size_t* nbytes) noexcept nogil
# Where output `index` of a held job's finished run is (valid until the job runs again or is released).
cdef int job_output(ovf_pool* pool, int job, size_t index, void** data, size_t* nbytes) noexcept nogil
# Binds your memory (zero-copy) to an input or output of a held, idle job until job_release. dims NULL:
# the port's static shape. nbytes must be exactly what the shape needs.
cdef int job_bind(ovf_pool* pool, int job, bint output, size_t index, void* data, size_t nbytes,
                  const int64_t* dims, size_t rank) noexcept nogil
# Starts a held, idle job; done(ctx, job) runs when it is over (done may be NULL: then use job_wait).
cdef int job_start(ovf_pool* pool, int job, done_fn done, void* ctx) noexcept nogil
# Waits up to timeout_ms (negative: no limit) for a held job's run to end: OVFAST_OK or how it failed.
cdef int job_wait(ovf_pool* pool, int job, int64_t timeout_ms) noexcept nogil
# Runs a held, idle job on the calling thread and returns when it is over: OVFAST_OK or how it failed (no
# done(); read its outputs with job_output). What a caller that would only wait for the run does instead.
cdef int job_infer(ovf_pool* pool, int job) noexcept nogil
# Hands a held job back once its run and done() are over (from its own done(): as done() returns).
cdef int job_release(ovf_pool* pool, int job) noexcept nogil
# Waits up to timeout_ms (negative: no limit) until every run started through this API is over.
cdef int wait_all(ovf_pool* pool, int64_t timeout_ms) noexcept nogil
# The calling thread's message for its last failed call ("" if none yet).
cdef const char* last_error() noexcept nogil
