# ovfast's runtime classes, for other extensions to cimport (see ovfast.get_include()).
from libc.stdint cimport int64_t
from libcpp.vector cimport vector
cimport numpy as cnp

from ovfast.includes.openvino_c cimport *
from ovfast.includes.bridge cimport ovf_pool, ovf_request_state


cdef class Tensor:
    cdef ov_tensor_t* ptr
    cdef ov_element_type_e ctype
    cdef object _owner          # what owns the memory of a shared tensor (kept while we live)
    cdef Py_ssize_t _exports    # numpy views of our data still alive
    cdef bint _bridge_handle    # ptr was made by _bridge.hpp (a variable state's tensor): freed there
    cdef void* data_ptr(self) except? NULL
    cdef size_t nbytes(self) except? 0
    cdef object view(self)


cdef class ConstOutput:
    cdef readonly Py_ssize_t idx    # position among the model's inputs or outputs
    cdef Py_ssize_t node_index     # output index on its node: openvino's `index`
    cdef readonly bint is_input
    cdef str _any_name
    cdef tuple _names
    cdef str _pshape_text
    cdef ov_element_type_e ctype
    cdef int npy                # numpy type number of its arrays, -1 if none
    cdef bint dynamic
    cdef Py_ssize_t rank        # -1 for a dynamic rank
    cdef tuple dims             # static shape, () if dynamic
    cdef Py_ssize_t size
    cdef size_t nbytes


cdef class OVDict:
    cdef tuple _ports
    cdef list _values
    cdef dict _names
    cdef Py_ssize_t _index(self, object key) except -1


cdef class _InputSlots:
    cdef ov_infer_request_t* req
    cdef tuple ports
    cdef Py_ssize_t n
    cdef list held              # per input: the Tensor/array the request reads, when not our own
    cdef ov_tensor_t** own      # per static input: the tensor we copy small inputs into
    cdef void** own_data
    cdef bint* own_set          # the request currently reads own[i]
    cdef int setup(self, ov_infer_request_t* req, tuple ports) except -1
    cdef int set_tensor(self, Py_ssize_t i, Tensor t) except -1
    cdef int set_string(self, Py_ssize_t i, ConstOutput port, object value) except -1
    cdef int set_value(self, Py_ssize_t i, object value, bint share) except -1
    cdef object own_view(self, Py_ssize_t i, ConstOutput port)
    cdef int set_dynamic(self, Py_ssize_t i, ConstOutput port, cnp.ndarray arr, bint share) except -1
    cdef cnp.ndarray convert(self, ConstOutput port, cnp.ndarray arr)
    cdef int shape_error(self, ConstOutput port, cnp.ndarray arr) except -1


cdef class CompiledModel:
    cdef ov_compiled_model_t* ptr
    cdef object core
    cdef tuple _inputs
    cdef tuple _outputs
    cdef dict _in_names
    cdef dict _out_names
    cdef list _idle_requests     # requests of __call__/infer_new_request not in use by any thread
    cdef bint cache_outputs     # output tensors of a request stay put (plain CPU): read them without lookup
    cdef int _read_ports(self) except -1
    cpdef InferRequest create_infer_request(self)
    cdef OVDict _infer_pooled(self, inputs, bint share_inputs, bint share_outputs, bint decode=*)
    cdef InferRequest _call_request(self)


cdef class InferRequest:
    cdef ov_infer_request_t* req
    cdef ovf_request_state* state
    cdef CompiledModel cm
    cdef _InputSlots inputs
    cdef list held_outputs
    cdef Py_ssize_t n_outputs      # len(cm._outputs), kept in C: __dealloc__ may see Python fields cleared
    cdef ov_tensor_t** out_cache   # per static output, when cm.cache_outputs: the request's tensor
    cdef void** out_data
    cdef int _cache_output(self, Py_ssize_t j) except -1
    cdef bint _busy
    cdef bint _async_ran
    cdef int64_t _latency_ns
    cdef object _userdata
    cdef object _callback
    cdef object _callback_error
    cdef int _check_idle(self) except -1
    cdef int _take(self) except -1
    cdef _give_back(self, bint to_pool)
    cdef _set_tensor_at(self, bint is_input, Py_ssize_t i, object tensor)
    cdef object _single(self, str what)
    cdef tuple _locate(self, object key)
    cdef Tensor _tensor_at(self, bint is_input, Py_ssize_t i)
    cdef OVDict _results(self, bint share, bint decode=*)
    cpdef OVDict infer(self, inputs=*, bint share_inputs=*, bint share_outputs=*, decode_strings=*)
    cdef bint _wait(self, int64_t timeout_ms) except -1
    cdef _drain_after_error(self)
    cdef _raise_callback_error(self)
    cdef _deliver(self)


cdef class Core:
    cdef ov_core_t* ptr
    cdef object _ov_core
    cdef str _config_file
    cdef ov_model_t* _model_from_ir_bytes(self, bytes xml, object weights=*) except NULL
    cdef object _openvino_core(self)


cdef class _PoolHandle:
    cdef ovf_pool* pool
    cdef bint closing


cdef class AsyncInferQueue:
    cdef _PoolHandle h
    cdef CompiledModel cm
    cdef list _jobs
    cdef list _userdata
    cdef object _callback
    cdef object _callback_error
    cdef object _dispatcher
    cdef dict _imap_held         # thread ident -> jobs its running imap()s hold
    cdef object _aloop           # the event loop infer_async/aimap deliver to (one per queue at a time)
    cdef list _afutures          # per job: the future of its infer_async run, or None
    cdef object _afifo           # (future, inputs, userdata, share_inputs) of infer_async calls queued for a job
    cdef Py_ssize_t _async_wakeups, _async_completions
    cdef object _poke            # the timer that looks for jobs freed by other paths while calls are queued
    cdef object __weakref__
    cdef _deliver(self, vector[int]& batch)
    cdef _raise_pending(self)
    cdef int _acquire(self, int want, bint take=*) except -1
    cdef int _refuse_waiting_for_all(self, str what) except -1
    cdef _give_back(self, int id)
    cdef int _check_job(self, int id) except -1
    cdef int _fill(self, int id, object inputs, bint share_inputs) except -1
    cdef int _start(self, int id, bint python_callback, bint held=*) except -1
    cdef _take_every_job(self)
    cdef OVDict _held_result(self, int id, Py_ssize_t index)
    cdef int _bind_loop(self, object loop) except -1
    cdef object _submit_async(self, object loop, object inputs, object userdata, bint share_inputs)
    cdef _async_deliver(self, vector[int]& batch)
    cdef _start_async_job(self, int id, object fut, object inputs, object userdata, bint share_inputs)
    cdef _start_queued(self)
    cdef _reap_async(self)
    cdef int _refuse_blocking_the_loop(self, str what) except -1
