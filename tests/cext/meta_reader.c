/* Reads ovfastinfer's tensors from C, as another GStreamer element would: only ovfast_meta.h and GStreamer. */
#include <stdio.h>
#include <string.h>

#include <gst/gst.h>
#include <gst/video/video.h>
#include <ovfast/gst/ovfast_meta.h>

/* For each whole-frame tensor: "name:type:d0xd1...;" into text, and the sum of its f32 values into sums.
 * Returns how many tensors, or -1 if ovfast's meta type is not registered in this process. */
int read_tensors(GstBuffer* buffer, char* text, size_t cap, double* sums, int max) {
    GType api = g_type_from_name(OVFAST_TENSOR_META_API_NAME);
    if (!api) return -1;
    gpointer state = NULL;
    GstMeta* m;
    int n = 0;
    text[0] = 0;
    while ((m = gst_buffer_iterate_meta_filtered(buffer, &state, api))) {
        const OvfastTensorMeta* meta = (const OvfastTensorMeta*)m;
        if (meta->roi_id != 0 || meta->version < 2) continue;
        for (uint32_t i = 0; i < meta->n_tensors && n < max; i++, n++) {
            const OvfastTensor* t = &meta->tensors[i];
            size_t used = strlen(text);
            used += snprintf(text + used, cap - used, "%s:%s:", t->name, t->element_type);
            for (uint32_t d = 0; d < t->rank; d++)
                used += snprintf(text + used, cap - used, d ? "x%lld" : "%lld", (long long)t->dims[d]);
            snprintf(text + used, cap - used, ";");
            double sum = 0;
            if (strcmp(t->element_type, "f32") == 0)
                for (size_t k = 0; k < t->nbytes / 4; k++) sum += ((const float*)t->data)[k];
            sums[n] = sum;
        }
    }
    return n;
}

/* The frame's messages (OvfastJSONMeta), one per line, into text. Returns how many, -1 if none is registered. */
int read_messages(GstBuffer* buffer, char* text, size_t cap) {
    GType api = g_type_from_name(OVFAST_JSON_META_API_NAME);
    if (!api) return -1;
    gpointer state = NULL;
    GstMeta* m;
    int n = 0;
    size_t used = 0;
    text[0] = 0;
    while ((m = gst_buffer_iterate_meta_filtered(buffer, &state, api))) {
        used += snprintf(text + used, cap - used, n ? "\n%s" : "%s", ((const OvfastJSONMeta*)m)->message);
        n++;
    }
    return n;
}

static size_t put_fields(const GstStructure* s, char* text, size_t cap, size_t used) {
    const char* label = gst_structure_get_string(s, "label");
    return used + snprintf(text + used, cap - used, " %s=%s", gst_structure_get_name(s), label ? label : "-");
}

/* Per region, one line: "label id:<object id or -> name=label ..." over its params, then its tensors' fields
 * (OvfastTensorMeta of its id: the fields Python wrote, or the output's name). Returns how many regions. */
int read_region_fields(GstBuffer* buffer, char* text, size_t cap) {
    GType tensors = g_type_from_name(OVFAST_TENSOR_META_API_NAME);
    gpointer state = NULL;
    GstMeta* m;
    int n = 0;
    size_t used = 0;
    text[0] = 0;
    while ((m = gst_buffer_iterate_meta_filtered(buffer, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
        const GstVideoRegionOfInterestMeta* roi = (const GstVideoRegionOfInterestMeta*)m;
        gint object_id = -1;
        const GstStructure* ids = gst_video_region_of_interest_meta_get_param((GstVideoRegionOfInterestMeta*)roi,
                                                                            "object_id");
        if (ids) gst_structure_get_int(ids, "id", &object_id);
        used += snprintf(text + used, cap - used, "%s%s id:%d", n ? "\n" : "", g_quark_to_string(roi->roi_type),
                         object_id);
        for (GList* p = roi->params; p; p = p->next)
            if (!gst_structure_has_name(p->data, "object_id")) used = put_fields(p->data, text, cap, used);
        gpointer s2 = NULL;
        GstMeta* t;
        while (tensors && (t = gst_buffer_iterate_meta_filtered(buffer, &s2, tensors))) {
            const OvfastTensorMeta* tm = (const OvfastTensorMeta*)t;
            if (tm->roi_id != roi->id) continue;
            for (uint32_t i = 0; i < tm->n_tensors; i++) {
                if (tm->fields && tm->fields[i]) used = put_fields(tm->fields[i], text, cap, used);
                else used += snprintf(text + used, cap - used, " %s=-", tm->tensors[i].name);
            }
        }
        n++;
    }
    return n;
}
