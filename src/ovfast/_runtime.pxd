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
    cdef tuple _node_facts      # its graph node as text: type, friendly name, feed, rt_info (_port_nodes.py)
    cdef object _node           # that node as an openvino node, made on first use


cdef class OVDict:
    cdef tuple _ports
    cdef list _values
    cdef dict _names
    cdef Py_ssize_t _index(self, object key) except -1


cdef class _InputSlots:
    cdef ovf_request_state* s   # borrowed from the InferRequest: the request and our own input tensors
    cdef tuple ports
    cdef Py_ssize_t n
    cdef list held              # per input: the Tensor the request reads (a list: a batch), when not our own
    cdef int setup(self, ovf_request_state* s, tuple ports) except -1
    cdef int set_tensor(self, Py_ssize_t i, Tensor t) except -1
    cdef int set_string(self, Py_ssize_t i, ConstOutput port, object value) except -1
    cdef int set_value(self, Py_ssize_t i, object value, bint share) except -1
    cdef object own_view(self, Py_ssize_t i, ConstOutput port)
    cdef int set_dynamic(self, Py_ssize_t i, ConstOutput port, cnp.ndarray arr, bint share) except -1
    cdef cnp.ndarray convert(self, ConstOutput port, cnp.ndarray arr)
    cdef int shape_error(self, ConstOutput port, cnp.ndarray arr) except -1


cdef class _CallbackErrors:
    cdef object error
    cdef bint urgent
    cdef void run(self, object fn, tuple args) noexcept
    cdef void keep(self, object e) noexcept
    cdef int raise_kept(self) except -1
    cdef int raise_urgent(self) except -1


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
    cdef int _cache_output(self, Py_ssize_t j) except -1
    cdef bint _busy
    cdef object _userdata
    cdef object _callback
    cdef _CallbackErrors _errors
    cdef int _check_idle(self) except -1
    cdef int _take(self) except -1
    cdef _give_back(self, bint to_pool)
    cdef _set_tensor_at(self, bint is_input, Py_ssize_t i, object tensor)
    cdef _set_batch(self, Py_ssize_t i, object tensors)
    cdef tuple _locate(self, object key)
    cdef Tensor _tensor_at(self, bint is_input, Py_ssize_t i)
    cdef OVDict _results(self, bint share, bint decode=*)
    cpdef OVDict infer(self, inputs=*, bint share_inputs=*, bint share_outputs=*, decode_strings=*)
    cdef bint _wait(self, int64_t timeout_ms) except -1


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
    cdef _CallbackErrors _errors
    cdef object _dispatcher
    cdef dict _imap_held         # thread ident -> jobs its running imap()s hold
    cdef object _aio             # infer_async's side (aio.pxi), made on first use
    cdef object _delivering      # the thread ident running this queue's callbacks, or None
    cdef object __weakref__
    cdef _run_callbacks(self, vector[int]& batch)
    cdef _deliver_here(self, vector[int]& batch)
    cdef int _acquire(self, int want, bint take=*) except -1
    cdef int _acquire_delivering(self) except -1
    cdef int _refuse_waiting_for_all(self, str what) except -1
    cdef int _refuse_blocking_the_loop(self, str what) except -1
    cdef _reap_async(self)
    cdef _give_back(self, int id)
    cdef int _check_job(self, int id) except -1
    cdef int _fill(self, int id, object inputs, bint share_inputs) except -1
    cdef int _start(self, int id, int holder, bint keep=*) except -1
    cdef object _bridge(self, object loop)


# For peers that run a model's jobs themselves (ovfast.DynamicBatcher): one item's checked input arrays,
# and the OVDict its results make.
cdef list item_arrays(CompiledModel compiled, object inputs)
cdef OVDict result_of(CompiledModel compiled, list values)
