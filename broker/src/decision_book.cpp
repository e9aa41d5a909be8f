#include "optischema/broker/decision_book.hpp"

#include "optischema/broker/nats_client.hpp"
#include "optischema/broker/ownership.hpp"
#include "optischema/util/logging.hpp"
#include "optischema/util/strings.hpp"

#include "nats_options.hpp"

#include <nats/nats.h>

#include <fmt/format.h>

#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <tuple>
#include <utility>

namespace optischema::broker {

namespace {

/// Bound for connecting and for each JetStream request.
constexpr int64_t request_wait_ms = 2000;

/// After a failed attempt, the next waits this long.
constexpr auto retry_delay = std::chrono::seconds{1};

/// A target's read fails after this many attempts (its owner keeps what it
/// has in RocksDB, and says so in the log).
constexpr int load_attempts = 3;

/// Hours of history waiting for NATS, at most (a day of 40 targets; the
/// engine keeps them in its own history either way).
constexpr size_t max_queued_rollups = 1000;

/// How long the destructor waits for queued writes.
constexpr auto flush_wait = std::chrono::seconds{3};

/// The key prefix of a target's decisions.
std::string prefix(const std::string& target) {
  return fmt::format("t{:016x}", fnv1a(target));
}

/// The key of what fires on a target (outside prefix(target).*, which
/// load() reads).
std::string alerts_key(const std::string& target) {
  return fmt::format("a{:016x}", fnv1a(target));
}

/// Ids are the engine's own (16 hex digits); anything else is no key.
bool plain_id(const std::string& id) {
  return !id.empty() && id.size() <= 64
    && id.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz_-")
    == std::string::npos;
}

class cnats_decision_book final : public decision_book {
public:
  cnats_decision_book(decision_book_options opts, detail::nats_url url)
    : opts_(std::move(opts)), url_(std::move(url)),
      bucket_("optischema_decisions_" + opts_.fleet),
      stream_("optischema_audit_" + opts_.fleet),
      audit_subject_("optischema_audit." + opts_.fleet),
      rollup_stream_("optischema_rollups_" + opts_.fleet),
      rollup_subject_("optischema_rollup." + opts_.fleet),
      id_prefix_(random_prefix()) {
    thread_ = std::thread{[this] { run(); }};
  }

  ~cnats_decision_book() override {
    {
      std::lock_guard lock{mtx_};
      stop_ = true;
      stop_by_ = std::chrono::steady_clock::now() + flush_wait;
    }
    cv_.notify_all();
    thread_.join();
    close();
    std::lock_guard lock{mtx_};
    if (!pending_.empty())
      OPTISCHEMA_WARN("fleet {}: {} decisions were not stored in {} before "
                      "the engine stopped; they stay in this engine's history",
                      opts_.fleet, pending_.size(), bucket_);
    if (!audit_.empty())
      OPTISCHEMA_WARN("fleet {}: {} audit entries were not stored in {} "
                      "before the engine stopped; they stay in this engine's "
                      "audit log",
                      opts_.fleet, audit_.size(), stream_);
    for (auto& l : loads_)
      l.done(failure{ec::broker_error, "the engine stopped"});
    for (auto& p : pages_)
      p.done(failure{ec::broker_error, "the engine stopped"});
    for (auto& r : histories_)
      r.done(failure{ec::broker_error, "the engine stopped"});
  }

  void put(const std::string& target, const std::string& id,
           std::string json) override {
    if (!plain_id(id)) {
      OPTISCHEMA_WARN("fleet {}: a decision with id '{:.64}' is not stored",
                      opts_.fleet, id);
      return;
    }
    {
      std::lock_guard lock{mtx_};
      pending_[key(target, id)] = std::move(json);
    }
    cv_.notify_all();
  }

  void load(const std::string& target, loaded_fn done) override {
    {
      std::lock_guard lock{mtx_};
      loads_.push_back({target, std::move(done), 0, false});
    }
    cv_.notify_all();
  }

  void put_alerts(const std::string& target, std::string json) override {
    {
      std::lock_guard lock{mtx_};
      pending_[alerts_key(target)] = std::move(json);
    }
    cv_.notify_all();
  }

  void load_alerts(const std::string& target, loaded_fn done) override {
    {
      std::lock_guard lock{mtx_};
      loads_.push_back({target, std::move(done), 0, true});
    }
    cv_.notify_all();
  }

  void record(const std::string& target, std::string json) override {
    {
      std::lock_guard lock{mtx_};
      // The stream drops a resend with the same id (a lost acknowledgement).
      audit_.push_back({audit_subject_ + "." + prefix(target),
                        id_prefix_ + std::to_string(++audit_seq_),
                        std::move(json)});
    }
    cv_.notify_all();
  }

  void read_history(const std::string& target, int64_t since_ms, size_t batch,
                    size_t max_events, size_t max_bytes,
                    events_fn done) override {
    if (opts_.events_stream.empty())
      return;
    {
      std::lock_guard lock{mtx_};
      histories_.push_back({target, since_ms, std::max<size_t>(batch, 1),
                            std::max<size_t>(max_events, 1), max_bytes,
                            std::move(done), 0, false});
    }
    cv_.notify_all();
  }

  void publish_rollup(const std::string& target, std::string json) override {
    {
      std::lock_guard lock{mtx_};
      // Hours wait for a NATS that is away, within a bound: the oldest go
      // first (the engine keeps them in its own history either way).
      if (rollups_.size() >= max_queued_rollups) {
        rollups_.pop_front();
        ++stats_.failures;
      }
      rollups_.push_back({rollup_subject_ + "." + prefix(target),
                          id_prefix_ + "r" + std::to_string(++rollup_seq_),
                          std::move(json)});
    }
    cv_.notify_all();
  }

  void read_rollups(const std::string& target, int64_t since_ms, size_t batch,
                    size_t max_bytes, events_fn done) override {
    {
      std::lock_guard lock{mtx_};
      histories_.push_back({target, since_ms, std::max<size_t>(batch, 1),
                            std::numeric_limits<size_t>::max(), max_bytes,
                            std::move(done), 0, true});
    }
    cv_.notify_all();
  }

  void read_audit(size_t limit, size_t offset, page_fn done) override {
    {
      std::lock_guard lock{mtx_};
      pages_.push_back({limit, offset, std::move(done), 0});
    }
    cv_.notify_all();
  }

  stats get_stats() const override {
    std::lock_guard lock{mtx_};
    auto s = stats_;
    s.pending = pending_.size();
    s.audit_pending = audit_.size();
    s.rollups_pending = rollups_.size();
    return s;
  }

private:
  struct audit_record {
    std::string subject;
    std::string id;
    std::string json;
  };

  struct history_request {
    std::string target;
    int64_t since_ms;
    size_t batch;
    size_t max_events;
    size_t max_bytes;
    events_fn done;
    int attempts;
    bool rollups; ///< the roll-up stream rather than the events stream
  };

  struct page_request {
    size_t limit;
    size_t offset;
    page_fn done;
    int attempts;
  };

  static std::string random_prefix() {
    std::random_device rd;
    return fmt::format("{:08x}{:08x}-", rd(), rd());
  }

  struct load_request {
    std::string target;
    loaded_fn done;
    int attempts;
    bool alerts; ///< what fires on it (load_alerts), not its decisions
  };

  /// What one round of the book's thread does.
  struct batch {
    std::map<std::string, std::string> puts;
    std::deque<audit_record> audit;
    std::deque<audit_record> rollups;
    std::deque<load_request> loads;
    std::deque<page_request> pages;
    std::deque<history_request> histories;
  };

  bool idle_locked() const {
    return pending_.empty() && audit_.empty() && rollups_.empty()
      && loads_.empty() && pages_.empty() && histories_.empty();
  }

  void run() {
    std::unique_lock lock{mtx_};
    bool failed = false;
    for (;;) {
      auto ready = [&] { return stop_ || (!failed && !idle_locked()); };
      if (failed)
        cv_.wait_for(lock, retry_delay); // a stop wakes it: one last try
      else
        cv_.wait(lock, ready);
      failed = false;
      if (stop_
          && ((pending_.empty() && audit_.empty())
              || std::chrono::steady_clock::now() > stop_by_))
        return;
      if (idle_locked())
        continue;
      batch b{std::exchange(pending_, {}), std::exchange(audit_, {}),
              std::exchange(rollups_, {}), std::exchange(loads_, {}),
              std::exchange(pages_, {}),   {}};
      // One history at a time: a takeover's decisions and a person's page
      // of the audit log do not wait behind a hundred targets' events.
      if (!histories_.empty()) {
        b.histories.push_back(std::move(histories_.front()));
        histories_.pop_front();
      }
      lock.unlock();
      auto error = work(b);
      lock.lock();
      if (!error.empty()) {
        failed = true;
        ++stats_.failures;
        if (stats_.last_error != error)
          OPTISCHEMA_WARN("fleet {}: decisions and audit entries wait for "
                          "NATS: {}",
                          opts_.fleet, error);
        stats_.last_error = std::move(error);
      } else {
        stats_.last_error.clear();
      }
      // What was not done goes back, behind newer versions queued meanwhile
      // (audit entries before those queued meanwhile: their order is kept).
      for (auto& [k, v] : b.puts)
        pending_.emplace(std::move(k), std::move(v));
      audit_.insert(audit_.begin(), std::make_move_iterator(b.audit.begin()),
                    std::make_move_iterator(b.audit.end()));
      rollups_.insert(rollups_.begin(),
                      std::make_move_iterator(b.rollups.begin()),
                      std::make_move_iterator(b.rollups.end()));
      for (auto& l : b.loads)
        if (l.done)
          loads_.push_back(std::move(l));
      for (auto& p : b.pages)
        if (p.done)
          pages_.push_back(std::move(p));
      for (auto& r : b.histories)
        if (r.done)
          histories_.push_back(std::move(r));
    }
  }

  /// Stores the batch's decisions and audit entries (erasing each one
  /// stored), then answers its loads and pages (clearing each answered
  /// one's callback). Returns why it stopped early, or "".
  std::string work(batch& b) {
    auto fail = [&](std::string text) {
      close();
      give_up(b, text);
      return text;
    };
    if (kv_ == nullptr)
      if (auto s = open(); s != NATS_OK)
        return fail("cannot open it on " + url_.redacted + ": " + describe(s));
    // Too big for this server: no retry makes it fit, and it must not hold
    // up what is queued behind it (a statement's text is any size a
    // database user wrote). Dropped, said and counted.
    auto too_big = [&](natsStatus s, const char* what, size_t bytes) {
      if (s != NATS_MAX_PAYLOAD)
        return false;
      OPTISCHEMA_WARN("fleet {}: {} of {} bytes is larger than the NATS "
                      "server takes; kept in this engine only",
                      opts_.fleet, what, bytes);
      std::lock_guard lock{mtx_};
      ++stats_.failures;
      return true;
    };
    for (auto i = b.puts.begin(); i != b.puts.end();) {
      uint64_t rev = 0;
      auto s = kvStore_Put(&rev, kv_, i->first.c_str(), i->second.data(),
                           static_cast<int>(i->second.size()));
      if (too_big(s, "a decision", i->second.size())) {
        i = b.puts.erase(i);
        continue;
      }
      if (s != NATS_OK)
        return fail("cannot store a decision: " + describe(s));
      i = b.puts.erase(i);
      std::lock_guard lock{mtx_};
      ++stats_.stored;
    }
    for (auto [queue, what, stored] :
         {std::tuple{&b.audit, "an audit entry", &stats_.audit_stored},
          std::tuple{&b.rollups, "an hour of history",
                     &stats_.rollups_stored}}) {
      while (!queue->empty()) {
        auto s = publish(queue->front());
        if (!too_big(s, what, queue->front().json.size()) && s != NATS_OK)
          return fail(fmt::format("cannot store {}: {}", what, describe(s)));
        auto ok = s == NATS_OK;
        queue->pop_front();
        std::lock_guard lock{mtx_};
        *stored += ok ? 1 : 0;
      }
    }
    for (auto& l : b.loads) {
      std::vector<std::string> found;
      if (auto s = l.alerts ? read_alerts(l.target, found)
                            : read(l.target, found);
          s != NATS_OK)
        return fail(fmt::format("cannot read the {} of a target: {}",
                                l.alerts ? "alerts" : "decisions",
                                describe(s)));
      std::exchange(l.done, nullptr)(std::move(found));
      std::lock_guard lock{mtx_};
      ++stats_.loads;
    }
    for (auto& p : b.pages) {
      audit_page page;
      if (auto s = read_page(p.limit, p.offset, page); s != NATS_OK)
        return fail("cannot read the fleet's audit log: " + describe(s));
      std::exchange(p.done, nullptr)(std::move(page));
    }
    for (auto& r : b.histories) {
      if (auto s = read_events(r); s != NATS_OK)
        return fail("cannot read the fleet's metrics events: " + describe(s));
      r.done = nullptr;
    }
    return {};
  }

  /// Publishes to a stream, which drops a resend with the same id (after a
  /// lost acknowledgement).
  natsStatus publish(const audit_record& e) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = e.id.c_str();
    po.MaxWait = request_wait_ms;
    jsErrCode jerr{};
    return js_Publish(nullptr, conn_.js, e.subject.c_str(), e.json.data(),
                      static_cast<int>(e.json.size()), &po, &jerr);
  }

  /// Reads `r`'s events (or roll-ups) through an ordered consumer from its
  /// start time, handing them over in batches. Another fleet's events on
  /// the same NATS (the header says whose) are left out; the roll-up stream
  /// is the fleet's own.
  natsStatus read_events(history_request& r) {
    auto subject = r.rollups ? rollup_subject_ + "." + prefix(r.target)
                             : "optischema." + r.target + ".metrics";
    const auto& stream = r.rollups ? rollup_stream_ : opts_.events_stream;
    auto since_ns = std::max<int64_t>(r.since_ms, 0) * 1'000'000;
    // Nothing since then: no consumer (each adoption of a new fleet's
    // targets would wait for a first event that never comes).
    natsMsg* last = nullptr;
    jsErrCode jerr{};
    auto s = js_GetLastMsg(&last, conn_.js, stream.c_str(), subject.c_str(),
                           nullptr, &jerr);
    // No stream yet (the BROKER makes it as it connects): nothing either.
    if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr
        || jerr == JSStreamNotFoundErr)
      return NATS_OK;
    if (s != NATS_OK)
      return s;
    auto newest_ns = natsMsg_GetTime(last);
    natsMsg_Destroy(last);
    if (newest_ns < since_ns)
      return NATS_OK;
    natsSubscription* sub = nullptr;
    auto subscribe = [&](int64_t from_ns) {
      if (sub != nullptr) {
        natsSubscription_Unsubscribe(sub);
        natsSubscription_Destroy(std::exchange(sub, nullptr));
      }
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Stream = stream.c_str();
      so.Ordered = true;
      so.Config.DeliverPolicy = js_DeliverByStartTime;
      so.Config.OptStartTime = from_ns;
      return js_SubscribeSync(&sub, conn_.js, subject.c_str(), nullptr, &so,
                              &jerr);
    };
    s = subscribe(since_ns);
    std::vector<std::string> batch;
    size_t bytes = 0;
    uint64_t read = 0;
    bool first = true;
    // Each message says how many were left when it was sent: the last one
    // of the stream (as it was then) says none.
    for (uint64_t left = 1; s == NATS_OK && left > 0 && bytes < r.max_bytes;) {
      natsMsg* m = nullptr;
      s = natsSubscription_NextMsg(&m, sub, request_wait_ms);
      if (s != NATS_OK)
        break;
      int64_t sent_ns = 0;
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
        left = meta->NumPending;
        sent_ns = meta->Timestamp;
        jsMsgMetaData_Destroy(meta);
      }
      // More than wanted: start again where the newest `max_events` begin,
      // judged from the times (events come about once a poll interval).
      if (std::exchange(first, false) && left + 1 > r.max_events && sent_ns > 0
          && newest_ns > sent_ns) {
        natsMsg_Destroy(m);
        auto span = static_cast<double>(newest_ns - sent_ns);
        auto keep = static_cast<double>(r.max_events)
          / static_cast<double>(left + 1);
        s = subscribe(newest_ns - static_cast<int64_t>(span * keep));
        left = 1;
        continue;
      }
      const char* fleet = nullptr;
      natsMsgHeader_Get(m, fleet_header, &fleet);
      if (r.rollups || (fleet != nullptr && opts_.fleet == fleet)) {
        auto len = static_cast<size_t>(natsMsg_GetDataLength(m));
        batch.emplace_back(natsMsg_GetData(m), len);
        bytes += len;
        ++read;
      }
      natsMsg_Destroy(m);
      if (batch.size() >= r.batch)
        r.done(std::exchange(batch, {}));
    }
    if (sub == nullptr)
      return s;
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    if (!batch.empty())
      r.done(std::move(batch));
    std::lock_guard lock{mtx_};
    (r.rollups ? stats_.rollups_read : stats_.events_read) += read;
    // A timeout with events left: the stream is slow, not gone; what came
    // is kept, the rest is not read again (the batches were handed over).
    return s == NATS_TIMEOUT ? NATS_OK : s;
  }

  /// Counts an attempt of each read; those out of attempts get the failure.
  void give_up(batch& b, const std::string& why) {
    for (auto& l : b.loads)
      if (l.done && ++l.attempts >= load_attempts)
        std::exchange(l.done, nullptr)(failure{ec::broker_error, why});
    for (auto& r : b.histories)
      if (r.done && ++r.attempts >= load_attempts)
        std::exchange(r.done, nullptr)(failure{ec::broker_error, why});
    // A page is for a person waiting: it fails at once (the EDGE says the
    // fleet's log is away and shows this engine's own).
    for (auto& p : b.pages)
      if (p.done)
        std::exchange(p.done, nullptr)(failure{ec::broker_error, why});
  }

  /// Entries of the audit stream, newest first: its sequence numbers run
  /// without gaps from the first kept to the last (only age removes them).
  natsStatus read_page(size_t limit, size_t offset, audit_page& out) {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr{};
    auto s = js_GetStreamInfo(&si, conn_.js, stream_.c_str(), nullptr, &jerr);
    if (s != NATS_OK)
      return s;
    auto first = si->State.FirstSeq;
    auto last = si->State.LastSeq;
    out.total = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    if (out.total == 0 || offset >= out.total)
      return NATS_OK;
    for (auto seq = last - offset; seq >= first && out.entries.size() < limit;
         --seq) {
      natsMsg* m = nullptr;
      s = js_GetMsg(&m, conn_.js, stream_.c_str(), seq, nullptr, &jerr);
      if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) {
        s = NATS_OK; // aged out meanwhile
      } else if (s != NATS_OK) {
        return s;
      } else {
        out.entries.emplace_back(natsMsg_GetData(m),
                                 static_cast<size_t>(natsMsg_GetDataLength(m)));
        natsMsg_Destroy(m);
      }
      if (seq == 0)
        break;
    }
    return NATS_OK;
  }

  /// Every value under the target's prefix: a watcher delivers the current
  /// values, then an empty entry.
  natsStatus read(const std::string& target, std::vector<std::string>& out) {
    kvWatchOptions wo;
    kvWatchOptions_Init(&wo);
    wo.IgnoreDeletes = true;
    kvWatcher* w = nullptr;
    auto filter = prefix(target) + ".*";
    auto s = kvStore_Watch(&w, kv_, filter.c_str(), &wo);
    while (s == NATS_OK) {
      kvEntry* e = nullptr;
      s = kvWatcher_Next(&e, w, request_wait_ms);
      if (s != NATS_OK || e == nullptr)
        break;
      if (kvEntry_Operation(e) == kvOp_Put)
        out.emplace_back(static_cast<const char*>(kvEntry_Value(e)),
                         static_cast<size_t>(kvEntry_ValueLen(e)));
      kvEntry_Destroy(e);
    }
    if (w != nullptr)
      kvWatcher_Destroy(w);
    return s;
  }

  /// The one value of what fires on `target`, if it was ever stored.
  natsStatus read_alerts(const std::string& target,
                         std::vector<std::string>& out) {
    kvEntry* e = nullptr;
    auto s = kvStore_Get(&e, kv_, alerts_key(target).c_str());
    if (s == NATS_NOT_FOUND)
      return NATS_OK;
    if (s == NATS_OK && kvEntry_Operation(e) == kvOp_Put)
      out.emplace_back(static_cast<const char*>(kvEntry_Value(e)),
                       static_cast<size_t>(kvEntry_ValueLen(e)));
    if (e != nullptr)
      kvEntry_Destroy(e);
    return s;
  }

  natsStatus open() {
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = bucket_.c_str();
    kc.Description = "OptiSchema decisions (one key per recommendation a "
                     "person or the engine decided on)";
    kc.History = 1;
    kc.Replicas = opts_.replicas;
    kc.StorageType = js_FileStorage;
    auto s = conn_.open(opts_.url, url_, "optischema decisions", kc,
                        request_wait_ms);
    if (s == NATS_OK)
      s = open_stream(stream_, audit_subject_,
                      "OptiSchema audit log (every change an engine of the "
                      "fleet made to a target, in order)",
                      opts_.audit_max_age);
    if (s == NATS_OK)
      s = open_stream(rollup_stream_, rollup_subject_,
                      "OptiSchema hourly history (an hour of a target's "
                      "figures and top statements, as an engine rolled it "
                      "up)",
                      opts_.rollup_max_age);
    if (s != NATS_OK) {
      conn_.close();
      return s;
    }
    kv_ = conn_.kv;
    return s;
  }

  /// Creates a stream of the book's (over `subject`.>), or takes it as
  /// another engine (or an operator) made it.
  natsStatus open_stream(const std::string& name, const std::string& subject,
                         const char* description,
                         std::chrono::milliseconds max_age) {
    jsErrCode jerr{};
    jsStreamInfo* si = nullptr;
    auto s = js_GetStreamInfo(&si, conn_.js, name.c_str(), nullptr, &jerr);
    if (s == NATS_OK) {
      jsStreamInfo_Destroy(si);
      return s;
    }
    if (jerr != JSStreamNotFoundErr)
      return s;
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    auto all = subject + ".>";
    const char* subjects[] = {all.c_str()};
    cfg.Name = name.c_str();
    cfg.Description = description;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = opts_.replicas;
    cfg.MaxAge
      = std::chrono::duration_cast<std::chrono::nanoseconds>(max_age).count();
    s = js_AddStream(nullptr, conn_.js, &cfg, nullptr, &jerr);
    return s == NATS_OK || jerr == JSStreamNameExistErr ? NATS_OK : s;
  }

  void close() {
    kv_ = nullptr;
    conn_.close();
  }

  std::string describe(natsStatus s) const {
    return detail::scrub(detail::describe(s), url_);
  }

  const decision_book_options opts_;
  const detail::nats_url url_;
  const std::string bucket_;
  const std::string stream_;
  const std::string audit_subject_;
  const std::string rollup_stream_;
  const std::string rollup_subject_;
  const std::string id_prefix_;
  // The book's thread only.
  detail::kv_handle conn_;
  kvStore* kv_ = nullptr; ///< conn_.kv, while open
  // Shared, under mtx_.
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::map<std::string, std::string> pending_;
  std::deque<audit_record> audit_;
  uint64_t audit_seq_ = 0;
  std::deque<audit_record> rollups_;
  uint64_t rollup_seq_ = 0;
  std::deque<load_request> loads_;
  std::deque<page_request> pages_;
  std::deque<history_request> histories_;
  stats stats_;
  bool stop_ = false;
  std::chrono::steady_clock::time_point stop_by_;
  std::thread thread_;
};

} // namespace

std::string decision_book::key(const std::string& target,
                               const std::string& id) {
  return prefix(target) + "." + id;
}

expected<std::shared_ptr<decision_book>>
decision_book::create(decision_book_options opts) {
  auto url = detail::fleet_url(opts.fleet, opts.url);
  if (!url)
    return url.error();
  return std::shared_ptr<decision_book>{
    new cnats_decision_book(std::move(opts), std::move(*url))};
}

} // namespace optischema::broker
