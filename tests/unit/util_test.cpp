#include "optischema/util/duration.hpp"
#include "optischema/util/json_parse.hpp"
#include "optischema/util/log_format.hpp"
#include "optischema/util/redact.hpp"
#include "optischema/util/strings.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

using namespace optischema;
using namespace std::chrono_literals;

TEST_CASE("passwords in key=value connection strings are redacted",
          "[redact]") {
  CHECK(redact_secrets("host=db password=hunter2 user=app")
        == "host=db password=*** user=app");
  // libpq quotes values with '…' and escapes with a backslash.
  CHECK(redact_secrets(R"(host=db password = 'it\'s secret' dbname=x)")
        == "host=db password = *** dbname=x");
  CHECK(redact_secrets("PASSWORD=abc") == "PASSWORD=***");
}

TEST_CASE("passwords in URIs are redacted", "[redact]") {
  CHECK(redact_secrets("postgresql://app:hunter2@db:5432/shop")
        == "postgresql://app:***@db:5432/shop");
  CHECK(redact_secrets("nats://u:p4ss@broker:4222 and more")
        == "nats://u:***@broker:4222 and more");
  CHECK(redact_secrets("postgres://db/x?sslmode=require&password=zz")
        == "postgres://db/x?sslmode=require&password=***");
  // No password, nothing to hide.
  CHECK(redact_secrets("postgresql://app@db/shop")
        == "postgresql://app@db/shop");
}

TEST_CASE("bearer tokens are redacted", "[redact]") {
  CHECK(redact_secrets("Authorization: Bearer abc.def")
        == "Authorization: Bearer ***");
}

TEST_CASE("durations parse with units", "[duration]") {
  CHECK(*parse_duration("250ms") == 250ms);
  CHECK(*parse_duration("30s") == 30s);
  CHECK(*parse_duration("30") == 30s);
  CHECK(*parse_duration("5m") == 5min);
  CHECK(*parse_duration("1h") == 1h);
  CHECK(*parse_duration("7d") == std::chrono::hours{168});
  CHECK(*parse_duration("1.5s") == 1500ms);
  for (auto bad : {"", "s", "-1s", "10x", "ten"}) {
    auto d = parse_duration(bad);
    REQUIRE_FALSE(d);
    CHECK(d.error().code == ec::invalid_configuration);
    CHECK(d.error().message.find("e.g. 500ms") != std::string::npos);
  }
  CHECK(to_string(std::chrono::milliseconds{30'000}) == "30s");
  CHECK(to_string(std::chrono::milliseconds{3'600'000}) == "1h");
  CHECK(to_string(std::chrono::milliseconds{1500}) == "1500ms");
}

TEST_CASE("hostile JSON nesting is refused without recursion", "[json]") {
  // 300,000 '[' overflowed the stack of RapidJSON's recursive parser.
  rapidjson::Document d;
  auto deep = std::string(300'000, '[');
  auto r = json::parse(d, deep, "the body");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ec::parse_error);
  CHECK(r.error().message.find("deeper than") != std::string::npos);
  // Brackets inside strings do not count; escaped quotes stay in the string.
  auto quoted = R"({"a":"[[[[\"[[[[","b":[1,[2]]})";
  CHECK(json::nesting_depth(quoted, 100) == 3);
  REQUIRE(json::parse(d, quoted));
  CHECK(d["b"][1][0].GetInt() == 2);
  // Just at the limit parses; one more level does not.
  auto at = std::string(json::default_max_depth, '[')
    + std::string(json::default_max_depth, ']');
  CHECK(json::parse(d, at));
  CHECK_FALSE(json::parse(d, "[" + at + "]"));
  // Malformed JSON says where.
  auto bad = json::parse(d, R"({"a": tru})", "the body");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("the body is not valid JSON") == 0);
}

TEST_CASE("JSON from outside with a lone UTF-16 surrogate escape is refused",
          "[json]") {
  // RapidJSON 1.1 turns a lone low surrogate into bytes that are not UTF-8:
  // a request body, an LLM answer or a stored record would carry them on.
  rapidjson::Document d;
  for (auto text : {R"({"sql":"\udc00"})", R"(["a\uDFFFb"])",
                    R"({"x":"\ud83d"})", R"({"x":"\ud83d\u0041"})"}) {
    INFO(text);
    auto r = json::parse(d, text, "the body");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ec::parse_error);
    CHECK(r.error().message.find("the body holds a \\u escape that is no "
                                 "character (a lone UTF-16 surrogate")
          == 0);
  }
  // Pairs are characters; an escaped backslash before "u" is no escape.
  REQUIRE(json::parse(d, R"({"x":"\ud83d\ude00","y":"\\udc00","z":"\u00e9"})"));
  CHECK(valid_utf8(d["x"].GetString()));
  CHECK(std::string{d["y"].GetString()} == "\\udc00");
}

TEST_CASE("a JSON log line parses whatever bytes the message holds",
          "[logging]") {
  // 2026-12-06T17:00:27.042Z
  auto line
    = json_log_line(1796576427042, "warning",
                    "query \"x\"\\ \n\t\x01 bad \xC3\x28 \xF0\x9F\x90\x98");
  rapidjson::Document d;
  d.Parse(line.c_str(), line.size());
  REQUIRE_FALSE(d.HasParseError());
  CHECK(std::string{d["time"].GetString()} == "2026-12-06T17:00:27.042Z");
  CHECK(std::string{d["level"].GetString()} == "warning");
  // Quotes, backslashes and control characters round-trip; a byte that is
  // not UTF-8 becomes U+FFFD; valid multi-byte characters stay.
  CHECK(std::string{d["message"].GetString()}
        == "query \"x\"\\ \n\t\x01 bad \xEF\xBF\xBD( \xF0\x9F\x90\x98");
  // Never more than one line, whatever the message.
  CHECK(line.find('\n') == std::string::npos);
  // Overlong encodings and surrogates are not UTF-8 either.
  auto odd = json_log_line(0, "info", "\xC0\xAF \xED\xA0\x80");
  CHECK(odd.find("\xC0") == std::string::npos);
  CHECK(odd.find("\xED\xA0") == std::string::npos);
  CHECK(odd.starts_with(R"({"time":"1970-01-01T00:00:00.000Z")"));
}
