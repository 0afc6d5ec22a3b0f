// What the C API does not offer, done against OpenVINO's C++ objects behind the C handles.
//
// The C API's handles are structs holding one std::shared_ptr to the C++ object (src/bindings/c/src/
// common.h). We mirror that layout to reach those objects. The one handle we allocate (a model joined from
// openvino's Python object) we also free; every other handle is made and freed by the C API, so nothing
// depends on the library deleting a struct we allocated.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "openvino/c/openvino.h"
#include "_pool.hpp"
#include "openvino/core/model.hpp"
#include "openvino/core/node_output.hpp"
#include "openvino/runtime/compiled_model.hpp"
#include "openvino/runtime/core.hpp"
#include "openvino/runtime/exception.hpp"
#include "openvino/runtime/infer_request.hpp"
#include "openvino/runtime/tensor.hpp"
#include "openvino/runtime/variable_state.hpp"

struct ov_core {
    std::shared_ptr<ov::Core> object;
};

struct ov_model {
    std::shared_ptr<ov::Model> object;
};

struct ov_compiled_model {
    std::shared_ptr<ov::CompiledModel> object;
};

struct ov_output_const_port {
    std::shared_ptr<ov::Output<const ov::Node>> object;
};

struct ov_infer_request {
    std::shared_ptr<ov::InferRequest> object;
};

struct ov_tensor {
    std::shared_ptr<ov::Tensor> object;
};

// openvino.Model._get_raw_address() is the ov::Model* that pybind11 holds in a shared_ptr; Model derives
// from enable_shared_from_this, so we can join that ownership instead of serialising the graph.
static inline ov_model_t* ovf_model_from_address(uintptr_t address) noexcept {
    try {
        auto* raw = reinterpret_cast<ov::Model*>(address);
        return new ov_model{raw->shared_from_this()};
    } catch (...) {
        return nullptr;
    }
}

static inline void ovf_model_release(ov_model_t* model) noexcept {
    delete model;
}

// Every tensor name of a port, in OpenVINO's own order (so reprs match openvino's); the C API only
// gives one ("any") name.
static inline std::vector<std::string> ovf_port_names(const ov_output_const_port_t* port) {
    std::vector<std::string> names;
    if (port && port->object) {
        for (const auto& n : port->object->get_names())
            names.push_back(n);
    }
    return names;
}

// The port's output index on its node (what openvino's ConstOutput.index means; 0 for a Parameter).
static inline size_t ovf_port_node_index(const ov_output_const_port_t* port) noexcept {
    return (port && port->object) ? port->object->get_index() : 0;
}

// The graph node behind a compiled model's port (a Parameter, or a Result fed by a stand-in Parameter that
// carries the producer's name), described for ovfast to rebuild it as an openvino node: its type name, its
// friendly name, then the friendly name and tensor names of the output feeding it (none for a Parameter).
static inline std::vector<std::string> ovf_port_node_names(const ov_output_const_port_t* port) {
    const ov::Node* node = port->object->get_node();
    std::vector<std::string> names{node->get_type_name(), node->get_friendly_name()};
    if (node->get_input_size() > 0) {
        names.push_back(node->get_input_node_ptr(0)->get_friendly_name());
        for (const auto& n : node->input_value(0).get_names())
            names.push_back(n);
    }
    return names;
}

// The runtime info of the port (of_node false) or of its node, as (key, text) pairs; values that have no
// text form are left out.
static inline std::vector<std::pair<std::string, std::string>> ovf_port_rt_info(const ov_output_const_port_t* port,
                                                                             bool of_node) {
    const ov::Output<const ov::Node>& out = *port->object;
    const ov::RTMap& map = of_node ? out.get_node()->get_rt_info() : out.get_rt_info();
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const auto& item : map) {
        try {
            pairs.emplace_back(item.first, item.second.as<std::string>());
        } catch (...) {
        }
    }
    return pairs;
}

// Not in the C API: a Core letting go of its plugin for a device, and a compiled model freeing the memory
// it keeps between inferences. OpenVINO's errors are thrown for Cython's `except +`.
static inline void ovf_core_unload_plugin(ov_core_t* core, const std::string& device) {
    core->object->unload_plugin(device);
}

static inline void ovf_compiled_model_release_memory(ov_compiled_model_t* model) {
    model->object->release_memory();
}

// String tensors: the C API makes them (ov_tensor_create with the string type) but has no getter, and
// its setter takes NUL-terminated strings; these read and write the std::string elements directly.
static inline std::vector<std::string> ovf_tensor_strings(const ov_tensor_t* tensor) {
    const ov::Tensor& t = *tensor->object;
    if (t.get_element_type() != ov::element::string)
        throw std::runtime_error("the tensor is of type " + t.get_element_type().get_type_name() + ", not string");
    const std::string* data = t.data<const std::string>();
    return std::vector<std::string>(data, data + t.get_size());
}

static inline void ovf_tensor_set_strings(ov_tensor_t* tensor, const std::vector<std::string>& values) {
    ov::Tensor& t = *tensor->object;
    if (t.get_element_type() != ov::element::string)
        throw std::runtime_error("the tensor is of type " + t.get_element_type().get_type_name() + ", not string");
    if (values.size() != t.get_size())
        throw std::runtime_error("the tensor holds " + std::to_string(t.get_size()) + " strings, got " +
                                 std::to_string(values.size()));
    std::string* data = t.data<std::string>();
    for (size_t i = 0; i < values.size(); i++)
        data[i] = values[i];
}

// A batch of tensors for one input, one per item of the batch (openvino's set_input_tensors(list)); the C
// API has no such call. index < 0: the model's only input. OpenVINO checks the count, shapes and types,
// and throws for Cython's `except +`.
static inline void ovf_set_input_tensors(ov_infer_request_t* request, int64_t index,
                                         const std::vector<ov_tensor_t*>& tensors) {
    std::vector<ov::Tensor> items;
    for (auto* t : tensors)
        items.push_back(*t->object);
    if (index < 0)
        request->object->set_input_tensors(items);
    else
        request->object->set_input_tensors(static_cast<size_t>(index), items);
}

// Variable state (ReadValue/Assign): not in the C API, reached through the request's ov::InferRequest.
// Errors (no such state, a tensor of the wrong shape) are thrown for Cython's `except +`.
static inline std::vector<std::string> ovf_state_names(ov_infer_request_t* request) {
    std::vector<std::string> names;
    for (auto& state : request->object->query_state())
        names.push_back(state.get_name());
    return names;
}

static inline ov::VariableState ovf_state(ov_infer_request_t* request, const std::string& name) {
    for (auto& state : request->object->query_state())
        if (state.get_name() == name)
            return state;
    throw std::runtime_error("the request has no variable state named '" + name + "'");
}

static inline void ovf_state_reset_all(ov_infer_request_t* request) { request->object->reset_state(); }

static inline void ovf_state_reset(ov_infer_request_t* request, const std::string& name) {
    ovf_state(request, name).reset();
}

// The state's tensor, sharing the plugin's memory as openvino's does. The handle is one the C API made (an
// empty tensor, then pointed at the state's), so ov_tensor_free frees it like every other handle.
static inline ov_tensor_t* ovf_state_get(ov_infer_request_t* request, const std::string& name) {
    auto state = std::make_shared<ov::Tensor>(ovf_state(request, name).get_state());
    int64_t zero = 0;
    ov_tensor_t* tensor = nullptr;
    if (ov_tensor_create(U8, ov_shape_t{1, &zero}, &tensor) != OK)
        throw std::runtime_error("OpenVINO could not make a tensor handle");
    tensor->object = std::move(state);
    return tensor;
}

static inline void ovf_state_set(ov_infer_request_t* request, const std::string& name, const ov_tensor_t* tensor) {
    ovf_state(request, name).set_state(*tensor->object);
}

// Takes the completion callback off an idle request (the C API can only replace it). A request with no
// callback costs OpenVINO's callback thread nothing per run (even an empty callback costs a small model a
// few percent of its rate). false if OpenVINO refused (the request is busy).
static inline bool ovf_request_drop_callback(ov_infer_request_t* request) noexcept {
    try {
        request->object->set_callback({});
        return true;
    } catch (...) {
        return false;
    }
}

// Completions that still owe a Python callback, handed from OpenVINO's callback thread to the one Python
// thread that runs them. The OpenVINO side never waits for Python.
class ovf_callback_pump {
public:
    void push(ovf_request_state* s) noexcept {
        {
            std::lock_guard<std::mutex> lock(m_);
            q_.push_back(s);
        }
        cv_.notify_one();
    }
    // Moves every queued completion into `out`; waits up to timeout_ms for the first one.
    void pop_all(std::vector<ovf_request_state*>& out, int64_t timeout_ms) noexcept {
        std::unique_lock<std::mutex> lock(m_);
        cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return !q_.empty(); });
        out.assign(q_.begin(), q_.end());
        q_.clear();
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<ovf_request_state*> q_;
};

// Never destroyed: at process exit OpenVINO's threads may still finish runs and push here after static
// destructors have run (a destroyed deque there corrupted the heap, 1 exit in 20 with requests in flight).
static ovf_callback_pump& ovf_pump = *new ovf_callback_pump();

// Every run's completion, on OpenVINO's callback thread: a job of a pool goes to its holder there; a
// plain request settles, or waits for its Python callback on the pump.
static void ovf_on_request_done(ovf_request_state* s) noexcept {
    s->t_end_ns.store(ovf_now_ns(), std::memory_order_release);
    s->finish();
    if (s->pool) {
        ovf_pool_job_done(static_cast<ovf_pool*>(s->pool), s);
        return;
    }
    if (s->holder.load(std::memory_order_acquire) == OVF_DIRECT_CALLBACK) {
        ovf_pump.push(s);
        return;
    }
    s->holder.store(OVF_IDLE, std::memory_order_release);
    s->settle();
}

// How a run ended, as the C API would report it.
static void ovf_record_run(ovf_request_state* s, std::exception_ptr e) noexcept {
    if (!e) {
        s->run_status = OK;
        return;
    }
    try {
        std::rethrow_exception(e);
    } catch (const ov::Busy& x) {
        s->run_status = REQUEST_BUSY;
        s->run_message = x.what();
    } catch (const ov::Cancelled& x) {
        s->run_status = INFER_CANCELLED;
        s->run_message = x.what();
    } catch (const std::exception& x) {
        s->run_status = GENERAL_ERROR;
        s->run_message = x.what();
    } catch (...) {
        s->run_status = UNKNOW_EXCEPTION;
        s->run_message = "unknown exception";
    }
}

// Installs our completion callback through the C++ object: unlike the C API's, it is told how the run
// ended. false if OpenVINO refused (the request is busy).
static inline bool ovf_request_set_callback(ov_infer_request_t* request, ovf_request_state* s) noexcept {
    try {
        request->object->set_callback([s](std::exception_ptr e) {
            ovf_record_run(s, e);
            ovf_on_request_done(s);
        });
        return true;
    } catch (...) {
        return false;
    }
}

static inline ovf_request_state* ovf_request_state_new() { return new ovf_request_state(); }

static inline void ovf_request_state_free(ovf_request_state* s) noexcept {
    if (s->pool)
        ovf_pool_forget_job(static_cast<ovf_pool*>(s->pool), s);
    delete s;
}

static inline void ovf_pump_pop_all(std::vector<ovf_request_state*>& out, int64_t timeout_ms) noexcept {
    ovf_pump.pop_all(out, timeout_ms);
}

// Live-object counts of a debug build (OVFAST_DEBUG_BUILD=1), for the tests' tear-down check; -1 otherwise.
static inline void ovf_count_tensor(int delta) noexcept { OVF_COUNT(ovf_live_tensors, delta); }
#ifdef OVFAST_DEBUG_BUILD
static inline long ovf_live_state_count() noexcept { return ovf_live_states.load(); }
static inline long ovf_live_pool_count() noexcept { return ovf_live_pools.load(); }
static inline long ovf_live_tensor_count() noexcept { return ovf_live_tensors.load(); }
#else
static inline long ovf_live_state_count() noexcept { return -1; }
static inline long ovf_live_pool_count() noexcept { return -1; }
static inline long ovf_live_tensor_count() noexcept { return -1; }
#endif

