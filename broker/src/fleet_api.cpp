#include "optischema/broker/fleet_api.hpp"

#include "optischema/broker/nats_client.hpp"
#include "optischema/broker/ownership.hpp"
#include "optischema/util/logging.hpp"
#include "optischema/util/redact.hpp"

#include "nats_options.hpp"

#include <nats/nats.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <tuple>
#include <utility>

namespace optischema::broker {

namespace {

using namespace std::chrono_literals;

/// How long the destructor waits for cnats to confirm the close before it
/// leaks the callback state rather than risk a use-after-free.
constexpr auto closed_wait = 10s;

/// Outside optischema.>, which the events stream captures: JetStream would
/// store a request there and answer it with its acknowledgement first.
std::string subject_of(const std::string& fleet, const std::string& engine) {
  return "optischema_api." + fleet + "." + engine;
}

/// What cnats callbacks and pending replies touch. Replies may come after
/// the API is gone (an answer the EDGE sends late): they hold the core and
/// find no connection then.
struct api_core : std::enable_shared_from_this<api_core> {
  std::mutex mtx;
  std::condition_variable cv;
  fleet_api::handler handle;
  fleet_api::event_handler on_event;
  std::string fleet;
  std::string engine;
  natsConnection* nc = nullptr; ///< null once closing: replies are dropped
  bool closed = false;

  void reply(const std::string& to, const std::string& answer) {
    std::lock_guard guard{mtx};
    if (nc != nullptr)
      natsConnection_Publish(nc, to.c_str(), answer.data(),
                             static_cast<int>(answer.size()));
  }
};

class cnats_fleet_api final : public fleet_api {
public:
  cnats_fleet_api(std::string fleet, std::string engine, detail::nats_url url)
    : fleet_(std::move(fleet)), engine_(std::move(engine)),
      url_(std::move(url)), core_(std::make_shared<api_core>()) {
    core_->fleet = fleet_;
    core_->engine = engine_;
  }

  ~cnats_fleet_api() override {
    for (auto* sub : {sub_, events_}) {
      if (sub == nullptr)
        continue;
      natsSubscription_Unsubscribe(sub);
      natsSubscription_Destroy(sub);
    }
    {
      std::lock_guard guard{core_->mtx};
      core_->nc = nullptr; // replies from now on are dropped
    }
    bool confirmed = true;
    if (nc_ != nullptr) {
      natsConnection_Close(nc_);
      std::unique_lock lock{core_->mtx};
      confirmed = core_->cv.wait_for(lock, closed_wait,
                                     [this] { return core_->closed; });
    }
    if (nc_ != nullptr)
      natsConnection_Destroy(nc_);
    if (!confirmed) {
      // cnats may still call back with core_.get(): keep it alive.
      new std::shared_ptr<api_core>(core_);
      OPTISCHEMA_ERROR("fleet API: no closed callback within {} s; leaking "
                       "its state to stay safe",
                       closed_wait.count());
    }
  }

  natsStatus start(const std::string& url) {
    natsOptions* o = nullptr;
    auto s = natsOptions_Create(&o);
    if (s == NATS_OK)
      s = detail::fleet_connection_options(o, url, url_,
                                           "optischema api " + engine_);
    if (s == NATS_OK)
      s = natsOptions_SetClosedCB(o, on_closed, core_.get());
    // Connects in the background when NATS is not there yet; the
    // subscription below is sent once it is.
    if (s == NATS_OK)
      s = natsOptions_SetRetryOnFailedConnect(o, true, nullptr, nullptr);
    if (s == NATS_OK) {
      s = natsConnection_Connect(&nc_, o);
      if (s == NATS_NOT_YET_CONNECTED)
        s = NATS_OK;
    }
    if (o != nullptr)
      natsOptions_Destroy(o);
    if (s == NATS_OK) {
      std::lock_guard guard{core_->mtx};
      core_->nc = nc_;
    }
    if (s == NATS_OK)
      s = natsConnection_Subscribe(&sub_, nc_,
                                   subject_of(fleet_, engine_).c_str(),
                                   on_request, core_.get());
    return s;
  }

  void serve(handler h) override {
    std::lock_guard guard{core_->mtx};
    core_->handle = std::move(h);
  }

  void watch(event_handler h) override {
    std::lock_guard guard{core_->mtx};
    core_->on_event = std::move(h);
    if (events_ != nullptr || core_->nc == nullptr)
      return;
    // Every event subject; the stream over it does not see this (a plain
    // subscription stores nothing).
    auto s = natsConnection_Subscribe(&events_, core_->nc, "optischema.>",
                                      on_fleet_event, core_.get());
    if (s == NATS_OK)
      s = natsSubscription_SetPendingLimits(events_, max_backlog,
                                            max_backlog_bytes);
    if (s != NATS_OK)
      OPTISCHEMA_WARN("fleet API: cannot subscribe to the fleet's events: {}",
                      natsStatus_GetText(s));
  }

  uint64_t events_dropped() const override {
    std::lock_guard guard{core_->mtx};
    if (events_ == nullptr)
      return 0;
    int64_t dropped = 0;
    natsSubscription_GetDropped(events_, &dropped);
    return static_cast<uint64_t>(dropped);
  }

  expected<std::string> ask(const std::string& engine,
                            const std::string& request,
                            std::chrono::milliseconds timeout) override {
    if (auto bad = check_fleet_name("the engine id", engine, true);
        !bad.empty())
      return failure{ec::bad_request, bad};
    if (request.size() > max_message)
      return failure{ec::bad_request, "request too large to forward"};
    natsMsg* reply = nullptr;
    auto s = natsConnection_Request(
      &reply, nc_, subject_of(fleet_, engine).c_str(), request.data(),
      static_cast<int>(request.size()), timeout.count());
    if (s != NATS_OK) {
      auto why = s == NATS_TIMEOUT ? "did not answer in time"
        : s == NATS_NO_RESPONDERS  ? "is not listening (stopped, or "
                                     "not yet subscribed)"
                                   : natsStatus_GetText(s);
      return failure{ec::timeout, "engine " + engine + " " + why};
    }
    std::string answer{natsMsg_GetData(reply),
                       static_cast<size_t>(natsMsg_GetDataLength(reply))};
    natsMsg_Destroy(reply);
    return answer;
  }

private:
  static void on_closed(natsConnection*, void* closure) {
    auto* core = static_cast<api_core*>(closure);
    std::lock_guard guard{core->mtx};
    core->closed = true;
    core->cv.notify_all();
  }

  static void on_request(natsConnection*, natsSubscription*, natsMsg* msg,
                         void* closure) {
    // core_ lives until cnats confirmed the close (or forever).
    auto core = static_cast<api_core*>(closure)->shared_from_this();
    std::string reply_to
      = natsMsg_GetReply(msg) != nullptr ? natsMsg_GetReply(msg) : "";
    auto len = static_cast<size_t>(natsMsg_GetDataLength(msg));
    std::string request{natsMsg_GetData(msg), len};
    natsMsg_Destroy(msg);
    if (reply_to.empty())
      return; // nobody waits for an answer
    handler h;
    {
      std::lock_guard guard{core->mtx};
      h = core->handle;
    }
    auto reply = [core, reply_to](const std::string& answer) {
      core->reply(reply_to, answer);
    };
    if (!h || len > max_message) {
      reply(
        R"({"status":503,"content_type":"application/json","body":"{\"error\":{\"code\":\"disabled\",\"message\":\"this engine does not answer for the fleet right now\"}}"})");
      return;
    }
    h(std::move(request), std::move(reply));
  }

  static void on_fleet_event(natsConnection*, natsSubscription*, natsMsg* msg,
                             void* closure) {
    auto core = static_cast<api_core*>(closure)->shared_from_this();
    const char* fleet = nullptr;
    const char* engine = nullptr;
    natsMsgHeader_Get(msg, fleet_header, &fleet);
    natsMsgHeader_Get(msg, engine_header, &engine);
    // Another fleet's on the same NATS, this engine's own (sent to its
    // clients directly), or nobody's: not relayed.
    bool ours = fleet != nullptr && engine != nullptr && *engine != '\0'
      && core->fleet == fleet && core->engine != engine;
    std::string subject = natsMsg_GetSubject(msg);
    std::string data{natsMsg_GetData(msg),
                     static_cast<size_t>(natsMsg_GetDataLength(msg))};
    natsMsg_Destroy(msg);
    if (!ours)
      return;
    event_handler h;
    {
      std::lock_guard guard{core->mtx};
      h = core->on_event;
    }
    if (h)
      h(std::move(subject), std::move(data));
  }

  /// Events waiting for the handler, at most (cnats drops the rest).
  static constexpr int max_backlog = 10'000;
  static constexpr int max_backlog_bytes = 64 * 1024 * 1024;

  const std::string fleet_;
  const std::string engine_;
  const detail::nats_url url_;
  std::shared_ptr<api_core> core_;
  natsConnection* nc_ = nullptr;
  natsSubscription* sub_ = nullptr;
  natsSubscription* events_ = nullptr; ///< under core_->mtx
};

} // namespace

expected<std::shared_ptr<fleet_api>>
fleet_api::create(const std::string& url, const std::string& fleet,
                  const std::string& engine) {
  for (auto [what, name, dot] : {std::tuple{"the fleet name", fleet, false},
                                 std::tuple{"the engine id", engine, true}})
    if (auto bad = check_fleet_name(what, name, dot); !bad.empty())
      return failure{ec::invalid_configuration, bad};
  detail::nats_url parsed;
  std::string reason;
  if (!detail::parse_nats_url(url, parsed, reason))
    return failure{ec::invalid_configuration,
                   "invalid NATS URL '" + detail::redact_nats_url(url)
                     + "': " + reason};
  auto api = std::make_shared<cnats_fleet_api>(fleet, engine, parsed);
  if (auto s = api->start(url); s != NATS_OK)
    return failure{ec::broker_error,
                   redact_secrets("cannot start the fleet's API on "
                                  + parsed.redacted + ": "
                                  + natsStatus_GetText(s))};
  return std::shared_ptr<fleet_api>{std::move(api)};
}

} // namespace optischema::broker
