# cython: language_level=3, embedsignature=True
# distutils: language = c++
"""ovfast's C-level API (see api.pxd): the C handles of ovfast's objects and the job pool, for other
extensions to `from ovfast cimport api`. From Python this module only tells its version."""
from libc.stdint cimport int64_t

from ovfast.includes.openvino_c cimport ov_compiled_model_t, ov_infer_request_t, ov_tensor_t
from ovfast._runtime cimport AsyncInferQueue, CompiledModel, InferRequest, Tensor

cdef extern from "_c_api.hpp" nogil:
    cppclass c_pool "ovf_pool":
        pass
    int ovf_c_fail(int status, const char* fmt, ...)
    void ovf_pool_ref(c_pool* p)
    void ovf_pool_unref(c_pool* p)
    int ovf_c_pool_size(c_pool* p, int* jobs, size_t* inputs, size_t* outputs)
    int ovf_c_acquire(c_pool* p, int64_t timeout_ms, int* job)
    int ovf_c_input(c_pool* p, int job, size_t index, void** data, size_t* nbytes)
    int ovf_c_output(c_pool* p, int job, size_t index, void** data, size_t* nbytes)
    int ovf_c_bind(c_pool* p, int job, bint output, size_t index, void* data, size_t nbytes,
                   const int64_t* dims, size_t rank)
    int ovf_c_start(c_pool* p, int job, void (*done)(void*, int) noexcept nogil, void* ctx)
    int ovf_c_wait(c_pool* p, int job, int64_t timeout_ms)
    int ovf_c_infer(c_pool* p, int job)
    int ovf_c_release(c_pool* p, int job)
    int ovf_c_wait_all(c_pool* p, int64_t timeout_ms)
    const char* ovf_c_last_error()

API_VERSION = OVFAST_API_VERSION
"""The C-level API version this ovfast provides (api.pxd's OVFAST_API_VERSION)."""

cdef str _kind(object obj):
    return type(obj).__module__ + "." + type(obj).__qualname__


cdef int api_version() noexcept nogil:
    return OVFAST_API_VERSION


cdef ov_compiled_model* compiled_model_handle(object compiled_model) except NULL:
    if not isinstance(compiled_model, CompiledModel):
        raise TypeError(f"compiled_model_handle: expected an ovfast.CompiledModel, got {_kind(compiled_model)}")
    return <ov_compiled_model*>(<CompiledModel>compiled_model).ptr


cdef ov_infer_request* infer_request_handle(object request) except NULL:
    if not isinstance(request, InferRequest):
        raise TypeError(f"infer_request_handle: expected an ovfast.InferRequest, got {_kind(request)}")
    return <ov_infer_request*>(<InferRequest>request).req


cdef ov_tensor* tensor_handle(object tensor) except NULL:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor_handle: expected an ovfast.Tensor, got {_kind(tensor)}")
    return <ov_tensor*>(<Tensor>tensor).ptr


cdef void* tensor_data(object tensor, size_t* nbytes) except? NULL:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor_data: expected an ovfast.Tensor, got {_kind(tensor)}")
    if nbytes != NULL:
        nbytes[0] = (<Tensor>tensor).nbytes()
    return (<Tensor>tensor).data_ptr()


cdef ovf_pool* queue_pool(object queue) except NULL:
    if not isinstance(queue, AsyncInferQueue):
        raise TypeError(f"queue_pool: expected an ovfast.AsyncInferQueue, got {_kind(queue)}")
    cdef c_pool* p = <c_pool*>(<AsyncInferQueue>queue).h.pool
    if p == NULL or (<AsyncInferQueue>queue).h.closing:
        raise ValueError("queue_pool: this AsyncInferQueue is closed")
    ovf_pool_ref(p)
    return <ovf_pool*>p


cdef void pool_unref(ovf_pool* pool) noexcept nogil:
    if pool != NULL:
        ovf_pool_unref(<c_pool*>pool)


cdef int pool_size(ovf_pool* pool, int* jobs, size_t* inputs, size_t* outputs) noexcept nogil:
    return ovf_c_pool_size(<c_pool*>pool, jobs, inputs, outputs)


cdef int job_acquire(ovf_pool* pool, int64_t timeout_ms, int* job) noexcept nogil:
    return ovf_c_acquire(<c_pool*>pool, timeout_ms, job)


cdef int job_input(ovf_pool* pool, int job, size_t index, void** data, size_t* nbytes) noexcept nogil:
    return ovf_c_input(<c_pool*>pool, job, index, data, nbytes)


cdef int job_output(ovf_pool* pool, int job, size_t index, void** data, size_t* nbytes) noexcept nogil:
    return ovf_c_output(<c_pool*>pool, job, index, data, nbytes)


cdef int job_bind(ovf_pool* pool, int job, bint output, size_t index, void* data, size_t nbytes,
                  const int64_t* dims, size_t rank) noexcept nogil:
    return ovf_c_bind(<c_pool*>pool, job, output, index, data, nbytes, dims, rank)


cdef int job_start(ovf_pool* pool, int job, done_fn done, void* ctx) noexcept nogil:
    return ovf_c_start(<c_pool*>pool, job, done, ctx)


cdef int job_wait(ovf_pool* pool, int job, int64_t timeout_ms) noexcept nogil:
    return ovf_c_wait(<c_pool*>pool, job, timeout_ms)


cdef int job_infer(ovf_pool* pool, int job) noexcept nogil:
    return ovf_c_infer(<c_pool*>pool, job)


cdef int job_release(ovf_pool* pool, int job) noexcept nogil:
    return ovf_c_release(<c_pool*>pool, job)


cdef int wait_all(ovf_pool* pool, int64_t timeout_ms) noexcept nogil:
    return ovf_c_wait_all(<c_pool*>pool, timeout_ms)


cdef const char* last_error() noexcept nogil:
    return ovf_c_last_error()
