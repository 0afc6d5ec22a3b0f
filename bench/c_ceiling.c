/* The ceiling for ovfast's per-call overhead: the same inferences driven from C with no Python in the
 * loop. Loaded by bench/conftest.py through ctypes; each entry point runs a whole loop per call. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "openvino/c/openvino.h"

typedef struct {
    ov_core_t* core;
    ov_compiled_model_t* compiled;
    ov_infer_request_t** requests;
    int jobs;
} ceiling_t;

void ceiling_free(ceiling_t* c) {
    if (!c) return;
    for (int i = 0; i < c->jobs; i++)
        if (c->requests[i]) ov_infer_request_free(c->requests[i]);
    free(c->requests);
    if (c->compiled) ov_compiled_model_free(c->compiled);
    if (c->core) ov_core_free(c->core);
    free(c);
}

/* Compiles the IR at xml_path for device with an optional key/value property pair; jobs requests. */
ceiling_t* ceiling_new(const char* xml_path, const char* device, const char* key, const char* value, int jobs) {
    ceiling_t* c = calloc(1, sizeof(ceiling_t));
    ov_property_t prop = {key, value};
    if (!c || ov_core_create(&c->core) != OK) goto fail;
    if (ov_core_compile_model_from_file_props(c->core, xml_path, device, key ? 1 : 0, key ? &prop : NULL,
                                              &c->compiled) != OK)
        goto fail;
    c->jobs = jobs;
    c->requests = calloc((size_t)jobs, sizeof(ov_infer_request_t*));
    if (!c->requests) goto fail;
    for (int i = 0; i < jobs; i++)
        if (ov_compiled_model_create_infer_request(c->compiled, &c->requests[i]) != OK) goto fail;
    return c;
fail:
    ceiling_free(c);
    return NULL;
}

/* n synchronous inferences on request 0, copying `input` (nbytes) into every input first, as a
 * caller handing fresh data each time must. Returns 0 or the failing status. */
int ceiling_sync(ceiling_t* c, int64_t n, const void* input, size_t nbytes) {
    size_t n_in = 0;
    ov_compiled_model_inputs_size(c->compiled, &n_in);
    for (int64_t k = 0; k < n; k++) {
        for (size_t i = 0; i < n_in; i++) {
            ov_tensor_t* t = NULL;
            void* data = NULL;
            if (ov_infer_request_get_input_tensor_by_index(c->requests[0], i, &t) != OK) return -100;
            ov_tensor_data(t, &data);
            memcpy(data, input, nbytes);
            ov_tensor_free(t);
        }
        ov_status_e st = ov_infer_request_infer(c->requests[0]);
        if (st != OK) return st;
    }
    return 0;
}

/* n inferences over all jobs, round robin: wait on the oldest, restart it (the C loop the job pool is
 * measured against). */
int ceiling_round_robin(ceiling_t* c, int64_t n) {
    int64_t started = 0;
    int jobs = c->jobs;
    for (int i = 0; i < jobs && started < n; i++, started++)
        if (ov_infer_request_start_async(c->requests[i]) != OK) return -1;
    for (int64_t k = 0; k < n; k++) {
        ov_infer_request_t* r = c->requests[k % jobs];
        ov_status_e st = ov_infer_request_wait(r);
        if (st != OK) return st;
        if (started < n) {
            if (ov_infer_request_start_async(r) != OK) return -1;
            started++;
        }
    }
    return 0;
}

/* n inferences on video frames, round robin over all jobs as ovfastinfer runs them: before each start the
 * next of n_frames frames (frame_bytes each, back to back) is copied into input 0, and after each run every
 * output is copied out (ovfastinfer copies its outputs into the frame's metadata). */
int ceiling_frames(ceiling_t* c, int64_t n, const uint8_t* frames, size_t frame_bytes, int64_t n_frames) {
    int jobs = c->jobs;
    size_t n_out = 0;
    ov_compiled_model_outputs_size(c->compiled, &n_out);
    static uint8_t scratch[1 << 20];
    int64_t started = 0;
    for (int64_t k = 0; k < n + jobs; k++) {
        ov_infer_request_t* r = c->requests[k % jobs];
        if (k >= jobs) {                       /* collect the run started jobs steps ago */
            if (k - jobs >= n) continue;
            ov_status_e st = ov_infer_request_wait(r);
            if (st != OK) return st;
            for (size_t o = 0; o < n_out; o++) {
                ov_tensor_t* t = NULL;
                void* data = NULL;
                size_t bytes = 0;
                if (ov_infer_request_get_output_tensor_by_index(r, o, &t) != OK) return -1;
                ov_tensor_data(t, &data);
                ov_tensor_get_byte_size(t, &bytes);
                memcpy(scratch, data, bytes < sizeof(scratch) ? bytes : sizeof(scratch));
                ov_tensor_free(t);
            }
        }
        if (started < n) {
            ov_tensor_t* in = NULL;
            void* data = NULL;
            if (ov_infer_request_get_input_tensor_by_index(r, 0, &in) != OK) return -1;
            ov_tensor_data(in, &data);
            memcpy(data, frames + (size_t)(started % n_frames) * frame_bytes, frame_bytes);
            ov_tensor_free(in);
            if (ov_infer_request_start_async(r) != OK) return -1;
            started++;
        }
    }
    return 0;
}
