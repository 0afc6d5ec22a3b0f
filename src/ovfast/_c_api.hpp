// ovfast's C-level API (ovfast/api.pxd) on the job pool: jobs taken, filled, started and handed back from
// C with no Python and no GIL. Every function returns a status (never throws); the message of the last
// failure on the calling thread stays readable through ovf_c_last_error() until that thread's next failure.
// Compiled into ovfast.api only: the message buffer below must exist once.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <limits>

#include "_pool.hpp"

// A tensor a C-API holder replaced on its job, put back when the job is handed back: the job's next user
// (Python or C) must find the tensors the job had, never memory the C caller may free after release.
struct ovf_saved_tensor {
    bool output;
    size_t index;
    ov_tensor_t* tensor;
    int own_set;  // inputs: what in_own_set[index] was
};

// The C API's hold on a job (job_acquire .. job_release): the job's FOREIGN data (ovf_request_state). Made
// at a job's first acquire and kept with its state, so taking and handing back a job allocates nothing.
struct ovf_c_hold {
    void (*done)(void*, int) = nullptr;
    void* ctx = nullptr;
    uint64_t runs = 0;              // runs started in this hold
    bool outputs_bound = false;     // an output was bound: out_data no longer names the request's memory
    std::atomic<bool> release_pending{false};  // released from its own completion function
    std::atomic<std::thread::id> done_thread{};  // the thread running `done`, while it runs
    std::vector<ovf_saved_tensor> saved;

    // The hold is over: our references to the replaced tensors go (the request holds its own again).
    void reset() noexcept {
        for (auto& sv : saved) ov_tensor_free(sv.tensor);
        saved.clear();
        done = nullptr;
        ctx = nullptr;
        runs = 0;
        outputs_bound = false;
        release_pending.store(false);
    }
    ~ovf_c_hold() { reset(); }
};

static inline ovf_c_hold* ovf_c_hold_of(ovf_request_state* s) noexcept { return static_cast<ovf_c_hold*>(s->foreign); }

static void ovf_c_hold_free(void* hold) noexcept { delete static_cast<ovf_c_hold*>(hold); }

// The statuses are api.pxd's enum ovfast_status (OVFAST_OK...), defined before this file is included.

static thread_local std::string ovf_c_message;

static int ovf_c_fail(int status, const char* fmt, ...) noexcept {
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    try {
        ovf_c_message = buf;
    } catch (...) {
    }
    return status;
}

static int ovf_c_openvino_fail(ov_status_e st, int job, const char* what) noexcept {
    std::string msg;
    ovf_openvino_message(st, msg);
    return ovf_c_fail(OVFAST_FAILED, "job %d: %s failed (OpenVINO status %d): %s", job, what, (int)st, msg.c_str());
}

static const char* ovf_c_last_error() noexcept { return ovf_c_message.c_str(); }

// The state of job `job`, which the caller must hold through this API; null with *status set otherwise.
static ovf_request_state* ovf_c_job(ovf_pool* p, int job, int* status) noexcept {
    if (!p) {
        *status = ovf_c_fail(OVFAST_INVALID, "the pool is NULL");
        return nullptr;
    }
    if (p->closed.load(std::memory_order_acquire)) {
        *status = ovf_c_fail(OVFAST_CLOSED, "the pool's AsyncInferQueue is gone");
        return nullptr;
    }
    if (job < 0 || (size_t)job >= p->jobs.size()) {
        *status = ovf_c_fail(OVFAST_INVALID, "job %d out of range: the pool has %zu jobs (0..%zu)", job,
                             p->jobs.size(), p->jobs.size() ? p->jobs.size() - 1 : 0);
        return nullptr;
    }
    ovf_request_state* s = p->jobs[job];
    if (!s || s->holder.load(std::memory_order_acquire) != OVF_FOREIGN || s->foreign_free != ovf_c_hold_free ||
        ovf_c_hold_of(s)->release_pending.load()) {
        *status = ovf_c_fail(OVFAST_NOT_HELD, "job %d is not held through the C API: take one with job_acquire",
                             job);
        return nullptr;
    }
    return s;
}

static int ovf_c_not_running(ovf_request_state* s, int job, const char* what) noexcept {
    if (s->is_running())
        return ovf_c_fail(OVFAST_BUSY, "job %d is running: wait for it (job_wait) before %s", job, what);
    return OVFAST_OK;
}

// A held job whose port `index` (of its inputs or outputs) the caller is about to use while it is idle;
// null with *status set otherwise.
static ovf_request_state* ovf_c_port_job(ovf_pool* p, int job, bool output, size_t index, const char* doing,
                                         int* status) noexcept {
    ovf_request_state* s = ovf_c_job(p, job, status);
    if (!s)
        return nullptr;
    const char* what = output ? "output" : "input";
    size_t n = (output ? p->outputs : p->inputs).size();
    if (index >= n) {
        *status = ovf_c_fail(OVFAST_INVALID, "%s %zu out of range: the model has %zu %ss", what, index, n, what);
        return nullptr;
    }
    if ((*status = ovf_c_not_running(s, job, doing)) != OVFAST_OK)
        return nullptr;
    return s;
}

// Hands a job held by the C API back to the pool: the tensors it replaced go back, its runs are its own
// (the queue does not report them), and it is idle for whoever comes next.
static void ovf_c_release_now(ovf_pool* p, ovf_request_state* s) noexcept {
    ovf_c_hold* hold = ovf_c_hold_of(s);
    for (auto it = hold->saved.rbegin(); it != hold->saved.rend(); ++it) {
        if (it->output) {
            ov_infer_request_set_output_tensor_by_index(s->request, it->index, it->tensor);
        } else {
            ov_infer_request_set_input_tensor_by_index(s->request, it->index, it->tensor);
            s->in_own_set[it->index] = it->own_set;
        }
    }
    hold->reset();
    std::lock_guard<std::mutex> lock(p->m);
    s->checked = s->started.load();
    p->foreign--;
    p->release_locked(s->job_id, false);
    if (p->waiters)
        p->idle_cv.notify_all();
}

// A run of a held job is over (OpenVINO's callback thread): the holder's completion function, the
// hand-back it asked for from inside that function, then the settle (after which the queue may close the
// pool, so nothing here reads the state or the pool after it).
static void ovf_c_on_done(ovf_request_state* s) noexcept {
    ovf_c_hold* hold = ovf_c_hold_of(s);
    if (hold->done) {
        hold->done_thread.store(std::this_thread::get_id());
        hold->done(hold->ctx, s->job_id);
        hold->done_thread.store(std::thread::id());
    }
    if (hold->release_pending.exchange(false))
        ovf_c_release_now(static_cast<ovf_pool*>(s->pool), s);
    s->settle();
}

// Waits up to timeout_ms (negative: no limit) for an idle job and holds it.
static int ovf_c_acquire(ovf_pool* p, int64_t timeout_ms, int* job) noexcept {
    if (!p || !job)
        return ovf_c_fail(OVFAST_INVALID, p ? "job (the out pointer) is NULL" : "the pool is NULL");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
    int id = -1;
    for (;;) {
        if (p->closed.load(std::memory_order_acquire))
            return ovf_c_fail(OVFAST_CLOSED, "the pool's AsyncInferQueue is gone");
        int64_t wait_ms = 1000;
        if (timeout_ms >= 0) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            wait_ms = std::max<int64_t>(0, std::min<int64_t>(left.count(), 1000));
        }
        id = ovf_pool_acquire(p, -1, wait_ms, true);
        if (id >= 0)
            break;
        if (timeout_ms >= 0 && std::chrono::steady_clock::now() >= deadline)
            return ovf_c_fail(OVFAST_TIMEOUT, "no job of the pool became idle within %lld ms", (long long)timeout_ms);
    }
    ovf_request_state* s = p->jobs[id];
    if (s->foreign_free != ovf_c_hold_free) {  // the job's first hold through this API
        auto* hold = new (std::nothrow) ovf_c_hold();
        if (!hold) {
            ovf_pool_release(p, std::vector<int>{id}, false);
            return ovf_c_fail(OVFAST_FAILED, "job_acquire: out of memory");
        }
        s->foreign = hold;
        s->foreign_done = ovf_c_on_done;
        s->foreign_free = ovf_c_hold_free;
    }
    std::lock_guard<std::mutex> lock(p->m);  // the queue reads these fields under it (ovf_job_to_report)
    ovf_job_defer_report(s);
    s->holder.store(OVF_FOREIGN, std::memory_order_release);
    p->foreign++;
    *job = id;
    return OVFAST_OK;
}

// Replaces the job's tensor of a port for this hold, keeping the one it had (the first time) for release.
static int ovf_c_replace(ovf_request_state* s, bool output, size_t index, ov_tensor_t* t, int job) noexcept {
    ovf_c_hold* hold = ovf_c_hold_of(s);
    bool have = false;
    for (auto& sv : hold->saved)
        have = have || (sv.output == output && sv.index == index);
    if (!have) {
        ov_tensor_t* old = nullptr;
        ov_status_e st = output ? ov_infer_request_get_output_tensor_by_index(s->request, index, &old)
                                : ov_infer_request_get_input_tensor_by_index(s->request, index, &old);
        if (st != OK)
            return ovf_c_openvino_fail(st, job, "reading the tensor to replace");
        try {
            hold->saved.push_back(ovf_saved_tensor{output, index, old, output ? 0 : s->in_own_set[index]});
        } catch (...) {
            ov_tensor_free(old);
            return ovf_c_fail(OVFAST_FAILED, "job %d: out of memory", job);
        }
    }
    ov_status_e st = output ? ov_infer_request_set_output_tensor_by_index(s->request, index, t)
                            : ov_infer_request_set_input_tensor_by_index(s->request, index, t);
    if (st != OK)
        return ovf_c_openvino_fail(st, job, "binding the tensor");
    if (output)
        hold->outputs_bound = true;
    else
        s->in_own_set[index] = 0;
    return OVFAST_OK;
}

// Where to write input `index` of a held, idle job: ovfast's own tensor of that (static) input.
static int ovf_c_input(ovf_pool* p, int job, size_t index, void** data, size_t* nbytes) noexcept {
    int st;
    ovf_request_state* s = ovf_c_port_job(p, job, false, index, "writing its inputs", &st);
    if (!s)
        return st;
    if (!data)
        return ovf_c_fail(OVFAST_INVALID, "job_input: data (the out pointer) is NULL");
    if (!s->in_own[index])
        return ovf_c_fail(OVFAST_INVALID, "input %zu %s has no tensor of ovfast's own (dynamic or packed): bind "
                          "memory of the right size with job_bind", index, p->inputs[index].label.c_str());
    if (s->in_own_set[index] != 1) {
        if ((st = ovf_c_replace(s, false, index, s->in_own[index], job)) != OVFAST_OK)
            return st;
        s->in_own_set[index] = 1;
    }
    *data = s->in_own_data[index];
    if (nbytes)
        *nbytes = p->inputs[index].nbytes;
    return OVFAST_OK;
}

// Where output `index` of a held job's finished run is.
static int ovf_c_output(ovf_pool* p, int job, size_t index, void** data, size_t* nbytes) noexcept {
    int st;
    ovf_request_state* s = ovf_c_port_job(p, job, true, index, "reading its outputs", &st);
    if (!s)
        return st;
    if (!data)
        return ovf_c_fail(OVFAST_INVALID, "job_output: data (the out pointer) is NULL");
    if (!s->out_data.empty() && s->out_data[index] && !ovf_c_hold_of(s)->outputs_bound) {
        *data = s->out_data[index];
        if (nbytes)
            *nbytes = p->outputs[index].nbytes;
        return OVFAST_OK;
    }
    ov_tensor_t* t = nullptr;
    size_t size = 0;
    ov_status_e e = ov_infer_request_get_output_tensor_by_index(s->request, index, &t);
    if (e == OK)
        e = ov_tensor_data(t, data);
    if (e == OK)
        e = ov_tensor_get_byte_size(t, &size);
    if (t)
        ov_tensor_free(t);  // the request keeps the tensor (and its memory) alive
    if (e != OK)
        return ovf_c_openvino_fail(e, job, "reading an output");
    if (nbytes)
        *nbytes = size;
    return OVFAST_OK;
}

// Points port `index` of a held, idle job at the caller's memory (zero-copy) until the job is released.
static int ovf_c_bind(ovf_pool* p, int job, bool output, size_t index, void* data, size_t nbytes,
                      const int64_t* dims, size_t rank) noexcept {
    int st;
    ovf_request_state* s = ovf_c_port_job(p, job, output, index, "binding its tensors", &st);
    if (!s)
        return st;
    const char* what = output ? "output" : "input";
    const ovf_port_desc& d = (output ? p->outputs : p->inputs)[index];
    if (d.bits == 0)
        return ovf_c_fail(OVFAST_INVALID, "%s %zu %s cannot be bound to memory through the C API", what, index,
                          d.label.c_str());
    std::vector<int64_t> shape;
    if (!dims) {
        if (d.dynamic)
            return ovf_c_fail(OVFAST_INVALID, "%s %zu %s has a dynamic shape: pass its dims", what, index,
                              d.label.c_str());
        shape = d.dims;
    } else {
        if (rank > 64)
            return ovf_c_fail(OVFAST_INVALID, "%s %zu: rank %zu is too large", what, index, rank);
        shape.assign(dims, dims + rank);
        bool fits = d.rank < 0 || (int64_t)rank == d.rank;
        for (size_t k = 0; k < rank; k++)
            fits = fits && shape[k] >= 0 && (k >= d.dims.size() || d.dims[k] < 0 || shape[k] == d.dims[k]);
        if (!fits) {
            std::string got = "[";
            for (size_t k = 0; k < rank; k++) got += (k ? "," : "") + std::to_string(shape[k]);
            return ovf_c_fail(OVFAST_INVALID, "%s %zu %s cannot take the shape %s]", what, index, d.label.c_str(),
                              got.c_str());
        }
    }
    size_t count = 1;
    for (int64_t v : shape) {
        if (v != 0 && count > std::numeric_limits<size_t>::max() / 8 / (size_t)v)
            return ovf_c_fail(OVFAST_INVALID, "%s %zu: the shape is too large", what, index);
        count *= (size_t)v;
    }
    size_t need = (count * d.bits + 7) / 8;
    if (nbytes != need)
        return ovf_c_fail(OVFAST_INVALID, "%s %zu %s: the shape needs %zu bytes, got %zu", what, index,
                          d.label.c_str(), need, nbytes);
    if (!data && need)
        return ovf_c_fail(OVFAST_INVALID, "%s %zu %s: data is NULL", what, index, d.label.c_str());
    ov_shape_t shp;
    shp.rank = (int64_t)shape.size();
    shp.dims = shape.data();
    ov_tensor_t* t = nullptr;
    ov_status_e e = ov_tensor_create_from_host_ptr(d.type, shp, data, &t);
    if (e != OK)
        return ovf_c_openvino_fail(e, job, "making a tensor over the memory");
    st = ovf_c_replace(s, output, index, t, job);
    ov_tensor_free(t);  // the request holds its own reference
    return st;
}

// Starts a held, idle job; done(ctx, job) is called on OpenVINO's callback thread, without the GIL,
// when the run is over (it may read the outputs, refill the inputs and start the job again).
static int ovf_c_start(ovf_pool* p, int job, void (*done)(void*, int), void* ctx) noexcept {
    int st;
    ovf_request_state* s = ovf_c_job(p, job, &st);
    if (!s)
        return st;
    if ((st = ovf_c_not_running(s, job, "starting it again")) != OVFAST_OK)
        return st;
    ovf_c_hold* hold = ovf_c_hold_of(s);
    hold->done = done;
    hold->ctx = ctx;
    hold->runs++;
    ov_status_e e = ovf_job_start(s, OVF_FOREIGN);
    if (e != OK)
        return ovf_c_fail(OVFAST_FAILED, "job %d: start_async failed (OpenVINO status %d): %s", job, (int)e,
                          s->run_message.c_str());
    return OVFAST_OK;
}

// Runs a held, idle job's inference on the calling thread, as InferRequest.infer does (no completion
// function; its outputs are then read with job_output).
static int ovf_c_infer(ovf_pool* p, int job) noexcept {
    int st;
    ovf_request_state* s = ovf_c_job(p, job, &st);
    if (!s)
        return st;
    if ((st = ovf_c_not_running(s, job, "running it")) != OVFAST_OK)
        return st;
    ov_status_e e = ov_infer_request_infer(s->request);
    if (e != OK) {
        std::string message;
        ovf_openvino_message(e, message);
        return ovf_c_fail(OVFAST_FAILED, "job %d: the inference failed (OpenVINO status %d): %s", job, (int)e,
                          message.c_str());
    }
    return OVFAST_OK;
}

// Waits up to timeout_ms (negative: no limit) for a held job's run to end; its status.
static int ovf_c_wait(ovf_pool* p, int job, int64_t timeout_ms) noexcept {
    int st;
    ovf_request_state* s = ovf_c_job(p, job, &st);
    if (!s)
        return st;
    if (ovf_c_hold_of(s)->runs == 0)
        return ovf_c_fail(OVFAST_INVALID, "job %d has not been started since job_acquire", job);
    // Without a limit, OpenVINO's own wait (its promise is kept after our callback returns): one wake-up
    // from OpenVINO's thread instead of a second one from our callback.
    if (timeout_ms < 0 && s->is_running() && ovf_c_hold_of(s)->done_thread.load() != std::this_thread::get_id())
        ov_infer_request_wait(s->request);  // how the run ended is run_status; the wait's status says the same
    if (!s->wait_finished(timeout_ms))
        return ovf_c_fail(OVFAST_TIMEOUT, "job %d did not finish within %lld ms", job, (long long)timeout_ms);
    if (s->run_status != OK)
        return ovf_c_fail(OVFAST_FAILED, "job %d: the inference failed (OpenVINO status %d): %s", job,
                          s->run_status, s->run_message.c_str());
    return OVFAST_OK;
}

// Hands a held job back to the pool once its run (and completion function) is over. From the job's own
// completion function, the hand-back happens as that function returns.
static int ovf_c_release(ovf_pool* p, int job) noexcept {
    int st;
    ovf_request_state* s = ovf_c_job(p, job, &st);
    if (!s)
        return st;
    if (ovf_c_hold_of(s)->done_thread.load() == std::this_thread::get_id()) {
        ovf_c_hold_of(s)->release_pending.store(true);
        return OVFAST_OK;
    }
    s->wait_settled(-1);
    ovf_c_release_now(p, s);
    return OVFAST_OK;
}

// Waits up to timeout_ms (negative: no limit) until every run started through the C API on this pool
// is over, completion functions included.
static int ovf_c_wait_all(ovf_pool* p, int64_t timeout_ms) noexcept {
    if (!p)
        return ovf_c_fail(OVFAST_INVALID, "the pool is NULL");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
    std::vector<ovf_request_state*> jobs;
    {
        std::lock_guard<std::mutex> lock(p->m);
        jobs = p->jobs;
    }
    for (ovf_request_state* s : jobs) {
        if (!s || s->holder.load() != OVF_FOREIGN)
            continue;
        int64_t left = -1;
        if (timeout_ms >= 0)
            left = std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                            deadline - std::chrono::steady_clock::now()).count());
        if (!s->wait_settled(left))
            return ovf_c_fail(OVFAST_TIMEOUT, "job %d was still running after %lld ms", s->job_id,
                              (long long)timeout_ms);
    }
    return OVFAST_OK;
}

static int ovf_c_pool_size(ovf_pool* p, int* jobs, size_t* inputs, size_t* outputs) noexcept {
    if (!p)
        return ovf_c_fail(OVFAST_INVALID, "the pool is NULL");
    if (p->closed.load(std::memory_order_acquire))
        return ovf_c_fail(OVFAST_CLOSED, "the pool's AsyncInferQueue is gone");
    if (jobs)
        *jobs = (int)p->jobs.size();
    if (inputs)
        *inputs = p->inputs.size();
    if (outputs)
        *outputs = p->outputs.size();
    return OVFAST_OK;
}
