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

#endif
