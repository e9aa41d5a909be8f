// The LLM client against a scripted OpenAI-compatible endpoint over real
// HTTP on loopback: parsing, retries, timeouts, structured-output fallback,
// limits, and that the API key never leaks.

#include "optischema/llm/client.hpp"
#include "optischema/util/logging.hpp"

#include "fake_openai.hpp"
#include "http_client.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>
#include <spdlog/sinks/base_sink.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace optischema;
using namespace optischema::llm;
using namespace std::chrono_literals;
using optischema::test::fake_openai;

namespace {

using steady = std::chrono::steady_clock;

const std::string test_key = "sk-test-0123456789abcdef-SECRET-KEY";

const std::string test_schema = R"({
  "type": "object",
  "properties": {"indexes": {"type": "array", "items": {"type": "string"}}},
  "required": ["indexes"],
  "additionalProperties": false
})";

/// Options for `fake`: fast backoff and no local limits, so each test sets
/// only what it is about.
llm_options options_for(const fake_openai& fake) {
  llm_options opts;
  opts.base_url = fake.base_url();
  opts.api_key = test_key;
  opts.model = "gpt-4o";
  opts.timeout = 5s;
  opts.max_retries = 3;
  opts.backoff_base = 10ms;
  opts.backoff_max = 200ms;
  opts.max_concurrency = 4;
  opts.requests_per_minute = 0;
  opts.tokens_per_minute = 0;
  return opts;
}

std::unique_ptr<client> make_client(const llm_options& opts) {
  auto c = client::create(opts);
  if (!c)
    FAIL("client::create failed: " << c.error().message);
  return std::move(*c);
}

chat_request ask(bool with_schema = true) {
  chat_request req;
  req.messages = {{"system", "You advise on PostgreSQL indexes."},
                  {"user", "SELECT * FROM orders WHERE customer_id = $1"}};
  if (with_schema) {
    req.json_schema = test_schema;
    req.schema_name = "index_advice";
  }
  req.max_tokens = 200;
  return req;
}

double seconds_since(steady::time_point start) {
  return std::chrono::duration<double>(steady::now() - start).count();
}

fake_openai::reply ok_reply(const std::string& content = R"({"indexes":[]})") {
  return {200, fake_openai::completion(content), {}, {}};
}

fake_openai::reply status_reply(unsigned status, const std::string& message,
                                const std::string& type = "server_error") {
  return {status, fake_openai::error(message, type), {}, {}};
}

rapidjson::Document body_of(const fake_openai::recorded_request& req) {
  return test::parse_json(req.body);
}

/// Collects every line the engine's logger writes, unredacted (the
/// redaction lives in the logger's own sink), so a test sees what the
/// client formats.
class capture_sink : public spdlog::sinks::base_sink<std::mutex> {
public:
  std::string text() {
    std::lock_guard<std::mutex> guard{mutex_};
    return text_;
  }

protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    text_.append(formatted.data(), formatted.size());
  }
  void flush_() override {
    // nop
  }

private:
  std::string text_;
};

/// Attaches a capture_sink at debug level for its lifetime.
struct log_capture {
  std::shared_ptr<capture_sink> sink = std::make_shared<capture_sink>();
  spdlog::level::level_enum old_level;
  log_capture() {
    auto& lg = detail::logger();
    old_level = lg.level();
    lg.sinks().push_back(sink);
    lg.set_level(spdlog::level::debug);
  }
  ~log_capture() {
    auto& lg = detail::logger();
    auto& sinks = lg.sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink), sinks.end());
    lg.set_level(old_level);
  }
};

std::string http_date(std::chrono::system_clock::time_point when) {
  auto t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

} // namespace

TEST_CASE("llm client parses an answer and sends the documented request",
          "[llm]") {
  fake_openai fake;
  fake.push(
    {200,
     fake_openai::completion(R"js({"indexes":["orders(customer_id)"]})js", 321,
                             45, "gpt-4o-2024-08-06"),
     {},
     {}});
  auto opts = options_for(fake);
  opts.organization = "org-optischema";
  auto c = make_client(opts);
  auto res = c->chat(ask());
  REQUIRE(res);
  CHECK(res->content == R"js({"indexes":["orders(customer_id)"]})js");
  CHECK(res->tokens.prompt_tokens == 321);
  CHECK(res->tokens.completion_tokens == 45);
  CHECK(res->tokens.total_tokens == 366);
  CHECK(res->model == "gpt-4o-2024-08-06");
  CHECK(res->attempts == 1);
  CHECK(res->latency_ms > 0);
  REQUIRE(fake.calls() == 1);
  auto req = fake.requests().at(0);
  CHECK(req.method == "POST");
  CHECK(req.path == "/v1/chat/completions");
  CHECK(req.headers["authorization"] == "Bearer " + test_key);
  CHECK(req.headers["openai-organization"] == "org-optischema");
  CHECK(req.headers["content-type"].rfind("application/json", 0) == 0);
  auto body = body_of(req);
  CHECK(std::string{body["model"].GetString()} == "gpt-4o");
  REQUIRE(body["messages"].IsArray());
  REQUIRE(body["messages"].Size() == 2);
  CHECK(std::string{body["messages"][0]["role"].GetString()} == "system");
  CHECK(std::string{body["messages"][1]["role"].GetString()} == "user");
  CHECK(std::string{body["messages"][1]["content"].GetString()}
        == "SELECT * FROM orders WHERE customer_id = $1");
  CHECK(body["temperature"].GetDouble() == Approx(0.1));
  CHECK(body["max_tokens"].GetInt() == 200);
  auto& format = body["response_format"];
  CHECK(std::string{format["type"].GetString()} == "json_schema");
  CHECK(std::string{format["json_schema"]["name"].GetString()}
        == "index_advice");
  CHECK(format["json_schema"]["strict"].GetBool());
  auto& schema = format["json_schema"]["schema"];
  REQUIRE(schema.IsObject());
  CHECK(std::string{schema["type"].GetString()} == "object");
  CHECK(schema["properties"]["indexes"]["type"] == "array");
  CHECK(schema["additionalProperties"].GetBool() == false);
  auto st = c->stats();
  CHECK(st.requests == 1);
  CHECK(st.succeeded == 1);
  CHECK(st.failed == 0);
  CHECK(st.retries == 0);
  CHECK(st.prompt_tokens == 321);
  CHECK(st.completion_tokens == 45);
}

TEST_CASE("llm client without key or schema (Ollama style)", "[llm]") {
  fake_openai fake;
  // No usage, as some local servers answer.
  fake.push({200,
             R"({"model":"llama3.1:8b","choices":[{"message":)"
             R"({"role":"assistant","content":"plain text"}}]})",
             {},
             {}});
  auto opts = options_for(fake);
  opts.api_key.clear();
  opts.model = "llama3.1:8b";
  auto c = make_client(opts);
  auto res = c->chat(ask(false));
  REQUIRE(res);
  CHECK(res->content == "plain text");
  CHECK(res->model == "llama3.1:8b");
  CHECK(res->tokens.prompt_tokens == 0);
  CHECK(res->tokens.completion_tokens == 0);
  CHECK(res->tokens.total_tokens == 0);
  REQUIRE(fake.calls() == 1);
  auto req = fake.requests().at(0);
  CHECK(req.headers.count("authorization") == 0);
  CHECK(req.headers.count("openai-organization") == 0);
  auto body = body_of(req);
  CHECK_FALSE(body.HasMember("response_format"));
}

TEST_CASE("llm client honours Retry-After on 429", "[llm]") {
  fake_openai fake;
  auto opts = options_for(fake);
  opts.backoff_max = 5s; // Retry-After, not the cap, sets the delay here
  double min_s = 0;
  double max_s = 0;
  SECTION("in seconds") {
    fake.push({429,
               fake_openai::error("Rate limit reached", "requests"),
               {{"Retry-After", "1"}},
               {}});
    min_s = 0.9;
    max_s = 2.5;
  }
  SECTION("as an HTTP date") {
    auto when = std::chrono::system_clock::now() + 2s;
    fake.push({429,
               fake_openai::error("Rate limit reached", "requests"),
               {{"Retry-After", http_date(when)}},
               {}});
    min_s = 0.9; // the date has whole seconds: the delay is in (1 s, 2 s]
    max_s = 3.5;
  }
  SECTION("capped at backoff_max") {
    opts.backoff_max = 300ms;
    fake.push({429,
               fake_openai::error("Rate limit reached", "requests"),
               {{"Retry-After", "30"}},
               {}});
    min_s = 0.25;
    max_s = 2.0;
  }
  fake.push(ok_reply());
  auto c = make_client(opts);
  auto start = steady::now();
  auto res = c->chat(ask());
  auto took = seconds_since(start);
  REQUIRE(res);
  CHECK(res->attempts == 2);
  CHECK(fake.calls() == 2);
  CHECK(took >= min_s);
  CHECK(took <= max_s);
  auto reqs = fake.requests();
  REQUIRE(reqs.size() == 2);
  auto gap = std::chrono::duration<double>(reqs[1].received - reqs[0].received)
               .count();
  CHECK(gap >= min_s);
  auto st = c->stats();
  CHECK(st.rate_limited == 1);
  CHECK(st.retries == 1);
  CHECK(st.requests == 2);
  CHECK(st.succeeded == 1);
}

TEST_CASE("llm client reuses its connection", "[llm]") {
  fake_openai fake;
  fake.set_handler(
    [](const fake_openai::recorded_request&) { return ok_reply(); });
  auto c = make_client(options_for(fake));
  for (int i = 0; i < 5; ++i) {
    REQUIRE(c->chat(ask()));
    // cpprest puts a connection back into its pool only after chat()
    // returned: a call right after may open another one.
    std::this_thread::sleep_for(50ms);
  }
  CHECK(fake.calls() == 5);
  CHECK(fake.connections() < 5);
}

TEST_CASE("llm client replays a request on a connection the server dropped",
          "[llm]") {
  fake_openai fake;
  auto first = ok_reply();
  first.drop_connection = true; // silently, like an idle timeout
  fake.push(first);
  fake.push(ok_reply());
  auto opts = options_for(fake);
  opts.max_retries = 0; // the replay is not a retry of a failure
  auto c = make_client(opts);
  REQUIRE(c->chat(ask()));
  // The close reaches the client, and the connection its pool.
  std::this_thread::sleep_for(200ms);
  auto res = c->chat(ask());
  REQUIRE(res);
  CHECK(fake.calls() == 2);
  CHECK(fake.connections() == 2);
  auto st = c->stats();
  CHECK(st.requests == 3); // the one on the dead connection, the replay
  CHECK(st.retries == 1);
  CHECK(st.succeeded == 2);
  CHECK(st.failed == 0);
}

TEST_CASE("llm client retries 500s and then succeeds", "[llm]") {
  fake_openai fake;
  fake.push(status_reply(500, "The server had an error"));
  fake.push(status_reply(502, "Bad gateway"));
  fake.push(ok_reply());
  auto c = make_client(options_for(fake));
  auto res = c->chat(ask());
  REQUIRE(res);
  CHECK(res->attempts == 3);
  CHECK(fake.calls() == 3);
  auto st = c->stats();
  CHECK(st.server_errors == 2);
  CHECK(st.retries == 2);
  CHECK(st.succeeded == 1);
  CHECK(st.failed == 0);
}

TEST_CASE("llm client gives up when 500s outlast the retries", "[llm]") {
  fake_openai fake;
  fake.set_handler([](const fake_openai::recorded_request&) {
    return status_reply(500, "The server had an error while processing");
  });
  auto opts = options_for(fake);
  opts.max_retries = 2;
  auto c = make_client(opts);
  auto res = c->chat(ask());
  REQUIRE_FALSE(res);
  CHECK(res.error().code == ec::llm_error);
  CHECK_THAT(res.error().message, Catch::Contains("500"));
  CHECK_THAT(res.error().message,
             Catch::Contains("The server had an error while processing"));
  CHECK_THAT(res.error().message, Catch::Contains("3 attempt"));
  CHECK(fake.calls() == 3);
  auto st = c->stats();
  CHECK(st.server_errors == 3);
  CHECK(st.retries == 2);
  CHECK(st.failed == 1);
}

TEST_CASE("llm client times out, retries, then fails with timeout", "[llm]") {
  auto fake = std::make_unique<fake_openai>();
  fake->set_handler([](const fake_openai::recorded_request&) {
    auto r = ok_reply();
    r.delay = 2s;
    return r;
  });
  auto opts = options_for(*fake);
  opts.timeout = 300ms;
  opts.max_retries = 1;
  auto c = make_client(opts);
  auto start = steady::now();
  auto res = c->chat(ask());
  auto took = seconds_since(start);
  REQUIRE_FALSE(res);
  CHECK(res.error().code == ec::timeout);
  CHECK_THAT(res.error().message,
             Catch::Contains("did not answer within 300 ms"));
  // Two attempts of 300 ms and a short backoff, far below one 2 s reply.
  CHECK(took >= 0.55);
  CHECK(took < 1.8);
  CHECK(fake->calls() == 2);
  auto st = c->stats();
  CHECK(st.timeouts == 2);
  CHECK(st.retries == 1);
  CHECK(st.failed == 1);
  // The fake stops promptly although its delayed replies are still pending.
  auto stop = steady::now();
  fake.reset();
  CHECK(seconds_since(stop) < 1.0);
}

TEST_CASE("llm client does not retry 401 and names OPENAI_API_KEY", "[llm]") {
  fake_openai fake;
  fake.push(
    status_reply(401, "Incorrect API key provided.", "invalid_request_error"));
  auto c = make_client(options_for(fake));
  auto res = c->chat(ask());
  REQUIRE_FALSE(res);
  CHECK(res.error().code == ec::llm_error);
  CHECK_THAT(res.error().message, Catch::Contains("401"));
  CHECK_THAT(res.error().message, Catch::Contains("OPENAI_API_KEY"));
  CHECK_THAT(res.error().message,
             Catch::Contains("Incorrect API key provided."));
  CHECK(fake.calls() == 1);
  CHECK(c->stats().retries == 0);
}

TEST_CASE("llm client reports malformed answers without retrying", "[llm]") {
  fake_openai fake;
  SECTION("not JSON") {
    fake.push({200, R"({"choices": [{"message": )", {}, {}});
  }
  SECTION("no content") {
    fake.push(
      {200, R"({"choices": [{"message": {"role": "assistant"}}]})", {}, {}});
  }
  SECTION("no choices") {
    fake.push({200, R"({"object": "chat.completion", "choices": []})", {}, {}});
  }
  fake.push(ok_reply()); // would be taken by a retry
  auto c = make_client(options_for(fake));
  auto res = c->chat(ask());
  REQUIRE_FALSE(res);
  CHECK(res.error().code == ec::llm_error);
  CHECK_THAT(res.error().message,
             Catch::StartsWith("the LLM endpoint answered malformed JSON: "));
  CHECK(fake.calls() == 1);
  CHECK(c->stats().retries == 0);
  CHECK(c->stats().failed == 1);
}

TEST_CASE("llm client falls back to json_object when json_schema is refused",
          "[llm]") {
  fake_openai fake;
  fake.push(status_reply(400,
                         "Invalid parameter: 'response_format' of type "
                         "'json_schema' is not supported with this model.",
                         "invalid_request_error"));
  fake.push(ok_reply());
  auto c = make_client(options_for(fake));
  auto res = c->chat(ask());
  REQUIRE(res);
  CHECK(res->attempts == 2);
  REQUIRE(fake.calls() == 2);
  auto reqs = fake.requests();
  CHECK(std::string{body_of(reqs[0])["response_format"]["type"].GetString()}
        == "json_schema");
  auto second = body_of(reqs[1]);
  CHECK(std::string{second["response_format"]["type"].GetString()}
        == "json_object");
  CHECK_FALSE(second["response_format"].HasMember("json_schema"));
  // json_object enforces no schema: the prompt carries it (and the word
  // JSON, which OpenAI requires for json_object).
  std::string system = second["messages"][0]["content"].GetString();
  CHECK_THAT(system, Catch::Contains("You advise on PostgreSQL indexes."));
  CHECK_THAT(system, Catch::Contains("JSON Schema"));
  CHECK_THAT(system, Catch::Contains("\"indexes\""));
  CHECK(second["messages"].Size() == 2);
  // Later calls ask for json_object right away.
  fake.clear();
  fake.push(ok_reply());
  auto again = c->chat(ask());
  REQUIRE(again);
  CHECK(again->attempts == 1);
  REQUIRE(fake.calls() == 1);
  CHECK(std::string{
          body_of(fake.requests()[0])["response_format"]["type"].GetString()}
        == "json_object");
  // ... while free-text calls still send no response_format.
  fake.clear();
  fake.push(ok_reply("text"));
  REQUIRE(c->chat(ask(false)));
  CHECK_FALSE(body_of(fake.requests().at(0)).HasMember("response_format"));
}

TEST_CASE("llm client switches to max_completion_tokens when asked", "[llm]") {
  fake_openai fake;
  fake.push(status_reply(400,
                         "Unsupported parameter: 'max_tokens' is not "
                         "supported with this model. Use "
                         "'max_completion_tokens' instead.",
                         "invalid_request_error"));
  fake.push(ok_reply());
  fake.push(ok_reply());
  auto c = make_client(options_for(fake));
  REQUIRE(c->chat(ask()));
  REQUIRE(c->chat(ask()));
  auto reqs = fake.requests();
  REQUIRE(reqs.size() == 3);
  CHECK(body_of(reqs[0]).HasMember("max_tokens"));
  for (size_t i : {1, 2}) {
    auto body = body_of(reqs[i]);
    CHECK_FALSE(body.HasMember("max_tokens"));
    CHECK(body["max_completion_tokens"].GetInt() == 200);
    // The format was not the problem: it stays json_schema.
    CHECK(std::string{body["response_format"]["type"].GetString()}
          == "json_schema");
  }
}

TEST_CASE("llm client does not retry other 400s", "[llm]") {
  fake_openai fake;
  fake.push(status_reply(400,
                         "This model's maximum context length is 128000 "
                         "tokens.",
                         "invalid_request_error"));
  fake.push(ok_reply());
  auto c = make_client(options_for(fake));
  auto res = c->chat(ask());
  REQUIRE_FALSE(res);
  CHECK(res.error().code == ec::llm_error);
  CHECK_THAT(res.error().message, Catch::Contains("HTTP 400"));
  CHECK_THAT(res.error().message, Catch::Contains("maximum context length"));
  CHECK(fake.calls() == 1);
}

TEST_CASE("llm client never shows the API key", "[llm]") {
  log_capture logs;
  std::vector<std::string> messages;
  auto echo = "Incorrect API key provided: " + test_key + ".";
  {
    fake_openai fake;
    auto opts = options_for(fake);
    opts.max_retries = 1;
    auto c = make_client(opts);
    // 401 echoing the key.
    fake.push(status_reply(401, echo, "invalid_request_error"));
    // 5xx echoing the key, retried (a WARN line), then exhausted.
    fake.push(status_reply(500, echo));
    fake.push(status_reply(503, "Bearer " + test_key + " overloaded"));
    // A malformed 200 echoing the key.
    fake.push({200, "oops " + test_key, {}, {}});
    // A 403 in a non-JSON body.
    fake.push({403,
               "<html>forbidden for " + test_key + "</html>",
               {{"Content-Type", "text/html"}},
               {}});
    for (int i = 0; i < 4; ++i) {
      auto res = c->chat(ask());
      REQUIRE_FALSE(res);
      messages.push_back(res.error().message);
    }
    CHECK(fake.calls() == 5);
    // Every request did carry the key.
    for (auto& req : fake.requests())
      CHECK(req.headers["authorization"] == "Bearer " + test_key);
  }
  {
    // Nothing listens: connection errors.
    llm_options opts;
    opts.base_url = "http://127.0.0.1:" + std::to_string(test::closed_port())
      + "/v1";
    opts.api_key = test_key;
    opts.max_retries = 1;
    opts.backoff_base = 10ms;
    opts.backoff_max = 20ms;
    auto res = make_client(opts)->chat(ask());
    REQUIRE_FALSE(res);
    messages.push_back(res.error().message);
  }
  REQUIRE(messages.size() == 5);
  for (auto& msg : messages) {
    INFO(msg);
    CHECK(msg.find(test_key) == std::string::npos);
    CHECK(msg.find("SECRET") == std::string::npos);
  }
  CHECK_THAT(messages[0], Catch::Contains("401"));
  CHECK_THAT(messages[1], Catch::Contains("503"));
  CHECK_THAT(messages[2], Catch::Contains("malformed JSON"));
  CHECK_THAT(messages[3], Catch::Contains("403"));
  auto text = logs.sink->text();
  INFO(text);
  // The capture works (retries log a warning) ...
  CHECK_THAT(text, Catch::Contains("retry 1/1"));
  // ... and holds no key.
  CHECK(text.find(test_key) == std::string::npos);
  CHECK(text.find("SECRET") == std::string::npos);
}

TEST_CASE("llm client keeps to max_concurrency", "[llm]") {
  fake_openai fake;
  fake.set_handler([](const fake_openai::recorded_request&) {
    auto r = ok_reply();
    r.delay = 300ms;
    return r;
  });
  auto opts = options_for(fake);
  size_t expected_in_flight = 0;
  SECTION("one at a time") {
    opts.max_concurrency = 1;
    expected_in_flight = 1;
  }
  SECTION("two at a time (the fake can see overlap)") {
    opts.max_concurrency = 2;
    expected_in_flight = 2;
  }
  auto c = make_client(opts);
  std::atomic<bool> go{false};
  std::atomic<int> succeeded{0};
  auto call = [&] {
    while (!go)
      std::this_thread::yield();
    if (c->chat(ask()))
      ++succeeded;
  };
  std::thread a{call};
  std::thread b{call};
  go = true;
  a.join();
  b.join();
  CHECK(succeeded == 2);
  CHECK(fake.max_in_flight() == expected_in_flight);
  auto reqs = fake.requests();
  REQUIRE(reqs.size() == 2);
  auto gap = std::chrono::duration<double>(reqs[1].received - reqs[0].received)
               .count();
  if (expected_in_flight == 1)
    CHECK(gap >= 0.28); // the second went out after the first's 300 ms reply
  else
    CHECK(gap < 0.2);
}

TEST_CASE("llm client fails fast beyond requests_per_minute", "[llm]") {
  fake_openai fake;
  fake.set_handler(
    [](const fake_openai::recorded_request&) { return ok_reply(); });
  auto opts = options_for(fake);
  opts.requests_per_minute = 2;
  opts.timeout = 200ms;
  opts.max_retries = 1; // waits for the limit at most 2 x 200 ms
  auto c = make_client(opts);
  REQUIRE(c->chat(ask()));
  REQUIRE(c->chat(ask()));
  auto start = steady::now();
  auto res = c->chat(ask());
  // The next slot is 30 s away, beyond the wait budget: no sleeping.
  CHECK(seconds_since(start) < 0.5);
  REQUIRE_FALSE(res);
  CHECK(res.error().code == ec::llm_error);
  CHECK_THAT(res.error().message, Catch::Contains("local rate limit"));
  CHECK_THAT(res.error().message, Catch::Contains("requests_per_minute: 2"));
  CHECK(fake.calls() == 2);
  CHECK(c->stats().failed == 1);
}

TEST_CASE("llm client waits for tokens_per_minute within its budget", "[llm]") {
  fake_openai fake;
  // Each answer reports 3,000 tokens; the limit is 6,000 a minute (100/s).
  fake.set_handler([](const fake_openai::recorded_request&) {
    return fake_openai::reply{
      200, fake_openai::completion("ok", 2900, 100), {}, {}};
  });
  auto opts = options_for(fake);
  opts.tokens_per_minute = 6000;
  opts.timeout = 1s;
  opts.max_retries = 0; // wait budget 1 s
  auto c = make_client(opts);
  chat_request small;
  small.messages = {{"user", "hi"}};
  small.max_tokens = 50; // estimated at 51 tokens before the call
  for (int i = 0; i < 2; ++i) {
    auto start = steady::now();
    REQUIRE(c->chat(small));
    CHECK(seconds_since(start) < 0.3);
  }
  // The real usage drained the bucket: the third call waits ~0.5 s for 51
  // tokens to refill.
  auto start = steady::now();
  auto res = c->chat(small);
  auto took = seconds_since(start);
  REQUIRE(res);
  CHECK(took >= 0.35);
  CHECK(took < 1.0);
  // That call put the bucket 2,949 tokens in debt: 30 s, beyond the budget.
  start = steady::now();
  auto over = c->chat(small);
  CHECK(seconds_since(start) < 0.3);
  REQUIRE_FALSE(over);
  CHECK_THAT(over.error().message, Catch::Contains("local rate limit"));
  CHECK(fake.calls() == 3);
}

TEST_CASE("llm client retries connection errors", "[llm]") {
  llm_options opts;
  opts.base_url = "http://127.0.0.1:" + std::to_string(test::closed_port())
    + "/v1";
  opts.max_retries = 2;
  opts.backoff_base = 10ms;
  opts.backoff_max = 50ms;
  opts.timeout = 2s;
  auto c = make_client(opts);
  auto start = steady::now();
  auto res = c->chat(ask());
  CHECK(seconds_since(start) < 3.0);
  REQUIRE_FALSE(res);
  CHECK(res.error().code == ec::llm_error);
  CHECK_THAT(res.error().message, Catch::Contains("cannot reach"));
  CHECK_THAT(res.error().message, Catch::Contains("3 attempt"));
  auto st = c->stats();
  CHECK(st.requests == 3);
  CHECK(st.retries == 2);
  CHECK(st.timeouts == 0);
}

TEST_CASE("llm client explains a 404 from a base URL without /v1", "[llm]") {
  fake_openai fake;
  auto opts = options_for(fake);
  opts.base_url = "http://127.0.0.1:" + std::to_string(fake.port());
  auto c = make_client(opts);
  auto res = c->chat(ask());
  REQUIRE_FALSE(res);
  CHECK(res.error().code == ec::llm_error);
  CHECK_THAT(res.error().message, Catch::Contains("404"));
  CHECK_THAT(res.error().message, Catch::Contains("base URL"));
  REQUIRE(fake.calls() == 1);
  CHECK(fake.requests()[0].path == "/chat/completions");
}

TEST_CASE("llm client keeps the query of the base URL", "[llm]") {
  fake_openai fake;
  fake.push(ok_reply());
  auto opts = options_for(fake);
  opts.base_url = fake.base_url() + "/?api-version=2024-10-21";
  auto c = make_client(opts);
  REQUIRE(c->chat(ask()));
  REQUIRE(fake.calls() == 1);
  CHECK(fake.requests()[0].path
        == "/v1/chat/completions?api-version=2024-10-21");
}

TEST_CASE("llm client rejects invalid options", "[llm]") {
  llm_options opts;
  std::string expect;
  SECTION("scheme") {
    opts.base_url = "ftp://user:hunter2@example.com/v1";
    expect = "http or https";
  }
  SECTION("no scheme") {
    opts.base_url = "localhost:11434/v1";
    expect = "http:// or https://";
  }
  SECTION("no host") {
    opts.base_url = "http:///v1";
    expect = "no host";
  }
  SECTION("not a URL") {
    opts.base_url = "http://exa mple.com/v1";
    expect = "not a URL";
  }
  SECTION("credentials in the URL") {
    opts.base_url = "https://user:hunter2@example.com/v1";
    expect = "credentials";
  }
  SECTION("empty model") {
    opts.model.clear();
    expect = "model";
  }
  SECTION("no concurrency") {
    opts.max_concurrency = 0;
    expect = "max_concurrency";
  }
  SECTION("negative retries") {
    opts.max_retries = -1;
    expect = "max_retries";
  }
  SECTION("zero timeout") {
    opts.timeout = 0ms;
    expect = "timeout";
  }
  auto c = client::create(opts);
  REQUIRE_FALSE(c);
  CHECK(c.error().code == ec::invalid_configuration);
  CHECK_THAT(c.error().message, Catch::Contains(expect));
  CHECK(c.error().message.find("hunter2") == std::string::npos);
}

TEST_CASE("fake_openai answers other paths with a JSON 404", "[llm]") {
  fake_openai fake;
  auto res = test::http_get("http://127.0.0.1:" + std::to_string(fake.port()),
                            "/v1/models");
  CHECK(res.status == 404);
  CHECK(test::parse_json(res.body).HasMember("error"));
  auto unscripted
    = test::http_request("http://127.0.0.1:" + std::to_string(fake.port()),
                         "POST", "/v1/chat/completions", "{}");
  CHECK(unscripted.status == 500);
  CHECK_THAT(unscripted.body, Catch::Contains("no scripted reply"));
  CHECK(fake.calls() == 2);
}
