/* ovfasttrack's tracker: gives the regions of interest on consecutive frames of one stream stable object ids,
 * from their positions and shapes alone (no image data), as DL Streamer's imageless trackers do.
 *
 * Association: each known object's box is predicted at this frame (its last box moved by its velocity), then
 * detections and objects of the same label are paired greedily by intersection over union, best pair first,
 * pairs under OVF_TRACK_MIN_IOU left apart. How long an unmatched object is kept follows DL Streamer's trackers
 * (the constants of their VAS object tracker):
 *   zero-term-imageless: detection runs on every frame; an object missing from the detections is kept for
 *     OVF_ZERO_TERM_KEEP frames (about 4 s at 30 fps) and gets its id back if it is detected again in time.
 *   short-term-imageless: detection may skip frames. A frame without any region is one the detector skipped:
 *     every tracked object gets a region at its predicted box, for up to OVF_SHORT_TERM_PREDICT frames since it
 *     was last detected. On a frame with detections, an object that was detected only once and is missing is
 *     dropped as a false alarm; a tracked object missing from more than OVF_SHORT_TERM_MISSES frames with
 *     detections is lost (no region is made for it) and is forgotten after OVF_SHORT_TERM_LOST more; a lost
 *     object detected again keeps its id.
 * Ids are 1, 2, ... per element and stream, never reused. The tracker runs on the streaming thread only. */
#ifndef OVFAST_TRACK_H
#define OVFAST_TRACK_H

#include <string.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#define OVF_TRACK_MIN_IOU 0.3
#define OVF_ZERO_TERM_KEEP 120
#define OVF_SHORT_TERM_MISSES 2
#define OVF_SHORT_TERM_LOST 20
#define OVF_SHORT_TERM_PREDICT 30

enum { OVF_TRACK_SHORT_TERM = 0, OVF_TRACK_ZERO_TERM = 1 };
enum { OVF_OBJ_NEW, OVF_OBJ_TRACKED, OVF_OBJ_LOST };

typedef struct {
    gint id;
    GQuark label;
    int state;
    double x, y, w, h;        /* the last box detected */
    double vx, vy;            /* its motion per frame */
    guint64 seen;             /* the frame it was last detected on */
    int misses;               /* frames with detections it was missing from, in its state */
    double px, py;            /* predicted at the current frame */
    int matched;
    int measured;             /* its motion was measured once (then smoothed) */
} ovf_track_object;

typedef struct {
    int type;
    gint next_id;
    guint64 frame;
    guint width, height;
    GArray* objects;          /* ovf_track_object */
} ovf_tracker;

static inline void ovf_tracker_init(ovf_tracker* t, int type) {
    t->type = type;
    t->next_id = 1;
    t->frame = 0;
    t->width = t->height = 0;
    if (t->objects == NULL)
        t->objects = g_array_new(FALSE, FALSE, sizeof(ovf_track_object));
    g_array_set_size(t->objects, 0);
}

/* Drops every object (the frame size changed); ids go on from where they were. */
static inline void ovf_tracker_forget(ovf_tracker* t) {
    if (t->objects != NULL)
        g_array_set_size(t->objects, 0);
}

static inline void ovf_tracker_clear(ovf_tracker* t) {
    if (t->objects != NULL)
        g_array_free(t->objects, TRUE);
    t->objects = NULL;
}

/* The region's object id (its "object_id" param, as gstgva reads it), set or replaced. */
static inline void ovf_region_set_object_id(GstVideoRegionOfInterestMeta* m, gint id) {
    GstStructure* s = gst_video_region_of_interest_meta_get_param(m, "object_id");
    if (s != NULL)
        gst_structure_set(s, "id", G_TYPE_INT, id, NULL);
    else
        gst_video_region_of_interest_meta_add_param(m, gst_structure_new("object_id", "id", G_TYPE_INT, id, NULL));
}

/* The region's object id, or 0 if it has none. */
static inline gint ovf_region_object_id(GstVideoRegionOfInterestMeta* m) {
    GstStructure* s = gst_video_region_of_interest_meta_get_param(m, "object_id");
    gint id = 0;
    if (s == NULL || !gst_structure_get_int(s, "id", &id))
        return 0;
    return id;
}

static inline double ovf_iou(double ax, double ay, double aw, double ah, double bx, double by, double bw, double bh) {
    double x0 = MAX(ax, bx), y0 = MAX(ay, by), x1 = MIN(ax + aw, bx + bw), y1 = MIN(ay + ah, by + bh);
    double inter, uni;
    if (x1 <= x0 || y1 <= y0)
        return 0.0;
    inter = (x1 - x0) * (y1 - y0);
    uni = aw * ah + bw * bh - inter;
    return uni > 0 ? inter / uni : 0.0;
}

typedef struct { double iou; guint obj; guint det; } ovf_track_pair;

static gint ovf_pair_cmp(gconstpointer a, gconstpointer b) {
    double d = ((const ovf_track_pair*)b)->iou - ((const ovf_track_pair*)a)->iou;
    return d > 0 ? 1 : (d < 0 ? -1 : 0);
}

/* Tracks the regions of one frame (the buffer, writable): sets their object ids, and with short-term tracking
 * on a frame the detector skipped adds a region per tracked object. */
static inline void ovf_tracker_frame(ovf_tracker* t, GstBuffer* buf) {
    GPtrArray* dets = g_ptr_array_new();
    GArray* pairs = g_array_new(FALSE, FALSE, sizeof(ovf_track_pair));
    gboolean* det_matched;
    gpointer state = NULL;
    GstMeta* meta;
    guint i, j;
    t->frame++;
    while ((meta = gst_buffer_iterate_meta_filtered(buf, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)))
        g_ptr_array_add(dets, meta);
    for (i = 0; i < t->objects->len; i++) {
        ovf_track_object* o = &g_array_index(t->objects, ovf_track_object, i);
        double gap = (double)(t->frame - o->seen);
        o->px = o->x + o->vx * gap;
        o->py = o->y + o->vy * gap;
        o->matched = 0;
    }
    if (dets->len == 0 && t->type == OVF_TRACK_SHORT_TERM) {
        /* the detector skipped this frame: the tracked objects where they are predicted to be */
        for (i = 0; i < t->objects->len; i++) {
            ovf_track_object* o = &g_array_index(t->objects, ovf_track_object, i);
            guint64 since = t->frame - o->seen;
            double x0, y0, x1, y1;
            GstVideoRegionOfInterestMeta* m;
            if (o->state == OVF_OBJ_NEW)
                o->state = OVF_OBJ_TRACKED;
            if (o->state == OVF_OBJ_TRACKED && since > OVF_SHORT_TERM_PREDICT) {
                o->state = OVF_OBJ_LOST;
                o->misses = 0;
            }
            if (o->state != OVF_OBJ_TRACKED)
                continue;
            x0 = MAX(o->px, 0.0), y0 = MAX(o->py, 0.0);
            x1 = o->px + o->w, y1 = o->py + o->h;
            if (t->width) x1 = MIN(x1, (double)t->width);
            if (t->height) y1 = MIN(y1, (double)t->height);
            if (x1 - x0 < 1.0 || y1 - y0 < 1.0)
                continue;          /* moved out of the frame */
            m = gst_buffer_add_video_region_of_interest_meta_id(buf, o->label, (guint)(x0 + 0.5), (guint)(y0 + 0.5),
                                                                (guint)(x1 - x0 + 0.5), (guint)(y1 - y0 + 0.5));
            if (m == NULL)
                continue;
            m->id = (gint)gst_util_seqnum_next();
            ovf_region_set_object_id(m, o->id);
        }
        /* lost objects age on skipped frames too */
        for (i = t->objects->len; i-- > 0;) {
            ovf_track_object* o = &g_array_index(t->objects, ovf_track_object, i);
            if (o->state == OVF_OBJ_LOST && t->frame - o->seen > OVF_SHORT_TERM_PREDICT + OVF_SHORT_TERM_LOST)
                g_array_remove_index(t->objects, i);
        }
        g_ptr_array_free(dets, TRUE);
        g_array_free(pairs, TRUE);
        return;
    }
    for (i = 0; i < t->objects->len; i++) {
        ovf_track_object* o = &g_array_index(t->objects, ovf_track_object, i);
        for (j = 0; j < dets->len; j++) {
            GstVideoRegionOfInterestMeta* d = g_ptr_array_index(dets, j);
            ovf_track_pair p;
            if (d->roi_type != o->label)
                continue;
            p.iou = ovf_iou(o->px, o->py, o->w, o->h, d->x, d->y, d->w, d->h);
            if (p.iou < OVF_TRACK_MIN_IOU)
                continue;
            p.obj = i, p.det = j;
            g_array_append_val(pairs, p);
        }
    }
    g_array_sort(pairs, ovf_pair_cmp);
    det_matched = g_new0(gboolean, dets->len + 1);
    for (i = 0; i < pairs->len; i++) {
        ovf_track_pair* p = &g_array_index(pairs, ovf_track_pair, i);
        ovf_track_object* o = &g_array_index(t->objects, ovf_track_object, p->obj);
        GstVideoRegionOfInterestMeta* d = g_ptr_array_index(dets, p->det);
        double gap = (double)(t->frame - o->seen);
        if (o->matched || det_matched[p->det])
            continue;
        o->matched = det_matched[p->det] = 1;
        /* the motion measured since it was last seen, smoothed */
        if (!o->measured) {
            o->vx = (d->x - o->x) / gap;
            o->vy = (d->y - o->y) / gap;
            o->measured = 1;
        } else {
            o->vx = 0.5 * o->vx + 0.5 * (d->x - o->x) / gap;
            o->vy = 0.5 * o->vy + 0.5 * (d->y - o->y) / gap;
        }
        o->x = d->x, o->y = d->y, o->w = d->w, o->h = d->h;
        o->seen = t->frame;
        o->misses = 0;
        o->state = OVF_OBJ_TRACKED;
        ovf_region_set_object_id(d, o->id);
    }
    for (i = t->objects->len; i-- > 0;) {
        ovf_track_object* o = &g_array_index(t->objects, ovf_track_object, i);
        gboolean forget = FALSE;
        if (o->matched)
            continue;
        o->misses++;
        if (t->type == OVF_TRACK_ZERO_TERM) {
            forget = o->misses > OVF_ZERO_TERM_KEEP;
        } else if (o->state == OVF_OBJ_NEW) {
            forget = TRUE;          /* seen once, then not again: a false alarm */
        } else if (o->state == OVF_OBJ_TRACKED) {
            if (o->misses > OVF_SHORT_TERM_MISSES) {
                o->state = OVF_OBJ_LOST;
                o->misses = 0;
            }
        } else {
            forget = o->misses > OVF_SHORT_TERM_LOST;
        }
        if (forget)
            g_array_remove_index(t->objects, i);
    }
    for (j = 0; j < dets->len; j++) {
        GstVideoRegionOfInterestMeta* d = g_ptr_array_index(dets, j);
        ovf_track_object o;
        if (det_matched[j])
            continue;
        memset(&o, 0, sizeof(o));
        o.id = t->next_id++;
        o.label = d->roi_type;
        o.state = OVF_OBJ_NEW;
        o.x = d->x, o.y = d->y, o.w = d->w, o.h = d->h;
        o.seen = t->frame;
        g_array_append_val(t->objects, o);
        ovf_region_set_object_id(d, o.id);
    }
    g_free(det_matched);
    g_ptr_array_free(dets, TRUE);
    g_array_free(pairs, TRUE);
}

#endif
