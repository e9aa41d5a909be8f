#include "optischema/broker/alert_feed.hpp"

#include "nats_options.hpp"

#include <fmt/format.h>
#include <nats/nats.h>

namespace optischema::broker {

namespace {

using detail::nats_url;
using detail::parse_nats_url;
using detail::redact_nats_url;

/// The engines publish each target's alerts on optischema.<target>.alert.
constexpr const char* alert_subject = "optischema.*.alert";
constexpr int64_t request_wait_ms = 5000;

class delivery final : public alert_delivery {
public:
  explicit delivery(natsMsg* m) : msg_{m} {
    subject_ = natsMsg_GetSubject(m);
    data_.assign(natsMsg_GetData(m),
                 static_cast<size_t>(natsMsg_GetDataLength(m)));
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, m) == NATS_OK && meta != nullptr) {
      attempt_ = meta->NumDelivered;
      jsMsgMetaData_Destroy(meta);
    }
  }
  ~delivery() override {
    natsMsg_Destroy(msg_);
  }
  const std::string& subject() const override {
    return subject_;
  }
  const std::string& data() const override {
    return data_;
  }
  uint64_t attempt() const override {
    return attempt_;
  }
  expected<ok> ack() override {
    jsErrCode jerr{};
    if (auto s = natsMsg_AckSync(msg_, nullptr, &jerr); s != NATS_OK)
      return failure{ec::broker_error,
                     "acknowledging an alert failed (it will come again): "
                       + detail::describe(s)};
    return ok{};
  }
  void in_progress() override {
    natsMsg_InProgress(msg_, nullptr);
  }
  void retry_later(std::chrono::milliseconds delay) override {
    natsMsg_NakWithDelay(msg_, delay.count(), nullptr);
  }

private:
  natsMsg* msg_;
  std::string subject_;
  std::string data_;
  uint64_t attempt_ = 1;
};

class feed final : public alert_feed {
public:
  ~feed() override {
    if (sub_ != nullptr)
      natsSubscription_Destroy(sub_); // keeps the durable consumer
    if (js_ != nullptr)
      jsCtx_Destroy(js_);
    if (nc_ != nullptr) {
      natsConnection_Close(nc_);
      natsConnection_Destroy(nc_);
    }
  }

  expected<ok> start(const alert_feed_options& o) {
    nats_url parsed;
    std::string reason;
    if (!parse_nats_url(o.url, parsed, reason))
      return failure{ec::invalid_configuration,
                     "invalid NATS URL '" + redact_nats_url(o.url)
                       + "': " + reason};
    auto fail = [&](const std::string& what, natsStatus s) {
      return failure{ec::broker_error,
                     fmt::format("{} at {}: {}", what, redact_nats_url(o.url),
                                 detail::scrub(detail::describe(s), parsed))};
    };
    natsOptions* no = nullptr;
    auto s = natsOptions_Create(&no);
    if (s == NATS_OK)
      s = detail::fleet_connection_options(no, o.url, parsed,
                                           "optischema alerts " + o.durable);
    if (s == NATS_OK)
      s = natsOptions_SetTimeout(no, request_wait_ms);
    if (s == NATS_OK)
      s = natsConnection_Connect(&nc_, no);
    if (no != nullptr)
      natsOptions_Destroy(no);
    if (s != NATS_OK)
      return fail("cannot reach NATS (is it up, and the URL right?)", s);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = request_wait_ms;
    if (s = natsConnection_JetStream(&js_, nc_, &jo); s != NATS_OK)
      return fail("no JetStream", s);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = o.stream.c_str();
    so.Config.Durable = o.durable.c_str();
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.DeliverPolicy = o.replay ? js_DeliverAll : js_DeliverNew;
    so.Config.AckWait = o.ack_wait.count() * 1'000'000; // nanoseconds
    so.Config.FilterSubject = alert_subject;
    jsErrCode jerr{};
    s = js_PullSubscribe(&sub_, js_, alert_subject, o.durable.c_str(), &jo, &so,
                         &jerr);
    if (s != NATS_OK)
      return fail(fmt::format("cannot follow the alerts of stream '{}' (do "
                              "the engines publish to it: their --nats and "
                              "--nats-stream?)",
                              o.stream),
                  s);
    return ok{};
  }

  expected<std::vector<std::unique_ptr<alert_delivery>>>
  fetch(size_t max, std::chrono::milliseconds wait) override {
    natsMsgList list{};
    jsErrCode jerr{};
    auto s = natsSubscription_Fetch(&list, sub_, static_cast<int>(max),
                                    wait.count(), &jerr);
    std::vector<std::unique_ptr<alert_delivery>> out;
    if (s == NATS_TIMEOUT)
      return out;
    if (s != NATS_OK)
      return failure{ec::broker_error,
                     "fetching alerts failed: " + detail::describe(s)};
    for (int i = 0; i < list.Count; ++i) {
      out.push_back(std::make_unique<delivery>(list.Msgs[i]));
      list.Msgs[i] = nullptr; // owned by the delivery now
    }
    natsMsgList_Destroy(&list);
    return out;
  }

private:
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  natsSubscription* sub_ = nullptr;
};

} // namespace

expected<std::unique_ptr<alert_feed>>
alert_feed::open(alert_feed_options opts) {
  auto f = std::make_unique<feed>();
  if (auto started = f->start(opts); !started)
    return started.error();
  return std::unique_ptr<alert_feed>{std::move(f)};
}

} // namespace optischema::broker
