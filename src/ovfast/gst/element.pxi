# The skeleton every ovfast element stands on, as GStreamer's base classes are for theirs: a sink pad and a
# source pad, a queue between them that keeps frames and serialized events in arrival order, the source
# pad's task that sends them on (or neither, for an element that works in place: in_place.pxi), and around
# that the flushing, backpressure, state changes, properties, errors and registration. An element is an
# ElementKind: its state (an ElementState first), its queued entries (an Item first), its properties (a Prop
# table) and the hooks that are its own.

cdef struct Item:
    GstBuffer* buf           # NULL for an event
    GstEvent* event

cdef enum PropType:
    PROP_STRING, PROP_UINT, PROP_DOUBLE,
    PROP_JSON_LIST,          # a string property that accumulates: each JSON value set is appended (an array's items)
    PROP_JSON_OBJECT,        # a string property that merges: each JSON object set updates the one kept
    PROP_BOOL,               # a gboolean field
    PROP_INT                 # a gint field

cdef struct Prop:
    const char* name
    const char* nick
    const char* blurb
    int type
    size_t offset            # where its value lives in the element's state (an alias shares another's)
    const char* text         # a string's default
    double low, high, value  # a number's range and default

cdef struct ElementKind

cdef struct ElementState:
    const ElementKind* kind
    GstPad* sinkpad
    GstPad* srcpad
    GMutex lock
    GCond cond               # the queue changed: its head is ready, it emptied, an entry's work ended
    GCond space              # the queue has room again (the streaming thread waits for it)
    int cond_waiters         # threads waiting on each (under lock): wake only when someone waits, since
    int space_waiters        # GLib's GCond makes a futex call even when nobody does
    GQueue* fifo             # Item*, in arrival order
    guint in_batch           # entries the task took off the queue and has not pushed yet
    guint max_queued         # entries between the pads at most (0: no limit yet)
    bint flushing
    bint task_started
    GstFlowReturn flow       # what downstream last answered (the chain returns it upstream)
    char* settings_error     # a property value that could not be taken (g_free): the element fails to open

cdef struct ElementKind:
    const char* name         # the factory name; errors on the bus start with it
    const char* type_name
    const char* longname
    const char* klass
    const char* description
    const char* template_caps    # both pads'
    size_t state_size
    size_t entry_size
    Prop* props
    int n_props
    int (*open)(GstElement*) noexcept nogil                        # NULL -> READY; -1 with an error posted
    void (*stop)(GstElement*) noexcept nogil                       # PAUSED -> READY once the queue is empty
    void (*close)(GstElement*) noexcept nogil                      # READY -> NULL
    int (*caps_changed)(GstElement*, GstCaps*) noexcept nogil      # before a caps event is queued; -1 refuses
    GstFlowReturn (*frame)(GstElement*, GstBuffer*) noexcept nogil # a frame, once the queue has room for it
    GstTaskFunction task                                           # the source pad's loop (NULL: in place,
                                                                   # in_place.pxi: no queue, no task)
    void (*serialized)(GstElement*, GstEvent*) noexcept nogil      # in place: a serialized event (segment,
                                                                   # EOS, ...) before it goes on
    void (*entry_free)(ElementState*, Item*) noexcept nogil        # before the Item's own free (may be NULL)
    GType gtype

cdef struct Element:         # the GObject instance
    GstElement element
    ElementState* st

cdef struct ElementClass:
    GstElementClass parent_class
    const ElementKind* kind

cdef GstElementClass* _element_parent_class = NULL      # GstElement's, the parent of every ovfast element
cdef GParamFlags _RW = <GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)


cdef inline ElementState* _state(void* element) noexcept nogil:
    return (<Element*>element).st


# --- waiting on the queue ------------------------------------------------------------------------------------
cdef inline void _wait(ElementState* st) noexcept nogil:
    st.cond_waiters += 1
    g_cond_wait(&st.cond, &st.lock)
    st.cond_waiters -= 1


cdef inline void _wake(ElementState* st) noexcept nogil:
    if st.cond_waiters:
        g_cond_broadcast(&st.cond)


cdef inline void _wake_space(ElementState* st) noexcept nogil:
    if st.space_waiters:
        g_cond_broadcast(&st.space)


cdef inline void _wake_all(ElementState* st) noexcept nogil:
    """Flushing or stopping: everyone waiting on either condition looks again."""
    _wake(st)
    _wake_space(st)


# --- errors on the bus ---------------------------------------------------------------------------------------
cdef void _post(GstElement* el, GQuark domain, int code, const char* text, const char* debug) noexcept nogil:
    """Posts an error whose text the glue leads with the element's name ("ovfastinfer: <text>")."""
    ovf_post_error(el, domain, code, text, debug)


cdef void _post_exception(GstElement* el, object exc, str text=None) noexcept:
    """Posts a Python exception (with the GIL): text (default the exception's) as the message, the traceback
    as the debug text, the domain and code from the exception's class."""
    import traceback
    cdef GQuark domain
    cdef int code
    if isinstance(exc, FileNotFoundError):
        domain, code = gst_resource_error_quark(), GST_RESOURCE_ERROR_NOT_FOUND
    elif isinstance(exc, OSError):
        domain, code = gst_resource_error_quark(), GST_RESOURCE_ERROR_OPEN_READ
    elif isinstance(exc, _model.CapsError):
        domain, code = gst_core_error_quark(), GST_CORE_ERROR_NEGOTIATION
    elif isinstance(exc, _model.SettingsError):
        domain, code = gst_library_error_quark(), GST_LIBRARY_ERROR_SETTINGS
    else:
        domain, code = gst_library_error_quark(), GST_LIBRARY_ERROR_INIT
    message = (text or str(exc)).encode("utf-8", "replace")
    debug = "".join(traceback.format_exception(exc)).encode("utf-8", "replace")
    _post(el, domain, code, message, debug)


# --- the queue between the pads ------------------------------------------------------------------------------
cdef void _start_task(GstElement* el) noexcept nogil:
    cdef ElementState* st = _state(el)
    if not st.task_started and st.kind.task != NULL:
        st.task_started = True
        gst_pad_start_task(st.srcpad, st.kind.task, el, NULL)


cdef void _enqueue(GstElement* el, Item* e, bint ready=True) noexcept nogil:
    """Queues e. An entry that is not ready to go out yet (its work still runs: ready=False) wakes no one:
    the task would only look and sleep again, and the work's end wakes it (a wake-up costs the streaming
    thread a futex call and, on a busy machine, its core for a while)."""
    cdef ElementState* st = _state(el)
    _start_task(el)
    g_mutex_lock(&st.lock)
    g_queue_push_tail(st.fifo, e)
    if ready and st.fifo.length == 1:     # the task waits for a head only when there was none
        _wake(st)
    g_mutex_unlock(&st.lock)


cdef void _item_free(ElementState* st, Item* e) noexcept nogil:
    if st.kind.entry_free != NULL:
        st.kind.entry_free(st, e)
    if e.buf != NULL:
        gst_buffer_unref(e.buf)
    if e.event != NULL:
        gst_event_unref(e.event)
    g_free(e)


cdef void _drain(ElementState* st) noexcept nogil:
    """Drops every queued frame and event (flush, stop); the task is not running."""
    cdef Item* e
    g_mutex_lock(&st.lock)
    while True:
        e = <Item*>g_queue_pop_head(st.fifo)
        if e == NULL:
            break
        g_mutex_unlock(&st.lock)
        _item_free(st, e)
        g_mutex_lock(&st.lock)
    _wake_all(st)
    g_mutex_unlock(&st.lock)


cdef GstFlowReturn _push_item(ElementState* st, Item* e, GstFlowReturn flow, bint keep) noexcept nogil:
    """Sends a frame the task took downstream (dropped instead unless flow is OK and keep) or an event;
    returns what downstream answered for the frame (flow unchanged for an event)."""
    if e.buf != NULL:
        if flow == GST_FLOW_OK and keep:
            flow = gst_pad_push(st.srcpad, e.buf)
        else:
            gst_buffer_unref(e.buf)     # downstream already refused: drop the frames queued behind
        e.buf = NULL
    elif e.event != NULL:
        gst_pad_push_event(st.srcpad, e.event)
        e.event = NULL
    return flow


cdef GstFlowReturn _frame_refused(GstElement* el, ElementState* st, GstFlowReturn flow) noexcept nogil:
    """A frame was not sent on (downstream refused it, or the element's work failed): says so on the bus
    unless whoever refused posted its own error (GST_FLOW_ERROR) or the pipeline flushes, and keeps the flow,
    which the chain returns upstream from now on and which drops the frames queued behind. Returns the flow
    for upstream: GST_FLOW_ERROR once posted, so that an ovfast element upstream posts no second error."""
    cdef char message[256]
    cdef bint posted = False
    if ovf_flow_is_fatal(flow) and flow != GST_FLOW_ERROR and not st.flushing:
        snprintf(message, sizeof(message), "downstream refused a frame (%s)", gst_flow_get_name(flow))
        _post(el, gst_stream_error_quark(), GST_STREAM_ERROR_FAILED, message, NULL)
        posted = True
    g_mutex_lock(&st.lock)
    if st.flow == GST_FLOW_OK:
        st.flow = GST_FLOW_ERROR if posted else flow
    _wake_all(st)
    g_mutex_unlock(&st.lock)
    return GST_FLOW_ERROR if posted else flow


# --- pads ----------------------------------------------------------------------------------------------------
cdef GstFlowReturn _chain(GstPad* pad, GstObject* parent, GstBuffer* buf) noexcept nogil:
    cdef GstElement* el = <GstElement*>parent
    cdef ElementState* st = _state(el)
    cdef GstFlowReturn flow
    # Backpressure: what waits between the pads keeps a fast source from running ahead of a slow downstream.
    g_mutex_lock(&st.lock)
    while (st.max_queued and st.fifo.length + st.in_batch >= st.max_queued and not st.flushing
           and st.flow == GST_FLOW_OK):
        st.space_waiters += 1
        g_cond_wait(&st.space, &st.lock)
        st.space_waiters -= 1
    flow = GST_FLOW_FLUSHING if st.flushing else st.flow
    g_mutex_unlock(&st.lock)
    if flow != GST_FLOW_OK:
        gst_buffer_unref(buf)
        return flow
    return st.kind.frame(el, buf)


cdef gboolean _sink_event(GstPad* pad, GstObject* parent, GstEvent* event) noexcept nogil:
    cdef GstElement* el = <GstElement*>parent
    cdef ElementState* st = _state(el)
    cdef GstCaps* caps
    cdef Item* e
    cdef GstEventType kind = ovf_event_type(event)
    if kind == GST_EVENT_FLUSH_START:
        g_mutex_lock(&st.lock)
        st.flushing = True
        _wake_all(st)
        g_mutex_unlock(&st.lock)
        gst_pad_push_event(st.srcpad, event)
        if st.kind.task != NULL:
            gst_pad_pause_task(st.srcpad)      # returns once the loop is out
        return True
    if kind == GST_EVENT_FLUSH_STOP:
        _drain(st)
        g_mutex_lock(&st.lock)
        st.flushing = False
        st.flow = GST_FLOW_OK
        g_mutex_unlock(&st.lock)
        gst_pad_push_event(st.srcpad, event)
        st.task_started = False
        _start_task(el)
        return True
    if kind == GST_EVENT_CAPS and st.kind.caps_changed != NULL:
        gst_event_parse_caps(event, &caps)
        if st.kind.caps_changed(el, caps) != 0:
            gst_event_unref(event)
            return False
    if not ovf_event_is_serialized(event):
        return gst_pad_event_default(pad, parent, event)
    if st.kind.task == NULL:     # in place: this thread brings the frames too, so the order is kept
        if st.kind.serialized != NULL:
            st.kind.serialized(el, event)
        return gst_pad_push_event(st.srcpad, event)
    # Serialized events (caps, segment, EOS, ...) go out in order with the frames around them.
    e = <Item*>g_malloc0(st.kind.entry_size)
    e.event = event
    _enqueue(el, e)
    return True


# --- state changes -------------------------------------------------------------------------------------------
cdef GstStateChangeReturn _change_state(GstElement* el, GstStateChange transition) noexcept nogil:
    cdef ElementState* st = _state(el)
    cdef GstStateChangeReturn ret
    cdef char* error
    if transition == GST_STATE_CHANGE_NULL_TO_READY:
        g_mutex_lock(&st.lock)
        error = g_strdup(st.settings_error)
        g_mutex_unlock(&st.lock)
        if error != NULL:   # properties are set before there is a bus to post on: say it now
            _post(el, gst_library_error_quark(), GST_LIBRARY_ERROR_SETTINGS, error, NULL)
            g_free(error)
            return GST_STATE_CHANGE_FAILURE
        if st.kind.open(el) != 0:
            return GST_STATE_CHANGE_FAILURE
    elif transition == GST_STATE_CHANGE_READY_TO_PAUSED:
        g_mutex_lock(&st.lock)
        st.flushing = False
        st.flow = GST_FLOW_OK
        g_mutex_unlock(&st.lock)
    elif transition == GST_STATE_CHANGE_PAUSED_TO_READY:
        g_mutex_lock(&st.lock)     # before the pads go down: the chain may be waiting
        st.flushing = True
        _wake_all(st)
        g_mutex_unlock(&st.lock)
        gst_pad_stop_task(st.srcpad)
        st.task_started = False
    ret = _element_parent_class.change_state(el, transition)
    if transition == GST_STATE_CHANGE_PAUSED_TO_READY:
        _drain(st)                 # the streaming thread has left the chain
        if st.kind.stop != NULL:
            st.kind.stop(el)
    elif transition == GST_STATE_CHANGE_READY_TO_NULL:
        st.kind.close(el)
    return ret


# --- properties ----------------------------------------------------------------------------------------------
cdef inline str _text(const char* s):
    return None if s == NULL else s.decode("utf-8", "replace")


cdef void _prop(Prop* p, const char* name, const char* nick, const char* blurb, int type, size_t offset,
                const char* text=NULL, double low=0, double high=0, double value=0) noexcept nogil:
    p.name, p.nick, p.blurb, p.type, p.offset, p.text = name, nick, blurb, type, offset, text
    p.low, p.high, p.value = low, high, value


cdef inline size_t _at(void* state, void* field) noexcept nogil:
    return <size_t>(<char*>field - <char*>state)


cdef inline bint _is_text(int type) noexcept nogil:
    return type == PROP_STRING or type == PROP_JSON_LIST or type == PROP_JSON_OBJECT


cdef void _set_json(ElementState* st, const Prop* p, char** slot, const GValue* value) noexcept nogil:
    """A JSON property: the value set joins those set before (gvapython's arg and kwarg); a value that is not
    JSON is kept as the element's settings error."""
    if not _python_enter():
        return
    with gil:
        g_mutex_lock(&st.lock)
        try:
            merged, error = _python.merge_json(p.name.decode(), _text(slot[0]), _text(g_value_get_string(value)),
                                               p.type == PROP_JSON_LIST)
            if error is not None:
                if st.settings_error == NULL:
                    st.settings_error = g_strdup(error.encode("utf-8", "replace"))
            else:
                g_free(slot[0])
                slot[0] = g_strdup(merged.encode())
        finally:
            g_mutex_unlock(&st.lock)
    _python_leave()


cdef void _set_property(GObject* obj, guint id, const GValue* value, GParamSpec* spec) noexcept nogil:
    cdef ElementState* st = _state(obj)
    cdef const Prop* p = &st.kind.props[id - 1]
    cdef void* slot = <char*>st + p.offset
    if p.type == PROP_JSON_LIST or p.type == PROP_JSON_OBJECT:
        _set_json(st, p, <char**>slot, value)
        return
    g_mutex_lock(&st.lock)
    if p.type == PROP_STRING:
        g_free((<char**>slot)[0])
        (<char**>slot)[0] = g_value_dup_string(value)
    elif p.type == PROP_UINT:
        (<guint*>slot)[0] = g_value_get_uint(value)
    elif p.type == PROP_BOOL:
        (<gboolean*>slot)[0] = g_value_get_boolean(value)
    elif p.type == PROP_INT:
        (<gint*>slot)[0] = g_value_get_int(value)
    else:
        (<double*>slot)[0] = g_value_get_double(value)
    g_mutex_unlock(&st.lock)


cdef void _get_property(GObject* obj, guint id, GValue* value, GParamSpec* spec) noexcept nogil:
    cdef ElementState* st = _state(obj)
    cdef const Prop* p = &st.kind.props[id - 1]
    cdef void* slot = <char*>st + p.offset
    g_mutex_lock(&st.lock)
    if _is_text(p.type):
        g_value_set_string(value, (<char**>slot)[0])
    elif p.type == PROP_UINT:
        g_value_set_uint(value, (<guint*>slot)[0])
    elif p.type == PROP_BOOL:
        g_value_set_boolean(value, (<gboolean*>slot)[0])
    elif p.type == PROP_INT:
        g_value_set_int(value, (<gint*>slot)[0])
    else:
        g_value_set_double(value, (<double*>slot)[0])
    g_mutex_unlock(&st.lock)


cdef GParamSpec* _param_spec(const Prop* p) noexcept nogil:
    if _is_text(p.type):
        return g_param_spec_string(p.name, p.nick, p.blurb, p.text, _RW)
    if p.type == PROP_UINT:
        return g_param_spec_uint(p.name, p.nick, p.blurb, <guint>p.low, <guint>p.high, <guint>p.value, _RW)
    if p.type == PROP_BOOL:
        return g_param_spec_boolean(p.name, p.nick, p.blurb, p.value != 0, _RW)
    if p.type == PROP_INT:
        return g_param_spec_int(p.name, p.nick, p.blurb, <gint>p.low, <gint>p.high, <gint>p.value, _RW)
    return g_param_spec_double(p.name, p.nick, p.blurb, p.low, p.high, p.value, _RW)


# --- the GObject type ----------------------------------------------------------------------------------------
cdef void _finalize(GObject* obj) noexcept nogil:
    cdef ElementState* st = _state(obj)
    cdef int i
    _drain(st)
    if st.kind.stop != NULL:
        st.kind.stop(<GstElement*>obj)
    st.kind.close(<GstElement*>obj)
    for i in range(st.kind.n_props):
        if _is_text(st.kind.props[i].type):
            g_free((<char**>(<char*>st + st.kind.props[i].offset))[0])
            (<char**>(<char*>st + st.kind.props[i].offset))[0] = NULL    # an alias's comes again
    g_free(st.settings_error)
    g_queue_free(st.fifo)
    g_mutex_clear(&st.lock)
    g_cond_clear(&st.cond)
    g_cond_clear(&st.space)
    g_free(st)
    (<Element*>obj).st = NULL
    ovf_count_element(-1)
    ovf_object_class(_element_parent_class).finalize(obj)


cdef void _class_init(gpointer klass, gpointer data) noexcept nogil:
    global _element_parent_class
    _element_parent_class = <GstElementClass*>g_type_class_peek_parent(klass)
    cdef const ElementKind* kind = <const ElementKind*>data
    cdef GObjectClass* oc = ovf_object_class(klass)
    cdef GstElementClass* ec = ovf_element_class(klass)
    cdef int i
    (<ElementClass*>klass).kind = kind
    oc.set_property = _set_property
    oc.get_property = _get_property
    oc.finalize = _finalize
    ec.change_state = _change_state
    for i in range(kind.n_props):
        g_object_class_install_property(oc, i + 1, _param_spec(&kind.props[i]))
    gst_element_class_set_static_metadata(ec, kind.longname, kind.klass, kind.description, "ovfast")
    gst_element_class_add_pad_template(ec, gst_pad_template_new(
        "sink", GST_PAD_SINK, GST_PAD_ALWAYS, gst_caps_from_string(kind.template_caps)))
    gst_element_class_add_pad_template(ec, gst_pad_template_new(
        "src", GST_PAD_SRC, GST_PAD_ALWAYS, gst_caps_from_string(kind.template_caps)))


cdef void _instance_init(GTypeInstance* instance, gpointer klass) noexcept nogil:
    cdef const ElementKind* kind = (<ElementClass*>klass).kind
    cdef ElementState* st = <ElementState*>g_malloc0(kind.state_size)
    cdef GstElementClass* ec = ovf_element_class(klass)
    ovf_count_element(1)
    cdef const Prop* p
    cdef void* slot
    cdef int i
    (<Element*>instance).st = st
    st.kind = kind
    g_mutex_init(&st.lock)
    g_cond_init(&st.cond)
    g_cond_init(&st.space)
    st.fifo = g_queue_new()
    st.flow = GST_FLOW_OK
    for i in range(kind.n_props):
        p = &kind.props[i]
        slot = <char*>st + p.offset
        if _is_text(p.type):
            g_free((<char**>slot)[0])    # an alias's field was set by the property it aliases
            (<char**>slot)[0] = g_strdup(p.text)
        elif p.type == PROP_UINT:
            (<guint*>slot)[0] = <guint>p.value
        elif p.type == PROP_BOOL:
            (<gboolean*>slot)[0] = p.value != 0
        elif p.type == PROP_INT:
            (<gint*>slot)[0] = <gint>p.value
        else:
            (<double*>slot)[0] = p.value
    st.sinkpad = gst_pad_new_from_template(gst_element_class_get_pad_template(ec, "sink"), "sink")
    st.srcpad = gst_pad_new_from_template(gst_element_class_get_pad_template(ec, "src"), "src")
    gst_pad_set_chain_function_full(st.sinkpad, _chain, NULL, NULL)
    gst_pad_set_event_function_full(st.sinkpad, _sink_event, NULL, NULL)
    ovf_pad_proxy(st.sinkpad)
    ovf_pad_proxy(st.srcpad)
    gst_element_add_pad(<GstElement*>instance, st.sinkpad)
    gst_element_add_pad(<GstElement*>instance, st.srcpad)


cdef int _register_element(ElementKind* kind, void* plugin) except -1:
    """Registers the element's factory with plugin (a GstPlugin: ovfast's GStreamer plugin is loading), or
    for this process alone (NULL). The GType is made once either way."""
    cdef GTypeInfo info
    if kind.gtype == 0:
        kind.gtype = g_type_from_name(kind.type_name)
    if kind.gtype == 0:
        memset(&info, 0, sizeof(info))
        info.class_size = sizeof(ElementClass)
        info.class_init = _class_init
        info.class_data = kind
        info.instance_size = sizeof(Element)
        info.instance_init = _instance_init
        kind.gtype = g_type_register_static(gst_element_get_type(), kind.type_name, &info, 0)
    if not gst_element_register(plugin, kind.name, 0, kind.gtype):
        raise RuntimeError(f"GStreamer refused to register the {kind.name.decode()} element")
    return 0
