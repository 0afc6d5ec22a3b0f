# Declarations of ovfast/_bridge.hpp: what the C API lacks, done on the C++ objects behind its handles.
from libc.stdint cimport int64_t, uint64_t, uintptr_t
from libcpp cimport bool as cbool
from libcpp.pair cimport pair
from libcpp.string cimport string
from libcpp.vector cimport vector

from ovfast.includes.openvino_c cimport (ov_compiled_model_t, ov_core_t, ov_element_type_e, ov_infer_request_t,
                                        ov_model_t, ov_output_const_port_t, ov_status_e, ov_tensor_t)

cdef extern from "_bridge.hpp" nogil:
    ov_model_t* ovf_model_from_address(uintptr_t address)
    void ovf_model_release(ov_model_t* model)
    vector[string] ovf_port_names(const ov_output_const_port_t* port) except +
    size_t ovf_port_node_index(const ov_output_const_port_t* port)
    vector[string] ovf_port_node_names(const ov_output_const_port_t* port) except +
    vector[pair[string, string]] ovf_port_rt_info(const ov_output_const_port_t* port, cbool of_node) except +
    void ovf_core_unload_plugin(ov_core_t* core, const string& device) except +
    void ovf_compiled_model_release_memory(ov_compiled_model_t* model) except +
    int64_t ovf_now_ns()
    cbool ovf_request_drop_callback(ov_infer_request_t* request)
    vector[string] ovf_tensor_strings(const ov_tensor_t* tensor) except +
    void ovf_tensor_set_strings(ov_tensor_t* tensor, const vector[string]& values) except +
    void ovf_set_input_tensors(ov_infer_request_t* request, int64_t index, const vector[ov_tensor_t*]& tensors) except +
    vector[string] ovf_state_names(ov_infer_request_t* request) except +
    void ovf_state_reset_all(ov_infer_request_t* request) except +
    void ovf_state_reset(ov_infer_request_t* request, const string& name) except +
    ov_tensor_t* ovf_state_get(ov_infer_request_t* request, const string& name) except +
    void ovf_state_set(ov_infer_request_t* request, const string& name, const ov_tensor_t* tensor) except +

    cppclass atomic_u64 "std::atomic<uint64_t>":
        uint64_t load()
        uint64_t fetch_add(uint64_t)
    cppclass atomic_int "std::atomic<int>":
        int load()
        void store(int)

    # who holds a job (_pool.hpp)
    enum ovf_holder:
        OVF_IDLE, OVF_TAKEN, OVF_DIRECT, OVF_DIRECT_CALLBACK, OVF_QUEUE, OVF_QUEUE_CALLBACK, OVF_IMAP,
        OVF_ASYNCIO, OVF_MAP, OVF_FOREIGN
    cbool ovf_holder_keeps(int holder)
    enum ovf_report:
        OVF_REPORT_NOTHING, OVF_REPORT_FOREIGN, OVF_REPORT_DEFERRED, OVF_REPORT_WAIT

    cppclass ovf_request_state:
        atomic_u64 started
        atomic_int holder
        int64_t t_start_ns      # atomics, read by value
        int64_t t_end_ns
        void* pool
        int job_id
        uint64_t checked
        ov_infer_request_t* request
        vector[ov_tensor_t*] in_own
        vector[void*] in_own_data
        vector[int] in_own_set
        vector[ov_tensor_t*] out_cache
        vector[void*] out_data
        int run_status
        string run_message
        void settle()
        cbool is_settled()
        cbool is_running()
        cbool wait_settled(int64_t timeout_ms)
        cbool wait_finished(int64_t timeout_ms)

    ov_status_e ovf_job_start(ovf_request_state* s, int holder)
    ovf_request_state* ovf_request_state_new() except +
    cbool ovf_request_set_callback(ov_infer_request_t* request, ovf_request_state* s)
    void ovf_request_state_free(ovf_request_state* s)
    void ovf_pump_pop_all(vector[ovf_request_state*]& out, int64_t timeout_ms)

    cppclass ovf_pool:
        cbool python_callbacks
    ovf_pool* ovf_pool_new() except +
    void ovf_pool_unref(ovf_pool* p)
    void ovf_pool_abandon_job(ovf_pool* p, ovf_request_state* s)
    vector[int] ovf_pool_close(ovf_pool* p)
    void ovf_pool_ref(ovf_pool* p)
    void ovf_pool_add_job(ovf_pool* p, ovf_request_state* s) except +
    void ovf_pool_add_port(ovf_pool* p, cbool output, ov_element_type_e type, cbool dynamic, int64_t rank,
                           const vector[int64_t]& dims, size_t nbytes, size_t bits, const string& label) except +
    int ovf_pool_acquire(ovf_pool* p, int want, int64_t timeout_ms, cbool take)
    cbool ovf_pool_acquire_every(ovf_pool* p, int64_t timeout_ms)
    void ovf_pool_release(ovf_pool* p, const vector[int]& ids, cbool settle)
    void ovf_pool_take_done(ovf_pool* p, vector[int]& out, int64_t timeout_ms)
    void ovf_pool_delivered(ovf_pool* p, const vector[int]& ids)
    int ovf_pool_acquire_or_deliver(ovf_pool* p, int64_t timeout_ms, vector[int]& out)
    cbool ovf_pool_wait_all(ovf_pool* p, int64_t timeout_ms, cbool every_job)
    int ovf_pool_peek_idle(ovf_pool* p)
    int ovf_pool_async_fd(ovf_pool* p)
    void ovf_pool_async_take(ovf_pool* p, vector[int]& out)
    void ovf_pool_async_abandon(ovf_pool* p)
    ovf_report ovf_job_to_report(ovf_request_state* s, int* status, string* message)
    long ovf_live_state_count()
    long ovf_live_pool_count()
    long ovf_live_tensor_count()
    void ovf_count_tensor(int delta)


# ovfast/_altstack.h: a thread's alternate signal stack kept as ovfast found it across calls that may
# create or destroy an OpenVINO CPU plugin instance.
cdef extern from "_altstack.h" nogil:
    ctypedef struct ovf_altstack:
        pass
    void ovf_altstack_save(ovf_altstack* a)
    void ovf_altstack_restore(ovf_altstack* a)
    void ovf_altstack_check()
