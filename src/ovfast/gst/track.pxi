# ovfasttrack (gvatrack's role): stable object ids for the regions of interest across frames, from their
# positions and shapes (track.h, in C on the streaming thread). The id is the region's "object_id" param, where
# gstgva's RegionOfInterest.object_id() reads it.

from libc.string cimport strcmp

cdef extern from "track.h" nogil:
    ctypedef struct ovf_tracker:
        int type
        guint width, height
        void* objects
    enum:
        OVF_TRACK_SHORT_TERM
        OVF_TRACK_ZERO_TERM
    void ovf_tracker_init(ovf_tracker*, int type)
    void ovf_tracker_clear(ovf_tracker*)
    void ovf_tracker_forget(ovf_tracker*)
    void ovf_tracker_frame(ovf_tracker*, GstBuffer*)

cdef struct TrackState:
    ElementState base
    char* tracking_type      # a property
    char* config             # DL Streamer's tracker settings: none taken yet (must be empty)
    ovf_tracker tracker      # the streaming thread's


cdef inline TrackState* _tst(void* element) noexcept nogil:
    return <TrackState*>_state(element)


cdef int _track_open(GstElement* el) noexcept nogil:
    cdef TrackState* st = _tst(el)
    cdef int type = -1
    cdef char message[512]
    cdef const char* empty = ""
    g_mutex_lock(&st.base.lock)
    if st.tracking_type != NULL and strcmp(st.tracking_type, "short-term-imageless") == 0:
        type = OVF_TRACK_SHORT_TERM
    elif st.tracking_type != NULL and strcmp(st.tracking_type, "zero-term-imageless") == 0:
        type = OVF_TRACK_ZERO_TERM
    if type < 0:
        snprintf(message, sizeof(message), "tracking-type='%s' is not one of short-term-imageless, "
                 "zero-term-imageless (the trackers that use no image data)",
                 st.tracking_type if st.tracking_type != NULL else empty)
    elif st.config != NULL and st.config[0] != 0:
        type = -1
        snprintf(message, sizeof(message), "config='%s': ovfasttrack takes no tracker settings (leave config "
                 "empty)", st.config)
    g_mutex_unlock(&st.base.lock)
    if type < 0:
        _post(el, gst_library_error_quark(), GST_LIBRARY_ERROR_SETTINGS, message, NULL)
        return -1
    ovf_tracker_init(&st.tracker, type)
    return 0


cdef void _track_stop(GstElement* el) noexcept nogil:
    """A new start is a new stream: ids and objects start over."""
    cdef TrackState* st = _tst(el)
    if st.tracker.objects != NULL:
        ovf_tracker_init(&st.tracker, st.tracker.type)


cdef void _track_close(GstElement* el) noexcept nogil:
    ovf_tracker_clear(&_tst(el).tracker)


cdef int _track_caps(GstElement* el, GstCaps* caps) noexcept nogil:
    cdef TrackState* st = _tst(el)
    cdef GstVideoInfo info
    if not gst_video_info_from_caps(&info, caps):
        _post(el, gst_core_error_quark(), GST_CORE_ERROR_NEGOTIATION, "the caps are not raw video", NULL)
        return -1
    if st.tracker.width != <guint>info.width or st.tracker.height != <guint>info.height:
        ovf_tracker_forget(&st.tracker)     # boxes of another frame size match nothing (ids go on)
    st.tracker.width, st.tracker.height = info.width, info.height
    return 0


cdef GstFlowReturn _track_frame(GstElement* el, GstBuffer* buf) noexcept nogil:
    cdef TrackState* st = _tst(el)
    buf = ovf_buffer_make_writable(buf)      # its regions get ids (and, skipped by the detector, regions)
    ovf_tracker_frame(&st.tracker, buf)
    return _in_place_push(el, buf)


cdef ElementKind _TRACK
cdef Prop _TRACK_PROPS[2]


cdef int _register_track(void* plugin) except -1:
    cdef TrackState s
    if _TRACK.name == NULL:
        _prop(&_TRACK_PROPS[0], "tracking-type", "Tracking type", "How objects are followed (DL Streamer's names): "
              "short-term-imageless (detection may skip frames: tracked objects get regions at their predicted "
              "boxes on the frames it skips) or zero-term-imageless (detection on every frame)", PROP_STRING,
              _at(&s, &s.tracking_type), "short-term-imageless")
        _prop(&_TRACK_PROPS[1], "config", "Config", "DL Streamer's tracker settings; none is taken (must be "
              "empty)", PROP_STRING, _at(&s, &s.config))
        _in_place_kind(&_TRACK, "ovfasttrack", "OvfastTrack", "ovfast object tracking", "Filter/Video",
                       "Gives regions of interest stable object ids across frames from their positions and "
                       "shapes (gvatrack's role)", "video/x-raw", sizeof(TrackState))
        _TRACK.props, _TRACK.n_props = _TRACK_PROPS, 2
        _TRACK.open, _TRACK.stop, _TRACK.close = _track_open, _track_stop, _track_close
        _TRACK.caps_changed, _TRACK.frame = _track_caps, _track_frame
    return _register_element(&_TRACK, plugin)
