/* ovfastmetaconvert's JSON: a frame's regions, their results and tensors in gvametaconvert's schema, built in
 * C on the streaming side (no Python, no GIL).
 *
 * Keys come out sorted, as DL Streamer's JSON library writes them, so a consumer that compares text sees the
 * same order. Every object member is built as the text `"key":value` and the members are sorted by that
 * text: '"' sorts before every character a key holds, so a key sorts before the keys it is a prefix of. */
#ifndef OVFAST_METACONVERT_H
#define OVFAST_METACONVERT_H

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include "ovfast_meta.h"

static void ovf_js_string(GString* out, const char* s) {
    const unsigned char* p = (const unsigned char*)(s ? s : "");
    g_string_append_c(out, '"');
    for (; *p; p++) {
        switch (*p) {
        case '"': g_string_append(out, "\\\""); break;
        case '\\': g_string_append(out, "\\\\"); break;
        case '\n': g_string_append(out, "\\n"); break;
        case '\r': g_string_append(out, "\\r"); break;
        case '\t': g_string_append(out, "\\t"); break;
        default:
            if (*p < 0x20) g_string_append_printf(out, "\\u%04x", *p);
            else g_string_append_c(out, (char)*p);
        }
    }
    g_string_append_c(out, '"');
}

/* Integers in decimal without printf: a frame's JSON holds a few dozen (coordinates, ids, label ids), and
 * printf's format parsing was most of their cost. */
static void ovf_js_int(GString* out, gint64 v) {
    char text[24];
    char* end = text + sizeof text;
    char* p = end;
    guint64 u = v < 0 ? (guint64)0 - (guint64)v : (guint64)v;   /* no overflow at G_MININT64 */
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--p = '-';
    g_string_append_len(out, p, end - p);
}

/* JSON has no NaN or infinity: they become null. */
static void ovf_js_double(GString* out, double v) {
    char text[G_ASCII_DTOSTR_BUF_SIZE];
    if (!isfinite(v)) { g_string_append(out, "null"); return; }
    g_string_append(out, g_ascii_dtostr(text, sizeof text, v));
}

static void ovf_js_float(GString* out, float v) {   /* 9 digits: enough to read the same float back */
    char text[G_ASCII_DTOSTR_BUF_SIZE];
    if (!isfinite(v)) { g_string_append(out, "null"); return; }
    g_string_append(out, g_ascii_formatd(text, sizeof text, "%.9g", (double)v));
}

/* --- objects: members `"key":value`, sorted ----------------------------------------------------------------- */
static GPtrArray* ovf_js_object_new(void) { return g_ptr_array_new_with_free_func(g_free); }

/* A member's text starts `"key":`; the value is written after it, then the member is added. */
static GString* ovf_js_key(const char* key) {
    GString* m = g_string_sized_new(48);
    ovf_js_string(m, key);
    g_string_append_c(m, ':');
    return m;
}

static void ovf_js_add(GPtrArray* obj, GString* member) { g_ptr_array_add(obj, g_string_free(member, FALSE)); }

/* Adds key with value (taken). */
static void ovf_js_member(GPtrArray* obj, const char* key, GString* value) {
    GString* m = ovf_js_key(key);
    g_string_append_len(m, value->str, value->len);
    g_string_free(value, TRUE);
    ovf_js_add(obj, m);
}

static void ovf_js_member_int(GPtrArray* obj, const char* key, gint64 v) {
    GString* m = ovf_js_key(key);
    ovf_js_int(m, v);
    ovf_js_add(obj, m);
}

static void ovf_js_member_double(GPtrArray* obj, const char* key, double v) {
    GString* m = ovf_js_key(key);
    ovf_js_double(m, v);
    ovf_js_add(obj, m);
}

static void ovf_js_member_string(GPtrArray* obj, const char* key, const char* v) {
    GString* m = ovf_js_key(key);
    ovf_js_string(m, v);
    ovf_js_add(obj, m);
}

static gint ovf_js_member_cmp(gconstpointer a, gconstpointer b) {
    return strcmp(*(const char* const*)a, *(const char* const*)b);
}

/* The object's text (a GString); obj is freed. */
static GString* ovf_js_object_end(GPtrArray* obj) {
    gsize size = 2 + obj->len;
    GString* out;
    guint i;
    for (i = 0; i < obj->len; i++) size += strlen((const char*)g_ptr_array_index(obj, i));
    out = g_string_sized_new(size);     /* one allocation for the object's text */
    g_string_append_c(out, '{');
    g_ptr_array_sort(obj, ovf_js_member_cmp);
    for (i = 0; i < obj->len; i++) {
        if (i) g_string_append_c(out, ',');
        g_string_append(out, (const char*)g_ptr_array_index(obj, i));
    }
    g_string_append_c(out, '}');
    g_ptr_array_free(obj, TRUE);
    return out;
}

/* Arrays: items appended with ovf_js_item, closed with ovf_js_array_end. */
static void ovf_js_item(GString* array, GString* value) {
    g_string_append_c(array, array->len ? ',' : '[');
    g_string_append_len(array, value->str, value->len);
    g_string_free(value, TRUE);
}

static GString* ovf_js_array_end(GString* array) {
    if (array->len == 0) g_string_append_c(array, '[');
    g_string_append_c(array, ']');
    return array;
}

/* --- tensors ------------------------------------------------------------------------------------------------ */
/* DL Streamer's precision names for OpenVINO's element types (gstgva's Tensor.precision_as_string()). */
static const char* ovf_precision_name(const char* t) {
    static const char* const names[][2] = {
        {"f32", "FP32"}, {"f16", "FP16"}, {"bf16", "BF16"}, {"f64", "FP64"}, {"i16", "I16"}, {"u4", "U4"},
        {"u8", "U8"}, {"i4", "I4"}, {"i8", "I8"}, {"u16", "U16"}, {"i32", "I32"}, {"u32", "U32"},
        {"i64", "I64"}, {"u64", "U64"}, {"u1", "BIN"}, {"boolean", "BOOL"}};
    size_t i;
    for (i = 0; i < G_N_ELEMENTS(names); i++)
        if (strcmp(t, names[i][0]) == 0) return names[i][1];
    return "UNSPECIFIED";
}

/* The output's values as a JSON array; NULL for an element type JSON numbers do not hold plainly. */
static GString* ovf_js_tensor_data(const OvfastTensor* t) {
    GString* a = g_string_new(NULL);
    size_t i, n;
#define OVF_JS_INTS(type)                                                                                       \
    for (n = t->nbytes / sizeof(type), i = 0; i < n; i++) {                                                  \
        g_string_append_c(a, i ? ',' : '[');                                                                  \
        ovf_js_int(a, ((const type*)t->data)[i]);                                                             \
    }
    if (strcmp(t->element_type, "f32") == 0) {
        for (n = t->nbytes / sizeof(float), i = 0; i < n; i++) {
            g_string_append_c(a, i ? ',' : '[');
            ovf_js_float(a, ((const float*)t->data)[i]);
        }
    } else if (strcmp(t->element_type, "f64") == 0) {
        for (n = t->nbytes / sizeof(double), i = 0; i < n; i++) {
            g_string_append_c(a, i ? ',' : '[');
            ovf_js_double(a, ((const double*)t->data)[i]);
        }
    } else if (strcmp(t->element_type, "u8") == 0) {
        OVF_JS_INTS(guint8)
    } else if (strcmp(t->element_type, "i8") == 0) {
        OVF_JS_INTS(gint8)
    } else if (strcmp(t->element_type, "i32") == 0) {
        OVF_JS_INTS(gint32)
    } else if (strcmp(t->element_type, "i64") == 0) {
        OVF_JS_INTS(gint64)
    } else {
        g_string_free(a, TRUE);
        return NULL;
    }
#undef OVF_JS_INTS
    return ovf_js_array_end(a);
}

/* A model's output (OvfastTensorMeta) as gvametaconvert writes a tensor. */
static GString* ovf_js_raw_tensor(const OvfastTensorMeta* m, const OvfastTensor* t) {
    GPtrArray* o = ovf_js_object_new();
    GString* dims = g_string_new(NULL);
    GString* data = ovf_js_tensor_data(t);
    char* name = g_strconcat("inference_layer_name:", t->name, NULL);
    uint32_t k;
    for (k = 0; k < t->rank && k < OVFAST_TENSOR_MAX_RANK; k++) {
        g_string_append_c(dims, k ? ',' : '[');
        ovf_js_int(dims, t->dims[k]);
    }
    ovf_js_member(o, "dims", ovf_js_array_end(dims));
    ovf_js_member_string(o, "name", name);
    ovf_js_member_string(o, "layer_name", t->name);
    if (m->model_name && m->model_name[0]) ovf_js_member_string(o, "model_name", m->model_name);
    ovf_js_member_string(o, "precision", ovf_precision_name(t->element_type));
    if (data) ovf_js_member(o, "data", data);
    g_free(name);
    return ovf_js_object_end(o);
}

/* A result (a region's param, or a frame's fields) as gvametaconvert writes a tensor. */
static GString* ovf_js_param_tensor(const GstStructure* s) {
    static const char* const texts[] = {"model_name", "layer_name", "format"};
    GPtrArray* o = ovf_js_object_new();
    const char* name = gst_structure_get_name(s);
    double confidence;
    int label_id;
    size_t i;
    ovf_js_member_string(o, "name", name);
    for (i = 0; i < G_N_ELEMENTS(texts); i++)
        if (gst_structure_get_string(s, texts[i]))
            ovf_js_member_string(o, texts[i], gst_structure_get_string(s, texts[i]));
    if (strcmp(name, "detection") != 0 && gst_structure_get_string(s, "label"))
        ovf_js_member_string(o, "label", gst_structure_get_string(s, "label"));
    if (gst_structure_get_double(s, "confidence", &confidence)) ovf_js_member_double(o, "confidence", confidence);
    if (gst_structure_get_int(s, "label_id", &label_id)) ovf_js_member_int(o, "label_id", label_id);
    return ovf_js_object_end(o);
}

/* The outputs ovfastinfer ran on roi_id (0: the whole frame), appended to the array tensors. Returns the
 * model name of the last of them, or NULL. */
static const char* ovf_js_raw_tensors(GstBuffer* buf, gint roi_id, GString* tensors) {
    GType api = g_type_from_name(OVFAST_TENSOR_META_API_NAME);
    gpointer state = NULL;
    GstMeta* meta;
    const char* model = NULL;
    uint32_t i;
    if (api == 0) return NULL;
    while ((meta = gst_buffer_iterate_meta_filtered(buf, &state, api))) {
        const OvfastTensorMeta* m = (const OvfastTensorMeta*)meta;
        if (m->roi_id != roi_id) continue;
        model = m->model_name;
        if (tensors)
            for (i = 0; i < m->n_tensors; i++) ovf_js_item(tensors, ovf_js_raw_tensor(m, &m->tensors[i]));
    }
    return model;
}

/* --- regions ------------------------------------------------------------------------------------------------ */
static GString* ovf_js_detection(const GstStructure* s, const char* label) {
    GPtrArray* box = ovf_js_object_new();
    GPtrArray* d = ovf_js_object_new();
    double x0, y0, x1, y1, confidence;
    int label_id;
    gst_structure_get_double(s, "x_min", &x0);
    gst_structure_get_double(s, "y_min", &y0);
    gst_structure_get_double(s, "x_max", &x1);
    gst_structure_get_double(s, "y_max", &y1);
    ovf_js_member_double(box, "x_min", x0);
    ovf_js_member_double(box, "y_min", y0);
    ovf_js_member_double(box, "x_max", x1);
    ovf_js_member_double(box, "y_max", y1);
    ovf_js_member(d, "bounding_box", ovf_js_object_end(box));
    if (gst_structure_get_double(s, "confidence", &confidence)) ovf_js_member_double(d, "confidence", confidence);
    if (gst_structure_get_int(s, "label_id", &label_id)) ovf_js_member_int(d, "label_id", label_id);
    if (label && label[0]) ovf_js_member_string(d, "label", label);
    return ovf_js_object_end(d);
}

static gboolean ovf_js_has_box(const GstStructure* s) {
    double v;
    return gst_structure_get_double(s, "x_min", &v) && gst_structure_get_double(s, "y_min", &v)
           && gst_structure_get_double(s, "x_max", &v) && gst_structure_get_double(s, "y_max", &v);
}

/* A classification result: attribute_name (else the structure's name): {label, model: {name}, ...}. The
 * model is the structure's model_name, else the model whose outputs ovfastinfer put on the region. */
static void ovf_js_classification(GPtrArray* obj, const GstStructure* s, const char* region_model) {
    GPtrArray* c = ovf_js_object_new();
    GPtrArray* model = ovf_js_object_new();
    const char* attribute = gst_structure_get_string(s, "attribute_name");
    const char* model_name = gst_structure_get_string(s, "model_name");
    double confidence;
    int label_id;
    if (gst_structure_get_string(s, "label")) ovf_js_member_string(c, "label", gst_structure_get_string(s, "label"));
    if (model_name || region_model) {
        ovf_js_member_string(model, "name", model_name ? model_name : region_model);
        ovf_js_member(c, "model", ovf_js_object_end(model));
    } else {
        g_ptr_array_free(model, TRUE);
    }
    if (gst_structure_get_double(s, "confidence", &confidence)) ovf_js_member_double(c, "confidence", confidence);
    if (gst_structure_get_int(s, "label_id", &label_id)) ovf_js_member_int(c, "label_id", label_id);
    ovf_js_member(obj, attribute ? attribute : gst_structure_get_name(s), ovf_js_object_end(c));
}

static GString* ovf_js_region(GstBuffer* buf, const GstVideoRegionOfInterestMeta* r, gboolean tensor_data) {
    GPtrArray* o = ovf_js_object_new();
    GString* tensors = tensor_data ? g_string_new(NULL) : NULL;
    const char* label = r->roi_type ? g_quark_to_string(r->roi_type) : "";
    const char* model = ovf_js_raw_tensors(buf, r->id, NULL);
    GList* p;
    int object_id;
    ovf_js_member_int(o, "x", r->x);
    ovf_js_member_int(o, "y", r->y);
    ovf_js_member_int(o, "w", r->w);
    ovf_js_member_int(o, "h", r->h);
    ovf_js_member_int(o, "region_id", r->id);
    if (label[0]) ovf_js_member_string(o, "roi_type", label);
    for (p = r->params; p; p = p->next) {
        const GstStructure* s = (const GstStructure*)p->data;
        const char* name = gst_structure_get_name(s);
        if (strcmp(name, "object_id") == 0) {
            if (gst_structure_get_int(s, "id", &object_id) && object_id != 0) ovf_js_member_int(o, "id", object_id);
            continue;
        }
        if (strcmp(name, "detection") == 0) {
            if (ovf_js_has_box(s)) ovf_js_member(o, "detection", ovf_js_detection(s, label));
        } else if (gst_structure_get_string(s, "label")) {
            ovf_js_classification(o, s, model);
        }
        if (tensors) ovf_js_item(tensors, ovf_js_param_tensor(s));
    }
    if (tensors) {
        ovf_js_raw_tensors(buf, r->id, tensors);
        ovf_js_member(o, "tensors", ovf_js_array_end(tensors));
    }
    return ovf_js_object_end(o);
}

/* Results on the whole frame (VideoFrame.add_tensor's fields with a label or label_id) as one object that
 * covers the frame, as gvametaconvert writes full-frame classifications; NULL if the frame has none. */
static GString* ovf_js_frame_object(GstBuffer* buf, int width, int height, gboolean tensor_data) {
    GType api = g_type_from_name(OVFAST_FIELDS_META_API_NAME);
    GPtrArray* o = ovf_js_object_new();
    GString* tensors = tensor_data ? g_string_new(NULL) : NULL;
    gpointer state = NULL;
    GstMeta* meta;
    gboolean any = FALSE;
    int label_id;
    while (api && (meta = gst_buffer_iterate_meta_filtered(buf, &state, api))) {
        const GstStructure* s = ((OvfastFieldsMeta*)meta)->data;
        if (s == NULL || (!gst_structure_get_string(s, "label") && !gst_structure_get_int(s, "label_id", &label_id)))
            continue;
        any = TRUE;
        ovf_js_classification(o, s, NULL);
        if (tensors) ovf_js_item(tensors, ovf_js_param_tensor(s));
    }
    if (!any) {
        g_ptr_array_free(o, TRUE);
        if (tensors) g_string_free(tensors, TRUE);
        return NULL;
    }
    ovf_js_member_int(o, "x", 0);
    ovf_js_member_int(o, "y", 0);
    ovf_js_member_int(o, "w", width);
    ovf_js_member_int(o, "h", height);
    if (tensors) ovf_js_member(o, "tensors", ovf_js_array_end(tensors));
    return ovf_js_object_end(o);
}

/* --- indentation ------------------------------------------------------------------------------------------- */
/* Compact JSON re-laid with `indent` spaces per level, one member or item a line (json.dumps(indent=n)). */
static GString* ovf_js_indent(const GString* in, int indent) {
    GString* out = g_string_sized_new(in->len * 2);
    int level = 0, in_string = 0;
    gsize i;
    for (i = 0; i < in->len; i++) {
        char c = in->str[i];
        if (in_string) {
            g_string_append_c(out, c);
            if (c == '\\' && i + 1 < in->len) g_string_append_c(out, in->str[++i]);
            else if (c == '"') in_string = 0;
            continue;
        }
        switch (c) {
        case '"': in_string = 1; g_string_append_c(out, c); break;
        case '{': case '[':
            g_string_append_c(out, c);
            if (i + 1 < in->len && (in->str[i + 1] == '}' || in->str[i + 1] == ']')) {
                g_string_append_c(out, in->str[++i]);
                break;
            }
            level++;
            g_string_append_c(out, '\n');
            g_string_append_printf(out, "%*s", level * indent, "");
            break;
        case '}': case ']':
            level--;
            g_string_append_c(out, '\n');
            g_string_append_printf(out, "%*s", level * indent, "");
            g_string_append_c(out, c);
            break;
        case ',':
            g_string_append(out, ",\n");
            g_string_append_printf(out, "%*s", level * indent, "");
            break;
        case ':': g_string_append(out, ": "); break;
        default: g_string_append_c(out, c);
        }
    }
    return out;
}

/* --- the frame ---------------------------------------------------------------------------------------------- */
/* The frame's message (g_free it), or NULL where it has no results and add_empty is off. stream_time is the
 * frame's stream time (GST_CLOCK_TIME_NONE: no timestamp member); indent < 0 writes compact JSON. */
static char* ovf_frame_json(GstBuffer* buf, int width, int height, GstClockTime stream_time, gboolean tensor_data,
                            gboolean add_empty, int indent, const char* source) {
    GPtrArray* frame = ovf_js_object_new();
    GPtrArray* resolution = ovf_js_object_new();
    GString* objects = g_string_new(NULL);
    GString* tensors = g_string_new(NULL);
    GString* text;
    GString* whole;
    gpointer state = NULL;
    GstMeta* meta;
    GType fields_api = g_type_from_name(OVFAST_FIELDS_META_API_NAME);
    gboolean any;
    while ((meta = gst_buffer_iterate_meta_filtered(buf, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)))
        ovf_js_item(objects, ovf_js_region(buf, (const GstVideoRegionOfInterestMeta*)meta, tensor_data));
    if ((whole = ovf_js_frame_object(buf, width, height, tensor_data)) != NULL)
        ovf_js_item(objects, whole);
    if (tensor_data) {
        ovf_js_raw_tensors(buf, 0, tensors);
        state = NULL;
        while (fields_api && (meta = gst_buffer_iterate_meta_filtered(buf, &state, fields_api)))
            if (((OvfastFieldsMeta*)meta)->data)
                ovf_js_item(tensors, ovf_js_param_tensor(((OvfastFieldsMeta*)meta)->data));
    }
    any = objects->len > 0 || tensors->len > 0;
    if (!any && !add_empty) {
        g_string_free(objects, TRUE);
        g_string_free(tensors, TRUE);
        g_ptr_array_free(frame, TRUE);
        g_ptr_array_free(resolution, TRUE);
        return NULL;
    }
    if (objects->len) ovf_js_member(frame, "objects", ovf_js_array_end(objects));
    else g_string_free(objects, TRUE);
    if (tensors->len) ovf_js_member(frame, "tensors", ovf_js_array_end(tensors));
    else g_string_free(tensors, TRUE);
    ovf_js_member_int(resolution, "width", width);
    ovf_js_member_int(resolution, "height", height);
    ovf_js_member(frame, "resolution", ovf_js_object_end(resolution));
    if (GST_CLOCK_TIME_IS_VALID(stream_time)) ovf_js_member_int(frame, "timestamp", (gint64)stream_time);
    if (source && source[0]) ovf_js_member_string(frame, "source", source);
    text = ovf_js_object_end(frame);
    if (indent >= 0) {
        GString* pretty = ovf_js_indent(text, indent);
        g_string_free(text, TRUE);
        text = pretty;
    }
    return g_string_free(text, FALSE);
}

/* The buffer's stream time in segment (GST_CLOCK_TIME_NONE if it has none). */
static inline GstClockTime ovf_stream_time(const GstSegment* segment, GstBuffer* buf) {
    if (!GST_BUFFER_PTS_IS_VALID(buf) || segment->format != GST_FORMAT_TIME) return GST_CLOCK_TIME_NONE;
    return gst_segment_to_stream_time(segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buf));
}

#endif
