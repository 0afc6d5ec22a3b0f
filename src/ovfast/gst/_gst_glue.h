/* What Cython cannot spell itself: GStreamer's and GObject's macros as functions, the error every element
 * posts, and the object layouts of PyGObject's wrappers. */
#ifndef OVFAST_GST_GLUE_H
#define OVFAST_GST_GLUE_H

#include <Python.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include "ovfast_meta.h"

/* Live element instances of a debug build (OVFAST_DEBUG_BUILD=1), for the tests' tear-down check; -1 in
 * a release build. Instances are made and finalized on any thread. */
#ifdef OVFAST_DEBUG_BUILD
static long ovf_live_elements = 0;
static inline void ovf_count_element(int delta) { __atomic_add_fetch(&ovf_live_elements, delta, __ATOMIC_RELAXED); }
static inline long ovf_live_element_count(void) { return __atomic_load_n(&ovf_live_elements, __ATOMIC_RELAXED); }
#else
static inline void ovf_count_element(int delta) { (void)delta; }
static inline long ovf_live_element_count(void) { return -1; }
#endif

static inline GstElementClass* ovf_element_class(gpointer klass) { return GST_ELEMENT_CLASS(klass); }
static inline GObjectClass* ovf_object_class(gpointer klass) { return G_OBJECT_CLASS(klass); }

static inline void ovf_pad_proxy(GstPad* pad) {
    GST_PAD_SET_PROXY_CAPS(pad);
    GST_PAD_SET_PROXY_ALLOCATION(pad);
    GST_PAD_SET_PROXY_SCHEDULING(pad);
}

static inline GstEventType ovf_event_type(GstEvent* e) { return GST_EVENT_TYPE(e); }
static inline int ovf_event_is_serialized(GstEvent* e) { return GST_EVENT_IS_SERIALIZED(e); }
static inline GstBuffer* ovf_buffer_make_writable(GstBuffer* b) { return gst_buffer_make_writable(b); }
static inline int ovf_buffer_is_writable(GstBuffer* b) { return gst_buffer_is_writable(b); }
static inline GstClockTime ovf_buffer_pts(GstBuffer* b) { return GST_BUFFER_PTS(b); }
static inline int ovf_clock_time_is_valid(GstClockTime t) { return GST_CLOCK_TIME_IS_VALID(t); }
static inline GType ovf_buffer_type(void) { return GST_TYPE_BUFFER; }
static inline GType ovf_caps_type(void) { return GST_TYPE_CAPS; }
static inline GType ovf_roi_meta_api(void) { return GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE; }
static inline int ovf_info_pstride(const GstVideoInfo* info, int comp) { return GST_VIDEO_INFO_COMP_PSTRIDE(info, comp); }
static inline const char* ovf_info_format(const GstVideoInfo* info) { return GST_VIDEO_INFO_NAME(info); }
static inline int ovf_info_planes(const GstVideoInfo* info) { return GST_VIDEO_INFO_N_PLANES(info); }
static inline int ovf_flow_is_fatal(GstFlowReturn r) { return r == GST_FLOW_NOT_LINKED || r < GST_FLOW_EOS; }

/* An element's error (or warning) names that element: its text starts with the factory name
 * ("ovfastpython: ...") and the name stands in the debug text's function slot. */
static inline void ovf_post_message(GstElement* el, GstMessageType type, GQuark domain, int code, const char* text,
                                    const char* debug) {
    GstElementFactory* factory = gst_element_get_factory(el);
    const char* name = factory ? gst_plugin_feature_get_name(GST_PLUGIN_FEATURE(factory)) : G_OBJECT_TYPE_NAME(el);
    gst_element_message_full(el, type, domain, code, g_strdup_printf("%s: %s", name, text),
                             debug ? g_strdup(debug) : NULL, __FILE__, name, __LINE__);
}

static inline void ovf_post_error(GstElement* el, GQuark domain, int code, const char* text, const char* debug) {
    ovf_post_message(el, GST_MESSAGE_ERROR, domain, code, text, debug);
}

static inline void ovf_post_warning(GstElement* el, GQuark domain, int code, const char* text) {
    ovf_post_message(el, GST_MESSAGE_WARNING, domain, code, text, NULL);
}

/* Regions of interest, with DL Streamer's field names for the same facts (label, label_id, confidence,
 * x_min ... normalised to the frame), so code written against gstgva reads them unchanged. A region's id comes
 * from gst_util_seqnum_next(), as gstgva gives them: unique in the process and never 0, so parent_id 0 means
 * "no parent" and roi_id 0 (OvfastTensorMeta) the whole frame. */
static inline GstVideoRegionOfInterestMeta* ovf_find_region(GstBuffer* b, gint id) {
    gpointer state = NULL;
    GstMeta* m;
    while ((m = gst_buffer_iterate_meta_filtered(b, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)))
        if (((GstVideoRegionOfInterestMeta*)m)->id == id) return (GstVideoRegionOfInterestMeta*)m;
    return NULL;
}

static inline GstVideoRegionOfInterestMeta* ovf_add_region(GstBuffer* b, const char* label, guint x, guint y,
                                                           guint w, guint h) {
    GstVideoRegionOfInterestMeta* m = gst_buffer_add_video_region_of_interest_meta(b, label, x, y, w, h);
    if (m) m->id = (gint)gst_util_seqnum_next();
    return m;
}

static inline void ovf_region_detection(GstVideoRegionOfInterestMeta* m, const char* label, int label_id,
                                        double confidence, double x0, double y0, double x1, double y1) {
    gst_video_region_of_interest_meta_add_param(m, gst_structure_new(
        "detection", "label", G_TYPE_STRING, label, "label_id", G_TYPE_INT, label_id, "confidence", G_TYPE_DOUBLE,
        confidence, "x_min", G_TYPE_DOUBLE, x0, "y_min", G_TYPE_DOUBLE, y0, "x_max", G_TYPE_DOUBLE, x1, "y_max",
        G_TYPE_DOUBLE, y1, NULL));
}

static inline void ovf_region_classification(GstVideoRegionOfInterestMeta* m, const char* label, int label_id,
                                             double confidence) {
    gst_video_region_of_interest_meta_add_param(m, gst_structure_new(
        "classification", "label", G_TYPE_STRING, label, "label_id", G_TYPE_INT, label_id, "confidence",
        G_TYPE_DOUBLE, confidence, NULL));
}

/* PyGObject's wrappers (pygobject.h): a GObject's and a boxed value's pointer sit right after the head.
 * Callers check the Python class first (Gst.Pad, Gst.Buffer, Gst.Caps). */
typedef struct { PyObject_HEAD GObject* obj; } ovf_PyGObject;
typedef struct { PyObject_HEAD gpointer boxed; GType gtype; gboolean free_on_dealloc; } ovf_PyGBoxed;

static inline GObject* ovf_pygobject_ptr(PyObject* o) { return ((ovf_PyGObject*)o)->obj; }
static inline gpointer ovf_pyboxed_ptr(PyObject* o, GType want) {
    ovf_PyGBoxed* b = (ovf_PyGBoxed*)o;
    return b->gtype == want ? b->boxed : NULL;
}

/* Points a boxed wrapper at a value it does not own (never freed by it); returns what it pointed at. */
static inline gpointer ovf_pyboxed_lend(PyObject* o, gpointer value) {
    ovf_PyGBoxed* b = (ovf_PyGBoxed*)o;
    gpointer old = b->boxed;
    b->boxed = value;
    b->free_on_dealloc = FALSE;
    return old;
}

#endif
