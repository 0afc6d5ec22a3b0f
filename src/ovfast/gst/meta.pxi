# ovfast's metas (ovfast_meta.h). OvfastTensorMeta: output tensors on a buffer. One GLib block per meta holds the
# OvfastTensor array, the names and type names, then every tensor's data at 64-byte alignment, so a copy
# or a free is one call and a reader never sees half a meta.

cdef GType _tensor_meta_api = 0
cdef const GstMetaInfo* _tensor_meta_info = NULL

cdef inline size_t _align64(size_t n) noexcept nogil:
    return (n + 63) & ~(<size_t>63)


# The block is GLib's reference-counted box (g_atomic_rc_box; the meta points to its OvfastTensor array):
# FrameTensor arrays keep the block, not the buffer, so a frame's tensors never make its buffer shared (an
# element or ovfastpython can still add metadata while they live).
cdef inline void _block_ref(const OvfastTensor* t) noexcept nogil:
    g_atomic_rc_box_acquire(<gpointer>t)


cdef inline void _block_unref(const OvfastTensor* t) noexcept nogil:
    if t != NULL:
        g_atomic_rc_box_release(<gpointer>t)


cdef OvfastTensor* _tensor_block_new(uint32_t n, const char** names, const char** types, const uint32_t* ranks,
                                     const int64_t* dims, const size_t* nbytes, const char* model_name,
                                     const char** model_name_out) noexcept nogil:
    """A block for n tensors laid out as above; data is left for the caller to fill. dims: n x MAX_RANK.
    The model's name goes into the block too (*model_name_out points to it)."""
    cdef size_t head = _align64(n * sizeof(OvfastTensor)), text = strlen(model_name) + 1, body = 0, i
    for i in range(n):
        text += strlen(names[i]) + 1 + strlen(types[i]) + 1
        body += _align64(nbytes[i])
    # GLib aligns the box to 16 bytes: over-allocate and place the data at the next 64-byte boundary
    cdef char* raw = <char*>g_atomic_rc_box_alloc0(head + _align64(text) + body + 64)
    cdef OvfastTensor* t = <OvfastTensor*>raw
    cdef char* s = raw + head
    cdef char* d = <char*>_align64(<size_t>(raw + head + _align64(text)))
    memcpy(s, model_name, strlen(model_name) + 1)
    model_name_out[0] = s
    s += strlen(model_name) + 1
    for i in range(n):
        memcpy(s, names[i], strlen(names[i]) + 1)
        t[i].name = s
        s += strlen(names[i]) + 1
        memcpy(s, types[i], strlen(types[i]) + 1)
        t[i].element_type = s
        s += strlen(types[i]) + 1
        t[i].rank = ranks[i]
        memcpy(t[i].dims, &dims[i * OVFAST_TENSOR_MAX_RANK], OVFAST_TENSOR_MAX_RANK * sizeof(int64_t))
        t[i].data = d
        t[i].nbytes = nbytes[i]
        d += _align64(nbytes[i])
    return t


cdef gboolean _meta_init(GstMeta* meta, gpointer params, GstBuffer* buffer) noexcept nogil:
    cdef OvfastTensorMeta* m = <OvfastTensorMeta*>meta
    m.version = OVFAST_TENSOR_META_VERSION
    m.roi_id = -1
    m.n_tensors = 0
    m.tensors = NULL
    m.model_name = ""
    m.fields = NULL
    return 1


cdef void _fields_free(OvfastTensorMeta* m) noexcept nogil:
    cdef uint32_t i
    if m.fields != NULL:
        for i in range(m.n_tensors):
            if m.fields[i] != NULL:
                gst_structure_free(m.fields[i])
        g_free(m.fields)
        m.fields = NULL


cdef void _meta_free(GstMeta* meta, GstBuffer* buffer) noexcept nogil:
    cdef OvfastTensorMeta* m = <OvfastTensorMeta*>meta
    _fields_free(m)
    _block_unref(m.tensors)
    m.tensors = NULL
    m.n_tensors = 0


cdef OvfastTensorMeta* _tensor_meta_add(GstBuffer* buffer, int32_t roi_id, uint32_t n, const char** names,
                                        const char** types, const uint32_t* ranks, const int64_t* dims,
                                        const size_t* nbytes, const char* model_name) noexcept nogil:
    """Adds an OvfastTensorMeta with room for n tensors (data to fill); NULL if the buffer refused it."""
    cdef OvfastTensorMeta* m = <OvfastTensorMeta*>gst_buffer_add_meta(buffer, _tensor_meta_info, NULL)
    if m == NULL:
        return NULL
    m.roi_id = roi_id
    m.tensors = _tensor_block_new(n, names, types, ranks, dims, nbytes, model_name, &m.model_name)
    m.n_tensors = n
    return m


cdef gboolean _meta_transform(GstBuffer* dest, GstMeta* meta, GstBuffer* src, GQuark kind,
                              gpointer data) noexcept nogil:
    # The tensors describe the picture's content, so they follow every copy and every transform
    # (a scaled or converted frame shows the same scene).
    cdef OvfastTensorMeta* m = <OvfastTensorMeta*>meta
    cdef uint32_t i, n = m.n_tensors
    cdef const char** names = <const char**>g_malloc0(sizeof(char*) * (n + 1) * 2)
    cdef const char** types = names + n + 1
    cdef uint32_t* ranks = <uint32_t*>g_malloc0(sizeof(uint32_t) * (n + 1))
    cdef int64_t* dims = <int64_t*>g_malloc0(sizeof(int64_t) * OVFAST_TENSOR_MAX_RANK * (n + 1))
    cdef size_t* nbytes = <size_t*>g_malloc0(sizeof(size_t) * (n + 1))
    for i in range(n):
        names[i] = m.tensors[i].name
        types[i] = m.tensors[i].element_type
        ranks[i] = m.tensors[i].rank
        memcpy(&dims[i * OVFAST_TENSOR_MAX_RANK], m.tensors[i].dims, OVFAST_TENSOR_MAX_RANK * sizeof(int64_t))
        nbytes[i] = m.tensors[i].nbytes
    cdef OvfastTensorMeta* copy = _tensor_meta_add(dest, m.roi_id, n, names, types, ranks, dims, nbytes,
                                                   m.model_name)
    if copy != NULL:
        for i in range(n):
            memcpy(<void*>copy.tensors[i].data, m.tensors[i].data, m.tensors[i].nbytes)
        if m.fields != NULL:
            copy.fields = <GstStructure**>g_malloc0(sizeof(GstStructure*) * n)
            for i in range(n):
                if m.fields[i] != NULL:
                    copy.fields[i] = gst_structure_copy(m.fields[i])
    g_free(names)
    g_free(ranks)
    g_free(dims)
    g_free(nbytes)
    return copy != NULL


# --- OvfastJSONMeta: a message (VideoFrame.add_message) ----------------------------------------------------
cdef GType _json_meta_api = 0
cdef const GstMetaInfo* _json_meta_info = NULL


cdef gboolean _json_init(GstMeta* meta, gpointer params, GstBuffer* buffer) noexcept nogil:
    (<OvfastJSONMeta*>meta).message = NULL
    return 1


cdef void _json_free(GstMeta* meta, GstBuffer* buffer) noexcept nogil:
    g_free((<OvfastJSONMeta*>meta).message)
    (<OvfastJSONMeta*>meta).message = NULL


cdef OvfastJSONMeta* _json_meta_add(GstBuffer* buffer, const char* message) noexcept nogil:
    cdef OvfastJSONMeta* m = <OvfastJSONMeta*>gst_buffer_add_meta(buffer, _json_meta_info, NULL)
    if m != NULL:
        m.message = g_strdup(message)
    return m


cdef gboolean _json_transform(GstBuffer* dest, GstMeta* meta, GstBuffer* src, GQuark kind,
                              gpointer data) noexcept nogil:
    return _json_meta_add(dest, (<OvfastJSONMeta*>meta).message) != NULL      # messages follow every copy


# --- OvfastFieldsMeta: a tensor of fields on the whole frame (VideoFrame.add_tensor) -------------------------
cdef GType _fields_meta_api = 0
cdef const GstMetaInfo* _fields_meta_info = NULL


cdef gboolean _fields_init(GstMeta* meta, gpointer params, GstBuffer* buffer) noexcept nogil:
    (<OvfastFieldsMeta*>meta).data = NULL
    return 1


cdef void _fields_meta_free(GstMeta* meta, GstBuffer* buffer) noexcept nogil:
    if (<OvfastFieldsMeta*>meta).data != NULL:
        gst_structure_free((<OvfastFieldsMeta*>meta).data)
        (<OvfastFieldsMeta*>meta).data = NULL


cdef OvfastFieldsMeta* _fields_meta_add(GstBuffer* buffer, GstStructure* data) noexcept nogil:
    """Adds the meta, which takes data; NULL (data freed) if the buffer refused it."""
    cdef OvfastFieldsMeta* m = <OvfastFieldsMeta*>gst_buffer_add_meta(buffer, _fields_meta_info, NULL)
    if m == NULL:
        gst_structure_free(data)
        return NULL
    m.data = data
    return m


cdef gboolean _fields_transform(GstBuffer* dest, GstMeta* meta, GstBuffer* src, GQuark kind,
                                gpointer data) noexcept nogil:
    cdef GstStructure* s = (<OvfastFieldsMeta*>meta).data
    return _fields_meta_add(dest, gst_structure_copy(s) if s != NULL else gst_structure_new_empty("meta")) != NULL


cdef const GstMetaInfo* _register_meta(const char* api_name, const char* name, size_t size,
                                       GstMetaInitFunction init, GstMetaFreeFunction free,
                                       GstMetaTransformFunction transform, GType* api) except NULL:
    cdef const char* tags[1]
    tags[0] = NULL
    api[0] = gst_meta_api_type_register(api_name, tags)
    cdef const GstMetaInfo* info = gst_meta_get_info(name)
    if info == NULL:
        info = gst_meta_register(api[0], name, size, init, free, transform)
    if info == NULL:
        raise RuntimeError(f"GStreamer refused to register {name.decode()}")
    return info


cdef int _register_tensor_meta() except -1:
    global _tensor_meta_api, _tensor_meta_info, _json_meta_api, _json_meta_info, _fields_meta_api, _fields_meta_info
    if _tensor_meta_info != NULL:
        return 0
    _json_meta_info = _register_meta(OVFAST_JSON_META_API_NAME, "OvfastJSONMeta", sizeof(OvfastJSONMeta),
                                     _json_init, _json_free, _json_transform, &_json_meta_api)
    _fields_meta_info = _register_meta(OVFAST_FIELDS_META_API_NAME, "OvfastFieldsMeta", sizeof(OvfastFieldsMeta),
                                       _fields_init, _fields_meta_free, _fields_transform, &_fields_meta_api)
    _tensor_meta_info = _register_meta(OVFAST_TENSOR_META_API_NAME, "OvfastTensorMeta", sizeof(OvfastTensorMeta),
                                       _meta_init, _meta_free, _meta_transform, &_tensor_meta_api)
    return 0
