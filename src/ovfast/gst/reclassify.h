/* ovfastinfer's reclassify-interval (gvaclassify's): what a classifier said about each tracked object, so that
 * a region whose object ran less than K frames ago is not run again and gets that run's results instead. The
 * streaming thread decides which regions run (ovf_reclassify_due), OpenVINO's callback thread records each
 * run's results (ovf_reclassify_record) and the source pad's task copies them onto the frames that skipped it
 * (ovf_reclassify_copy): frames leave in order, so the run a skipped frame takes from is over by then (later
 * runs may be too, hence the runs are kept by frame). */
#ifndef OVFAST_RECLASSIFY_H
#define OVFAST_RECLASSIFY_H

#include <gst/gst.h>
#include <gst/video/video.h>

#define OVF_RECLASSIFY_FORGET 1000   /* frames an object unseen stays in the table */
#define OVF_RECLASSIFY_RUNS 64       /* runs of an object kept: the streaming thread runs ahead of the task */

typedef struct {
    gint roi_id;              /* a region not run on a frame */
    gint object_id;
    guint64 source;           /* the frame of the run whose results it gets */
} ovf_reclassify_skip;

typedef struct {
    guint64 frame;            /* the frame it ran on */
    GPtrArray* results;       /* the params it added (GstStructure, owned) */
} ovf_reclassify_run;

typedef struct {
    guint64 started;          /* the frame its last run was started on */
    guint64 seen;             /* the last frame it was on */
    GArray* runs;             /* ovf_reclassify_run: a frame may leave after later runs ended */
} ovf_reclassify_object;

typedef struct {
    GMutex lock;
    GHashTable* objects;      /* object id -> ovf_reclassify_object */
    guint64 pruned;
} ovf_reclassify;

static void ovf_reclassify_run_clear(gpointer p) {
    g_ptr_array_free(((ovf_reclassify_run*)p)->results, TRUE);
}

static void ovf_reclassify_object_free(gpointer p) {
    ovf_reclassify_object* o = p;
    g_array_free(o->runs, TRUE);
    g_free(o);
}

static inline ovf_reclassify* ovf_reclassify_new(void) {
    ovf_reclassify* r = g_new0(ovf_reclassify, 1);
    g_mutex_init(&r->lock);
    r->objects = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, ovf_reclassify_object_free);
    return r;
}

static inline void ovf_reclassify_free(ovf_reclassify* r) {
    if (r == NULL)
        return;
    g_hash_table_destroy(r->objects);
    g_mutex_clear(&r->lock);
    g_free(r);
}

/* Whether the object's region on this frame is to run: never run, or K frames or more ago (K = 0: only the
 * first time). A run that is due is counted as started now; else *source is the frame of the run whose
 * results the region gets. */
static inline int ovf_reclassify_due(ovf_reclassify* r, gint object_id, guint64 frame, guint interval,
                                     guint64* source) {
    ovf_reclassify_object* o;
    int due;
    g_mutex_lock(&r->lock);
    o = g_hash_table_lookup(r->objects, GINT_TO_POINTER(object_id));
    if (o == NULL) {
        o = g_new0(ovf_reclassify_object, 1);
        o->runs = g_array_new(FALSE, FALSE, sizeof(ovf_reclassify_run));
        g_array_set_clear_func(o->runs, ovf_reclassify_run_clear);
        g_hash_table_insert(r->objects, GINT_TO_POINTER(object_id), o);
        due = 1;
    } else {
        due = interval != 0 && frame - o->started >= interval;
    }
    if (due)
        o->started = frame;
    *source = o->started;
    o->seen = frame;
    if (frame - r->pruned > OVF_RECLASSIFY_FORGET) {     /* objects gone for long: out of the table */
        GHashTableIter it;
        gpointer key, value;
        g_hash_table_iter_init(&it, r->objects);
        while (g_hash_table_iter_next(&it, &key, &value))
            if (frame - ((ovf_reclassify_object*)value)->seen > OVF_RECLASSIFY_FORGET)
                g_hash_table_iter_remove(&it);
        r->pruned = frame;
    }
    g_mutex_unlock(&r->lock);
    return due;
}

/* The object's run on `frame` is over: the params of its region from index `first` on are its results. */
static inline void ovf_reclassify_record(ovf_reclassify* r, gint object_id, guint64 frame,
                                         GstVideoRegionOfInterestMeta* m, guint first) {
    ovf_reclassify_object* o;
    ovf_reclassify_run run;
    GList* p;
    guint i = 0;
    g_mutex_lock(&r->lock);
    o = g_hash_table_lookup(r->objects, GINT_TO_POINTER(object_id));
    if (o != NULL) {
        run.frame = frame;
        run.results = g_ptr_array_new_with_free_func((GDestroyNotify)gst_structure_free);
        for (p = m->params; p != NULL; p = p->next, i++)
            if (i >= first)
                g_ptr_array_add(run.results, gst_structure_copy(p->data));
        if (o->runs->len == OVF_RECLASSIFY_RUNS) {       /* the oldest goes */
            guint oldest = 0, k;
            for (k = 1; k < o->runs->len; k++)
                if (g_array_index(o->runs, ovf_reclassify_run, k).frame
                    < g_array_index(o->runs, ovf_reclassify_run, oldest).frame)
                    oldest = k;
            g_array_remove_index(o->runs, oldest);
        }
        g_array_append_val(o->runs, run);
    }
    g_mutex_unlock(&r->lock);
}

/* The results of the object's run on frame `source`, onto its region on a frame that skipped it; runs before
 * that one are no longer needed (frames leave in order). Runs end, and are recorded, in any order. */
static inline void ovf_reclassify_copy(ovf_reclassify* r, const ovf_reclassify_skip* skip,
                                       GstVideoRegionOfInterestMeta* m) {
    ovf_reclassify_object* o;
    guint i = 0, k;
    g_mutex_lock(&r->lock);
    o = g_hash_table_lookup(r->objects, GINT_TO_POINTER(skip->object_id));
    while (o != NULL && i < o->runs->len) {
        ovf_reclassify_run* run = &g_array_index(o->runs, ovf_reclassify_run, i);
        if (run->frame < skip->source) {
            g_array_remove_index(o->runs, i);
            continue;
        }
        if (run->frame == skip->source)
            for (k = 0; k < run->results->len; k++)
                gst_video_region_of_interest_meta_add_param(m, gst_structure_copy(g_ptr_array_index(run->results, k)));
        i++;
    }
    g_mutex_unlock(&r->lock);
}

#endif
