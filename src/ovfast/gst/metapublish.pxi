# ovfastmetapublish (gvametapublish's role): publishes every frame's JSON messages (OvfastJSONMeta, from
# ovfastmetaconvert or VideoFrame.add_message) to a file, stdout or an MQTT broker, in C
# (metapublish.h says how each method behaves). Its properties are gvametapublish's, with max-backlog.

cdef extern from "metapublish.h" nogil:
    ctypedef struct OvfPublisher:
        int method
    int ovf_publisher_open(OvfPublisher*, GstElement*, const char* method, const char* file_path,
                           const char* file_format, const char* address, const char* topic, const char* client_id,
                           guint max_backlog)
    int ovf_publisher_send(OvfPublisher*, GstBuffer*)
    void ovf_publisher_finish(OvfPublisher*, int timeout_ms)
    void ovf_publisher_close(OvfPublisher*)

cdef struct PublishState:
    ElementState base
    char* method
    char* file_path
    char* file_format
    char* address
    char* topic
    char* client_id
    guint max_backlog
    OvfPublisher out


cdef inline PublishState* _pubst(void* element) noexcept nogil:
    return <PublishState*>_state(element)


cdef int _publish_open(GstElement* el) noexcept nogil:
    cdef PublishState* st = _pubst(el)
    cdef char* text = NULL
    cdef int rc = -1
    g_mutex_lock(&st.base.lock)     # the settings, copied: errors are posted without the lock
    cdef char* method = g_strdup(st.method)
    cdef char* file_path = g_strdup(st.file_path)
    cdef char* file_format = g_strdup(st.file_format)
    cdef char* address = g_strdup(st.address)
    cdef char* topic = g_strdup(st.topic)
    cdef char* client_id = g_strdup(st.client_id)
    cdef guint backlog = st.max_backlog
    g_mutex_unlock(&st.base.lock)
    if method == NULL or (strcmp(method, "file") != 0 and strcmp(method, "mqtt") != 0):
        text = g_strdup_printf("method=%s: expected file or mqtt", _or_none(method))
    elif file_format == NULL or (strcmp(file_format, "json") != 0 and strcmp(file_format, "json-lines") != 0):
        text = g_strdup_printf("file-format=%s: expected json or json-lines", _or_none(file_format))
    if text != NULL:
        _post(el, gst_library_error_quark(), GST_LIBRARY_ERROR_SETTINGS, text, NULL)
        g_free(text)
    else:
        rc = ovf_publisher_open(&st.out, el, method, file_path, file_format, address, topic, client_id, backlog)
        if rc != 0:
            ovf_publisher_close(&st.out)
    g_free(method)
    g_free(file_path)
    g_free(file_format)
    g_free(address)
    g_free(topic)
    g_free(client_id)
    return rc


cdef void _publish_stop(GstElement* el) noexcept nogil:
    ovf_publisher_finish(&_pubst(el).out, 2000)


cdef void _publish_close(GstElement* el) noexcept nogil:
    ovf_publisher_close(&_pubst(el).out)


cdef void _publish_serialized(GstElement* el, GstEvent* event) noexcept nogil:
    if ovf_event_type(event) == GST_EVENT_EOS:
        ovf_publisher_finish(&_pubst(el).out, 2000)      # the file is whole once the pipeline says EOS


cdef GstFlowReturn _publish_frame(GstElement* el, GstBuffer* buf) noexcept nogil:
    if ovf_publisher_send(&_pubst(el).out, buf) != 0:      # it posted why
        gst_buffer_unref(buf)
        return _frame_refused(el, _state(el), GST_FLOW_ERROR)
    return _in_place_push(el, buf)


cdef ElementKind _PUBLISH
cdef Prop _PUBLISH_PROPS[7]


cdef int _register_metapublish(void* plugin) except -1:
    cdef PublishState s
    cdef Prop* p = _PUBLISH_PROPS
    if _PUBLISH.name == NULL:
        _prop(&p[0], "method", "Method", "Where messages go: file (file-path) or mqtt (address, topic)", PROP_STRING,
              _at(&s, &s.method), "file")
        _prop(&p[1], "file-path", "File path", "method=file: the file to write (replaced), or stdout", PROP_STRING,
              _at(&s, &s.file_path), "stdout")
        _prop(&p[2], "file-format", "File format", "method=file: json (one JSON array) or json-lines (a message "
              "a line)", PROP_STRING, _at(&s, &s.file_format), "json")
        _prop(&p[3], "address", "Address", "method=mqtt: the broker as host:port", PROP_STRING, _at(&s, &s.address),
              "localhost:1883")
        _prop(&p[4], "topic", "Topic", "method=mqtt: the topic messages are published to", PROP_STRING,
              _at(&s, &s.topic), "dlstreamer")
        _prop(&p[5], "mqtt-client-id", "MQTT client id", "method=mqtt: the client's id (empty: the broker's choice)",
              PROP_STRING, _at(&s, &s.client_id))
        _prop(&p[6], "max-backlog", "Backlog", "method=mqtt: messages kept while the broker has not acknowledged "
              "them (it is away); newer ones are dropped and counted", PROP_UINT, _at(&s, &s.max_backlog), NULL,
              1, 10000000, 10000)
        _PUBLISH.props, _PUBLISH.n_props = p, 7
        _in_place_kind(&_PUBLISH, "ovfastmetapublish", "OvfastMetaPublish", "ovfast metapublish",
                       "Filter/Metadata", "Publishes frames' JSON messages to a file, stdout or an MQTT broker",
                       "video/x-raw", sizeof(PublishState))
        _PUBLISH.open, _PUBLISH.stop, _PUBLISH.close = _publish_open, _publish_stop, _publish_close
        _PUBLISH.frame, _PUBLISH.serialized = _publish_frame, _publish_serialized
    return _register_element(&_PUBLISH, plugin)
