// DynamicBatcher's core: callers' items gathered into batched runs, in C++ with no Python and no GIL.
//
// An item is one caller's inputs (a batch of 1) and the memory its outputs go to, both the caller's and
// kept alive by it until the item is answered. A batch is due when max_batch items wait, when the oldest
// has waited max_delay, or at once while a job is idle (due()). Whoever finds a batch due starts it: the
// submitting caller when a job is idle, else the dispatcher thread (deadlines, and the jobs that come
// back). Starting copies the items' rows into a staging buffer, binds it with the batch's shape and starts
// a job through ovfast's C-level API (the functions in ovfb_api, the ones an outside library uses). The
// job's completion, on OpenVINO's callback thread, copies each item's rows of the outputs out, releases
// the job and answers: a synchronous caller waiting on its item, the done list Python drains (asyncio
// through an eventfd, callbacks through a condition), or a C caller's function (the video elements).
//
// Two compiled models: batch 1 (static: what a lone item costs in compiled(x)) and a batch dimension of
// 1..max_batch (dynamic: measured 3-5 us over a static batch of 16 on bench/'s MLP and conv net, where
// padding a static batch would run every unused row).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/eventfd.h>
#include <unistd.h>

struct ovf_pool;

// The C-level API (ovfast/api.pxd), as function pointers the Cython side fills.
struct ovfb_api {
    int (*acquire)(ovf_pool*, int64_t, int*);
    int (*input)(ovf_pool*, int, size_t, void**, size_t*);
    int (*bind)(ovf_pool*, int, bool, size_t, void*, size_t, const int64_t*, size_t);
    int (*start)(ovf_pool*, int, void (*)(void*, int), void*);
    int (*wait)(ovf_pool*, int, int64_t);
    int (*infer)(ovf_pool*, int);
    int (*output)(ovf_pool*, int, size_t, void**, size_t*);
    int (*release)(ovf_pool*, int);
    const char* (*last_error)();
};

enum ovfb_state { OVFB_QUEUED = 0, OVFB_TAKEN = 1, OVFB_DONE = 2, OVFB_CANCELLED = 3 };
enum ovfb_kind { OVFB_SYNC = 0, OVFB_ASYNC = 1, OVFB_CALLBACK = 2, OVFB_NOTIFY = 3 };

// A C caller's answer (OVFB_NOTIFY): status 0 and the outputs written, or the error. Called on OpenVINO's
// callback thread or the dispatcher's, never with the core's lock held; the item is freed after it.
typedef void (*ovfb_notify_fn)(void* ctx, int status, const char* error);

struct ovfb_item {
    std::vector<const char*> in;     // per input: one item's bytes (in_bytes[i]), the caller's
    std::vector<char*> out;          // per output: where one item's rows go (out_bytes[o]), the caller's
    std::atomic<int> state{OVFB_QUEUED};
    int kind = OVFB_SYNC;
    int status = 0;                  // OVFAST_OK, or how the batch failed (error says)
    std::string error;
    void* user = nullptr;            // the Python side's (a future, userdata); never touched here
    ovfb_notify_fn notify = nullptr; // OVFB_NOTIFY
    int64_t queued_ns = 0;
    std::atomic<int> refs{1};        // an asyncio item: its answer and its coroutine (either frees it last)
    std::mutex m;                    // a synchronous caller waits for state OVFB_DONE
    std::condition_variable cv;
};

struct ovfb_batcher;

struct ovfb_run {
    ovfb_batcher* b;
    int which;                       // 0: the batch-1 model, 1: the batched one
    int slot;                        // its staging memory
    int64_t started_ns;
    std::vector<ovfb_item*> items;
    std::string fail;                // tests: fail instead of running
};

struct ovfb_batcher {
    ovfb_api api{};
    ovf_pool* pools[2] = {nullptr, nullptr};
    std::vector<size_t> in_bytes, out_bytes;         // one item's bytes per input / output
    std::vector<std::vector<int64_t>> in_dims;       // one item's shape per input, batch axis first (1)
    int max_batch = 1, jobs = 1;
    int64_t max_delay_ns = 0;
    bool greedy = true;              // start at once while a job is idle (else: only full or due batches)
    bool bind_lone = false;          // a lone item's inputs bound, not copied (large items)

    std::mutex m;
    std::condition_variable cv;      // the dispatcher: a deadline to keep, a job came back, closing
    std::condition_variable cv_idle; // wait_all: nothing queued or running
    std::condition_variable cv_cb;   // the callback thread: answered callback items
    std::deque<ovfb_item*> queue;
    std::vector<ovfb_item*> answered_async, answered_cb;
    std::vector<ovfb_run*> handed;   // taken on OpenVINO's callback thread with no job idle: the dispatcher's
    std::vector<std::vector<char>> staging;          // per slot: every input's rows for max_batch items
    std::vector<int> free_slots;
    int running = 0;                 // batches taken and not over (on a job, or about to be)
    bool asleep = false;             // the dispatcher waits with no deadline: only a notify wakes it
    int answering = 0;               // runs over whose items are still being answered
    bool closing = false, cb_closing = false;
    int efd = -1;
    std::thread dispatcher;

    // the clock: steady_clock, or the tests' manual one
    bool manual_clock = false;
    int64_t manual_ns = 0;
    std::string fail_next;           // tests: the next batch fails with this error instead of running

    // figures (under m): batches, items, and the last waits and run times
    uint64_t n_batches = 0, n_items = 0;
    std::vector<uint64_t> n_by_size;  // [k]: batches of k items run
    std::vector<int64_t> waits_ns, runs_ns;
    size_t waits_at = 0, runs_at = 0;
    static constexpr size_t KEEP = 4096;

    int64_t now() {
        if (manual_clock) return manual_ns;
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::steady_clock::now().time_since_epoch()).count();
    }

    // The policy, pure: whether to start a batch of `queued` items whose oldest waited `waited_ns`, with
    // `running` of `jobs` jobs busy. A full or late batch starts on any idle job. Greedy, one starts at
    // once while the queue is shallow (the newcomer alone: callers are fewer than jobs, and each runs as
    // compiled(x) would) or while fewer than half the jobs run (OpenVINO's own concurrency, by default):
    // under load items then gather while those run, and batches grow instead of the runs multiplying.
    static bool due(int queued, int64_t waited_ns, int running, int jobs, int max_batch, int64_t max_delay_ns,
                    bool greedy, bool closing) {
        if (queued <= 0 || running >= jobs) return false;
        if (closing || queued >= max_batch || waited_ns >= max_delay_ns) return true;
        return greedy && (queued == 1 || running < (jobs + 1) / 2);
    }

    void setup() {
        size_t per_item = 0;
        for (size_t b : in_bytes) per_item += b;
        staging.assign(jobs, std::vector<char>(per_item * max_batch));
        for (int i = jobs - 1; i >= 0; i--) free_slots.push_back(i);
        efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        dispatcher = std::thread([this] { loop(); });
    }

    void record(std::vector<int64_t>& ring, size_t& at, int64_t v) {
        if (ring.size() < KEEP) ring.push_back(v);
        else ring[at++ % KEEP] = v;
    }

    bool job_idle() { return running < jobs; }

    bool due_locked() {
        if (queue.empty()) return false;
        return due((int)queue.size(), now() - queue.front()->queued_ns, running, jobs, max_batch, max_delay_ns,
                   greedy, closing);
    }

    // Takes up to max_batch queued items into a run, holding a job and a staging slot (m held, due).
    // Cancelled items are answered (never run); nullptr when none was left.
    ovfb_run* take_locked(std::vector<ovfb_item*>& cancelled) {
        ovfb_run* run = nullptr;
        while (!queue.empty() && (run == nullptr || (int)run->items.size() < max_batch)) {
            ovfb_item* it = queue.front();
            queue.pop_front();
            int expected = OVFB_QUEUED;
            if (!it->state.compare_exchange_strong(expected, OVFB_TAKEN)) {
                cancelled.push_back(it);
                continue;
            }
            if (run == nullptr) {
                run = new ovfb_run();
                run->b = this;
            }
            run->items.push_back(it);
        }
        if (run == nullptr) return nullptr;
        running++;
        run->fail.swap(fail_next);
        run->slot = free_slots.back();
        free_slots.pop_back();
        int64_t t = now();
        for (ovfb_item* it : run->items) record(waits_ns, waits_at, t - it->queued_ns);
        run->started_ns = t;
        return run;
    }

    // Queues a caller's item: the run this caller is to start when a batch is due and a job idle, else
    // nullptr (the dispatcher told of a deadline to keep). False in *queued once closed (the item is the
    // caller's still).
    ovfb_run* enqueue(ovfb_item* it, bool* queued) {
        ovfb_run* run = nullptr;
        std::vector<ovfb_item*> cancelled;
        {
            std::lock_guard<std::mutex> lk(m);
            *queued = !closing;
            if (closing) return nullptr;
            it->queued_ns = now();
            queue.push_back(it);
            if (!manual_clock && due_locked()) run = take_locked(cancelled);
            else if (asleep && (manual_clock || (queue.size() == 1 && job_idle()))) cv.notify_one();
            // Else the dispatcher has a deadline already, or no job is idle, and a job's return tells it
            // (job_back_locked): a futex wake here would cost a fifth of a busy event loop's time for nothing.
        }
        answer_all(cancelled, 0, "");
        return run;
    }

    // An item answered later (asyncio, callbacks, C): a due batch starts on this thread, on OpenVINO's.
    bool submit(ovfb_item* it) {
        bool queued;
        ovfb_run* run = enqueue(it, &queued);
        if (run) launch(run, true);
        return queued;
    }

    // A synchronous caller's item. While a job is idle the caller runs the due batch itself, on its own
    // thread with no hand-over to OpenVINO's threads (as compiled(x) runs), and goes on running due batches
    // until its own item is answered; else it waits for whoever runs it. False once closed.
    bool submit_sync(ovfb_item* it) {
        bool queued;
        ovfb_run* run = enqueue(it, &queued);
        if (!queued) return false;
        while (run) run = run_here(run, it);
        wait_item(it);
        return true;
    }

    // Runs a batch on this thread; then the next due batch, for the caller to run while its own item
    // (mine) is still unanswered, else started on OpenVINO's threads.
    ovfb_run* run_here(ovfb_run* run, ovfb_item* mine) {
        if (!run->fail.empty()) {
            fail(run, 2, run->fail);
            return nullptr;
        }
        run->which = run->items.size() == 1 ? 0 : 1;
        ovf_pool* pool = pools[run->which];
        int job = -1;
        int st = api.acquire(pool, -1, &job);
        if (st != 0) {
            fail(run, st, api.last_error());
            return nullptr;
        }
        st = bind_rows(run, job);
        if (st == 0) st = api.infer(pool, job);
        std::string error = st == 0 ? "" : api.last_error();
        if (st == 0) st = rows_out(run, job, error);
        api.release(pool, job);
        std::vector<ovfb_item*> cancelled;
        ovfb_run* next = end_run(run, cancelled);
        answer_all(cancelled, 0, "");
        answer_run(run, st, error);
        if (next && mine->state.load() == OVFB_DONE) {  // answered, here or by another run
            launch(next, true);
            return nullptr;
        }
        return next;
    }

    // A job came back: the dispatcher may start what waits, wait_all may return.
    void job_back_locked() {
        if (!queue.empty() || closing) cv.notify_one();
        if (idle_locked()) cv_idle.notify_all();
    }

    // Answers items (their status set here): each waiting caller, done list or C function. Not with m held.
    void answer_all(std::vector<ovfb_item*>& items, int status, const std::string& error) {
        if (items.empty()) return;
        bool async = false, cb = false;
        std::vector<ovfb_item*> notify;
        {
            std::lock_guard<std::mutex> lk(m);
            for (ovfb_item* it : items) {
                it->status = status;
                it->error = error;
                if (it->kind == OVFB_ASYNC) {
                    answered_async.push_back(it);
                    async = true;
                } else if (it->kind == OVFB_CALLBACK) {
                    answered_cb.push_back(it);
                    cb = true;
                } else if (it->kind == OVFB_NOTIFY) {
                    notify.push_back(it);
                }
            }
        }
        for (ovfb_item* it : items) {
            if (it->kind != OVFB_SYNC) continue;
            std::lock_guard<std::mutex> lk(it->m);
            it->state = OVFB_DONE;
            it->cv.notify_one();
        }
        for (ovfb_item* it : notify) {
            it->notify(it->user, it->status, it->status ? it->error.c_str() : nullptr);
            delete it;
        }
        if (async && efd >= 0) {
            uint64_t one = 1;
            ssize_t w = ::write(efd, &one, sizeof(one));
            (void)w;
        }
        if (cb) cv_cb.notify_all();
    }

    // The end of a run's hold, m held: figures, its slot and job back.
    void end_run_locked(ovfb_run* run, bool ran) {
        if (ran) {
            n_batches++;
            n_items += run->items.size();
            if (n_by_size.size() <= run->items.size()) n_by_size.resize(run->items.size() + 1);
            n_by_size[run->items.size()]++;
            record(runs_ns, runs_at, now() - run->started_ns);
        }
        free_slots.push_back(run->slot);
        running--;
        answering++;     // until answer_run: wait_all and close wait for its answers too
    }

    // Nothing queued, running or being answered (a run's hold ends before its items are answered).
    bool idle_locked() { return queue.empty() && running == 0 && answering == 0; }

    // A run's items answered, after its hold ended (end_run_locked); the run freed.
    void answer_run(ovfb_run* run, int status, const std::string& error) {
        answer_all(run->items, status, error);
        delete run;
        std::lock_guard<std::mutex> lk(m);
        answering--;
        if (idle_locked()) cv_idle.notify_all();
    }

    // A run that ran ends: its hold, and the next due batch taken for the caller to start.
    ovfb_run* end_run(ovfb_run* run, std::vector<ovfb_item*>& cancelled) {
        std::lock_guard<std::mutex> lk(m);
        end_run_locked(run, true);
        if (!manual_clock && due_locked()) return take_locked(cancelled);
        job_back_locked();
        return nullptr;
    }

    // A run that failed before it ran: its hold ends, its items get the error.
    void fail(ovfb_run* run, int status, const std::string& error) {
        {
            std::lock_guard<std::mutex> lk(m);
            end_run_locked(run, false);
            job_back_locked();
        }
        answer_run(run, status, error);
    }

    void loop() {
        std::unique_lock<std::mutex> lk(m);
        for (;;) {
            if (!handed.empty()) {
                ovfb_run* run = handed.back();
                handed.pop_back();
                lk.unlock();
                launch(run, true);
                lk.lock();
                continue;
            }
            if (due_locked()) {
                std::vector<ovfb_item*> cancelled;
                ovfb_run* run = take_locked(cancelled);
                lk.unlock();
                answer_all(cancelled, 0, "");
                if (run) launch(run, true);
                lk.lock();
                continue;
            }
            if (closing && queue.empty() && running == 0) {
                cv_idle.notify_all();
                return;
            }
            if (queue.empty() || !job_idle() || manual_clock) {
                asleep = true;
                cv.wait(lk);
                asleep = false;
            } else {
                int64_t waited = now() - queue.front()->queued_ns;
                cv.wait_for(lk, std::chrono::nanoseconds(std::max<int64_t>(max_delay_ns - waited, 1000)));
            }
        }
    }

    // Starts a run on a job of its pool: waiting for one (may_block), or else, none idle, handing the run
    // to the dispatcher (OpenVINO's callback thread must not wait for a job only its return frees).
    void launch(ovfb_run* run, bool may_block) {
        if (!run->fail.empty()) return fail(run, 2, run->fail);
        run->which = run->items.size() == 1 ? 0 : 1;
        int job = -1;
        int st = api.acquire(pools[run->which], may_block ? -1 : 0, &job);
        if (st == 1 && !may_block) {  // OVFAST_TIMEOUT
            std::lock_guard<std::mutex> lk(m);
            handed.push_back(run);
            cv.notify_one();
            return;
        }
        if (st != 0) return fail(run, st, api.last_error());
        start_on(run, job);
    }

    // Copies the run's rows into its staging memory and binds them to the job with the batch's shape; a
    // lone item's straight into the batch-1 job's own tensors (binding would cost two set_tensor calls,
    // this one and the one that puts the job's tensor back at release).
    int bind_rows(ovfb_run* run, int job) {
        ovf_pool* pool = pools[run->which];
        size_t n = run->items.size();
        if (run->which == 0 && !bind_lone) {
            for (size_t i = 0; i < in_bytes.size(); i++) {
                void* data = nullptr;
                size_t nbytes = 0;
                int st = api.input(pool, job, i, &data, &nbytes);
                if (st != 0) return st;
                std::memcpy(data, run->items[0]->in[i], in_bytes[i]);
            }
            return 0;
        }
        char* dst = staging[run->slot].data();
        for (size_t i = 0; i < in_bytes.size(); i++) {
            for (size_t r = 0; r < n; r++) std::memcpy(dst + r * in_bytes[i], run->items[r]->in[i], in_bytes[i]);
            std::vector<int64_t> dims = in_dims[i];
            dims[0] = (int64_t)n;
            int st = api.bind(pool, job, false, i, dst, in_bytes[i] * n, dims.data(), dims.size());
            if (st != 0) return st;
            dst += in_bytes[i] * max_batch;
        }
        return 0;
    }

    // Copies each item's rows of the finished job's outputs to the item.
    int rows_out(ovfb_run* run, int job, std::string& error) {
        ovf_pool* pool = pools[run->which];
        size_t n = run->items.size();
        for (size_t o = 0; o < out_bytes.size(); o++) {
            void* data = nullptr;
            size_t nbytes = 0;
            int st = api.output(pool, job, o, &data, &nbytes);
            if (st != 0) {
                error = api.last_error();
                return st;
            }
            if (nbytes != out_bytes[o] * n) {
                error = "output " + std::to_string(o) + " of a batch of " + std::to_string(n) + " has " +
                        std::to_string(nbytes) + " bytes, not " + std::to_string(out_bytes[o] * n);
                return 2;
            }
            for (size_t r = 0; r < n; r++)
                std::memcpy(run->items[r]->out[o], (char*)data + r * out_bytes[o], out_bytes[o]);
        }
        return 0;
    }

    // Starts a run on a job (held) of its pool; done() takes it from there.
    void start_on(ovfb_run* run, int job) {
        ovf_pool* pool = pools[run->which];
        int st = bind_rows(run, job);
        if (st == 0) st = api.start(pool, job, &ovfb_batcher::done_cb, run);
        if (st != 0) {
            std::string e = api.last_error();
            api.release(pool, job);
            fail(run, st, e);
        }
    }

    static void done_cb(void* ctx, int job) {
        ovfb_run* run = static_cast<ovfb_run*>(ctx);
        run->b->done(run, job);
    }

    // On OpenVINO's callback thread: the run's rows out to its items; the next due batch started at once,
    // on this very job when it goes to the same model (the C-level API lets a done function restart its
    // job); then the items answered.
    void done(ovfb_run* run, int job) {
        ovf_pool* pool = pools[run->which];
        int st = api.wait(pool, job, 0);
        std::string error = st == 0 ? "" : api.last_error();
        if (st == 0) st = rows_out(run, job, error);
        std::vector<ovfb_item*> cancelled;
        ovfb_run* next = end_run(run, cancelled);
        if (next && next->fail.empty() && (next->items.size() == 1 ? 0 : 1) == run->which) {
            next->which = run->which;
            start_on(next, job);
        } else {
            api.release(pool, job);
            if (next) launch(next, false);
        }
        answer_all(cancelled, 0, "");
        answer_run(run, st, error);
    }

    // Waits for a synchronous item's answer (the caller let go of the GIL).
    static void wait_item(ovfb_item* it) {
        std::unique_lock<std::mutex> lk(it->m);
        it->cv.wait(lk, [it] { return it->state.load() == OVFB_DONE; });
    }

    void take_async(std::vector<ovfb_item*>& out) {
        uint64_t v;
        if (efd >= 0) { ssize_t r = ::read(efd, &v, sizeof(v)); (void)r; }
        std::lock_guard<std::mutex> lk(m);
        out.swap(answered_async);
    }

    // The callback thread: waits for answered callback items; false once closed and none are left.
    bool take_callbacks(std::vector<ovfb_item*>& out) {
        std::unique_lock<std::mutex> lk(m);
        cv_cb.wait(lk, [this] { return !answered_cb.empty() || cb_closing; });
        out.swap(answered_cb);
        return !out.empty() || !cb_closing;
    }

    void wait_idle() {
        std::unique_lock<std::mutex> lk(m);
        cv_idle.wait(lk, [this] { return idle_locked(); });
    }

    // True for the last one to let go of an item.
    static bool unref(ovfb_item* it) { return it->refs.fetch_sub(1) == 1; }

    // A cancelled caller's item: never run if still queued (whoever takes the queue then answers it).
    static void cancel(ovfb_item* it) {
        int expected = OVFB_QUEUED;
        it->state.compare_exchange_strong(expected, OVFB_CANCELLED);
    }

    // The figures, copied under the lock.
    void snapshot(std::vector<int64_t>& waits, std::vector<int64_t>& runs, unsigned long long& batches,
                  unsigned long long& items, std::vector<uint64_t>& by_size) {
        std::lock_guard<std::mutex> lk(m);
        by_size = n_by_size;
        waits = waits_ns;
        runs = runs_ns;
        batches = n_batches;
        items = n_items;
    }

    int queued() {
        std::lock_guard<std::mutex> lk(m);
        return (int)queue.size();
    }

    void set_fail_next(const std::string& error) {
        std::lock_guard<std::mutex> lk(m);
        fail_next = error;
    }

    void advance_clock(int64_t ns) {
        std::lock_guard<std::mutex> lk(m);
        manual_ns += ns;
        cv.notify_one();
    }

    // Stops taking items after those queued, which run; waits for every run to end.
    void close() {
        {
            std::lock_guard<std::mutex> lk(m);
            if (closing) return;
            closing = true;
            cv.notify_one();
        }
        if (dispatcher.joinable()) dispatcher.join();
        wait_idle();
        {
            std::lock_guard<std::mutex> lk(m);
            cb_closing = true;
        }
        cv_cb.notify_all();
    }

    ~ovfb_batcher() {
        close();
        if (efd >= 0) ::close(efd);
    }
};

// The C entry for other extensions (the video elements): one item whose inputs (in_bytes[i] each) and
// output memory (out_bytes[o] each) stay valid until notify is called, with ctx, exactly once.
extern "C" inline int ovfb_submit_c(void* core, const void* const* inputs, void* const* outputs,
                                    ovfb_notify_fn notify, void* ctx) {
    ovfb_batcher* b = static_cast<ovfb_batcher*>(core);
    ovfb_item* it = new ovfb_item();
    it->kind = OVFB_NOTIFY;
    it->notify = notify;
    it->user = ctx;
    for (size_t i = 0; i < b->in_bytes.size(); i++) it->in.push_back(static_cast<const char*>(inputs[i]));
    for (size_t o = 0; o < b->out_bytes.size(); o++) it->out.push_back(static_cast<char*>(outputs[o]));
    if (b->submit(it)) return 0;
    delete it;
    return -1;
}
