// The NATS client against a real nats-server (see nats_process.hpp) and a
// real cnats subscriber. Waits poll every 20 ms up to a deadline: no test
// sleeps for a fixed time.

#include "optischema/broker/nats_client.hpp"
#include "optischema/util/logging.hpp"

#include "nats_process.hpp"

#include <catch2/catch.hpp>
#include <nats/nats.h>
#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using optischema::ec;
using optischema::broker::nats_client;
using optischema::broker::nats_options;
using optischema::broker::nats_stats;
using optischema::test::nats_process;
using optischema::test::nats_process_options;

template <class Predicate>
bool eventually(Predicate pred, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred())
      return true;
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(20ms);
  }
}

/// Options for tests: quick reconnects so a restarted server is found fast.
nats_options test_options(const std::string& url) {
  nats_options opts;
  opts.url = url;
  opts.reconnect_wait = 50ms;
  return opts;
}

std::unique_ptr<nats_client> make_client(nats_options opts) {
  auto client = nats_client::create(std::move(opts));
  if (!client)
    FAIL("create failed: " << client.error().message);
  return std::move(*client);
}

bool is_connected(const nats_client& client) {
  return client.stats().state == "connected";
}

/// Every publish() call ends up in exactly one of these counters.
uint64_t accounted(const nats_stats& st) {
  return st.published + st.buffered + st.dropped;
}

struct received {
  std::string subject;
  std::string data;
};

/// A plain cnats connection for checking what the server saw: core
/// subscriptions, JetStream stream info and JetStream subscriptions.
class probe {
public:
  explicit probe(const std::string& url) {
    natsOptions* opts = nullptr;
    REQUIRE(natsOptions_Create(&opts) == NATS_OK);
    natsOptions_SetURL(opts, url.c_str());
    natsOptions_SetMaxReconnect(opts, -1);
    natsOptions_SetReconnectWait(opts, 20);
    auto s = natsConnection_Connect(&nc_, opts);
    natsOptions_Destroy(opts);
    REQUIRE(s == NATS_OK);
    REQUIRE(natsConnection_JetStream(&js_, nc_, nullptr) == NATS_OK);
  }

  ~probe() {
    for (auto* sub : subs_)
      natsSubscription_Destroy(sub);
    jsCtx_Destroy(js_);
    natsConnection_Destroy(nc_);
  }

  probe(const probe&) = delete;
  probe& operator=(const probe&) = delete;

  /// A core subscription; the flush makes sure the server has it before
  /// the test publishes anything.
  natsSubscription* subscribe(const std::string& subject) {
    natsSubscription* sub = nullptr;
    REQUIRE(natsConnection_SubscribeSync(&sub, nc_, subject.c_str())
            == NATS_OK);
    subs_.push_back(sub);
    REQUIRE(natsConnection_FlushTimeout(nc_, 2000) == NATS_OK);
    return sub;
  }

  /// A JetStream subscription replaying `stream` from its first message.
  natsSubscription* replay(const std::string& stream,
                           const std::string& filter) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.Config.DeliverPolicy = js_DeliverAll;
    so.Config.AckPolicy = js_AckNone;
    natsSubscription* sub = nullptr;
    auto jerr = static_cast<jsErrCode>(0);
    auto s = js_SubscribeSync(&sub, js_, filter.c_str(), nullptr, &so, &jerr);
    INFO("js_SubscribeSync: " << natsStatus_GetText(s) << " jerr " << jerr);
    REQUIRE(s == NATS_OK);
    subs_.push_back(sub);
    return sub;
  }

  /// Up to `n` messages, stopping at the first 5 s gap.
  static std::vector<received> take(natsSubscription* sub, size_t n) {
    std::vector<received> result;
    while (result.size() < n) {
      natsMsg* msg = nullptr;
      if (natsSubscription_NextMsg(&msg, sub, 5000) != NATS_OK)
        break;
      result.push_back(
        {natsMsg_GetSubject(msg),
         std::string(natsMsg_GetData(msg),
                     static_cast<size_t>(natsMsg_GetDataLength(msg)))});
      natsMsg_Destroy(msg);
    }
    return result;
  }

  /// True when nothing more arrives within `wait`.
  static bool quiet(natsSubscription* sub, int64_t wait_ms = 200) {
    natsMsg* msg = nullptr;
    if (natsSubscription_NextMsg(&msg, sub, wait_ms) != NATS_OK)
      return true;
    natsMsg_Destroy(msg);
    return false;
  }

  struct stream_facts {
    uint64_t messages = 0;
    std::vector<std::string> subjects;
    int64_t max_age_ns = 0;
    jsStorageType storage = js_FileStorage;
  };

  std::optional<stream_facts> stream(const std::string& name) {
    jsStreamInfo* si = nullptr;
    auto jerr = static_cast<jsErrCode>(0);
    if (js_GetStreamInfo(&si, js_, name.c_str(), nullptr, &jerr) != NATS_OK)
      return std::nullopt;
    stream_facts facts;
    facts.messages = si->State.Msgs;
    for (int i = 0; i < si->Config->SubjectsLen; ++i)
      facts.subjects.emplace_back(si->Config->Subjects[i]);
    facts.max_age_ns = si->Config->MaxAge;
    facts.storage = si->Config->Storage;
    jsStreamInfo_Destroy(si);
    return facts;
  }

  uint64_t stream_messages(const std::string& name) {
    auto facts = stream(name);
    return facts ? facts->messages : 0;
  }

  /// Creates the stream OPTISCHEMA as an operator might have: over
  /// `subject`, with `max_age`, and whatever `tune` sets.
  template <class Tune>
  void
  add_stream(const char* subject, std::chrono::seconds max_age, Tune tune) {
    const char* subjects[] = {subject};
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = "OPTISCHEMA";
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.MaxAge
      = std::chrono::duration_cast<std::chrono::nanoseconds>(max_age).count();
    tune(cfg);
    auto jerr = static_cast<jsErrCode>(0);
    REQUIRE(js_AddStream(nullptr, js_, &cfg, nullptr, &jerr) == NATS_OK);
  }

private:
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  std::vector<natsSubscription*> subs_;
};

std::vector<received> expected_messages(const std::string& prefix, int first,
                                        int last) {
  std::vector<received> result;
  for (int i = first; i <= last; ++i)
    result.push_back({prefix + std::to_string(i % 3), std::to_string(i)});
  return result;
}

void publish_range(nats_client& client, const std::string& prefix, int first,
                   int last) {
  for (auto& msg : expected_messages(prefix, first, last))
    client.publish(msg.subject, msg.data);
}

void check_same(const std::vector<received>& got,
                const std::vector<received>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("message " << i);
    CHECK(got[i].subject == want[i].subject);
    CHECK(got[i].data == want[i].data);
  }
}

/// Captures everything the engine logs, below the redacting sink, so a test
/// sees what the client itself wrote.
class log_capture {
public:
  log_capture()
    : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)) {
    auto& lg = optischema::detail::logger();
    old_level_ = lg.level();
    lg.set_level(spdlog::level::debug);
    lg.sinks().push_back(sink_);
  }

  ~log_capture() {
    auto& lg = optischema::detail::logger();
    auto& sinks = lg.sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
    lg.set_level(old_level_);
  }

  std::string text() {
    sink_->flush();
    return out_.str();
  }

private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  spdlog::level::level_enum old_level_ = spdlog::level::info;
};

} // namespace

TEST_CASE("nats_client delivers messages in order with their subjects",
          "[nats]") {
  nats_process server{{.jetstream = false}};
  probe sub_conn{server.url()};
  auto* sub = sub_conn.subscribe("optischema.order.>");
  auto opts = test_options(server.url());
  opts.stream.clear(); // core NATS only
  auto client = make_client(opts);
  REQUIRE(eventually([&] { return is_connected(*client); }));
  publish_range(*client, "optischema.order.s", 1, 200);
  check_same(probe::take(sub, 200),
             expected_messages("optischema.order.s", 1, 200));
  CHECK(probe::quiet(sub));
  auto st = client->stats();
  CHECK(st.published == 200);
  CHECK(st.buffered == 0);
  CHECK(st.dropped == 0);
  CHECK(st.disconnects == 0);
  CHECK(st.reconnects == 0);
  CHECK_FALSE(st.jetstream);
  CHECK(st.url == server.url());
  CHECK(st.last_change_ms > 0);
}

TEST_CASE("nats_client creates the JetStream stream and it captures events",
          "[nats]") {
  nats_process server;
  auto opts = test_options(server.url());
  opts.stream_max_age = 2h;
  auto client = make_client(opts);
  REQUIRE(eventually([&] { return client->stats().jetstream; }));
  CHECK(client->stats().state == "connected");
  probe check{server.url()};
  auto facts = check.stream("OPTISCHEMA");
  REQUIRE(facts);
  CHECK(facts->subjects == std::vector<std::string>{"optischema.>"});
  CHECK(facts->max_age_ns
        == std::chrono::duration_cast<std::chrono::nanoseconds>(2h).count());
  CHECK(facts->messages == 0);
  for (int i = 0; i < 5; ++i)
    client->publish("optischema.x.metrics", "m" + std::to_string(i));
  CHECK(eventually([&] { return check.stream_messages("OPTISCHEMA") == 5; }));
  // Events on other subjects are not captured.
  client->publish("other.subject", "ignored");
  REQUIRE(eventually([&] { return client->stats().published == 6; }));
  CHECK_FALSE(eventually(
    [&] { return check.stream_messages("OPTISCHEMA") != 5; }, 300ms));
}

TEST_CASE("nats_client waits for JetStream to acknowledge every event",
          "[nats][jetstream]") {
  nats_process server;
  auto client = make_client(test_options(server.url()));
  REQUIRE(eventually([&] { return client->stats().jetstream; }));
  // More than the acknowledgement window (1,024): the rest wait their turn.
  publish_range(*client, "optischema.acked.s", 1, 3000);
  REQUIRE(
    eventually([&] { return client->stats().acknowledged == 3000; }, 15s));
  auto st = client->stats();
  CHECK(st.published == 3000);
  CHECK(st.unacknowledged == 0);
  CHECK(st.buffered == 0);
  CHECK(st.store_retries == 0);
  CHECK(st.unstored == 0);
  CHECK(st.dropped == 0);
  probe check{server.url()};
  CHECK(check.stream_messages("OPTISCHEMA") == 3000);
  // In the order they were published.
  auto* sub = check.replay("OPTISCHEMA", "optischema.acked.>");
  check_same(probe::take(sub, 3000),
             expected_messages("optischema.acked.s", 1, 3000));
}

TEST_CASE("nats_client retries what JetStream refuses and counts what it "
          "never stored",
          "[nats][jetstream]") {
  nats_process server;
  // A stream an operator capped at 20 messages, refusing new ones when
  // full: every event past the 20th is refused on each attempt.
  probe{server.url()}.add_stream("optischema.>", 24h, [](jsStreamConfig& c) {
    c.MaxMsgs = 20;
    c.Discard = js_DiscardNew;
  });
  log_capture logs;
  auto client = make_client(test_options(server.url()));
  REQUIRE(eventually([&] { return client->stats().jetstream; }));
  publish_range(*client, "optischema.capped.s", 1, 30);
  REQUIRE(eventually(
    [&] {
      auto st = client->stats();
      return st.acknowledged == 20 && st.unstored == 10;
    },
    15s));
  auto st = client->stats();
  CHECK(st.published == 30);
  CHECK(st.unacknowledged == 0);
  CHECK(st.buffered == 0);
  CHECK(st.dropped == 10);
  CHECK(st.store_retries == 40); // four more sends of each refused event
  CHECK_THAT(st.last_error, Catch::Contains("did not store"));
  CHECK_THAT(logs.text(), Catch::Contains("after 5 attempts"));
  probe check{server.url()};
  CHECK(check.stream_messages("OPTISCHEMA") == 20);
}

TEST_CASE("nats_client updates an existing stream to its subjects and max age",
          "[nats]") {
  nats_process server;
  // An older stream with another max age, in memory, without our subject.
  probe{server.url()}.add_stream("legacy.>", 1h, [](jsStreamConfig& c) {
    c.Storage = js_MemoryStorage;
  });
  auto client = make_client(test_options(server.url()));
  REQUIRE(eventually([&] { return client->stats().jetstream; }));
  probe check{server.url()};
  auto facts = check.stream("OPTISCHEMA");
  REQUIRE(facts);
  CHECK(facts->subjects
        == std::vector<std::string>{"legacy.>", "optischema.>"});
  CHECK(facts->max_age_ns
        == std::chrono::duration_cast<std::chrono::nanoseconds>(24h).count());
  CHECK(facts->storage == js_MemoryStorage); // kept: cannot change anyway
  client->publish("optischema.x.metrics", "1");
  CHECK(eventually([&] { return check.stream_messages("OPTISCHEMA") == 1; }));
}

TEST_CASE("nats_client falls back to core NATS without JetStream", "[nats]") {
  nats_process server{{.jetstream = false}};
  probe sub_conn{server.url()};
  auto* sub = sub_conn.subscribe("optischema.>");
  auto client = make_client(test_options(server.url()));
  REQUIRE(eventually([&] { return is_connected(*client); }));
  // Messages wait for the stream check, so once this one is out the check
  // is over.
  client->publish("optischema.x.metrics", "1");
  REQUIRE(eventually([&] { return client->stats().published == 1; }));
  auto st = client->stats();
  CHECK_FALSE(st.jetstream);
  CHECK(st.state == "connected");
  CHECK(st.last_error.empty());
  check_same(probe::take(sub, 1), {{"optischema.x.metrics", "1"}});
}

TEST_CASE("nats_client buffers while the server is down and resends in order",
          "[nats]") {
  nats_process server;
  auto client = make_client(test_options(server.url()));
  REQUIRE(eventually([&] { return client->stats().jetstream; }));
  publish_range(*client, "optischema.before.s", 1, 10);
  // Stored, not only sent: events JetStream has not yet acknowledged when
  // the server goes would go back to the buffer (rightly) and be counted.
  REQUIRE(eventually([&] {
    auto st = client->stats();
    return st.published == 10 && st.acknowledged == 10;
  }));
  server.stop();
  REQUIRE(eventually([&] { return client->stats().state == "disconnected"; }));
  auto down = client->stats();
  CHECK(down.disconnects == 1);
  CHECK(down.reconnects == 0);
  CHECK_FALSE(down.last_error.empty());
  publish_range(*client, "optischema.after.s", 1, 50);
  auto buffered = client->stats();
  CHECK(buffered.buffered == 50);
  CHECK(buffered.published == 10);
  CHECK(accounted(buffered) == 60);
  CHECK(buffered.last_change_ms >= down.last_change_ms);
  server.start();
  REQUIRE(eventually([&] { return is_connected(*client); }));
  REQUIRE(eventually([&] { return client->stats().buffered == 0; }));
  auto up = client->stats();
  CHECK(up.reconnects == 1);
  CHECK(up.disconnects == 1);
  CHECK(up.published == 60);
  CHECK(up.dropped == 0);
  CHECK(up.jetstream);
  // The stream (file storage, same store dir) replays to a subscriber.
  probe check{server.url()};
  auto* sub = check.replay("OPTISCHEMA", "optischema.after.>");
  check_same(probe::take(sub, 50),
             expected_messages("optischema.after.s", 1, 50));
  CHECK(probe::quiet(sub));
  // And live traffic flows to core subscribers again.
  auto* live = check.subscribe("optischema.live");
  client->publish("optischema.live", "ok");
  check_same(probe::take(live, 1), {{"optischema.live", "ok"}});
}

TEST_CASE("nats_client drops the oldest messages when its buffer is full",
          "[nats]") {
  nats_process server;
  server.stop();
  auto opts = test_options(server.url());
  opts.buffer_limit = 5;
  auto client = make_client(opts);
  publish_range(*client, "optischema.overflow.s", 1, 12);
  auto st = client->stats();
  CHECK(st.state == "connecting");
  CHECK(st.buffered == 5);
  CHECK(st.dropped == 7);
  CHECK(st.published == 0);
  server.start();
  REQUIRE(eventually([&] { return client->stats().published == 5; }));
  st = client->stats();
  CHECK(st.buffered == 0);
  CHECK(st.dropped == 7);
  CHECK(accounted(st) == 12);
  probe check{server.url()};
  auto* sub = check.replay("OPTISCHEMA", "optischema.overflow.>");
  // The newest five survive, in order.
  check_same(probe::take(sub, 5),
             expected_messages("optischema.overflow.s", 8, 12));
  CHECK(probe::quiet(sub));
}

TEST_CASE("nats_client connects in the background when the server is down",
          "[nats]") {
  nats_process server;
  server.stop();
  auto t0 = std::chrono::steady_clock::now();
  auto client = make_client(test_options(server.url()));
  // create() never waits for the network.
  CHECK(std::chrono::steady_clock::now() - t0 < 500ms);
  auto st = client->stats();
  CHECK(st.state == "connecting");
  publish_range(*client, "optischema.late.s", 1, 3);
  CHECK(client->stats().buffered == 3);
  // Still trying in the background, still buffering.
  CHECK_FALSE(eventually([&] { return is_connected(*client); }, 300ms));
  CHECK(client->stats().state == "connecting");
  CHECK_FALSE(client->stats().last_error.empty());
  server.start();
  REQUIRE(eventually([&] { return is_connected(*client); }));
  REQUIRE(eventually([&] { return client->stats().published == 3; }));
  st = client->stats();
  CHECK(st.buffered == 0);
  CHECK(st.reconnects == 0); // the first connection is no reconnect
  CHECK(st.disconnects == 0);
  CHECK(st.jetstream);
  probe check{server.url()};
  auto* sub = check.replay("OPTISCHEMA", "optischema.late.>");
  check_same(probe::take(sub, 3), expected_messages("optischema.late.s", 1, 3));
}

TEST_CASE("nats_client sends what it accepted before it is destroyed",
          "[nats]") {
  nats_process server{{.jetstream = false}};
  probe sub_conn{server.url()};
  auto* sub = sub_conn.subscribe("optischema.bye.>");
  // A JetStream API that never answers: the stream check waits 2 s, and
  // meanwhile the client holds every message in its FIFO.
  sub_conn.subscribe("$JS.API.>");
  auto client = make_client(test_options(server.url()));
  REQUIRE(eventually([&] { return is_connected(*client); }));
  publish_range(*client, "optischema.bye.s", 1, 500);
  CHECK(client->stats().buffered == 500);
  client.reset(); // flushes the FIFO, then cnats' buffer
  check_same(probe::take(sub, 500),
             expected_messages("optischema.bye.s", 1, 500));
}

TEST_CASE("nats_client destructor is bounded while the server is down",
          "[nats]") {
  nats_process server;
  server.stop();
  auto client = make_client(test_options(server.url()));
  client->publish("optischema.x", "lost at shutdown");
  REQUIRE(eventually([&] { return !client->stats().last_error.empty(); }));
  auto t0 = std::chrono::steady_clock::now();
  client.reset();
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
}

TEST_CASE("nats_client rejects malformed URLs", "[nats]") {
  const char* bad[] = {
    "",
    "localhost:4222",
    "http://localhost:4222",
    "nats://",
    "nats://:4222",
    "nats://host:",
    "nats://host:abc",
    "nats://host:0",
    "nats://host:70000",
    "nats://host:4222/path",
    "nats://ho st:4222",
    "nats://a:1,tls://b:2",
    "nats://a:1,",
    "nats://a:1,nats://b:99999",
    "nats://[::1:4222",
    "nats://::1:4222",
  };
  for (const char* url : bad) {
    INFO("url: '" << url << "'");
    auto client = nats_client::create(test_options(url));
    REQUIRE_FALSE(client);
    CHECK(client.error().code == ec::invalid_configuration);
    CHECK_THAT(
      client.error().message,
      Catch::StartsWith("invalid NATS URL '" + std::string{url} + "': "));
  }
  // Credentials stay out of the error message.
  for (const char* url :
       {"nats://alice:hunter22@host:notaport", "nats://alice:hunter22@:4222",
        "nats://s3cr3tt0ken@host:99999",
        "nats://alice:hunter22@a:1,nats://alice:hunter22@b:x"}) {
    INFO("url: '" << url << "'");
    auto client = nats_client::create(test_options(url));
    REQUIRE_FALSE(client);
    CHECK(client.error().code == ec::invalid_configuration);
    CHECK_THAT(client.error().message, Catch::Contains("***@"));
    CHECK_THAT(client.error().message, !Catch::Contains("hunter22"));
    CHECK_THAT(client.error().message, !Catch::Contains("s3cr3tt0ken"));
  }
  // Well-formed URLs pass, even with nothing listening.
  nats_process server;
  server.stop();
  auto port = std::to_string(server.port());
  for (const auto& url :
       {"nats://127.0.0.1:" + port, "NATS://127.0.0.1:" + port + "/",
        "nats://[::1]:" + port, "nats://localhost:" + port,
        // A cluster: any server of the list, failing over to the others.
        "nats://127.0.0.1:" + port + ",nats://localhost:" + port}) {
    INFO("url: '" << url << "'");
    auto client = nats_client::create(test_options(url));
    CHECK(client);
  }
}

TEST_CASE("nats_client never shows credentials", "[nats]") {
  log_capture logs;
  SECTION("user and password") {
    nats_process server{
      {.extra_args = {"--user", "alice", "--pass", "hunter22pw"}}};
    auto url = "nats://alice:hunter22pw@127.0.0.1:"
      + std::to_string(server.port());
    auto client = make_client(test_options(url));
    REQUIRE(eventually([&] { return client->stats().jetstream; }));
    CHECK(client->stats().url
          == "nats://alice:***@127.0.0.1:" + std::to_string(server.port()));
    server.stop();
    REQUIRE(
      eventually([&] { return client->stats().state == "disconnected"; }));
    server.start();
    REQUIRE(eventually([&] { return is_connected(*client); }));
    CHECK_THAT(client->stats().url, !Catch::Contains("hunter22pw"));
  }
  SECTION("wrong password") {
    nats_process server{
      {.extra_args = {"--user", "alice", "--pass", "right-one"}}};
    auto url = "nats://alice:wrong-one@127.0.0.1:"
      + std::to_string(server.port());
    auto client = make_client(test_options(url));
    // cnats closes the connection after the second refusal; the client
    // starts over and says why.
    REQUIRE(eventually([&] {
      return client->stats().last_error.find("uthorization")
        != std::string::npos;
    }));
    auto st = client->stats();
    INFO(st.last_error);
    CHECK(st.state == "connecting");
    CHECK_THAT(st.last_error, !Catch::Contains("wrong-one"));
    CHECK_THAT(st.url, !Catch::Contains("wrong-one"));
  }
  SECTION("token") {
    nats_process server{{.extra_args = {"--auth", "t0ken-s3cret"}}};
    auto url = "nats://t0ken-s3cret@127.0.0.1:" + std::to_string(server.port());
    auto client = make_client(test_options(url));
    REQUIRE(eventually([&] { return client->stats().jetstream; }));
    CHECK(client->stats().url
          == "nats://***@127.0.0.1:" + std::to_string(server.port()));
  }
  auto text = logs.text();
  INFO(text);
  CHECK_THAT(text, Catch::Contains("NATS"));
  CHECK_THAT(text, !Catch::Contains("hunter22pw"));
  CHECK_THAT(text, !Catch::Contains("wrong-one"));
  CHECK_THAT(text, !Catch::Contains("t0ken-s3cret"));
}
