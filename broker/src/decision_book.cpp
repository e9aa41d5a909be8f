#include "optischema/broker/decision_book.hpp"

#include "optischema/broker/ownership.hpp"
#include "optischema/util/logging.hpp"
#include "optischema/util/strings.hpp"

#include "nats_options.hpp"

#include <nats/nats.h>

#include <fmt/format.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
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

/// How long the destructor waits for queued writes.
constexpr auto flush_wait = std::chrono::seconds{3};

/// The key prefix of a target's decisions.
std::string prefix(const std::string& target) {
  return fmt::format("t{:016x}", fnv1a(target));
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
      bucket_("optischema_decisions_" + opts_.fleet) {
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
    for (auto& l : loads_)
      l.done(failure{ec::broker_error, "the engine stopped"});
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
      loads_.push_back({target, std::move(done), 0});
    }
    cv_.notify_all();
  }

  stats get_stats() const override {
    std::lock_guard lock{mtx_};
    auto s = stats_;
    s.pending = pending_.size();
    return s;
  }

private:
  struct load_request {
    std::string target;
    loaded_fn done;
    int attempts;
  };

  void run() {
    std::unique_lock lock{mtx_};
    bool failed = false;
    for (;;) {
      auto ready = [&] {
        return stop_ || (!failed && (!pending_.empty() || !loads_.empty()));
      };
      if (failed)
        cv_.wait_for(lock, retry_delay); // a stop wakes it: one last try
      else
        cv_.wait(lock, ready);
      failed = false;
      if (stop_
          && (pending_.empty() || std::chrono::steady_clock::now() > stop_by_))
        return;
      if (pending_.empty() && loads_.empty())
        continue;
      auto puts = std::exchange(pending_, {});
      auto loads = std::exchange(loads_, {});
      lock.unlock();
      auto error = work(puts, loads);
      lock.lock();
      if (!error.empty()) {
        failed = true;
        ++stats_.failures;
        if (stats_.last_error != error)
          OPTISCHEMA_WARN("fleet {}: decisions wait for {}: {}", opts_.fleet,
                          bucket_, error);
        stats_.last_error = std::move(error);
      } else {
        stats_.last_error.clear();
      }
      // What was not done goes back, behind newer versions queued meanwhile.
      for (auto& [k, v] : puts)
        pending_.emplace(std::move(k), std::move(v));
      for (auto& l : loads)
        if (l.done)
          loads_.push_back(std::move(l));
    }
  }

  /// Stores `puts` (erasing each one stored), then answers `loads` (clearing
  /// each answered one's callback). Returns why it stopped early, or "".
  std::string work(std::map<std::string, std::string>& puts,
                   std::deque<load_request>& loads) {
    if (kv_ == nullptr)
      if (auto s = open(); s != NATS_OK) {
        auto text = "cannot open it on " + url_.redacted + ": " + describe(s);
        close();
        give_up_loads(loads, text);
        return text;
      }
    for (auto i = puts.begin(); i != puts.end();) {
      uint64_t rev = 0;
      auto s = kvStore_Put(&rev, kv_, i->first.c_str(), i->second.data(),
                           static_cast<int>(i->second.size()));
      if (s != NATS_OK) {
        auto text = "cannot store a decision: " + describe(s);
        close();
        give_up_loads(loads, text);
        return text;
      }
      i = puts.erase(i);
      std::lock_guard lock{mtx_};
      ++stats_.stored;
    }
    for (auto& l : loads) {
      std::vector<std::string> found;
      auto s = read(l.target, found);
      if (s != NATS_OK) {
        auto text = "cannot read the decisions of a target: " + describe(s);
        close();
        give_up_loads(loads, text);
        return text;
      }
      std::exchange(l.done, nullptr)(std::move(found));
      std::lock_guard lock{mtx_};
      ++stats_.loads;
    }
    return {};
  }

  /// Counts an attempt of each load; those out of attempts get the failure.
  void give_up_loads(std::deque<load_request>& loads, const std::string& why) {
    for (auto& l : loads)
      if (l.done && ++l.attempts >= load_attempts)
        std::exchange(l.done, nullptr)(failure{ec::broker_error, why});
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
    kv_ = conn_.kv;
    return s;
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
  // The book's thread only.
  detail::kv_handle conn_;
  kvStore* kv_ = nullptr; ///< conn_.kv, while open
  // Shared, under mtx_.
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::map<std::string, std::string> pending_;
  std::deque<load_request> loads_;
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
