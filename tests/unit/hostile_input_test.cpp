// What the fuzzers of fuzz/ found, each pinned by the input that broke it
// (fuzz/README.md lists them with the fuzz target that found them). Every
// case here failed before its fix.

#include "optischema/analysis/candidates.hpp"
#include "optischema/analysis/plan.hpp"
#include "optischema/analysis/statement.hpp"
#include "optischema/pg/conninfo.hpp"
#include "optischema/util/duration.hpp"
#include "optischema/util/redact.hpp"
#include "optischema/util/strings.hpp"

#include "server_json.hpp"
#include "server_ws_command.hpp"
#include "wire.hpp"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <string>

using namespace optischema;

TEST_CASE("hostile: a WebSocket error reply that quotes the frame stays "
          "valid UTF-8",
          "[hostile]") {
  // Found by fuzz: ws_command. The reply quoted 64 bytes of the unknown
  // type, cutting the 33rd character in half; browsers close a socket that
  // receives a text frame of invalid UTF-8.
  std::string type = "a";
  for (int i = 0; i < 40; ++i)
    type += "\xc3\xa9"; // é
  auto cmd = web::parse_ws_command(R"({"type":")" + type + R"("})");
  REQUIRE(cmd.what == web::ws_command::kind::invalid);
  auto reply = web::ws_error_frame(cmd.error);
  CHECK(valid_utf8(reply));
  CHECK(reply.find("unknown message type 'a\xc3\xa9") != std::string::npos);
}

TEST_CASE("hostile: a lone UTF-16 surrogate escape in a WebSocket command is "
          "refused, never echoed",
          "[hostile]") {
  // Found by fuzz: ws_command. RapidJSON turns "\ude90" into three bytes
  // that are not UTF-8; echoed in the reply, the browser drops the socket.
  for (auto frame :
       {R"({"type":"\ude90"})", R"({"type":"subscribe","targets":["a\udc00"]})",
        R"({"type":"subscribe","topics":["\udfff"]})"}) {
    INFO(frame);
    auto cmd = web::parse_ws_command(frame);
    REQUIRE(cmd.what == web::ws_command::kind::invalid);
    CHECK(cmd.error.find("surrogate") != std::string::npos);
    CHECK(valid_utf8(web::ws_error_frame(cmd.error)));
  }
  // A proper pair is a character and passes.
  auto ok = web::parse_ws_command(
    R"({"type":"subscribe","targets":["\ud83d\ude00"]})");
  CHECK(ok.what == web::ws_command::kind::subscribe);
}

TEST_CASE("hostile: a plan whose costs overflow still renders as JSON",
          "[hostile]") {
  // Found by fuzz: explain_plan. "Total Cost": 7001e308 reads as infinity;
  // RapidJSON writes nothing for it and the document was cut.
  auto p = parse_plan(R"([{"Plan": {"Node Type": "Seq Scan",
    "Relation Name": "t", "Startup Cost": 0, "Total Cost": 7001e308,
    "Plan Rows": 1e308, "Plan Width": 4}}])");
  REQUIRE(p);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  write_plan(w, *p);
  rapidjson::Document d;
  d.Parse(buf.GetString(), buf.GetSize());
  REQUIRE_FALSE(d.HasParseError());
  CHECK(d["total_cost"].GetDouble() > 1e307);
}

TEST_CASE("hostile: a password with quotes, commas or spaces is redacted",
          "[hostile]") {
  // Found by fuzz: conninfo. libpq takes everything up to '@' as the
  // password of a URI; redaction stopped at a quote or a space and logged
  // the rest.
  for (std::string password :
       {"s3cre\"tpass", "it's-secret", "pass word!", "new\nline"}) {
    auto dsn = "postgresql://app:" + password + "@db.example:6432/shop";
    INFO(dsn);
    REQUIRE(pg::parse_conninfo(dsn).has_value());
    auto shown = redact_secrets("connecting to " + dsn + " failed");
    CHECK(shown.find(password) == std::string::npos);
    CHECK(shown.find("db.example:6432/shop failed") != std::string::npos);
  }
  // The same in key=value strings: an unquoted value runs to whitespace.
  for (std::string password : {"ab\"cdefg", "ab,cdefg", "ab&cdefg"}) {
    auto dsn = "host=db password=" + password + " user=app";
    INFO(dsn);
    REQUIRE(pg::parse_conninfo(dsn).has_value());
    CHECK(redact_secrets(dsn) == "host=db password=*** user=app");
  }
  // libpq allows any whitespace around '=', newlines and tabs included.
  for (std::string dsn :
       {"host=db password\n=s3cretpass user=app", "password\t=\ts3cretpass"}) {
    INFO(dsn);
    REQUIRE(pg::parse_conninfo(dsn).has_value());
    CHECK(redact_secrets(dsn).find("s3cretpass") == std::string::npos);
  }
  // Found by fuzz: conninfo. An sslpassword query parameter was read to
  // the next whitespace, over the password parameter after it.
  std::string uri
    = "postgres://u@db/shop?sslpassword=key&application_name=x&password="
      "\rs3cretpass";
  REQUIRE(pg::parse_conninfo(uri).has_value());
  CHECK(redact_secrets(uri).find("s3cretpass") == std::string::npos);
  // Found by fuzz: conninfo. The password parameter's value itself ran to
  // the first blank, but libpq reads it to the next '&': the rest showed.
  std::string blank = "postgres://u/db?application_name=x&password=*\rs3cretpass";
  REQUIRE(pg::parse_conninfo(blank).has_value());
  CHECK(redact_secrets(blank).find("s3cretpass") == std::string::npos);
  CHECK(redact_secrets(blank)
        == "postgres://u/db?application_name=x&password=***");
  // Found by fuzz: conninfo. A value that spells "password=" was taken for
  // the key, and the real password after it showed.
  std::string kv = "host=password= password\n=s3cretpass";
  REQUIRE(pg::parse_conninfo(kv).has_value());
  CHECK(redact_secrets(kv).find("s3cretpass") == std::string::npos);
}

TEST_CASE("hostile: a Retry-After date in year 9999 waits a day at most",
          "[hostile]") {
  // Found by fuzz: llm_answer. The date became nanoseconds since 1970,
  // which overflows past 2262: undefined behaviour, any delay.
  auto now = std::chrono::system_clock::time_point{
    std::chrono::seconds{1'750'000'000}};
  auto delay = llm::detail::parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT",
                                              now);
  REQUIRE(delay.has_value());
  CHECK(*delay == std::chrono::hours{24});
  auto past = llm::detail::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT",
                                             now);
  REQUIRE(past.has_value());
  CHECK(past->count() == 0);
}

TEST_CASE("hostile: durations beyond what milliseconds hold are refused",
          "[hostile]") {
  // Found by fuzz: uri (GET /api/metrics/history?range=1e300h) and config.
  // The double was cast to an integer it does not fit: undefined behaviour.
  for (auto text : {"1e300h", "1e17d", "inf", "infs", "nan", "nanms"}) {
    INFO(text);
    auto d = parse_duration(text);
    CHECK_FALSE(d.has_value());
  }
  CHECK(parse_duration("90d").has_value());
  CHECK(parse_duration("1e3s")->count() == 1'000'000);
}

TEST_CASE("hostile: a statement nested too deeply is bad input, not an "
          "internal error",
          "[hostile]") {
  // Found by the deep-nesting seeds of fuzz: statement. libpg_query parses
  // it, the depth limit of the tree walk refuses it, and the API answered
  // 500 "report this statement" instead of 400 saying what is wrong.
  std::string sql = "SELECT 1";
  for (int i = 0; i < 3000; ++i)
    sql += "+1";
  auto a = analyze_statement(sql, catalog{});
  REQUIRE_FALSE(a.has_value());
  CHECK(a.error().code == ec::parse_error);
  CHECK(a.error().message.find("nest") != std::string::npos);
}

TEST_CASE("hostile: an LLM answer's usage cannot refund or overflow the "
          "token budget",
          "[hostile]") {
  // Found by fuzz: llm_answer. Token counts were taken as sent: a negative
  // count lowered the day's spend (the budget check adds them up), and
  // 1e300 was cast to int64 (undefined behaviour).
  auto answer = [](const std::string& usage) {
    auto body = R"({"choices":[{"message":{"content":"{}"}}],"usage":)" + usage
      + "}";
    auto r = llm::detail::parse_answer(body, "m");
    REQUIRE(r.has_value());
    return r->tokens;
  };
  auto refund = answer(
    R"({"prompt_tokens":-1000000,"completion_tokens":10,"total_tokens":-999990})");
  CHECK(refund.prompt_tokens == 0);
  CHECK(refund.completion_tokens == 10);
  CHECK(refund.total_tokens == 10);
  auto huge = answer(R"({"prompt_tokens":1e300,"completion_tokens":9.2e18})");
  CHECK(huge.prompt_tokens > 0);
  CHECK(huge.completion_tokens > 0);
  CHECK(huge.total_tokens >= huge.prompt_tokens);
  auto nonsense = answer(R"({"prompt_tokens":"12","completion_tokens":null})");
  CHECK(nonsense.total_tokens == 0);
}

TEST_CASE("hostile: a chain of thousands of CTEs is analysed in linear time",
          "[hostile]") {
  // Found by the deep inputs of fuzz: statement (kept in fuzz/corpus). Each
  // CTE walked the whole statement to count its references: 3,000 chained
  // CTEs (150 kB, which any database user can leave in pg_stat_statements)
  // took 6 s of the advisor, 8,000 took 40 s. One walk now serves them all.
  std::string sql = "WITH c0 AS (SELECT * FROM orders WHERE customer_id = $1)";
  constexpr int n = 8000;
  for (int i = 1; i < n; ++i)
    sql += ", c" + std::to_string(i) + " AS (SELECT * FROM c"
      + std::to_string(i - 1) + " WHERE customer_id = $1)";
  sql += " SELECT * FROM c" + std::to_string(n - 1);
  catalog cat;
  auto& t = cat.tables.emplace_back();
  t.schema = "public";
  t.name = "orders";
  t.columns.push_back({"customer_id", "integer"});
  auto start = std::chrono::steady_clock::now();
  auto a = analyze_statement(sql, cat);
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(a.has_value());
  CHECK(std::find_if(a->uses.begin(), a->uses.end(),
                     [](const column_use& u) {
                       return u.table == "orders" && u.column == "customer_id";
                     })
        != a->uses.end());
  // Linear: well under a second here, a few under sanitizers on a busy
  // machine; quadratic was 40 s.
  CHECK(took < std::chrono::seconds{15});
}

TEST_CASE("hostile: a plan's width beyond int is clamped, not cast",
          "[hostile]") {
  // Found by the deep-plan input of fuzz: explain_plan. "Plan Width" was
  // cast from double to int whatever its size: undefined behaviour for a
  // plan from a hostile or broken server (or a stored one).
  for (auto [width, want] : {std::pair{"1e300", 1'000'000'000},
                             std::pair{"-1e300", 0}, std::pair{"42", 42}}) {
    INFO(width);
    auto p = parse_plan(std::string{R"([{"Plan":{"Node Type":"Seq Scan",)"}
                        + R"("Plan Width":)" + width + "}}]");
    REQUIRE(p.has_value());
    CHECK(p->root.plan_width == want);
  }
}

TEST_CASE("hostile: a backslash in a literal of an index expression cannot "
          "change the DDL's meaning",
          "[hostile]") {
  // Found by fuzz: statement (a property on every candidate's DDL). The
  // expression of an index is deparsed from the workload's text, and its
  // literals were written '…' whatever they held: with
  // standard_conforming_strings off on the applying session, 'x\' escapes
  // its own closing quote and the rest of the DDL reads as something else.
  // E'…' reads the same under either setting.
  catalog cat;
  auto& t = cat.tables.emplace_back();
  t.schema = "public";
  t.name = "orders";
  t.reltuples = 2e6;
  t.relpages = 40'000;
  t.columns.push_back({"id", "bigint"});
  t.columns.push_back({"note", "text"});
  auto a = analyze_statement(
    R"(SELECT * FROM orders WHERE lower(note || 'x\') = $1)", cat);
  REQUIRE(a.has_value());
  auto cands = generate_candidates(*a, cat);
  REQUIRE_FALSE(cands.empty());
  for (auto& c : cands) {
    INFO(c.ddl());
    CHECK(c.ddl().find(R"((lower(note || E'x\\')))") != std::string::npos);
    CHECK(c.ddl().find(R"('x\')") == std::string::npos);
  }
}
