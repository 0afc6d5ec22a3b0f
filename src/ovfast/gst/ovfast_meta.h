/* ovfast's tensor metadata on GStreamer buffers, for C readers.
 *
 * ovfastinfer attaches one OvfastTensorMeta per inference it ran on a buffer: the raw output tensors of
 * the model (a copy the meta owns). roi_id is 0 for an inference on the whole frame; otherwise it is the
 * `id` of the GstVideoRegionOfInterestMeta the inference ran on (ovfast gives regions ids from
 * gst_util_seqnum_next(), never 0), so regions and whole frames carry their tensors the same way. Find the
 * metas with
 *
 *     GType api = g_type_from_name(OVFAST_TENSOR_META_API_NAME);   // 0 until ovfast.gst is imported
 *     gpointer state = NULL; GstMeta* m;
 *     while ((m = gst_buffer_iterate_meta_filtered(buffer, &state, api))) {
 *         const OvfastTensorMeta* meta = (const OvfastTensorMeta*)m; ...
 *     }
 *
 * The layouts below only grow at the end (OVFAST_TENSOR_META_VERSION says what is there).
 *
 * Two more metas carry what Python code writes with ovfast.gst.gstgva (DL Streamer's gstgva API), laid out as
 * DL Streamer's own: OvfastJSONMeta, a message (VideoFrame.add_message: one meta per message, as
 * GstGVAJSONMeta), and OvfastFieldsMeta, a tensor of fields on the whole frame (VideoFrame.add_tensor, as
 * GstGVATensorMeta). Fields written on a region (labels, names, object ids) are GstStructures in the
 * GstVideoRegionOfInterestMeta's params, as DL Streamer keeps them.
 */
#ifndef OVFAST_META_H
#define OVFAST_META_H

#include <stdint.h>
#include <gst/gst.h>

#define OVFAST_TENSOR_META_API_NAME "OvfastTensorMetaAPI"
#define OVFAST_TENSOR_META_VERSION 2
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
    int32_t roi_id;            /* 0: the whole frame; else the region's GstVideoRegionOfInterestMeta id */
    uint32_t n_tensors;
    OvfastTensor* tensors;     /* n_tensors entries; owned by the meta with everything they point to */
    /* version 2 */
    const char* model_name;    /* the model's name ("" if it has none) */
    GstStructure** fields;     /* NULL, or n_tensors entries: NULL, or the fields Python wrote on that tensor
                                  (gstgva's Tensor: its name, label, ...); owned by the meta */
} OvfastTensorMeta;

#define OVFAST_JSON_META_API_NAME "OvfastJSONMetaAPI"

typedef struct {
    GstMeta meta;
    char* message;             /* UTF-8, owned by the meta (g_free) */
} OvfastJSONMeta;

#define OVFAST_FIELDS_META_API_NAME "OvfastFieldsMetaAPI"

typedef struct {
    GstMeta meta;
    GstStructure* data;        /* owned by the meta */
} OvfastFieldsMeta;

#endif
