/* ovfastwatermark's drawing: each region of interest's box, and inside its top-left corner its label and object
 * id, in a colour of its own, written into the frame in place. Everything drawn lies inside the box, so that
 * the picture outside the boxes stays as it was. In 4:2:0 formats (NV12, I420) a chroma sample is written only
 * where all four pixels it covers are drawn. */
#ifndef OVFAST_WATERMARK_H
#define OVFAST_WATERMARK_H

#include <string.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#define OVF_WM_LINE 2          /* the box's line, in pixels */

typedef struct { guint8 r, g, b, y, u, v; } ovf_wm_colour;

/* A 3x5 font: digits, letters (labels are written in capitals) and a few signs; rows from the top, '1' = ink. */
static const char* ovf_wm_glyph(char c) {
    static const char* digits[10] = {
        "111101101101111", "010110010010111", "111001111100111", "111001111001111", "101101111001001",
        "111100111001111", "111100111101111", "111001001001001", "111101111101111", "111101111001111"};
    static const char* letters[26] = {
        "010101111101101", "110101110101110", "011100100100011", "110101101101110", "111100110100111",
        "111100110100100", "011100101101011", "101101111101101", "111010010010111", "001001001101010",
        "101101110101101", "100100100100111", "101111111101101", "110101101101101", "010101101101010",
        "110101110100100", "010101101110011", "110101110101101", "011100010001110", "111010010010010",
        "101101101101111", "101101101101010", "101101111111101", "101101010101101", "101101010010010",
        "111001010100111"};
    if (c >= '0' && c <= '9') return digits[c - '0'];
    if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
    if (c >= 'A' && c <= 'Z') return letters[c - 'A'];
    switch (c) {
    case '-': return "000000111000000";
    case '_': return "000000000000111";
    case '.': return "000000000000010";
    case ':': return "000010000010000";
    case '#': return "101111101111101";
    default: return NULL;
    }
}

static inline ovf_wm_colour ovf_wm_colour_of(guint key) {
    static const guint8 palette[8][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0},
                                         {255, 0, 255}, {0, 255, 255}, {255, 128, 0}, {128, 0, 255}};
    const guint8* p = palette[key % 8];
    ovf_wm_colour c;
    c.r = p[0], c.g = p[1], c.b = p[2];
    /* BT.601, limited range: what videoconvert assumes for SD-sized frames without colorimetry */
    c.y = (guint8)(16.0 + 0.257 * c.r + 0.504 * c.g + 0.098 * c.b + 0.5);
    c.u = (guint8)(128.0 - 0.148 * c.r - 0.291 * c.g + 0.439 * c.b + 0.5);
    c.v = (guint8)(128.0 + 0.439 * c.r - 0.368 * c.g - 0.071 * c.b + 0.5);
    return c;
}

/* Fills [x0, x1) x [y0, y1), clipped to the frame. */
static inline void ovf_wm_fill(GstVideoFrame* f, int x0, int y0, int x1, int y1, const ovf_wm_colour* c) {
    int w = GST_VIDEO_FRAME_WIDTH(f), h = GST_VIDEO_FRAME_HEIGHT(f), x, y;
    GstVideoFormat fmt = GST_VIDEO_FRAME_FORMAT(f);
    x0 = MAX(x0, 0), y0 = MAX(y0, 0), x1 = MIN(x1, w), y1 = MIN(y1, h);
    if (x1 <= x0 || y1 <= y0)
        return;
    if (fmt == GST_VIDEO_FORMAT_NV12 || fmt == GST_VIDEO_FORMAT_I420) {
        guint8* yp = GST_VIDEO_FRAME_PLANE_DATA(f, 0);
        int ys = GST_VIDEO_FRAME_PLANE_STRIDE(f, 0);
        for (y = y0; y < y1; y++)
            memset(yp + (gsize)y * ys + x0, c->y, (gsize)(x1 - x0));
        for (y = (y0 + 1) / 2; y < y1 / 2; y++) {       /* chroma samples whose 2x2 pixels are all inside */
            guint8* u = (guint8*)GST_VIDEO_FRAME_PLANE_DATA(f, 1) + (gsize)y * GST_VIDEO_FRAME_PLANE_STRIDE(f, 1);
            guint8* v = NULL;
            if (fmt == GST_VIDEO_FORMAT_I420)
                v = (guint8*)GST_VIDEO_FRAME_PLANE_DATA(f, 2) + (gsize)y * GST_VIDEO_FRAME_PLANE_STRIDE(f, 2);
            for (x = (x0 + 1) / 2; x < x1 / 2; x++) {
                if (v == NULL)           /* NV12: U and V interleaved */
                    u[2 * x] = c->u, u[2 * x + 1] = c->v;
                else
                    u[x] = c->u, v[x] = c->v;
            }
        }
        return;
    }
    {
        int ps = GST_VIDEO_FRAME_COMP_PSTRIDE(f, 0);
        int ri = GST_VIDEO_FRAME_COMP_OFFSET(f, 0), gi = GST_VIDEO_FRAME_COMP_OFFSET(f, 1);
        int bi = GST_VIDEO_FRAME_COMP_OFFSET(f, 2);
        guint8* base = GST_VIDEO_FRAME_PLANE_DATA(f, 0);
        int s = GST_VIDEO_FRAME_PLANE_STRIDE(f, 0);
        for (y = y0; y < y1; y++) {
            guint8* row = base + (gsize)y * s;
            for (x = x0; x < x1; x++) {
                row[x * ps + ri] = c->r, row[x * ps + gi] = c->g, row[x * ps + bi] = c->b;
            }
        }
    }
}

/* text at (x, y), each font pixel a scale x scale square, clipped to [x, right) x [y, bottom) */
static inline void ovf_wm_text(GstVideoFrame* f, const char* text, int x, int y, int right, int bottom,
                               int scale, const ovf_wm_colour* c) {
    int r, col;
    for (; *text && x + 3 * scale <= right; text++, x += 4 * scale) {
        const char* g = ovf_wm_glyph(*text);
        if (g == NULL)
            continue;
        for (r = 0; r < 5; r++)
            for (col = 0; col < 3; col++)
                if (g[3 * r + col] == '1' && y + (r + 1) * scale <= bottom)
                    ovf_wm_fill(f, x + col * scale, y + r * scale, x + (col + 1) * scale, y + (r + 1) * scale, c);
    }
}

/* Draws every region of interest on the mapped frame (buf is the frame's buffer). */
static inline void ovf_watermark(GstVideoFrame* f, GstBuffer* buf) {
    gpointer state = NULL;
    GstMeta* meta;
    char text[96];
    while ((meta = gst_buffer_iterate_meta_filtered(buf, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
        GstVideoRegionOfInterestMeta* m = (GstVideoRegionOfInterestMeta*)meta;
        GstStructure* s = gst_video_region_of_interest_meta_get_param(m, "object_id");
        const char* label = m->roi_type ? g_quark_to_string(m->roi_type) : "";
        gint id = 0;
        int x0 = (int)m->x, y0 = (int)m->y, x1 = (int)(m->x + m->w), y1 = (int)(m->y + m->h), scale;
        ovf_wm_colour c;
        if (s != NULL)
            gst_structure_get_int(s, "id", &id);
        c = ovf_wm_colour_of(id > 0 ? (guint)id : (guint)m->roi_type);
        ovf_wm_fill(f, x0, y0, x1, y0 + OVF_WM_LINE, &c);
        ovf_wm_fill(f, x0, y1 - OVF_WM_LINE, x1, y1, &c);
        ovf_wm_fill(f, x0, y0, x0 + OVF_WM_LINE, y1, &c);
        ovf_wm_fill(f, x1 - OVF_WM_LINE, y0, x1, y1, &c);
        if (id > 0)
            g_snprintf(text, sizeof(text), "%s #%d", label, id);
        else
            g_snprintf(text, sizeof(text), "%s", label);
        scale = m->h >= 60 ? 2 : 1;
        ovf_wm_text(f, text, x0 + OVF_WM_LINE + 1, y0 + OVF_WM_LINE + 1, x1 - OVF_WM_LINE, y1 - OVF_WM_LINE, scale,
                    &c);
    }
}

#endif
