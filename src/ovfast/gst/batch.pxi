# A frame's run through a DynamicBatcher (batch-size above 1): the batcher's C entry takes the frame where it
# lies and writes the frame's rows of the batch's outputs straight into the tensor meta added for them, so an
# answered frame only needs output=detection or classification read from its meta (decode.pxi).

cdef extern from "Python.h":
    void* PyCapsule_GetPointer(object capsule, const char* name) except? NULL

cdef struct BatchApi:        # DynamicBatcher's ovfb_c_api (ovfast/_batcher.pyx), valid while the batcher lives
    int version
    void* core
    int (*submit)(void* core, const void* const* inputs, void* const* outputs,
                  void (*notify)(void*, int, const char*) noexcept nogil, void* ctx) noexcept nogil
    size_t n_inputs, n_outputs
    const size_t* in_bytes
    const size_t* out_bytes

cdef struct BatchRun:
    void* entry                   # whose frame it is (infer.pxi's Entry)
    OvfastTensorMeta* meta        # the frame's outputs, written by the batcher


cdef BatchApi* _batch_api(object capsule) except NULL:
    """The C entry of a DynamicBatcher from its _c_api() capsule (with the GIL)."""
    cdef BatchApi* b = <BatchApi*>PyCapsule_GetPointer(capsule, b"ovfast.DynamicBatcher.c_api")
    if b.version != 1:
        raise RuntimeError(f"DynamicBatcher's C entry is version {b.version}; ovfastinfer reads version 1")
    return b


cdef int _batch_submit(BatchApi* b, const void* frame, Outputs* o, GstBuffer* buf, BatchRun* run,
                       void (*notify)(void*, int, const char*) noexcept nogil) noexcept nogil:
    """Adds the frame's tensor meta and queues the frame in the batcher, which calls notify(run, ...) once its
    outputs are in the meta (or failed); -1 when the buffer refused the meta or the batcher is closed (then
    notify is never called)."""
    cdef void** outputs
    cdef uint32_t i
    cdef int rc
    run.meta = _tensor_meta_add(buf, 0, o.n_out, o.out_names, o.out_types, o.out_ranks, o.out_dims, o.out_nbytes,
                                o.model_name)
    if run.meta == NULL:
        return -1
    outputs = <void**>g_malloc(sizeof(void*) * (o.n_out + 1))     # submit keeps the pointers, not the array
    for i in range(o.n_out):
        outputs[i] = <void*>run.meta.tensors[i].data
    rc = b.submit(b.core, &frame, outputs, notify, run)
    g_free(outputs)
    return rc
