// A job's life, written once: the per-request completion state, who holds the job (one enum), the one
// start function, the one completion function, and the pool of an AsyncInferQueue, all without the GIL.
// Included by both extensions (_runtime and api), so it holds no variables of its own: two copies of a
// static would silently diverge.
//
// A job is idle, taken (out of the idle list, not started yet), or held by exactly one holder. The holder
// is set when the job starts (ovf_job_start) and says what its completion does (ovf_pool_job_done):
//   DIRECT           a plain request's own start_async: the run settles
//   DIRECT_CALLBACK  ... with a Python callback: to the callback pump, which settles it after the callback
//   QUEUE            a queue's start_async: settles, back to idle
//   QUEUE_CALLBACK   ... with the queue's callback: to `done`, where one thread at a time (a submitter
//                    waiting for an idle job, else the dispatcher) runs the callbacks of a whole batch,
//                    then releases it (straight to idle once the queue is closing)
//   IMAP             imap's: settles; imap reads it, then releases it
//   ASYNCIO          infer_async's: settles into the event loop's list; the loop reads it, then releases it
//   MAP              map's: map drives the request itself (no completion callback) and releases it
//   FOREIGN          another holder's hook (the C-level API, _c_api.hpp): it settles and releases the job
// A new way to hold a job is one more value here and one more case in ovf_pool_job_done.
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

#include "_altstack.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include "openvino/c/openvino.h"

static inline int64_t ovf_now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

enum ovf_holder : int {
    OVF_IDLE = 0,
    OVF_TAKEN,
    OVF_DIRECT,
    OVF_DIRECT_CALLBACK,
    OVF_QUEUE,
    OVF_QUEUE_CALLBACK,
    OVF_IMAP,
    OVF_ASYNCIO,
    OVF_MAP,
    OVF_FOREIGN,
};

// Holders that keep a finished job until they have read it: no one else may start or take it meanwhile.
static inline bool ovf_holder_keeps(int holder) noexcept {
    return holder == OVF_IMAP || holder == OVF_ASYNCIO || holder == OVF_MAP || holder == OVF_FOREIGN;
}

// What the queue has to report of a job's last run (ovf_job_to_report).
enum ovf_report : int {
    OVF_REPORT_NOTHING = 0,  // reported already, or never run
    OVF_REPORT_FOREIGN,      // the job is another holder's: its runs are reported there
    OVF_REPORT_DEFERRED,     // a failure found when another holder took the job: status and message out
    OVF_REPORT_WAIT,         // a run to read with ov_infer_request_wait
};

#ifdef OVFAST_DEBUG_BUILD
// Live objects, for the tests' tear-down check (debug builds only). Each extension has its own copy of
// these: an object counts down in the counter it counted up in (a pool made in _runtime may be freed in
// api by C code's last reference).
static std::atomic<long> ovf_live_states{0};
static std::atomic<long> ovf_live_pools{0};
static std::atomic<long> ovf_live_tensors{0};
#define OVF_COUNT(counter, delta) (counter).fetch_add(delta, std::memory_order_relaxed)
#else
#define OVF_COUNT(counter, delta) ((void)0)
#endif

// Per-request completion state; the request's completion callback points at it, so this struct lives
// exactly as long as the request (the InferRequest owns it). `settled` counts runs whose whole completion
// (our C callback and, if any, the holder's callback) is over: wait() returns only then, and the request
// is freed only then, because OpenVINO marks a request idle before its callback has run.
struct ovf_request_state {
    std::atomic<uint64_t> started{0};
    std::atomic<uint64_t> finished{0};  // runs whose inference is over (callback entered, or start failed)
    std::atomic<uint64_t> settled{0};
    std::atomic<int> holder{OVF_IDLE};  // an ovf_holder; changed to IDLE under the pool's lock
    // How the last run ended (an ov_status_e), and OpenVINO's message if it failed: recorded before
    // `finished` moves, for holders that cannot ask ov_infer_request_wait from a completion (OpenVINO
    // fulfils the request's promise only after its callback returns: waiting there never ends).
    int run_status = 0;
    std::string run_message;
    std::atomic<int64_t> t_start_ns{0};
    std::atomic<int64_t> t_end_ns{0};
    // The ovf_pool when the request is a job of a live AsyncInferQueue (holding a reference to it); null
    // for a plain request and once the queue is gone. Changed only while the job is idle.
    void* pool = nullptr;
    int job_id = -1;
    // Where in the pool's idle order a job taken by its id (used directly: queue[i].infer()) was, so its
    // release puts it back there: openvino's direct use does not touch the idle order, and what
    // get_idle_request_id() names next must not change with it. -1 for jobs taken as "any idle job".
    int idle_pos = -1;
    // Runs whose status the queue has reported (the job's holder reads and writes it).
    uint64_t checked = 0;
    // A failed run not yet reported by the queue when another holder took the job: reported later.
    int deferred_status = 0;
    std::string deferred_message;
    // FOREIGN: the holder's completion (it settles and releases the job) and its own data.
    void (*foreign_done)(ovf_request_state*) = nullptr;
    void* foreign = nullptr;
    void (*foreign_free)(void*) = nullptr;  // frees `foreign` with the state; also says whose it is

    // The request and the tensors ovfast made for it, owned here and freed with the state; the Python
    // InferRequest and the holders that work without Python borrow them. Per input: ovfast's own tensor
    // (null for dynamic and packed inputs), its data, and whether the request reads it now. Per output,
    // when outputs are cached (empty otherwise): the request's tensor and its data (null if dynamic).
    ov_infer_request_t* request = nullptr;
    std::vector<ov_tensor_t*> in_own;
    std::vector<void*> in_own_data;
    std::vector<int> in_own_set;
    std::vector<ov_tensor_t*> out_cache;
    std::vector<void*> out_data;
    std::atomic<int> finish_waiters{0};

    std::mutex m;
    std::condition_variable cv;

    ovf_request_state() { OVF_COUNT(ovf_live_states, 1); }
    ~ovf_request_state() {
        if (foreign && foreign_free)
            foreign_free(foreign);
        for (ov_tensor_t* t : in_own)
            if (t)
                ov_tensor_free(t);
        for (ov_tensor_t* t : out_cache)
            if (t)
                ov_tensor_free(t);
        if (request) {
            ovf_altstack alt;  // the last hold on a plugin instance may be this request's (_altstack.h)
            ovf_altstack_save(&alt);
            ov_infer_request_free(request);
            ovf_altstack_restore(&alt);
        }
        OVF_COUNT(ovf_live_states, -1);
    }

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

// OpenVINO's message for a failed call, or its status's text: process-wide (another thread may have
// replaced it), so a best-effort detail beside the status, which is the truth.
static void ovf_openvino_message(ov_status_e st, std::string& out) noexcept {
    const char* msg = ov_get_last_err_msg();
    try {
        out = msg ? msg : ov_get_error_info(st);
    } catch (...) {
    }
    if (msg)
        ov_free(msg);
}

// The one way a run starts, for every holder: the holder, the count and the start time are set before
// OpenVINO can call back. A start OpenVINO refuses is over at once (finished and settled), with its status
// recorded as a failed run's would be; the caller gives the job back.
static ov_status_e ovf_job_start(ovf_request_state* s, int holder) noexcept {
    s->holder.store(holder, std::memory_order_release);
    s->started.fetch_add(1, std::memory_order_acq_rel);
    s->t_start_ns.store(ovf_now_ns(), std::memory_order_release);
    ov_status_e st = ov_infer_request_start_async(s->request);
    if (st != OK) {
        s->run_status = (int)st;
        ovf_openvino_message(st, s->run_message);
        s->finish();
        s->settle();
    }
    return st;
}

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

// The job pool of an AsyncInferQueue: which jobs are idle, in flight and done, guarded by one mutex. A
// batch of callbacks is due only when half the pool is done or nothing else is in flight (or a waiter
// needs a job), so callbacks cost one wake-up per batch, not one per request; a submitter waiting for a
// job runs a due batch itself, and then no other thread wakes at all.
struct ovf_pool {
    // Owners: the queue's handle, each job's state, and each C-API user (api.queue_pool), so a job that
    // outlives its queue never points at freed memory (its completion would write into it).
    std::atomic<int> refs{1};
    std::atomic<bool> closed{false};  // the queue is gone: no more jobs
    bool closing = false;  // the queue is being freed: completions skip their Python callbacks
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
    int foreign = 0;  // of in_flight: jobs FOREIGN holders hold (Python's wait_all does not wait for them)
    int waiters = 0;
    bool dispatcher_sleeping = false;
    bool kicked = false;
    // Python callbacks run on one thread at a time: the dispatcher, or a submitter that would otherwise
    // sleep waiting for an idle job (ovf_pool_acquire_or_deliver); `delivering` while one runs a batch.
    bool delivering = false;
    int deliverers = 0;  // submitters waiting that will run a due batch themselves

#ifdef OVFAST_DEBUG_BUILD
    std::atomic<long>* counted = &ovf_live_pools;
#endif
    ovf_pool() { OVF_COUNT(*counted, 1); }

    bool done_is_due() const noexcept {
        size_t d = done.size();
        return d > 0 && (kicked || 2 * d >= jobs.size() || (int)d == in_flight);
    }
    // Waiters are woken once a quarter of the pool is idle (or none is in flight), not per completion:
    // the rest keeps the device busy meanwhile, and a submitter then starts several jobs per wake-up.
    bool idle_is_due() const noexcept { return in_flight == foreign || 4 * idle.size() >= jobs.size(); }
    // Who should run the batch in `done` now, decided with m held and woken with m free (wake()): a
    // submitter waiting in ovf_pool_acquire_or_deliver (it needs a job anyway, so no other thread wakes),
    // else the sleeping dispatcher; nobody while the batch is not due or another one is running.
    enum who : int { NOBODY, SUBMITTERS, DISPATCHER };
    who deliverer_locked() const noexcept {
        if (delivering || !done_is_due())
            return NOBODY;
        return deliverers > 0 ? SUBMITTERS : dispatcher_sleeping ? DISPATCHER : NOBODY;
    }
    void wake(who w) noexcept {
        if (w == SUBMITTERS)
            idle_cv.notify_all();
        else if (w == DISPATCHER)
            done_cv.notify_one();
    }
    // Takes idle job at `it` for a caller (want: the id it asked for, or -1). Called with m held.
    int take_locked(std::deque<int>::iterator it, int want) noexcept {
        int id = *it;
        jobs[id]->idle_pos = want < 0 ? -1 : (int)(it - idle.begin());
        idle.erase(it);
        in_flight++;
        jobs[id]->holder.store(OVF_TAKEN, std::memory_order_release);
        return id;
    }
    void kick() noexcept {  // a caller needs jobs that wait for their Python callbacks
        if (!done.empty()) {
            kicked = true;
            done_cv.notify_one();
        }
    }
    // Gives back one job, once (a second release of the same hold finds it idle and does nothing).
    // Called with m held.
    bool release_locked(int id, bool settle) noexcept {
        if (closed.load() || id < 0 || (size_t)id >= jobs.size() || !jobs[id])
            return false;
        ovf_request_state* s = jobs[id];
        if (s->holder.load(std::memory_order_acquire) == OVF_IDLE)
            return false;
        if (settle)
            s->settle();
        s->holder.store(OVF_IDLE, std::memory_order_release);
        if (s->idle_pos >= 0 && (size_t)s->idle_pos < idle.size())
            idle.insert(idle.begin() + s->idle_pos, id);
        else
            idle.push_back(id);
        s->idle_pos = -1;
        in_flight--;
        return true;
    }
    ~ovf_pool() {
        if (async_fd >= 0)
            close(async_fd);
        OVF_COUNT(*counted, -1);
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

static inline void ovf_pool_ref(ovf_pool* p) noexcept { p->refs.fetch_add(1, std::memory_order_relaxed); }

static inline void ovf_pool_unref(ovf_pool* p) noexcept {
    if (p->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
        delete p;
}

// A job of pool p finished its inference (OpenVINO's callback thread): what happens next is its holder's.
// Once the job settles, the queue may close the pool and its owner free the state: nothing after a
// settle reads the state, and the pool is kept alive until this returns.
static void ovf_pool_job_done_kept(ovf_pool* p, ovf_request_state* s) noexcept {
    int id = s->job_id;
    switch (s->holder.load(std::memory_order_acquire)) {
    case OVF_FOREIGN:
        s->foreign_done(s);
        return;
    case OVF_IMAP:
    case OVF_MAP:
        s->settle();
        return;
    case OVF_ASYNCIO:
        s->settle();
        ovf_pool_async_push(p, id);
        return;
    case OVF_QUEUE_CALLBACK: {
        bool queued = false;
        ovf_pool::who w = ovf_pool::NOBODY;
        {
            std::lock_guard<std::mutex> lock(p->m);
            if (!p->closing) {
                p->done.push_back(id);
                queued = true;
                w = p->deliverer_locked();
            }
        }
        if (!queued)
            break;  // the queue is being freed: no callback, straight back to idle
        p->wake(w);
        return;
    }
    default:
        break;
    }
    // Waiters are notified once the lock is free: woken under it, each would sleep again on the mutex
    // (two wake-ups per completion instead of one). The pool outlives this call (ovf_pool_job_done).
    bool wake;
    {
        std::lock_guard<std::mutex> lock(p->m);
        wake = p->release_locked(id, true) && p->waiters && p->idle_is_due();
    }
    if (wake)
        p->idle_cv.notify_all();
}

static void ovf_pool_job_done(ovf_pool* p, ovf_request_state* s) noexcept {
    ovf_pool_ref(p);
    ovf_pool_job_done_kept(p, s);
    ovf_pool_unref(p);
}

static inline ovf_pool* ovf_pool_new() { return new ovf_pool(); }

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

// A job whose request is being freed while its queue still lives: the garbage collector broke a cycle
// through the queue's job list before the queue itself (at exit, a program's namespace is such a cycle).
// Nothing can run Python for this request any more, so a finished run held for the queue's Python callback
// is settled here without it, as ovf_pool_close settles every job; the request's free then waits for
// nothing that needs Python. Other holders settle by themselves.
static void ovf_pool_abandon_job(ovf_pool* p, ovf_request_state* s) noexcept {
    if (s->is_running())
        ov_infer_request_wait(s->request);
    s->wait_finished(-1);
    std::lock_guard<std::mutex> lock(p->m);
    if (s->holder.load() != OVF_QUEUE_CALLBACK)
        return;
    p->done.erase(std::remove(p->done.begin(), p->done.end(), s->job_id), p->done.end());
    p->release_locked(s->job_id, true);
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

// Waits on idle_cv, up to timeout_ms in all, until ready() holds (checked under the lock); kicks the
// dispatcher first, since the jobs waited for may be held by their Python callbacks. ready() at the end;
// a timeout of 0 only looks.
template <class Ready>
static bool ovf_pool_wait_idle(ovf_pool* p, std::unique_lock<std::mutex>& lock, int64_t timeout_ms,
                               Ready ready) noexcept {
    if (timeout_ms <= 0) {  // a try: a wait on a deadline already past still sleeps once in the kernel
        if (!ready())
            p->kick();
        return ready();
    }
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
// get_idle_request_id() names the job that the next start_async() starts. The pool calls a job idle from
// its completion callback, before OpenVINO has fulfilled the request's promise; a job named here is idle
// for OpenVINO too (its wait_for(0) is true).
static int ovf_pool_acquire(ovf_pool* p, int want, int64_t timeout_ms, bool take = true) noexcept {
    std::unique_lock<std::mutex> lock(p->m);
    auto it = p->idle.end();
    auto found = [p, want, &it] {
        it = want < 0 ? p->idle.begin() : std::find(p->idle.begin(), p->idle.end(), want);
        return it != p->idle.end() || p->closed.load();
    };
    if (!ovf_pool_wait_idle(p, lock, timeout_ms, found) || it == p->idle.end())
        return -1;
    if (take)
        return p->take_locked(it, want);
    int id = *it;
    ov_infer_request_t* request = p->jobs[id]->request;
    lock.unlock();
    ov_infer_request_wait(request);  // returns once OpenVINO has fulfilled the promise: microseconds
    return id;
}

// Takes every job of the pool for map(), waiting up to timeout_ms in all for the busy ones; false (having
// taken none) if they did not all come.
static bool ovf_pool_acquire_every(ovf_pool* p, int64_t timeout_ms) noexcept {
    std::unique_lock<std::mutex> lock(p->m);
    if (!ovf_pool_wait_idle(p, lock, timeout_ms, [p] { return p->idle.size() == p->jobs.size(); }))
        return false;
    p->idle.clear();
    p->in_flight = (int)p->jobs.size();
    for (auto* s : p->jobs) s->holder.store(OVF_MAP, std::memory_order_release);
    return true;
}

// Gives back jobs: ones that never started or whose holder has read them (settle=false), or ones whose
// Python callbacks have run (settle=true). Releasing a job twice, or after the pool closed, does nothing.
static void ovf_pool_release(ovf_pool* p, const std::vector<int>& ids, bool settle) noexcept {
    bool wake;
    {
        std::lock_guard<std::mutex> lock(p->m);
        for (int id : ids) p->release_locked(id, settle);
        wake = p->waiters > 0;
    }
    if (wake)  // with the lock free, as in ovf_pool_job_done
        p->idle_cv.notify_all();
}

// The dispatcher's wait: moves every due completion into out (empty after timeout_ms).
// Nothing while a submitter runs a batch; the batch taken is the caller's to run, then to hand back with
// ovf_pool_delivered.
static void ovf_pool_take_done(ovf_pool* p, std::vector<int>& out, int64_t timeout_ms) noexcept {
    std::unique_lock<std::mutex> lock(p->m);
    p->dispatcher_sleeping = true;
    p->done_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                        [p] { return !p->delivering && p->done_is_due(); });
    p->dispatcher_sleeping = false;
    out.clear();
    if (p->delivering)
        return;
    p->kicked = false;
    out.assign(p->done.begin(), p->done.end());
    p->done.clear();
    p->delivering = !out.empty();
}

// A batch whose Python callbacks have run (taken by ovf_pool_take_done or ovf_pool_acquire_or_deliver):
// its jobs go back to idle, and the next due batch, if any, to whoever runs it.
static void ovf_pool_delivered(ovf_pool* p, const std::vector<int>& ids) noexcept {
    bool wake_waiters;
    ovf_pool::who w;
    {
        std::lock_guard<std::mutex> lock(p->m);
        for (int id : ids) p->release_locked(id, true);
        p->delivering = false;
        wake_waiters = p->waiters > 0;
        w = p->deliverer_locked();
    }
    if (wake_waiters)  // submitters that deliver are waiters too
        p->idle_cv.notify_all();
    if (w == ovf_pool::DISPATCHER)
        p->wake(w);
}

// start_async's wait on a queue with a Python callback: an idle job (taken: its id), or, while none is
// idle, the finished jobs whose callbacks no other thread is running (-2: `out` holds them; the caller
// runs their callbacks and hands them back with ovf_pool_delivered), or -1 after timeout_ms. A submitter
// that would sleep until the dispatcher had run those callbacks runs them itself: no thread wakes.
static int ovf_pool_acquire_or_deliver(ovf_pool* p, int64_t timeout_ms, std::vector<int>& out) noexcept {
    std::unique_lock<std::mutex> lock(p->m);
    auto can_deliver = [p] { return !p->delivering && !p->done.empty(); };
    auto ready = [p, &can_deliver] { return !p->idle.empty() || p->closed.load() || can_deliver(); };
    if (!ready() && timeout_ms > 0) {
        p->deliverers++;
        p->waiters++;
        p->idle_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), ready);
        p->waiters--;
        p->deliverers--;
    }
    if (!p->idle.empty() && !p->closed.load())
        return p->take_locked(p->idle.begin(), -1);
    if (p->closed.load() || !can_deliver())
        return -1;
    out.assign(p->done.begin(), p->done.end());
    p->done.clear();
    p->delivering = true;
    return -2;
}

// Waits up to timeout_ms for every job to be idle (with every_job=false: every job but FOREIGN holders',
// which may be held for as long as their code runs).
static bool ovf_pool_wait_all(ovf_pool* p, int64_t timeout_ms, bool every_job = true) noexcept {
    std::unique_lock<std::mutex> lock(p->m);
    return ovf_pool_wait_idle(p, lock, timeout_ms,
                              [p, every_job] { return p->in_flight == (every_job ? 0 : p->foreign); });
}

static int ovf_pool_peek_idle(ovf_pool* p) noexcept {
    std::lock_guard<std::mutex> lock(p->m);
    return p->idle.empty() ? -1 : p->idle.front();
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
    if (p->async_fd >= 0) {
        ssize_t r = read(p->async_fd, &count, sizeof count);  // non-blocking: EAGAIN when nothing was written
        (void)r;
    }
    std::lock_guard<std::mutex> lock(p->m);
    out.assign(p->async_ready.begin(), p->async_ready.end());
    p->async_ready.clear();
    p->async_signalled = false;
}

// The queue is going, or its event loop is closed: no one will take the settled infer_async jobs, so they
// go back to idle here (their results dropped).
static void ovf_pool_async_abandon(ovf_pool* p) noexcept {
    std::vector<int> ids;
    ovf_pool_async_take(p, ids);
    for (int id : ids) p->jobs[id]->checked = p->jobs[id]->started.load();
    if (!ids.empty())
        ovf_pool_release(p, ids, false);
}

// The queue is being freed, perhaps at interpreter exit with its dispatcher thread gone (CPython ends a
// daemon thread that asks for the GIL then) and jobs in its hands. Waits for every inference to end, then
// settles every job that waits for Python (a callback, an event loop, imap) without running its callback,
// and detaches the jobs: those still referenced elsewhere live on as plain requests. FOREIGN holders'
// jobs stay theirs until their completion is over; their next call finds the pool closed. Returns the ids
// of those jobs (their requests must outlive the memory handed to their holders).
static std::vector<int> ovf_pool_close(ovf_pool* p) noexcept {
    std::vector<ovf_request_state*> jobs;
    {
        std::lock_guard<std::mutex> lock(p->m);
        p->closing = true;  // completions from here on skip their callbacks
        jobs = p->jobs;
    }
    for (auto* s : jobs) {
        if (!s)
            continue;
        if (s->is_running())
            ov_infer_request_wait(s->request);
        s->wait_finished(-1);  // our callback entered: what follows needs no Python
    }
    {
        std::lock_guard<std::mutex> lock(p->m);  // the jobs in `done` or in a dispatcher's hands
        for (auto* s : jobs)
            if (s && s->holder.load() == OVF_QUEUE_CALLBACK)
                p->release_locked(s->job_id, true);
        p->done.clear();
    }
    // Every other completion settles by itself: ours in microseconds, a FOREIGN holder's when its
    // completion function returns.
    for (auto* s : jobs)
        if (s)
            s->wait_settled(-1);
    std::vector<int> foreign;
    {
        std::lock_guard<std::mutex> lock(p->m);
        p->async_ready.clear();
        for (auto* s : jobs) {
            if (!s)
                continue;
            if (s->holder.load() == OVF_FOREIGN)
                foreign.push_back(s->job_id);
            else
                p->release_locked(s->job_id, false);  // an event loop's, imap's: their results dropped
            s->checked = s->started.load();
        }
        p->closed.store(true);
        p->jobs.clear();
        p->idle.clear();
    }
    p->idle_cv.notify_all();
    for (auto* s : jobs) {
        if (!s)
            continue;
        s->holder.store(OVF_IDLE, std::memory_order_release);
        s->pool = nullptr;
        s->job_id = -1;
        ovf_pool_unref(p);
    }
    return foreign;
}

// What the queue should report for a job's last run, decided under the pool's lock so that another holder
// taking the job (which writes the same fields under it) is never read half-way.
static ovf_report ovf_job_to_report(ovf_request_state* s, int* status, std::string* message) noexcept {
    auto* p = static_cast<ovf_pool*>(s->pool);
    std::unique_lock<std::mutex> lock;
    if (p)
        lock = std::unique_lock<std::mutex>(p->m);
    if (s->holder.load() == OVF_FOREIGN)
        return OVF_REPORT_FOREIGN;
    if (s->deferred_status) {
        *status = s->deferred_status;
        try {
            *message = s->deferred_message;
        } catch (...) {
        }
        s->deferred_status = 0;
        return OVF_REPORT_DEFERRED;
    }
    uint64_t started = s->started.load();
    if (s->checked == started)
        return OVF_REPORT_NOTHING;
    s->checked = started;
    return OVF_REPORT_WAIT;
}

// Another holder takes a job of the pool (the C API's acquire): the queue's report of the job's last run,
// if it has not made it yet, is kept for the queue to make later. Called with the pool's lock held.
static void ovf_job_defer_report(ovf_request_state* s) noexcept {
    if (s->checked == s->started.load())
        return;
    ov_status_e st = ov_infer_request_wait(s->request);  // idle: returns at once
    if (st != OK && !s->deferred_status) {
        s->deferred_status = (int)st;
        ovf_openvino_message(st, s->deferred_message);
    }
    s->checked = s->started.load();
}
