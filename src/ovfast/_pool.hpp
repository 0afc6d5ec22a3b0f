// The job pool behind AsyncInferQueue and ovfast's C-level API: per-request completion state, and the
// pool's idle/done bookkeeping, all without the GIL. Included by both extensions (_runtime and api), so it
// holds no variables of its own: two copies of a static would silently diverge.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/eventfd.h>
#include <unistd.h>

#include "openvino/c/openvino.h"

static inline int64_t ovf_now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// A tensor a C-API holder replaced on its job, put back when the job is handed back: the job's next user
// (Python or C) must find the tensors the job had, never memory the C caller may free after release.
struct ovf_saved_tensor {
    bool output;
    size_t index;
    ov_tensor_t* tensor;
    int own_set;  // inputs: what _InputSlots.own_set[index] was
};

// Per-request completion state; the request's completion callback points at it, so this struct lives
// exactly as long as the request. `settled` counts runs whose whole completion (our C callback and, if set, the Python
// callback or C completion function) is over: wait() returns only then, and the request is freed only
// then, because OpenVINO marks a request idle before its callback has run.
struct ovf_request_state {
    std::atomic<uint64_t> started{0};
    std::atomic<uint64_t> finished{0};  // runs whose inference is over (callback entered, or start failed)
    std::atomic<uint64_t> settled{0};
    std::atomic<bool> python_callback{false};
    // How the last run ended (an ov_status_e), and OpenVINO's message if it failed: recorded before
    // `finished` moves, for completion functions, which cannot ask ov_infer_request_wait (OpenVINO
    // fulfils the request's promise only after its callback returns: waiting there never ends).
    int run_status = 0;
    std::string run_message;
    int64_t t_start_ns = 0;
    std::atomic<int64_t> t_end_ns{0};  // read by latency while a run may be completing
    void* owner = nullptr;  // the Python InferRequest; only the callback pump touches it, with the GIL
    // The ovf_pool when the request is a job of a live AsyncInferQueue (holding a reference to it); null
    // for a plain request and once the queue is gone. Changed only while the job is idle.
    void* pool = nullptr;
    int job_id = -1;
    // The job's taker keeps it when it finishes (imap, the C API): no one may start it before its taker
    // has read it and handed it back.
    std::atomic<bool> held{false};
    // Started by infer_async/aimap: when it settles it goes to its pool's event-loop list (async_ready).
    std::atomic<bool> async_job{false};
    // Runs whose status the queue has reported (the job's holder reads and writes it).
    uint64_t checked = 0;
    // A failed Python run not yet reported when the C API took the job: reported by the queue later.
    int deferred_status = 0;
    std::string deferred_message;

    // What the C API reads and writes without Python (set once by make_request; arrays owned by the
    // Python InferRequest, which outlives its state's use as a job).
    ov_infer_request_t* request = nullptr;
    ov_tensor_t** in_own = nullptr;  // per input: ovfast's own tensor, null for dynamic/packed inputs
    void** in_own_data = nullptr;
    int* in_own_set = nullptr;       // per input: the request reads in_own[i]
    void** out_data = nullptr;       // per static output: its data (null when outputs are not cached)

    // The C API's hold on the job (between job_acquire and job_release).
    std::atomic<bool> c_held{false};
    void (*c_done)(void*, int) = nullptr;
    void* c_ctx = nullptr;
    uint64_t c_runs = 0;            // runs started in this hold
    bool c_outputs_bound = false;   // an output was bound: out_data no longer names the request's memory
    std::atomic<bool> c_release_pending{false};  // released from its own completion function
    std::atomic<std::thread::id> c_done_thread{};  // the thread running c_done, while it runs
    std::vector<ovf_saved_tensor> saved;
    std::atomic<int> finish_waiters{0};

    std::mutex m;
    std::condition_variable cv;

    // Notifies under the lock: a waiter may free this state as soon as it sees the count.
    void settle() noexcept {
        std::lock_guard<std::mutex> lock(m);
        settled.fetch_add(1, std::memory_order_release);
        cv.notify_all();
    }
    void finish() noexcept {
        finished.fetch_add(1, std::memory_order_seq_cst);
        if (finish_waiters.load(std::memory_order_seq_cst) > 0) {
            std::lock_guard<std::mutex> lock(m);
            cv.notify_all();
        }
    }
    // A start that failed: the run is over at once.
    void abandon() noexcept {
        finish();
        settle();
    }
    bool is_settled() const noexcept {
        return settled.load(std::memory_order_acquire) == started.load(std::memory_order_acquire);
    }
    bool is_running() const noexcept {
        return finished.load(std::memory_order_acquire) != started.load(std::memory_order_acquire);
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
    // Waits up to timeout_ms (negative: no limit) for every started inference to end.
    bool wait_finished(int64_t timeout_ms) noexcept {
        finish_waiters.fetch_add(1, std::memory_order_seq_cst);
        bool ok = true;
        {
            std::unique_lock<std::mutex> lock(m);
            auto done = [this] { return !is_running(); };
            if (timeout_ms < 0)
                cv.wait(lock, done);
            else
                ok = cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), done);
        }
        finish_waiters.fetch_sub(1, std::memory_order_seq_cst);
        return ok;
    }
};

// One input or output of the pool's model, as the C API checks bound memory against it.
struct ovf_port_desc {
    ov_element_type_e type;
    bool dynamic;
    int64_t rank;                // -1: dynamic rank
    std::vector<int64_t> dims;   // the shape; -1 for a dynamic dimension (empty when the rank is dynamic)
    size_t nbytes;               // static ports
    size_t bits;                 // per element; 0: not bindable (string)
    std::string label;           // "'name' (f32[1,8])" for messages
};

// The job pool of an AsyncInferQueue. OpenVINO's callback thread hands a finished job back here without
// the GIL: straight to `idle` when no Python callback is set, else to `done`, where the queue's dispatcher
// thread picks up whole batches, runs their Python callbacks under one GIL acquisition, then releases them
// to `idle`. The dispatcher is woken only when half the pool is done or nothing else is in flight (or a
// submitter needs a job), so callbacks cost one wake-up per batch, not one per request. Jobs held by a
// taker (imap, the C API) are in flight for everyone else until handed back.
struct ovf_pool {
    // Owners: the queue's handle, each job's state, and each C-API user (api.queue_pool), so a job that
    // outlives its queue never points at freed memory (its completion would write into it).
    std::atomic<int> refs{1};
    std::atomic<bool> closed{false};  // the queue is gone: no more jobs
    bool python_callbacks = false;  // the queue has a Python callback: finished jobs go through `done`
    std::mutex m;
    std::condition_variable idle_cv;
    std::condition_variable done_cv;
    std::deque<int> idle;
    std::vector<int> done;
    std::vector<ovf_request_state*> jobs;
    std::vector<ovf_port_desc> inputs, outputs;
    // infer_async's completions, for the event loop that watches async_fd: one eventfd write per batch
    // (when the list goes from empty to not), whatever the number of completions in it.
    int async_fd = -1;
    std::vector<int> async_ready;
    bool async_signalled = false;
    int in_flight = 0;
    int c_held = 0;   // of in_flight: jobs the C API holds (Python's wait_all does not wait for them)
    int waiters = 0;
    bool dispatcher_sleeping = false;
    bool kicked = false;

    bool done_is_due() const noexcept {
        size_t d = done.size();
        return d > 0 && (kicked || 2 * d >= jobs.size() || (int)d == in_flight);
    }
    // Waiters are woken once a quarter of the pool is idle (or none is in flight), not per completion:
    // the rest keeps the device busy meanwhile, and a submitter then starts several jobs per wake-up.
    bool idle_is_due() const noexcept { return in_flight == c_held || 4 * idle.size() >= jobs.size(); }
    void kick() noexcept {  // a caller needs jobs that wait for their Python callbacks
        if (!done.empty()) {
            kicked = true;
            done_cv.notify_one();
        }
    }
    ~ovf_pool() {
        if (async_fd >= 0)
            close(async_fd);
    }
};

static void ovf_pool_async_push(ovf_pool* p, int id) noexcept {
    bool wake;
    {
        std::lock_guard<std::mutex> lock(p->m);
        p->async_ready.push_back(id);
        wake = !p->async_signalled;
        p->async_signalled = true;
    }
    if (wake) {
        uint64_t one = 1;
        ssize_t r = write(p->async_fd, &one, sizeof one);
        (void)r;  // a full counter (never, at 2^64 - 1) would only merge wake-ups
    }
}

static void ovf_c_release_now(ovf_pool* p, ovf_request_state* s) noexcept;

static void ovf_pool_job_done(ovf_pool* p, ovf_request_state* s) noexcept {
    if (s->held.load(std::memory_order_acquire)) {  // still its taker's: settle only
        if (s->c_done) {
            s->c_done_thread.store(std::this_thread::get_id());
            s->c_done(s->c_ctx, s->job_id);
            s->c_done_thread.store(std::thread::id());
        }
        s->settle();
        if (s->c_release_pending.exchange(false))
            ovf_c_release_now(p, s);
        else if (s->async_job.load(std::memory_order_acquire))
            ovf_pool_async_push(p, s->job_id);
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

static inline void ovf_pool_ref(ovf_pool* p) noexcept { p->refs.fetch_add(1, std::memory_order_relaxed); }

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

static inline void ovf_pool_add_port(ovf_pool* p, bool output, ov_element_type_e type, bool dynamic,
                                     int64_t rank, const std::vector<int64_t>& dims, size_t nbytes,
                                     size_t bits, const std::string& label) {
    (output ? p->outputs : p->inputs).push_back(ovf_port_desc{type, dynamic, rank, dims, nbytes, bits, label});
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
        p->closed.store(true);
        jobs.swap(p->jobs);
        p->idle.clear();
    }
    p->idle_cv.notify_all();
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
        return it != p->idle.end() || p->closed.load();
    };
    if (!ovf_pool_wait_idle(p, lock, timeout_ms, found) || it == p->idle.end())
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
    for (int id : ids) {
        p->jobs[id]->async_job.store(false, std::memory_order_release);
        p->jobs[id]->held.store(false, std::memory_order_release);
    }
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

// Waits up to timeout_ms for every job to be idle (with every_job=false: every job but those the C API
// holds, which may be held for as long as the C code runs).
static bool ovf_pool_wait_all(ovf_pool* p, int64_t timeout_ms, bool every_job = true) noexcept {
    std::unique_lock<std::mutex> lock(p->m);
    return ovf_pool_wait_idle(p, lock, timeout_ms,
                              [p, every_job] { return p->in_flight == (every_job ? 0 : p->c_held); });
}

static int ovf_pool_peek_idle(ovf_pool* p) noexcept {
    std::lock_guard<std::mutex> lock(p->m);
    return p->idle.empty() ? -1 : p->idle.front();
}

// Hands a job held by the C API back to the pool: the tensors it replaced go back, its runs are its own
// (the queue does not report them), and it is idle for whoever comes next.
static void ovf_c_release_now(ovf_pool* p, ovf_request_state* s) noexcept {
    for (auto it = s->saved.rbegin(); it != s->saved.rend(); ++it) {
        if (it->output) {
            ov_infer_request_set_output_tensor_by_index(s->request, it->index, it->tensor);
        } else {
            ov_infer_request_set_input_tensor_by_index(s->request, it->index, it->tensor);
            s->in_own_set[it->index] = it->own_set;
        }
        ov_tensor_free(it->tensor);
    }
    s->saved.clear();
    s->checked = s->started.load();
    s->c_done = nullptr;
    s->c_ctx = nullptr;
    s->c_runs = 0;
    s->c_outputs_bound = false;
    s->c_held.store(false, std::memory_order_release);
    {
        std::lock_guard<std::mutex> lock(p->m);
        p->c_held--;
    }
    ovf_pool_release(p, std::vector<int>{s->job_id}, false);
}

// The eventfd an event loop watches for infer_async's completions (made on first use); -1 if the system
// refused one.
static int ovf_pool_async_fd(ovf_pool* p) noexcept {
    std::lock_guard<std::mutex> lock(p->m);
    if (p->async_fd < 0)
        p->async_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return p->async_fd;
}

// The event loop's side: every infer_async job settled since the last call (their wake-up consumed).
static void ovf_pool_async_take(ovf_pool* p, std::vector<int>& out) noexcept {
    uint64_t count;
    ssize_t r = read(p->async_fd, &count, sizeof count);  // non-blocking: EAGAIN when nothing was written
    (void)r;
    std::lock_guard<std::mutex> lock(p->m);
    out.assign(p->async_ready.begin(), p->async_ready.end());
    p->async_ready.clear();
    p->async_signalled = false;
}

// The queue is going, or its event loop is closed: no one will take the settled infer_async jobs, so they
// go back to idle here (their results dropped).
static void ovf_pool_async_abandon(ovf_pool* p) noexcept {
    std::vector<int> ids;
    if (p->async_fd < 0)
        return;
    ovf_pool_async_take(p, ids);
    for (int id : ids) p->jobs[id]->checked = p->jobs[id]->started.load();
    if (!ids.empty())
        ovf_pool_release(p, ids, false);
}

// What the queue should report for a job's last run, decided under the pool's lock so that C code taking the
// job (ovf_c_acquire, which writes the same fields under it) is never read half-way: 0 nothing, 1 the job
// is C code's (its runs are reported there), 2 a failure C code found (status and message out, once),
// 3 a run to read with ov_infer_request_wait.
static int ovf_job_to_report(ovf_request_state* s, int* status, std::string* message) noexcept {
    auto* p = static_cast<ovf_pool*>(s->pool);
    std::unique_lock<std::mutex> lock;
    if (p)
        lock = std::unique_lock<std::mutex>(p->m);
    if (s->c_held.load())
        return 1;
    if (s->deferred_status) {
        *status = s->deferred_status;
        try {
            *message = s->deferred_message;
        } catch (...) {
        }
        s->deferred_status = 0;
        return 2;
    }
    uint64_t started = s->started.load();
    if (s->checked == started)
        return 0;
    s->checked = started;
    return 3;
}
