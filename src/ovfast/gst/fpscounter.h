/* ovfastfpscounter's counting: every counter of the process is one stream, and all of them are reported
 * together, in DL Streamer's gvafpscounter lines (which scripts parse):
 *   FpsCounter(last 1.00sec): total=60.00 fps, number-streams=2, per-stream=30.00 fps (29.00, 31.00)
 *   FpsCounter(average 5.00sec): total=...          (since the first frame of any stream)
 *   FpsCounter(overall 9.00sec): total=...          (once the last stream stops; every stream that ran)
 * The per-stream list in parentheses appears with more than one stream. Whichever stream's frame comes once
 * `interval` seconds (the first counter's) have passed prints, on stdout, under one process-wide lock. */
#ifndef OVFAST_FPSCOUNTER_H
#define OVFAST_FPSCOUNTER_H

#include <stdio.h>
#include <gst/gst.h>

typedef struct {
    guint64 frames;
    guint64 frames_before;    /* at the last report */
    gboolean active;
} ovf_fps_stream;

static GMutex ovf_fps_lock;             /* static: GLib needs no init for it */
static GPtrArray* ovf_fps_streams;      /* the active ones */
static gint64 ovf_fps_start, ovf_fps_reported;
static double ovf_fps_interval;
static guint64 ovf_fps_total_before;
static guint64 ovf_fps_gone;            /* frames of the streams that stopped */
static guint ovf_fps_joined;            /* streams that took part */

static inline guint64 ovf_fps_total(void) {
    guint64 n = ovf_fps_gone;
    guint i;
    for (i = 0; i < ovf_fps_streams->len; i++)
        n += ((ovf_fps_stream*)g_ptr_array_index(ovf_fps_streams, i))->frames;
    return n;
}

static inline void ovf_fps_line(const char* what, double seconds, guint64 frames, guint n, gboolean per_stream_list) {
    guint i;
    double total = seconds > 0 ? frames / seconds : 0.0;
    GString* line = g_string_new(NULL);
    g_string_append_printf(line, "FpsCounter(%s %.2fsec): total=%.2f fps, number-streams=%u, per-stream=%.2f fps",
                           what, seconds, total, n, n ? total / n : 0.0);
    if (per_stream_list && n > 1) {
        g_string_append(line, " (");
        for (i = 0; i < n; i++) {
            ovf_fps_stream* s = g_ptr_array_index(ovf_fps_streams, i);
            g_string_append_printf(line, "%s%.2f", i ? ", " : "",
                                   seconds > 0 ? (s->frames - s->frames_before) / seconds : 0.0);
        }
        g_string_append(line, ")");
    }
    g_string_append_c(line, '\n');
    fputs(line->str, stdout);
    fflush(stdout);
    g_string_free(line, TRUE);
}

/* A frame of stream s (which joins with its first frame). */
static inline void ovf_fps_frame(ovf_fps_stream* s, double interval) {
    gint64 now = g_get_monotonic_time();
    guint i;
    g_mutex_lock(&ovf_fps_lock);
    if (ovf_fps_streams == NULL)
        ovf_fps_streams = g_ptr_array_new();
    if (!s->active) {
        s->active = TRUE;
        s->frames = s->frames_before = 0;
        if (ovf_fps_streams->len == 0) {
            ovf_fps_start = ovf_fps_reported = now;
            ovf_fps_interval = interval;
            ovf_fps_total_before = ovf_fps_gone = 0;
            ovf_fps_joined = 0;
        }
        g_ptr_array_add(ovf_fps_streams, s);
        ovf_fps_joined++;
    }
    s->frames++;
    if ((now - ovf_fps_reported) / 1e6 >= ovf_fps_interval) {
        guint64 total = ovf_fps_total();
        ovf_fps_line("last", (now - ovf_fps_reported) / 1e6, total - ovf_fps_total_before, ovf_fps_streams->len,
                     TRUE);
        ovf_fps_line("average", (now - ovf_fps_start) / 1e6, total, ovf_fps_streams->len, FALSE);
        for (i = 0; i < ovf_fps_streams->len; i++) {
            ovf_fps_stream* t = g_ptr_array_index(ovf_fps_streams, i);
            t->frames_before = t->frames;
        }
        ovf_fps_total_before = total;
        ovf_fps_reported = now;
    }
    g_mutex_unlock(&ovf_fps_lock);
}

/* Stream s stopped: the overall line once the last one has. */
static inline void ovf_fps_leave(ovf_fps_stream* s) {
    gint64 now = g_get_monotonic_time();
    g_mutex_lock(&ovf_fps_lock);
    if (s->active) {
        if (ovf_fps_streams->len == 1)
            ovf_fps_line("overall", (now - ovf_fps_start) / 1e6, ovf_fps_total(), ovf_fps_joined, FALSE);
        g_ptr_array_remove(ovf_fps_streams, s);
        ovf_fps_gone += s->frames;
        s->active = FALSE;
    }
    g_mutex_unlock(&ovf_fps_lock);
}

#endif
