# GLib, GObject and GStreamer declarations ovfast's video elements call (C names verbatim), plus the
# macro wrappers of ovfast/gst/_gst_glue.h.
from libc.stdint cimport int64_t, uint32_t, int32_t, uint64_t
from cpython.object cimport PyObject

cdef extern from "<glib-object.h>" nogil:
    ctypedef char gchar
    ctypedef int gint
    ctypedef unsigned int guint
    ctypedef int gboolean
    ctypedef void* gpointer
    ctypedef const void* gconstpointer
    ctypedef size_t gsize
    ctypedef size_t GType
    ctypedef uint32_t GQuark
    ctypedef int64_t gint64
    ctypedef uint64_t guint64
    ctypedef uint32_t guint32

    ctypedef struct GMutex:
        pass
    ctypedef struct GCond:
        pass
    void g_mutex_init(GMutex*)
    void g_mutex_clear(GMutex*)
    void g_mutex_lock(GMutex*)
    void g_mutex_unlock(GMutex*)
    void g_cond_init(GCond*)
    void g_cond_clear(GCond*)
    void g_cond_wait(GCond*, GMutex*)
    gboolean g_cond_wait_until(GCond*, GMutex*, gint64 end_time)
    void g_cond_broadcast(GCond*)
    void g_cond_signal(GCond*)
    gint64 g_get_monotonic_time()

    gpointer g_malloc0(gsize)
    gpointer g_malloc(gsize)
    gpointer g_realloc(gpointer, gsize)
    void g_free(gpointer)
    gchar* g_strdup(const gchar*)
    gchar* g_strdup_printf(const gchar*, ...)
    const gchar* g_quark_to_string(GQuark)
    GQuark g_quark_from_string(const gchar*)

    ctypedef struct GList:
        gpointer data
        GList* next
    ctypedef struct GQueue:
        GList* head
        guint length
    GQueue* g_queue_new()
    void g_queue_free(GQueue*)
    void g_queue_push_tail(GQueue*, gpointer)
    gpointer g_queue_pop_head(GQueue*)
    gpointer g_queue_peek_head(GQueue*)
    gboolean g_queue_is_empty(GQueue*)

    ctypedef struct GTypeInstance:
        pass
    ctypedef struct GObject:
        pass
    ctypedef struct GParamSpec:
        const gchar* name
    ctypedef struct GValue:
        pass
    ctypedef struct GValueArray:
        guint n_values
        GValue* values
    GType G_VALUE_TYPE(const GValue*)
    GType G_TYPE_INT
    GType G_TYPE_UINT
    GType G_TYPE_INT64
    GType G_TYPE_UINT64
    GType G_TYPE_FLOAT
    GType G_TYPE_DOUBLE
    GType G_TYPE_BOOLEAN
    GType G_TYPE_STRING
    GType G_TYPE_VARIANT
    GType G_TYPE_VALUE_ARRAY
    GValue* g_value_init(GValue*, GType)
    void g_value_unset(GValue*)
    void g_value_set_int(GValue*, gint)
    gint g_value_get_int(const GValue*)
    void g_value_set_int64(GValue*, gint64)
    gint64 g_value_get_int64(const GValue*)
    guint64 g_value_get_uint64(const GValue*)
    float g_value_get_float(const GValue*)
    gboolean g_value_get_boolean(const GValue*)
    void g_value_set_boolean(GValue*, gboolean)
    const gchar* g_value_get_string(const GValue*)
    gpointer g_value_get_boxed(const GValue*)
    ctypedef struct GVariant:
        pass
    GVariant* g_value_get_variant(const GValue*)
    gconstpointer g_variant_get_fixed_array(GVariant*, gsize*, gsize)
    const gchar* g_type_name(GType)
    ctypedef struct GTypeClass:
        pass
    ctypedef void (*GClassInitFunc)(gpointer g_class, gpointer class_data) noexcept nogil
    ctypedef void (*GInstanceInitFunc)(GTypeInstance* instance, gpointer g_class) noexcept nogil
    ctypedef struct GTypeInfo:
        unsigned short class_size
        void* base_init
        void* base_finalize
        GClassInitFunc class_init
        void* class_finalize
        gconstpointer class_data
        unsigned short instance_size
        unsigned short n_preallocs
        GInstanceInitFunc instance_init
        void* value_table
    ctypedef struct GObjectClass:
        void (*set_property)(GObject*, guint, const GValue*, GParamSpec*) noexcept nogil
        void (*get_property)(GObject*, guint, GValue*, GParamSpec*) noexcept nogil
        void (*finalize)(GObject*) noexcept nogil
    GType g_type_register_static(GType parent, const gchar* name, const GTypeInfo* info, int flags)
    GType g_type_from_name(const gchar*)
    gpointer g_type_class_peek_parent(gpointer g_class)
    ctypedef enum GParamFlags:
        G_PARAM_READABLE
        G_PARAM_WRITABLE
        G_PARAM_READWRITE
        G_PARAM_STATIC_STRINGS
    GParamSpec* g_param_spec_string(const gchar*, const gchar*, const gchar*, const gchar*, GParamFlags)
    GParamSpec* g_param_spec_double(const gchar*, const gchar*, const gchar*, double, double, double, GParamFlags)
    void g_value_set_double(GValue*, double)
    double g_value_get_double(const GValue*)
    GParamSpec* g_param_spec_uint(const gchar*, const gchar*, const gchar*, guint, guint, guint, GParamFlags)
    GParamSpec* g_param_spec_boolean(const gchar*, const gchar*, const gchar*, gboolean, GParamFlags)
    GParamSpec* g_param_spec_int(const gchar*, const gchar*, const gchar*, gint, gint, gint, GParamFlags)
    void g_object_class_install_property(GObjectClass*, guint, GParamSpec*)
    void g_value_set_string(GValue*, const gchar*)
    gchar* g_value_dup_string(const GValue*)
    void g_value_set_uint(GValue*, guint)
    guint g_value_get_uint(const GValue*)
    ctypedef void* GWeakNotify
    void g_atomic_int_inc(gint*)
    gint g_atomic_int_get(const gint*)
    gboolean g_atomic_int_dec_and_test(gint*)
    void g_atomic_int_set(gint*, gint)
    gint g_atomic_int_add(gint*, gint)
    gpointer g_atomic_rc_box_alloc0(gsize)
    gpointer g_atomic_rc_box_acquire(gpointer)
    void g_atomic_rc_box_release(gpointer)
    void g_usleep(unsigned long)

cdef extern from "<gst/gst.h>" nogil:
    ctypedef guint64 GstClockTime
    ctypedef int GstFlowReturn
    enum:
        GST_FLOW_OK
        GST_FLOW_NOT_LINKED
        GST_FLOW_FLUSHING
        GST_FLOW_EOS
        GST_FLOW_NOT_NEGOTIATED
        GST_FLOW_ERROR
    const gchar* gst_flow_get_name(GstFlowReturn)

    ctypedef int GstStateChange
    ctypedef int GstStateChangeReturn
    ctypedef struct GstObject:
        pass
    ctypedef struct GstElement:
        pass
    ctypedef struct GstElementClass:
        GstStateChangeReturn (*change_state)(GstElement*, GstStateChange) noexcept nogil
    ctypedef struct GstPad:
        pass
    ctypedef struct GstPadTemplate:
        pass
    ctypedef struct GstCaps:
        pass
    ctypedef struct GstEvent:
        pass
    ctypedef struct GstQuery:
        pass
    ctypedef struct GstStructure:
        pass
    ctypedef struct GstMetaInfo:
        GType api
    ctypedef struct GstMeta:
        const GstMetaInfo* info
    ctypedef struct GstMemory:
        pass
    ctypedef struct GstMapInfo:
        GstMemory* memory
        unsigned char* data
        gsize size
    void gst_memory_unmap(GstMemory*, GstMapInfo*)
    void gst_memory_unref(GstMemory*)
    ctypedef struct GstBuffer:
        GstClockTime pts
    ctypedef struct GstMiniObject:
        gint refcount
    ctypedef enum GstMapFlags:
        GST_MAP_READ
        GST_MAP_WRITE
        GST_MAP_READWRITE

    enum:
        GST_STATE_CHANGE_NULL_TO_READY
        GST_STATE_CHANGE_READY_TO_PAUSED
        GST_STATE_CHANGE_PAUSED_TO_READY
        GST_STATE_CHANGE_READY_TO_NULL
        GST_STATE_CHANGE_FAILURE
        GST_STATE_CHANGE_SUCCESS

    ctypedef int GstEventType
    enum:
        GST_EVENT_FLUSH_START
        GST_EVENT_FLUSH_STOP
        GST_EVENT_CAPS
        GST_EVENT_EOS

    ctypedef enum GstPadDirection:
        GST_PAD_SRC
        GST_PAD_SINK
    ctypedef enum GstPadPresence:
        GST_PAD_ALWAYS

    ctypedef GstFlowReturn (*GstPadChainFunction)(GstPad*, GstObject*, GstBuffer*) noexcept nogil
    ctypedef gboolean (*GstPadEventFunction)(GstPad*, GstObject*, GstEvent*) noexcept nogil
    ctypedef void (*GstTaskFunction)(gpointer) noexcept nogil
    ctypedef struct GstPadProbeInfo:
        pass
    ctypedef int GstPadProbeReturn
    enum:
        GST_PAD_PROBE_OK
    ctypedef enum GstPadProbeType:
        GST_PAD_PROBE_TYPE_BUFFER
        GST_PAD_PROBE_TYPE_BUFFER_LIST
    ctypedef GstPadProbeReturn (*GstPadProbeCallback)(GstPad*, GstPadProbeInfo*, gpointer) noexcept nogil

    GType gst_element_get_type()
    gboolean gst_element_register(void* plugin, const gchar* name, guint rank, GType type)
    void gst_element_class_set_static_metadata(GstElementClass*, const gchar*, const gchar*, const gchar*,
                                               const gchar*)
    void gst_element_class_add_pad_template(GstElementClass*, GstPadTemplate*)
    GstPadTemplate* gst_pad_template_new(const gchar*, GstPadDirection, GstPadPresence, GstCaps*)
    GstPadTemplate* gst_element_class_get_pad_template(GstElementClass*, const gchar*)
    GstCaps* gst_caps_from_string(const gchar*)
    void gst_caps_unref(GstCaps*)
    gchar* gst_caps_to_string(const GstCaps*)
    gboolean gst_element_add_pad(GstElement*, GstPad*)
    GstPad* gst_pad_new_from_template(GstPadTemplate*, const gchar*)
    void gst_pad_set_chain_function_full(GstPad*, GstPadChainFunction, gpointer, void*)
    void gst_pad_set_event_function_full(GstPad*, GstPadEventFunction, gpointer, void*)
    GstFlowReturn gst_pad_push(GstPad*, GstBuffer*)
    gboolean gst_pad_push_event(GstPad*, GstEvent*)
    gboolean gst_pad_event_default(GstPad*, GstObject*, GstEvent*)
    gboolean gst_pad_start_task(GstPad*, GstTaskFunction, gpointer, void*)
    gboolean gst_pad_pause_task(GstPad*)
    gboolean gst_pad_stop_task(GstPad*)
    unsigned long gst_pad_add_probe(GstPad*, GstPadProbeType, GstPadProbeCallback, gpointer, void*)
    void gst_pad_remove_probe(GstPad*, unsigned long)

    void gst_event_parse_caps(GstEvent*, GstCaps**)
    void gst_event_unref(GstEvent*)
    GstEvent* gst_event_ref(GstEvent*)

    GstBuffer* gst_buffer_ref(GstBuffer*)
    void gst_buffer_unref(GstBuffer*)
    gboolean gst_buffer_map(GstBuffer*, GstMapInfo*, GstMapFlags)
    void gst_buffer_unmap(GstBuffer*, GstMapInfo*)
    GstMeta* gst_buffer_add_meta(GstBuffer*, const GstMetaInfo*, gpointer)
    GstMeta* gst_buffer_iterate_meta_filtered(GstBuffer*, gpointer* state, GType api)
    GstMeta* gst_buffer_iterate_meta(GstBuffer*, gpointer* state)
    gboolean gst_buffer_remove_meta(GstBuffer*, GstMeta*)
    guint32 gst_util_seqnum_next()
    GstCaps* gst_caps_ref(GstCaps*)
    gboolean gst_caps_is_equal(const GstCaps*, const GstCaps*)
    gpointer gst_object_ref(gpointer)
    void gst_object_unref(gpointer)

    ctypedef gboolean (*GstMetaInitFunction)(GstMeta*, gpointer, GstBuffer*) noexcept nogil
    ctypedef void (*GstMetaFreeFunction)(GstMeta*, GstBuffer*) noexcept nogil
    ctypedef gboolean (*GstMetaTransformFunction)(GstBuffer*, GstMeta*, GstBuffer*, GQuark, gpointer) noexcept nogil
    GType gst_meta_api_type_register(const gchar*, const gchar**)
    const GstMetaInfo* gst_meta_register(GType, const gchar*, gsize, GstMetaInitFunction, GstMetaFreeFunction,
                                         GstMetaTransformFunction)
    const GstMetaInfo* gst_meta_get_info(const gchar*)

    const gchar* gst_structure_get_name(const GstStructure*)
    gboolean gst_structure_get_double(const GstStructure*, const gchar*, double*)
    gboolean gst_structure_get_int(const GstStructure*, const gchar*, gint*)
    const gchar* gst_structure_get_string(const GstStructure*, const gchar*)
    gboolean gst_structure_has_field(const GstStructure*, const gchar*)
    GstStructure* gst_structure_new_empty(const gchar*)
    void gst_structure_free(GstStructure*)
    GstStructure* gst_structure_copy(const GstStructure*)
    void gst_structure_set_name(GstStructure*, const gchar*)
    gboolean gst_structure_has_name(const GstStructure*, const gchar*)
    gint gst_structure_n_fields(const GstStructure*)
    const gchar* gst_structure_nth_field_name(const GstStructure*, guint)
    const GValue* gst_structure_get_value(const GstStructure*, const gchar*)
    void gst_structure_set_value(GstStructure*, const gchar*, const GValue*)
    void gst_structure_remove_field(GstStructure*, const gchar*)
    gchar* gst_value_serialize(const GValue*)
    guint gst_value_array_get_size(const GValue*)
    const GValue* gst_value_array_get_value(const GValue*, guint)
    guint gst_value_list_get_size(const GValue*)
    const GValue* gst_value_list_get_value(const GValue*, guint)
    bint GST_VALUE_HOLDS_ARRAY(const GValue*)
    bint GST_VALUE_HOLDS_LIST(const GValue*)

    GQuark gst_stream_error_quark()
    GQuark gst_resource_error_quark()
    GQuark gst_core_error_quark()
    GQuark gst_library_error_quark()
    enum:
        GST_STREAM_ERROR_FAILED
        GST_STREAM_ERROR_FORMAT
        GST_STREAM_ERROR_DECODE
        GST_RESOURCE_ERROR_NOT_FOUND
        GST_RESOURCE_ERROR_OPEN_READ
        GST_RESOURCE_ERROR_SETTINGS
        GST_LIBRARY_ERROR_SETTINGS
        GST_LIBRARY_ERROR_INIT
        GST_LIBRARY_ERROR_FAILED
        GST_CORE_ERROR_NEGOTIATION

cdef extern from "<gst/video/video.h>" nogil:
    ctypedef int GstVideoFormat
    enum:
        GST_VIDEO_FORMAT_UNKNOWN
    ctypedef struct GstVideoFormatInfo:
        pass
    ctypedef struct GstVideoInfo:
        GstVideoFormatInfo* finfo
        gint width
        gint height
        gsize size
        gsize offset[4]
        gint stride[4]
    gboolean gst_video_info_from_caps(GstVideoInfo*, const GstCaps*)
    GstCaps* gst_video_info_to_caps(const GstVideoInfo*)
    void gst_video_info_init(GstVideoInfo*)
    gboolean gst_video_info_set_format(GstVideoInfo*, GstVideoFormat, guint, guint)
    GstVideoFormat GST_VIDEO_INFO_FORMAT(GstVideoInfo*)
    guint GST_VIDEO_INFO_N_PLANES(GstVideoInfo*)
    const gchar* gst_video_format_to_string(GstVideoFormat)
    ctypedef struct GstVideoFrame:
        GstVideoInfo info
        gpointer data[4]
        GstMapInfo map[4]
    ctypedef enum GstVideoFrameMapFlags:
        GST_VIDEO_FRAME_MAP_FLAG_NO_REF
    gboolean gst_video_frame_map(GstVideoFrame*, GstVideoInfo*, GstBuffer*, int flags)
    void gst_video_frame_unmap(GstVideoFrame*)
    ctypedef struct GstVideoMeta:
        GstVideoFormat format
        guint width
        guint height
        guint n_planes
        gsize offset[4]
        gint stride[4]
    GstVideoMeta* gst_buffer_get_video_meta(GstBuffer*)
    ctypedef struct GstVideoRegionOfInterestMeta:
        GQuark roi_type
        gint id
        gint parent_id
        guint x
        guint y
        guint w
        guint h
        GList* params
    void gst_video_region_of_interest_meta_add_param(GstVideoRegionOfInterestMeta*, GstStructure*)

cdef extern from "_gst_glue.h" nogil:
    ctypedef struct OvfastTensor:
        const char* name
        const char* element_type
        uint32_t rank
        int64_t dims[8]
        const void* data
        size_t nbytes
    ctypedef struct OvfastTensorMeta:
        uint32_t version
        int32_t roi_id
        uint32_t n_tensors
        OvfastTensor* tensors
        const char* model_name
        GstStructure** fields
    ctypedef struct OvfastJSONMeta:
        char* message
    ctypedef struct OvfastFieldsMeta:
        GstStructure* data
    enum:
        OVFAST_TENSOR_META_VERSION
        OVFAST_TENSOR_MAX_RANK
    const char* OVFAST_TENSOR_META_API_NAME
    const char* OVFAST_JSON_META_API_NAME
    const char* OVFAST_FIELDS_META_API_NAME

    void ovf_count_element(int delta)
    long ovf_live_element_count()
    GstElementClass* ovf_element_class(gpointer)
    GObjectClass* ovf_object_class(gpointer)
    void ovf_pad_proxy(GstPad*)
    GstEventType ovf_event_type(GstEvent*)
    int ovf_event_is_serialized(GstEvent*)
    GstBuffer* ovf_buffer_make_writable(GstBuffer*)
    int ovf_buffer_is_writable(GstBuffer*)
    GstClockTime ovf_buffer_pts(GstBuffer*)
    int ovf_clock_time_is_valid(GstClockTime)
    GType ovf_buffer_type()
    GType ovf_caps_type()
    GType ovf_roi_meta_api()
    int ovf_info_pstride(const GstVideoInfo*, int)
    const char* ovf_info_format(const GstVideoInfo*)
    int ovf_info_planes(const GstVideoInfo*)
    int ovf_flow_is_fatal(GstFlowReturn)
    void ovf_post_error(GstElement*, GQuark domain, int code, const char* text, const char* debug)
    void ovf_post_warning(GstElement*, GQuark domain, int code, const char* text)
    GstVideoRegionOfInterestMeta* ovf_find_region(GstBuffer*, gint id)
    GstVideoRegionOfInterestMeta* ovf_add_region(GstBuffer*, const char* label, guint x, guint y, guint w, guint h)
    void ovf_region_detection(GstVideoRegionOfInterestMeta*, const char* label, int label_id, double confidence,
                              double x0, double y0, double x1, double y1)
    void ovf_region_classification(GstVideoRegionOfInterestMeta*, const char* label, int label_id,
                                   double confidence)
    GObject* ovf_pygobject_ptr(PyObject*)
    gpointer ovf_pyboxed_ptr(PyObject*, GType)
    gpointer ovf_pyboxed_lend(PyObject*, gpointer)
