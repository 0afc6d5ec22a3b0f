/* ovfast's tensor metadata on GStreamer buffers, for C readers.
 *
 * ovfastinfer attaches one OvfastTensorMeta per inference it ran on a buffer: the raw output tensors of
 * the model (a copy the meta owns). roi_id is -1 for an inference on the whole frame; otherwise it is the
 * `id` of the GstVideoRegionOfInterestMeta the inference ran on, so regions and whole frames carry their
 * tensors the same way. Find the metas with
 *
 *     GType api = g_type_from_name(OVFAST_TENSOR_META_API_NAME);   // 0 until ovfast.gst is imported
 *     gpointer state = NULL; GstMeta* m;
 *     while ((m = gst_buffer_iterate_meta_filtered(buffer, &state, api))) {
 *         const OvfastTensorMeta* meta = (const OvfastTensorMeta*)m; ...
 *     }
 *
 * The layout below only grows at the end (OVFAST_TENSOR_META_VERSION says what is there).
 */
#ifndef OVFAST_META_H
#define OVFAST_META_H

#include <stdint.h>
#include <gst/gst.h>

#define OVFAST_TENSOR_META_API_NAME "OvfastTensorMetaAPI"
#define OVFAST_TENSOR_META_VERSION 1
#define OVFAST_TENSOR_MAX_RANK 8

typedef struct {
    const char* name;          /* the output's first name ("" if it has none) */
    const char* element_type;  /* OpenVINO's name for the element type: "f32", "u8", "i64", ... */
    uint32_t rank;
    int64_t dims[OVFAST_TENSOR_MAX_RANK];
    const void* data;          /* dense, row-major, nbytes long, 64-byte aligned */
    size_t nbytes;
} OvfastTensor;

typedef struct {
    GstMeta meta;
    uint32_t version;          /* OVFAST_TENSOR_META_VERSION of the writer */
    int32_t roi_id;            /* -1: the whole frame; else the region's GstVideoRegionOfInterestMeta id */
    uint32_t n_tensors;
    OvfastTensor* tensors;     /* n_tensors entries; owned by the meta with everything they point to */
} OvfastTensorMeta;

#endif
