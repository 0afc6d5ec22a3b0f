/* Reads ovfastinfer's tensors from C, as another GStreamer element would: only ovfast_meta.h and GStreamer. */
#include <stdio.h>
#include <string.h>

#include <gst/gst.h>
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
        if (meta->roi_id != -1 || meta->version < 1) continue;
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
