/* A model-proc converter's result on a region, as DL Streamer writes it: a GstStructure named after the
 * attribute (its attribute_name, else the output's name), with label, and label_id and confidence where the
 * converter has them (below 0: none; the text converter has neither, label's multi methods no label_id). */
#ifndef OVFAST_POSTPROC_H
#define OVFAST_POSTPROC_H

#include <gst/gst.h>
#include <gst/video/video.h>

static inline void ovf_region_attribute(GstVideoRegionOfInterestMeta* m, const char* attribute, const char* label,
                                        int label_id, double confidence, const char* layer, const char* model,
                                        const char* converter) {
    GstStructure* s = gst_structure_new(attribute, "label", G_TYPE_STRING, label, "attribute_name", G_TYPE_STRING,
                                        attribute, "layer_name", G_TYPE_STRING, layer, "model_name", G_TYPE_STRING,
                                        model, "converter", G_TYPE_STRING, converter, NULL);
    if (!s) return;
    if (label_id >= 0)
        gst_structure_set(s, "label_id", G_TYPE_INT, label_id, NULL);
    if (confidence >= 0)
        gst_structure_set(s, "confidence", G_TYPE_DOUBLE, confidence, NULL);
    gst_video_region_of_interest_meta_add_param(m, s);
}

/* yolo_v8_obb's angle on a region's detection structure, as DL Streamer's "rotation" (the model's value). */
static inline void ovf_region_rotation(GstVideoRegionOfInterestMeta* m, double rotation) {
    GstStructure* s = gst_video_region_of_interest_meta_get_param(m, "detection");
    if (s) gst_structure_set(s, "rotation", G_TYPE_DOUBLE, rotation, NULL);
}

static inline void ovf_set_strings(GstStructure* s, const char* field, const char* const* values, guint n) {
    GValue array = G_VALUE_INIT, item = G_VALUE_INIT;
    g_value_init(&array, GST_TYPE_ARRAY);
    g_value_init(&item, G_TYPE_STRING);
    for (guint i = 0; i < n; i++) {
        g_value_set_string(&item, values[i]);
        gst_value_array_append_value(&array, &item);
    }
    g_value_unset(&item);
    gst_structure_take_value(s, field, &array);
}

/* A points converter's fields, made once per plan: the attribute's names, its format ("keypoints", centerface's
 * "landmark_points"), precision FP32 (DL Streamer's code 10), and point_names and point_connections where the
 * file gives them (for drawing). */
static inline GstStructure* ovf_keypoints_template(const char* attribute, const char* format, const char* const* names,
                                                   guint n_names, const char* const* connections, guint n_connections,
                                                   const char* layer, const char* model, const char* converter) {
    GstStructure* s = gst_structure_new(attribute, "attribute_name", G_TYPE_STRING, attribute, "layer_name",
                                        G_TYPE_STRING, layer, "model_name", G_TYPE_STRING, model, "converter",
                                        G_TYPE_STRING, converter, "format", G_TYPE_STRING, format, "precision",
                                        G_TYPE_INT, 10, NULL);
    if (!s) return NULL;
    if (n_names) ovf_set_strings(s, "point_names", names, n_names);
    if (n_connections) ovf_set_strings(s, "point_connections", connections, n_connections);
    return s;
}

/* A list of floats as a field (yolo_v8_pose's keypoint confidences). */
static inline void ovf_set_floats(GstStructure* s, const char* field, const float* values, guint n) {
    GValue array = G_VALUE_INIT, item = G_VALUE_INIT;
    g_value_init(&array, GST_TYPE_ARRAY);
    g_value_init(&item, G_TYPE_FLOAT);
    for (guint i = 0; i < n; i++) {
        g_value_set_float(&item, values[i]);
        gst_value_array_append_value(&array, &item);
    }
    gst_structure_take_value(s, field, &array);
}

/* A run's keypoints on a region, as DL Streamer's keypoints converters give them: the template with dims
 * [n, dim] and the n points of dim f32 coordinates as a byte variant in data_buffer (what gstgva's Tensor.data()
 * reads); confidences: one per point (a list), or confidence: one for all (below 0: none). */
static inline void ovf_region_keypoints(GstVideoRegionOfInterestMeta* m, const GstStructure* templ,
                                        const float* points, guint n, guint dim, const float* confidences,
                                        double confidence) {
    GValue dims = G_VALUE_INIT, d = G_VALUE_INIT;
    GstStructure* s = gst_structure_copy(templ);
    g_value_init(&dims, GST_TYPE_ARRAY);
    g_value_init(&d, G_TYPE_UINT);
    g_value_set_uint(&d, n);
    gst_value_array_append_value(&dims, &d);
    g_value_set_uint(&d, dim);
    gst_value_array_append_value(&dims, &d);
    g_value_unset(&d);
    gst_structure_take_value(s, "dims", &dims);
    gst_structure_set(s, "data_buffer", G_TYPE_VARIANT,
                      g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, points, n * dim * sizeof(float), 1), NULL);
    if (confidences) ovf_set_floats(s, "confidence", confidences, n);
    else if (confidence >= 0) gst_structure_set(s, "confidence", G_TYPE_DOUBLE, confidence, NULL);
    gst_video_region_of_interest_meta_add_param(m, s);
}

#endif
