// What the C API does not offer, done against OpenVINO's C++ objects behind the C handles.
//
// The C API's handles are structs holding one std::shared_ptr to the C++ object (src/bindings/c/src/
// common.h). We mirror that layout for the two handles we open, and we only ever free what we made here
// with our own functions, so nothing depends on the library deleting a struct we allocated.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "openvino/c/openvino.h"
#include "openvino/core/model.hpp"
#include "openvino/core/node_output.hpp"
#include "openvino/runtime/infer_request.hpp"

struct ov_model {
    std::shared_ptr<ov::Model> object;
};

struct ov_output_const_port {
    std::shared_ptr<ov::Output<const ov::Node>> object;
};

struct ov_infer_request {
    std::shared_ptr<ov::InferRequest> object;
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

// Takes the completion callback off an idle request (the C API can only replace it). A request with no
// callback costs OpenVINO's callback thread nothing per run: measured in C on the add model, 16 jobs round
// robin, an empty callback alone costs 2-6% of the rate. false if OpenVINO refused (the request is busy).
static inline bool ovf_request_drop_callback(ov_infer_request_t* request) noexcept {
    try {
        request->object->set_callback({});
        return true;
    } catch (...) {
        return false;
    }
}

static inline int64_t ovf_now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Per-request completion state. OpenVINO keeps the pointer to `cb`, so this struct lives exactly as long
// as the request. `settled` counts runs whose whole completion (our C callback and, if set, the Python
// callback) is over: wait() returns only then, and the request is freed only then, because OpenVINO marks
// a request idle before its callback has run.
struct ovf_request_state {
    ov_callback_t cb;
    std::atomic<uint64_t> started{0};
    std::atomic<uint64_t> settled{0};
    std::atomic<bool> python_callback{false};
    int64_t t_start_ns = 0;
    std::atomic<int64_t> t_end_ns{0};  // read by latency while a run may be completing
    void* owner = nullptr;  // the Python InferRequest; only the callback pump touches it, with the GIL
    // The ovf_pool when the request is a job of a live AsyncInferQueue (holding a reference to it); null
    // for a plain request and once the queue is gone. Changed only while the job is idle.
    void* pool = nullptr;
    int job_id = -1;
    // The job's taker keeps it when it finishes (imap: no one may start it before its result is read).
    std::atomic<bool> held{false};
    std::mutex m;
    std::condition_variable cv;

    // Notifies under the lock: a waiter may free this state as soon as it sees the count.
    void settle() noexcept {
        std::lock_guard<std::mutex> lock(m);
        settled.fetch_add(1, std::memory_order_release);
        cv.notify_all();
    }
    bool is_settled() const noexcept {
        return settled.load(std::memory_order_acquire) == started.load(std::memory_order_acquire);
    }
    // Waits up to timeout_ms (negative: no limit) for every started run to settle.
    bool wait_settled(int64_t timeout_ms) noexcept {
        std::unique_lock<std::mutex> lock(m);
        auto done = [this] { return is_settled(); };
        if (timeout_ms < 0) {
            cv.wait(lock, done);
            return true;
        }
        return cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), done);
    }
};

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

static ovf_callback_pump ovf_pump;

struct ovf_pool;
static void ovf_pool_job_done(ovf_pool* p, ovf_request_state* s) noexcept;

static void ovf_on_request_done(void* args) noexcept {
    auto* s = static_cast<ovf_request_state*>(args);
    s->t_end_ns = ovf_now_ns();
    if (s->pool) {
        ovf_pool_job_done(static_cast<ovf_pool*>(s->pool), s);
        return;
    }
    if (s->python_callback.load(std::memory_order_acquire))
        ovf_pump.push(s);
    else
        s->settle();
}

static inline ovf_request_state* ovf_request_state_new() {
    auto* s = new ovf_request_state();
    s->cb.callback_func = ovf_on_request_done;
    s->cb.args = s;
    return s;
}

static void ovf_pool_forget_job(ovf_pool* p, ovf_request_state* s) noexcept;

static inline void ovf_request_state_free(ovf_request_state* s) noexcept {
    if (s->pool)
        ovf_pool_forget_job(static_cast<ovf_pool*>(s->pool), s);
    delete s;
}

static inline void ovf_pump_pop_all(std::vector<ovf_request_state*>& out, int64_t timeout_ms) noexcept {
    ovf_pump.pop_all(out, timeout_ms);
}

// The job pool of an AsyncInferQueue. OpenVINO's callback thread hands a finished job back here without
// the GIL: straight to `idle` when no Python callback is set, else to `done`, where the queue's dispatcher
// thread picks up whole batches, runs their Python callbacks under one GIL acquisition, then releases them
// to `idle`. The dispatcher is woken only when half the pool is done or nothing else is in flight (or a
// submitter needs a job), so callbacks cost one wake-up per batch, not one per request.
struct ovf_pool {
    // Owners: the queue's handle and each job's state, so a job that outlives its queue never points at
    // freed memory (its completion would write into it).
    std::atomic<int> refs{1};
    bool python_callbacks = false;  // the queue has a Python callback: finished jobs go through `done`
    std::mutex m;
    std::condition_variable idle_cv;
    std::condition_variable done_cv;
    std::deque<int> idle;
    std::vector<int> done;
    std::vector<ovf_request_state*> jobs;
    int in_flight = 0;
    int waiters = 0;
    bool dispatcher_sleeping = false;
    bool kicked = false;

    bool done_is_due() const noexcept {
        size_t d = done.size();
        return d > 0 && (kicked || 2 * d >= jobs.size() || (int)d == in_flight);
    }
    // Waiters are woken once a quarter of the pool is idle (or none is in flight), not per completion:
    // the rest keeps the device busy meanwhile, and a submitter then starts several jobs per wake-up.
    bool idle_is_due() const noexcept { return in_flight == 0 || 4 * idle.size() >= jobs.size(); }
    void kick() noexcept {  // a caller needs jobs that wait for their Python callbacks
        if (!done.empty()) {
            kicked = true;
            done_cv.notify_one();
        }
    }
};

static void ovf_pool_job_done(ovf_pool* p, ovf_request_state* s) noexcept {
    if (s->held.load(std::memory_order_acquire)) {  // still its taker's: settle only
        s->settle();
        return;
    }
    if (s->python_callback.load(std::memory_order_acquire)) {
        std::lock_guard<std::mutex> lock(p->m);
        p->done.push_back(s->job_id);
        if (p->dispatcher_sleeping && p->done_is_due())
            p->done_cv.notify_one();
        return;
    }
    s->settle();
    std::lock_guard<std::mutex> lock(p->m);
    p->idle.push_back(s->job_id);
    p->in_flight--;
    if (p->waiters && p->idle_is_due())
        p->idle_cv.notify_all();
}

static inline ovf_pool* ovf_pool_new() { return new ovf_pool(); }

static inline void ovf_pool_unref(ovf_pool* p) noexcept {
    if (p->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
        delete p;
}

static inline void ovf_pool_add_job(ovf_pool* p, ovf_request_state* s) {
    p->jobs.push_back(s);
    p->refs.fetch_add(1, std::memory_order_relaxed);
    s->pool = p;
    s->job_id = (int)p->jobs.size() - 1;
    p->idle.push_back(s->job_id);
}

// A job's state is being freed (its request is idle and settled).
static void ovf_pool_forget_job(ovf_pool* p, ovf_request_state* s) noexcept {
    {
        std::lock_guard<std::mutex> lock(p->m);
        p->jobs[s->job_id] = nullptr;
    }
    s->pool = nullptr;
    ovf_pool_unref(p);
}

// The queue is gone and every job is idle: the jobs that live on become plain requests.
static void ovf_pool_detach(ovf_pool* p) noexcept {
    std::vector<ovf_request_state*> jobs;
    {
        std::lock_guard<std::mutex> lock(p->m);
        jobs.swap(p->jobs);
        p->idle.clear();
    }
    for (auto* s : jobs) {
        if (!s)
            continue;
        s->pool = nullptr;
        s->job_id = -1;
        ovf_pool_unref(p);
    }
}

// Waits on idle_cv, up to timeout_ms in all, until ready() holds (checked under the lock); kicks the
// dispatcher first, since the jobs waited for may be held by their Python callbacks. ready() at the end.
template <class Ready>
static bool ovf_pool_wait_idle(ovf_pool* p, std::unique_lock<std::mutex>& lock, int64_t timeout_ms,
                               Ready ready) noexcept {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!ready()) {
        p->kick();
        p->waiters++;
        auto st = p->idle_cv.wait_until(lock, deadline);
        p->waiters--;
        if (st == std::cv_status::timeout)
            return ready();
    }
    return true;
}

// Takes an idle job (a given one when want >= 0); -1 when none came within timeout_ms. With take=false
// the job stays idle: the first idle job is the one the next acquire(-1) takes, which is how
// get_idle_request_id() names the job that the next start_async() starts.
static int ovf_pool_acquire(ovf_pool* p, int want, int64_t timeout_ms, bool take = true) noexcept {
    std::unique_lock<std::mutex> lock(p->m);
    auto it = p->idle.end();
    auto found = [p, want, &it] {
        it = want < 0 ? p->idle.begin() : std::find(p->idle.begin(), p->idle.end(), want);
        return it != p->idle.end();
    };
    if (!ovf_pool_wait_idle(p, lock, timeout_ms, found))
        return -1;
    int id = *it;
    if (take) {
        p->idle.erase(it);
        p->in_flight++;
    }
    return id;
}

// Takes every job of the pool, waiting up to timeout_ms in all for the busy ones; false (having taken
// none) if they did not all come. For map(), which drives every job itself.
static bool ovf_pool_acquire_every(ovf_pool* p, int64_t timeout_ms) noexcept {
    std::unique_lock<std::mutex> lock(p->m);
    if (!ovf_pool_wait_idle(p, lock, timeout_ms, [p] { return p->idle.size() == p->jobs.size(); }))
        return false;
    p->idle.clear();
    p->in_flight = (int)p->jobs.size();
    return true;
}

// Gives back jobs: ones that never started (settle=false), or ones whose Python callbacks have run.
static void ovf_pool_release(ovf_pool* p, const std::vector<int>& ids, bool settle) noexcept {
    if (settle)
        for (int id : ids) p->jobs[id]->settle();
    for (int id : ids) p->jobs[id]->held.store(false, std::memory_order_release);
    std::lock_guard<std::mutex> lock(p->m);
    for (int id : ids) p->idle.push_back(id);
    p->in_flight -= (int)ids.size();
    if (p->waiters)
        p->idle_cv.notify_all();
}

// The dispatcher's wait: moves every due completion into out (empty after timeout_ms).
static void ovf_pool_take_done(ovf_pool* p, std::vector<int>& out, int64_t timeout_ms) noexcept {
    std::unique_lock<std::mutex> lock(p->m);
    p->dispatcher_sleeping = true;
    p->done_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [p] { return p->done_is_due(); });
    p->dispatcher_sleeping = false;
    p->kicked = false;
    out.assign(p->done.begin(), p->done.end());
    p->done.clear();
}

// Waits up to timeout_ms for every job to be idle.
static bool ovf_pool_wait_all(ovf_pool* p, int64_t timeout_ms) noexcept {
    std::unique_lock<std::mutex> lock(p->m);
    return ovf_pool_wait_idle(p, lock, timeout_ms, [p] { return p->in_flight == 0; });
}

static int ovf_pool_peek_idle(ovf_pool* p) noexcept {
    std::lock_guard<std::mutex> lock(p->m);
    return p->idle.empty() ? -1 : p->idle.front();
}
