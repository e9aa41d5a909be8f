#include "optischema/broker/nats_client.hpp"

#include "optischema/util/clock.hpp"
#include "optischema/util/logging.hpp"
#include "optischema/util/redact.hpp"

#include "nats_options.hpp"

#include <fmt/format.h>
#include <nats/nats.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace optischema::broker {

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

/// All events go here; one stream over this wildcard replays them.
constexpr const char* stream_subject = "optischema.>";

/// Bound for a single connect attempt, also the longest a destructor can
/// wait for a worker stuck in natsConnection_Connect.
constexpr int64_t connect_timeout_ms = 2000;

/// Bound for every JetStream API request (stream info, add, update).
constexpr int64_t jetstream_wait_ms = 2000;

/// How long the destructor flushes a live connection.
constexpr int64_t final_flush_ms = 1000;

/// How long the destructor waits for cnats' closed callback before it gives
/// up and leaks the callback state rather than risking a use-after-free.
constexpr auto closed_wait = 10s;

/// Pause before retrying a publish that cnats refused for a passing reason.
constexpr auto publish_backoff = 100ms;

/// Pause before asking JetStream again after a timeout.
constexpr auto jetstream_retry = 5s;

/// Events sent to the stream and not yet acknowledged, at most; the rest
/// wait in the FIFO. Bounds memory and what a lost connection puts at risk.
constexpr size_t max_unacked = 1024;

/// How long JetStream may take to acknowledge one event before it is sent
/// again (with the same message id: the stream stores it once).
constexpr int64_t ack_wait_ms = 5000;

/// Sends of one event JetStream refused before it counts as not stored.
constexpr int max_store_attempts = 5;

/// cnats' own reconnect buffer only holds what is published between the
/// socket dying and our disconnected callback; our FIFO does the rest.
constexpr int reconnect_buf_bytes = 8 * 1024 * 1024;

/// Dead peers that never close the socket are noticed after about
/// interval * (max_pings_out + 1) instead of cnats' default 6 minutes.
constexpr int64_t ping_interval_ms = 10'000;
constexpr int max_pings_out = 2;

enum class conn_state { connecting, connected, disconnected };

const char* to_string(conn_state x) {
  switch (x) {
    case conn_state::connecting: return "connecting";
    case conn_state::connected: return "connected";
    case conn_state::disconnected: return "disconnected";
  }
  return "unknown";
}

struct pending_message {
  std::string subject;
  std::string data;
  /// Nats-Msg-Id: JetStream drops a resend it already stored (its
  /// duplicate window), so a retry after a lost acknowledgement is safe.
  std::string id;
  /// Sent before (JetStream refused it or did not confirm it in time).
  bool resend = false;
};

/// A prefix no other engine (or restart of this one) uses for message ids.
std::string unique_prefix() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}-", rd(), rd());
}

/// Errors that no reconnect can fix: buffering such a message would block
/// the FIFO forever, so it is dropped and counted instead.
bool is_permanent(natsStatus s) {
  return s == NATS_INVALID_SUBJECT || s == NATS_INVALID_ARG
    || s == NATS_MAX_PAYLOAD;
}

bool is_jetstream_missing(natsStatus s, jsErrCode jerr) {
  return s == NATS_NO_RESPONDERS || jerr == JSNotEnabledErr
    || jerr == JSNotEnabledForAccountErr;
}

bool is_transient(natsStatus s) {
  return s == NATS_TIMEOUT || s == NATS_CONNECTION_CLOSED
    || s == NATS_CONNECTION_DISCONNECTED || s == NATS_IO_ERROR
    || s == NATS_STALE_CONNECTION || s == NATS_NOT_YET_CONNECTED;
}

using detail::describe;

/// cnats keeps library-wide state (timers, the async callback thread). Open
/// it once per process and never close it: another client may still live.
/// Not std::call_once: a failure must not stick, and nats_Open answers
/// NATS_ILLEGAL_STATE while another thread's natsConnection_Connect is
/// opening the library implicitly, which only needs a moment.
natsStatus open_library() {
  static std::mutex mtx;
  static bool opened = false;
  std::lock_guard guard{mtx};
  if (opened)
    return NATS_OK;
  auto s = nats_Open(-1);
  for (int i = 0; s == NATS_ILLEGAL_STATE && i < 1000; ++i) {
    std::this_thread::sleep_for(1ms);
    s = nats_Open(-1);
  }
  opened = s == NATS_OK;
  return s;
}

/// Everything cnats callbacks may touch. Lives apart from the public object
/// so that, should cnats never confirm the close, it can be leaked instead
/// of freed under a callback that is still on its way.
class nats_core {
public:
  nats_core(nats_options opts, detail::nats_url url)
    : opts_(std::move(opts)), url_(std::move(url)), last_change_ms_(now_ms()) {}

  ~nats_core() {
    if (nats_opts_ != nullptr)
      natsOptions_Destroy(nats_opts_);
  }

  nats_core(const nats_core&) = delete;
  nats_core& operator=(const nats_core&) = delete;

  expected<ok> start() {
    if (auto s = configure(); s != NATS_OK)
      return failure{ec::broker_error,
                     scrub("cannot configure the NATS client for "
                           + url_.redacted + ": " + describe(s))};
    worker_ = std::thread{[this] { run(); }};
    return ok{};
  }

  void publish(const std::string& subject, const std::string& data) {
    std::lock_guard guard{mtx_};
    if (subject.empty() || subject.find_first_of(" \t\r\n") != std::string::npos
        || data.size() > static_cast<size_t>(INT_MAX)) {
      ++dropped_;
      last_error_ = "invalid subject or oversized message dropped";
      OPTISCHEMA_WARN("NATS: dropped a message with invalid subject '{}'",
                      subject);
      return;
    }
    pending_message msg{subject, data, id_prefix_ + std::to_string(++seq_)};
    // Straight to cnats only when nothing older waits: the FIFO keeps order.
    if (can_send_locked() && fifo_.empty()) {
      auto s = send_locked(msg);
      if (s == NATS_OK) {
        ++published_;
        return;
      }
      if (is_permanent(s)) {
        drop_invalid_locked(subject, s);
        return;
      }
      note_send_failure_locked(s);
    }
    enqueue_locked(std::move(msg));
  }

  nats_stats stats() const {
    std::lock_guard guard{mtx_};
    nats_stats result;
    result.state = to_string(state_);
    result.url = url_.redacted;
    result.published = published_;
    result.buffered = fifo_.size();
    result.dropped = dropped_;
    result.disconnects = disconnects_;
    result.reconnects = reconnects_;
    result.jetstream = jetstream_;
    result.acknowledged = acknowledged_;
    result.unacknowledged = unacked_;
    result.store_retries = store_retries_;
    result.unstored = unstored_;
    result.last_error = last_error_;
    result.last_change_ms = last_change_ms_;
    return result;
  }

  /// Stops the worker, flushes briefly, closes and destroys the connection.
  /// Returns false if cnats never confirmed the close: the caller must then
  /// leak this object, since a callback may still arrive.
  bool shutdown() {
    {
      std::lock_guard guard{mtx_};
      stop_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable())
      worker_.join();
    natsConnection* nc = nullptr;
    bool was_connected = false;
    size_t discarded = 0;
    {
      std::unique_lock lock{mtx_};
      nc = nc_;
      was_connected = state_ == conn_state::connected && nc != nullptr;
      if (was_connected) {
        // Skip the stream check: delivering beats waiting for JetStream.
        flush_locked(lock, true);
      }
      discarded = fifo_.size();
      closing_ = true;
    }
    if (was_connected)
      natsConnection_FlushTimeout(nc, final_flush_ms);
    jsCtx* js = nullptr;
    {
      std::lock_guard guard{mtx_};
      js = std::exchange(pub_js_, nullptr);
    }
    if (js != nullptr) {
      // Acknowledgements take a round trip more than the flush: wait for
      // them, bounded, without the lock (the ack handler takes it).
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MaxWait = final_flush_ms;
      if (was_connected)
        js_PublishAsyncComplete(js, &po);
      // What is still unconfirmed leaves cnats' hands before the context
      // goes, so no acknowledgement timeout calls back into this object
      // after it is freed.
      int unconfirmed = 0;
      natsMsgList pending{};
      if (js_PublishAsyncGetPendingList(&pending, js) == NATS_OK) {
        unconfirmed = pending.Count;
        natsMsgList_Destroy(&pending);
      }
      if (unconfirmed > 0)
        OPTISCHEMA_WARN("NATS: {} events sent but not yet confirmed by "
                        "JetStream at shutdown",
                        unconfirmed);
      jsCtx_Destroy(js);
    }
    if (discarded > 0)
      OPTISCHEMA_WARN("NATS: discarding {} buffered messages at shutdown "
                      "({} was unreachable)",
                      discarded, url_.redacted);
    if (nc == nullptr)
      return true;
    natsConnection_Close(nc);
    bool confirmed = false;
    {
      std::unique_lock lock{mtx_};
      confirmed = cv_.wait_for(lock, closed_wait, [this] { return closed_; });
    }
    natsConnection_Destroy(nc);
    if (!confirmed)
      OPTISCHEMA_ERROR("NATS: no closed callback within {} s; leaking the "
                       "client state to stay safe",
                       closed_wait.count());
    return confirmed;
  }

private:
  // -- cnats callbacks (run on cnats' threads) -------------------------------

  static void on_connected(natsConnection*, void* closure) {
    static_cast<nats_core*>(closure)->handle_up(false);
  }

  static void on_reconnected(natsConnection*, void* closure) {
    static_cast<nats_core*>(closure)->handle_up(true);
  }

  static void on_disconnected(natsConnection* nc, void* closure) {
    static_cast<nats_core*>(closure)->handle_disconnected(nc);
  }

  static void on_closed(natsConnection* nc, void* closure) {
    static_cast<nats_core*>(closure)->handle_closed(nc);
  }

  static void on_error(natsConnection*, natsSubscription*, natsStatus err,
                       void* closure) {
    static_cast<nats_core*>(closure)->handle_error(err);
  }

  /// JetStream's answer to one event (stored, or why not), or cnats'
  /// timeout when none came within ack_wait_ms. We own `msg`.
  static void on_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae,
                     void* closure) {
    static_cast<nats_core*>(closure)->handle_ack(msg, pa, pae);
    natsMsg_Destroy(msg);
  }

  void handle_up(bool reconnect) {
    std::lock_guard guard{mtx_};
    if (closing_)
      return;
    mark_up_locked(reconnect);
    cv_.notify_all();
  }

  void handle_disconnected(natsConnection* nc) {
    std::lock_guard guard{mtx_};
    if (closing_)
      return;
    // Attempts before the first connection are no disconnects.
    if (state_ != conn_state::connected)
      return;
    // cnats keeps the reason of the lost connection on the connection.
    const char* detail = nullptr;
    auto s = natsConnection_GetLastError(nc, &detail);
    std::string reason = detail != nullptr && *detail != '\0'
      ? detail
      : (s != NATS_OK ? natsStatus_GetText(s) : "connection lost");
    last_error_ = scrub("disconnected: " + reason);
    ++disconnects_;
    set_state_locked(conn_state::disconnected);
    OPTISCHEMA_WARN("NATS: lost {} ({}); buffering up to {} messages",
                    url_.redacted, last_error_, opts_.buffer_limit);
  }

  void handle_closed(natsConnection* nc) {
    {
      std::lock_guard guard{mtx_};
      closed_ = true;
      if (!closing_) {
        // cnats gave up on its own despite MaxReconnect(-1): it does when
        // the server refuses the credentials of the first connect. The
        // worker builds a new connection, since we promise to retry forever.
        if (state_ == conn_state::connected) {
          ++disconnects_;
          set_state_locked(conn_state::disconnected);
        }
        sync_connect_ = true;
        const char* detail = nullptr;
        natsConnection_GetLastError(nc, &detail);
        last_error_ = scrub("connection closed by cnats: "
                            + std::string{detail != nullptr && *detail != '\0'
                                            ? detail
                                            : "no reason given"});
        if (!closed_logged_)
          OPTISCHEMA_WARN("NATS: {} ({}); starting over", last_error_,
                          url_.redacted);
        closed_logged_ = true;
        retry_logged_ = false; // the next failure will tell the real reason
      }
      // Notify under the lock: the destructor may free this object as soon
      // as it sees closed_, so nothing may touch it after the unlock.
      cv_.notify_all();
    }
  }

  void handle_ack(natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae) {
    std::lock_guard guard{mtx_};
    if (unacked_ > 0)
      --unacked_;
    const char* raw_id = nullptr;
    natsMsgHeader_Get(msg, "Nats-Msg-Id", &raw_id);
    std::string id = raw_id != nullptr ? raw_id : "";
    if (pa != nullptr && pae == nullptr) {
      ++acknowledged_;
      unstored_logged_ = false;
      retries_.erase(id);
      cv_.notify_all(); // the window has room again
      return;
    }
    auto attempts = ++retries_[id];
    std::string why = pae != nullptr && pae->ErrText != nullptr
      ? pae->ErrText
      : "no acknowledgement";
    if (attempts >= max_store_attempts) {
      retries_.erase(id);
      ++unstored_;
      ++dropped_;
      last_error_ = scrub("JetStream did not store an event on '"
                          + std::string{natsMsg_GetSubject(msg)} + "' after "
                          + std::to_string(attempts) + " attempts: " + why);
      // Once per run of refusals: a full stream refuses every event.
      if (!std::exchange(unstored_logged_, true))
        OPTISCHEMA_WARN("NATS: {}; dropped (the status counts the next ones "
                        "as unstored)",
                        last_error_);
    } else {
      // Sent again from the FIFO with the same id: if the first copy was
      // stored and only its acknowledgement lost, the stream drops this one.
      ++store_retries_;
      OPTISCHEMA_DEBUG("NATS: JetStream did not confirm an event ({}); "
                       "sending it again",
                       scrub(why));
      enqueue_locked(
        {natsMsg_GetSubject(msg),
         std::string{natsMsg_GetData(msg),
                     static_cast<size_t>(natsMsg_GetDataLength(msg))},
         std::move(id), true});
    }
    cv_.notify_all();
  }

  void handle_error(natsStatus err) {
    std::lock_guard guard{mtx_};
    if (closing_)
      return;
    last_error_ = scrub(natsStatus_GetText(err));
    OPTISCHEMA_WARN("NATS: asynchronous error on {}: {}", url_.redacted,
                    last_error_);
  }

  // -- state helpers (mtx_ held) ---------------------------------------------

  void set_state_locked(conn_state x) {
    if (state_ == x)
      return;
    state_ = x;
    last_change_ms_ = now_ms();
  }

  void mark_up_locked(bool reconnect) {
    if (reconnect)
      ++reconnects_;
    ever_connected_ = true;
    retry_logged_ = false;
    closed_logged_ = false;
    set_state_locked(conn_state::connected);
    last_error_.clear();
    // The stream may be gone (a fresh server) or JetStream newly enabled.
    js_pending_ = !opts_.stream.empty();
    js_retry_at_.reset();
    backoff_until_.reset();
    OPTISCHEMA_INFO("NATS: {} {} ({} buffered messages to send)",
                    reconnect ? "reconnected to" : "connected to",
                    url_.redacted, fifo_.size());
    if (dropped_in_outage_ > 0) {
      OPTISCHEMA_WARN("NATS: {} messages were dropped while disconnected "
                      "(buffer limit {})",
                      dropped_in_outage_, opts_.buffer_limit);
      dropped_in_outage_ = 0;
    }
  }

  /// Direct sends wait while the stream is being checked, so a recreated
  /// stream captures them, and during a backoff after a refused publish.
  bool can_send_locked() const {
    return state_ == conn_state::connected && nc_ != nullptr && !js_pending_
      && !js_checking_ && !backoff_until_ && window_open_locked();
  }

  /// Room for another event awaiting JetStream's acknowledgement.
  bool window_open_locked() const {
    return !jetstream_ || unacked_ < max_unacked;
  }

  /// With the stream in place, an event goes to JetStream, which answers
  /// on_ack once it stored it; without, to core NATS (fire and forget).
  natsStatus send_locked(const pending_message& m) {
    auto len = static_cast<int>(m.data.size());
    if (!jetstream_) {
      if (opts_.engine.empty())
        return natsConnection_Publish(nc_, m.subject.c_str(), m.data.data(),
                                      len);
      natsMsg* msg = nullptr;
      auto s = natsMsg_Create(&msg, m.subject.c_str(), nullptr, m.data.data(),
                              len);
      if (s == NATS_OK)
        s = stamp(msg);
      if (s == NATS_OK)
        s = natsConnection_PublishMsg(nc_, msg);
      natsMsg_Destroy(msg);
      return s;
    }
    if (pub_js_ == nullptr) {
      jsOptions jo;
      jsOptions_Init(&jo);
      jo.Wait = jetstream_wait_ms;
      // No limit in cnats (it would stall this thread): window_open_locked
      // keeps at most max_unacked events waiting.
      jo.PublishAsync.MaxPending = 0;
      jo.PublishAsync.AckHandler = on_ack;
      jo.PublishAsync.AckHandlerClosure = this;
      if (auto s = natsConnection_JetStream(&pub_js_, nc_, &jo); s != NATS_OK)
        return s;
    }
    natsMsg* msg = nullptr;
    auto s = natsMsg_Create(&msg, m.subject.c_str(), nullptr, m.data.data(),
                            len);
    if (s == NATS_OK)
      s = stamp(msg);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = m.id.c_str();
    po.MaxWait = ack_wait_ms;
    if (s == NATS_OK)
      s = js_PublishMsgAsync(pub_js_, &msg, &po);
    natsMsg_Destroy(msg); // a no-op once cnats took it
    if (s == NATS_OK)
      ++unacked_;
    return s;
  }

  /// Names the fleet and this engine on `msg` (in a fleet).
  natsStatus stamp(natsMsg* msg) const {
    if (opts_.engine.empty())
      return NATS_OK;
    auto s = natsMsgHeader_Set(msg, fleet_header, opts_.fleet.c_str());
    if (s == NATS_OK)
      s = natsMsgHeader_Set(msg, engine_header, opts_.engine.c_str());
    return s;
  }

  /// Before its connection goes: events still waiting for an
  /// acknowledgement go back to the FIFO (same ids), the context goes.
  void drop_pub_js_locked() {
    if (pub_js_ == nullptr)
      return;
    natsMsgList pending{};
    if (js_PublishAsyncGetPendingList(&pending, pub_js_) == NATS_OK) {
      for (int i = 0; i < pending.Count; ++i) {
        auto* m = pending.Msgs[i];
        const char* id = nullptr;
        natsMsgHeader_Get(m, "Nats-Msg-Id", &id);
        enqueue_locked(
          {natsMsg_GetSubject(m),
           std::string{natsMsg_GetData(m),
                       static_cast<size_t>(natsMsg_GetDataLength(m))},
           id != nullptr ? id : "", true});
      }
      natsMsgList_Destroy(&pending);
    }
    unacked_ = 0;
    jsCtx_Destroy(std::exchange(pub_js_, nullptr));
  }

  void note_send_failure_locked(natsStatus s) {
    last_error_ = scrub("publish failed: " + describe(s));
    backoff_until_ = steady::now() + publish_backoff;
    OPTISCHEMA_DEBUG("NATS: {}; buffering and retrying", last_error_);
  }

  void drop_invalid_locked(const std::string& subject, natsStatus s) {
    ++dropped_;
    last_error_ = scrub("message on '" + subject
                        + "' rejected: " + natsStatus_GetText(s));
    OPTISCHEMA_WARN("NATS: {}; dropped", last_error_);
  }

  void enqueue_locked(pending_message msg) {
    if (opts_.buffer_limit == 0) {
      count_overflow_locked();
      return;
    }
    if (fifo_.size() >= opts_.buffer_limit) {
      fifo_.pop_front(); // the oldest goes: recent events matter more
      count_overflow_locked();
    }
    fifo_.push_back(std::move(msg));
    cv_.notify_all();
  }

  void count_overflow_locked() {
    ++dropped_;
    if (dropped_in_outage_++ == 0)
      OPTISCHEMA_WARN("NATS: buffer of {} messages full; dropping the oldest",
                      opts_.buffer_limit);
  }

  /// Sends the FIFO in order. Releases the lock every few hundred messages
  /// so stats() and publish() stay responsive during a large flush.
  void flush_locked(std::unique_lock<std::mutex>& lock, bool final) {
    size_t sent = 0;
    while (!fifo_.empty() && state_ == conn_state::connected && nc_ != nullptr
           && (final || (!js_pending_ && !js_checking_ && !backoff_until_))) {
      if (!final && !window_open_locked())
        return; // on_ack wakes the worker when there is room
      auto& msg = fifo_.front();
      auto s = send_locked(msg);
      if (s == NATS_OK) {
        if (!msg.resend)
          ++published_;
        fifo_.pop_front();
      } else if (is_permanent(s)) {
        drop_invalid_locked(msg.subject, s);
        fifo_.pop_front();
      } else {
        note_send_failure_locked(s);
        return;
      }
      if (++sent % 256 == 0 && !final) {
        lock.unlock();
        std::this_thread::yield();
        lock.lock();
      }
    }
  }

  std::string scrub(std::string text) const {
    return detail::scrub(std::move(text), url_);
  }

  // -- setup -----------------------------------------------------------------

  natsStatus configure() {
    auto s = natsOptions_Create(&nats_opts_);
    if (s == NATS_OK)
      s = detail::set_servers(nats_opts_, opts_.url);
    if (s == NATS_OK)
      s = natsOptions_SetName(nats_opts_, "optischema");
    if (s == NATS_OK && url_.scheme == "tls")
      s = natsOptions_SetSecure(nats_opts_, true);
    if (s == NATS_OK)
      s = natsOptions_SetTimeout(nats_opts_, connect_timeout_ms);
    if (s == NATS_OK)
      s = natsOptions_SetAllowReconnect(nats_opts_, true);
    if (s == NATS_OK)
      s = natsOptions_SetMaxReconnect(nats_opts_, -1); // forever
    if (s == NATS_OK)
      s = natsOptions_SetReconnectWait(
        nats_opts_, std::max<int64_t>(opts_.reconnect_wait.count(), 1));
    if (s == NATS_OK)
      s = natsOptions_SetReconnectBufSize(nats_opts_, reconnect_buf_bytes);
    if (s == NATS_OK)
      s = natsOptions_SetPingInterval(nats_opts_, ping_interval_ms);
    if (s == NATS_OK)
      s = natsOptions_SetMaxPingsOut(nats_opts_, max_pings_out);
    // JetStream requests fail at once on a disconnect instead of timing out.
    if (s == NATS_OK)
      s = natsOptions_SetFailRequestsOnDisconnect(nats_opts_, true);
    if (s == NATS_OK)
      s = natsOptions_SetDisconnectedCB(nats_opts_, on_disconnected, this);
    if (s == NATS_OK)
      s = natsOptions_SetReconnectedCB(nats_opts_, on_reconnected, this);
    if (s == NATS_OK)
      s = natsOptions_SetClosedCB(nats_opts_, on_closed, this);
    if (s == NATS_OK)
      s = natsOptions_SetErrorHandler(nats_opts_, on_error, this);
    // With a connected callback, a failed first connect returns
    // NATS_NOT_YET_CONNECTED and cnats keeps trying in the background.
    if (s == NATS_OK)
      s = natsOptions_SetRetryOnFailedConnect(nats_opts_, true, on_connected,
                                              this);
    return s;
  }

  // -- the worker thread -----------------------------------------------------

  /// Connects, then flushes the FIFO and checks the stream whenever there is
  /// something to do. All network waits of this client happen here.
  void run() {
    std::unique_lock lock{mtx_};
    while (!stop_) {
      if (nc_ == nullptr) {
        lock.unlock();
        bool have_connection = connect_once();
        lock.lock();
        if (!have_connection)
          cv_.wait_for(lock, retry_wait(), [this] { return stop_; });
        continue;
      }
      if (closed_) {
        // cnats closed the connection on its own: start from scratch.
        drop_pub_js_locked();
        auto* old = std::exchange(nc_, nullptr);
        closed_ = false;
        lock.unlock();
        natsConnection_Destroy(old);
        lock.lock();
        cv_.wait_for(lock, retry_wait(), [this] { return stop_; });
        continue;
      }
      auto now = steady::now();
      if (backoff_until_ && *backoff_until_ <= now)
        backoff_until_.reset();
      if (js_retry_at_ && *js_retry_at_ <= now && !js_pending_
          && state_ == conn_state::connected) {
        js_retry_at_.reset();
        js_pending_ = true;
      }
      if (state_ == conn_state::connected && js_pending_) {
        // Claim the check before unlocking: a reconnect during the check
        // sets js_pending_ again and so asks for another one.
        js_pending_ = false;
        js_checking_ = true;
        auto* nc = nc_;
        lock.unlock();
        auto outcome = ensure_stream(nc);
        lock.lock();
        apply_stream_outcome_locked(outcome);
        continue;
      }
      if (can_send_locked() && !fifo_.empty()) {
        flush_locked(lock, false);
        continue;
      }
      cv_.wait_until(lock, next_wakeup_locked(), [this] {
        return stop_ || closed_
          || (state_ == conn_state::connected
              && (js_pending_
                  || (!fifo_.empty() && !backoff_until_
                      && window_open_locked())));
      });
    }
  }

  std::chrono::milliseconds retry_wait() const {
    return std::max(opts_.reconnect_wait, std::chrono::milliseconds{10});
  }

  steady::time_point next_wakeup_locked() const {
    auto result = steady::now() + 1s;
    if (backoff_until_)
      result = std::min(result, *backoff_until_);
    if (js_retry_at_)
      result = std::min(result, *js_retry_at_);
    return result;
  }

  /// One natsConnection_Connect call. True when there is a connection object
  /// (connected now, or cnats retrying in the background).
  bool connect_once() {
    bool sync = false;
    {
      std::lock_guard guard{mtx_};
      sync = sync_connect_;
    }
    // After cnats closed a connection on its own, one synchronous attempt
    // per round: unlike the background retry it reports the real reason
    // (e.g. "Authorization Violation" instead of "No server available").
    if (sync)
      natsOptions_SetRetryOnFailedConnect(nats_opts_, false, nullptr, nullptr);
    natsConnection* nc = nullptr;
    auto s = natsConnection_Connect(&nc, nats_opts_);
    std::string error = s == NATS_OK ? std::string{} : describe(s);
    if (sync)
      natsOptions_SetRetryOnFailedConnect(nats_opts_, true, on_connected, this);
    {
      std::lock_guard guard{mtx_};
      if (s == NATS_OK || s == NATS_NOT_YET_CONNECTED) {
        nc_ = nc;
        if (s == NATS_OK) {
          // No connected callback for a synchronous success.
          sync_connect_ = false;
          mark_up_locked(ever_connected_);
        } else if (state_ != conn_state::connected) {
          if (!retry_logged_) {
            last_error_ = scrub("cannot connect yet: " + url_.redacted
                                + " unreachable, retrying in the background");
            OPTISCHEMA_INFO("NATS: {} not reachable yet; retrying every {} "
                            "ms in the background",
                            url_.redacted, retry_wait().count());
          }
          retry_logged_ = true;
        }
      } else {
        last_error_ = scrub("connect failed: " + error);
        if (!retry_logged_)
          OPTISCHEMA_WARN("NATS: cannot connect to {}: {}; retrying every {} "
                          "ms",
                          url_.redacted, last_error_, retry_wait().count());
        retry_logged_ = true;
      }
    }
    cv_.notify_all();
    if (s == NATS_OK || s == NATS_NOT_YET_CONNECTED)
      return true;
    if (nc != nullptr)
      natsConnection_Destroy(nc);
    return false;
  }

  // -- JetStream -------------------------------------------------------------

  enum class stream_status {
    ready,       ///< the stream exists with our subjects and max age
    unavailable, ///< the server has no JetStream: core NATS only
    failed,      ///< a real refusal (e.g. overlapping subjects)
    retry,       ///< timeout or connection trouble: ask again later
  };

  struct stream_outcome {
    stream_status status = stream_status::failed;
    std::string message;
  };

  /// Creates or updates the stream. Runs on the worker without the lock;
  /// only reads opts_, which never changes.
  stream_outcome ensure_stream(natsConnection* nc) {
    jsOptions js_opts;
    jsOptions_Init(&js_opts);
    js_opts.Wait = jetstream_wait_ms;
    jsCtx* js = nullptr;
    auto s = natsConnection_JetStream(&js, nc, &js_opts);
    if (s != NATS_OK)
      return {stream_status::failed, "JetStream context: " + describe(s)};
    auto outcome = ensure_stream(js);
    jsCtx_Destroy(js);
    return outcome;
  }

  stream_outcome ensure_stream(jsCtx* js) {
    const auto& name = opts_.stream;
    // Nanoseconds on the wire; 0 means "no limit".
    int64_t max_age_ns = std::max<int64_t>(
      0,
      std::chrono::duration_cast<std::chrono::nanoseconds>(opts_.stream_max_age)
        .count());
    auto classify = [&](natsStatus s, jsErrCode jerr, const char* what) {
      auto text = std::string{what} + " stream " + name + ": " + describe(s);
      if (is_jetstream_missing(s, jerr))
        return stream_outcome{stream_status::unavailable, text};
      if (is_transient(s))
        return stream_outcome{stream_status::retry, text};
      return stream_outcome{stream_status::failed, text};
    };
    jsStreamInfo* info = nullptr;
    auto jerr = static_cast<jsErrCode>(0);
    auto s = js_GetStreamInfo(&info, js, name.c_str(), nullptr, &jerr);
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
      const char* subjects[] = {stream_subject};
      jsStreamConfig cfg;
      jsStreamConfig_Init(&cfg);
      cfg.Name = name.c_str();
      cfg.Subjects = subjects;
      cfg.SubjectsLen = 1;
      // File storage survives a server restart, so nothing captured is lost
      // when the server goes away; max age bounds the disk used.
      cfg.Storage = js_FileStorage;
      cfg.MaxAge = max_age_ns;
      jerr = static_cast<jsErrCode>(0);
      s = js_AddStream(nullptr, js, &cfg, nullptr, &jerr);
      if (s == NATS_OK)
        return {stream_status::ready, "created"};
      if (jerr == JSStreamNameExistErr) // another client was faster
        return {stream_status::retry, "stream " + name + " appeared meanwhile"};
      return classify(s, jerr, "cannot create");
    }
    if (s != NATS_OK)
      return classify(s, jerr, "cannot look up");
    // It exists: make sure it captures our subjects with our max age, but
    // keep whatever else an operator configured (storage, extra subjects).
    auto* existing = info->Config;
    std::vector<const char*> subjects;
    bool has_ours = false;
    for (int i = 0; i < existing->SubjectsLen; ++i) {
      subjects.push_back(existing->Subjects[i]);
      has_ours = has_ours
        || std::string_view{existing->Subjects[i]} == stream_subject;
    }
    if (has_ours && existing->MaxAge == max_age_ns) {
      jsStreamInfo_Destroy(info);
      return {stream_status::ready, "exists"};
    }
    if (!has_ours)
      subjects.push_back(stream_subject);
    jsStreamConfig cfg = *existing;
    cfg.Subjects = subjects.data();
    cfg.SubjectsLen = static_cast<int>(subjects.size());
    cfg.MaxAge = max_age_ns;
    jerr = static_cast<jsErrCode>(0);
    s = js_UpdateStream(nullptr, js, &cfg, nullptr, &jerr);
    jsStreamInfo_Destroy(info);
    if (s == NATS_OK)
      return {stream_status::ready, "updated"};
    return classify(s, jerr, "cannot update");
  }

  void apply_stream_outcome_locked(const stream_outcome& outcome) {
    js_checking_ = false;
    switch (outcome.status) {
      case stream_status::ready:
        if (!jetstream_)
          OPTISCHEMA_INFO("NATS: JetStream stream {} {} (subjects {})",
                          opts_.stream, outcome.message, stream_subject);
        jetstream_ = true;
        break;
      case stream_status::unavailable:
        jetstream_ = false;
        if (!js_missing_logged_) {
          js_missing_logged_ = true;
          OPTISCHEMA_INFO("NATS: {} has no JetStream; publishing with core "
                          "NATS only ({})",
                          url_.redacted, scrub(outcome.message));
        }
        break;
      case stream_status::failed:
        jetstream_ = false;
        last_error_ = scrub(outcome.message);
        OPTISCHEMA_WARN("NATS: {}; publishing with core NATS only",
                        last_error_);
        break;
      case stream_status::retry:
        // While disconnected the reconnect starts a new check anyway.
        if (state_ == conn_state::connected)
          js_retry_at_ = steady::now() + jetstream_retry;
        OPTISCHEMA_DEBUG("NATS: {}; will retry", scrub(outcome.message));
        break;
    }
  }

  // -- data ------------------------------------------------------------------

  const nats_options opts_;
  const detail::nats_url url_;
  natsOptions* nats_opts_ = nullptr;
  std::thread worker_;

  mutable std::mutex mtx_;
  std::condition_variable cv_;
  /// Set once by the worker (or reset after cnats closed it on its own).
  natsConnection* nc_ = nullptr;
  std::deque<pending_message> fifo_;
  conn_state state_ = conn_state::connecting;
  bool stop_ = false;        ///< the worker must exit
  bool closing_ = false;     ///< our own close: callbacks change nothing
  bool closed_ = false;      ///< cnats delivered the closed callback
  bool js_pending_ = false;  ///< the stream needs a (re)check
  bool js_checking_ = false; ///< the worker is checking it right now
  bool js_missing_logged_ = false;
  /// The first failed (re)start of a connection is logged, not every retry.
  bool retry_logged_ = false;
  bool closed_logged_ = false;
  bool ever_connected_ = false;
  /// cnats closed the last connection itself: connect synchronously.
  bool sync_connect_ = false;
  bool jetstream_ = false;
  std::optional<steady::time_point> js_retry_at_;
  std::optional<steady::time_point> backoff_until_;
  /// The JetStream context events are published on (acknowledged), made
  /// for the current connection once the stream is in place.
  jsCtx* pub_js_ = nullptr;
  const std::string id_prefix_ = unique_prefix();
  uint64_t seq_ = 0;
  size_t unacked_ = 0;
  /// Sends so far of events JetStream refused or did not confirm, by id.
  std::unordered_map<std::string, int> retries_;
  uint64_t acknowledged_ = 0;
  uint64_t store_retries_ = 0;
  uint64_t unstored_ = 0;
  bool unstored_logged_ = false;
  uint64_t published_ = 0;
  uint64_t dropped_ = 0;
  uint64_t dropped_in_outage_ = 0;
  uint64_t disconnects_ = 0;
  uint64_t reconnects_ = 0;
  std::string last_error_;
  int64_t last_change_ms_ = 0;
};

class cnats_client final : public nats_client {
public:
  explicit cnats_client(std::unique_ptr<nats_core> core)
    : core_(std::move(core)) {}

  ~cnats_client() override {
    if (!core_->shutdown())
      static_cast<void>(core_.release()); // see nats_core::shutdown
  }

  void publish(const std::string& subject, const std::string& data) override {
    core_->publish(subject, data);
  }

  nats_stats stats() const override {
    return core_->stats();
  }

private:
  std::unique_ptr<nats_core> core_;
};

} // namespace

expected<std::unique_ptr<nats_client>> nats_client::create(nats_options opts) {
  detail::nats_url url;
  std::string reason;
  if (!detail::parse_nats_url(opts.url, url, reason))
    return failure{ec::invalid_configuration,
                   redact_secrets("invalid NATS URL '"
                                  + detail::redact_nats_url(opts.url)
                                  + "': " + reason)};
  if (auto s = open_library(); s != NATS_OK)
    return failure{ec::broker_error,
                   std::string{"cannot initialise the NATS "
                               "client library: "}
                     + natsStatus_GetText(s)};
  auto core = std::make_unique<nats_core>(std::move(opts), std::move(url));
  if (auto started = core->start(); !started)
    return started.error();
  return std::unique_ptr<nats_client>{new cnats_client(std::move(core))};
}

} // namespace optischema::broker
