// Events another engine of a fleet publishes reach this engine's WebSocket
// clients only once they read as an event: anything on NATS may publish on
// optischema.>, so what comes in is checked and written anew.

#include "optischema/messages/event.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace optischema;

namespace {

std::string refusal(std::string_view subject, std::string_view data) {
  auto ev = parse_event(subject, data);
  return ev ? std::string{} : ev.error().message;
}

} // namespace

TEST_CASE("an event another engine sent reads back as it was sent", "[event]") {
  event sent{event_type::metrics, "shop", 1'700'000'000'123,
             R"({"statements":[{"q":"SELECT \"é\"","calls":3}]})"};
  auto got = parse_event(subject(sent), to_json(sent));
  REQUIRE(got);
  CHECK(*got == sent);
}

TEST_CASE("a malformed event from NATS is refused with what is wrong",
          "[event]") {
  auto env = [](std::string type, std::string target, std::string rest) {
    return R"({"type":")" + type + R"(","target":")" + target + "\"" + rest
      + "}";
  };
  auto good = R"(,"ts":1,"payload":{})";
  CHECK(
    refusal("optischema.shop.metrics", env("metrics", "shop", good)).empty());
  CHECK_THAT(refusal("optischema.shop.metrics", "[1]"),
             Catch::Contains("not a JSON object"));
  CHECK_THAT(refusal("optischema.shop.metrics", "{\"type\":"),
             Catch::Contains("not valid JSON"));
  CHECK_THAT(refusal("optischema.shop.metrics", std::string(600, '[')),
             Catch::Contains("deeper"));
  CHECK_THAT(
    refusal("optischema.shop.metrics",
            env("metrics", "shop", R"(,"ts":1,"payload":{"q":")") + "\xff\"}}"),
    Catch::Contains("UTF-8"));
  CHECK_THAT(refusal("optischema.shop.exec", env("exec", "shop", good)),
             Catch::Contains("no known type"));
  CHECK_THAT(refusal("optischema.a b.metrics", env("metrics", "a b", good)),
             Catch::Contains("target name"));
  // The envelope must say what its subject says: a frame for one target
  // cannot ride in on another's subject (WebSocket filters use both).
  CHECK_THAT(refusal("optischema.other.metrics", env("metrics", "shop", good)),
             Catch::Contains("subject"));
  CHECK_THAT(refusal("optischema.shop.metrics",
                     env("metrics", "shop", R"(,"payload":{})")),
             Catch::Contains("time stamp"));
  CHECK_THAT(refusal("optischema.shop.metrics",
                     env("metrics", "shop", R"(,"ts":1,"payload":"<script>")")),
             Catch::Contains("payload"));
}

TEST_CASE("an event's payload is written anew so extra bytes cannot ride "
          "along",
          "[event]") {
  // Insignificant blanks go; a lone surrogate escape (no character) is
  // refused rather than turned into bytes that are not UTF-8.
  auto ev = parse_event(
    "optischema.shop.alert",
    R"({"type":"alert","target":"shop","ts":5,"payload":{ "a" : [ 1 , 2 ] }})");
  REQUIRE(ev);
  CHECK(ev->payload == R"({"a":[1,2]})");
  CHECK_FALSE(parse_event(
    "optischema.shop.alert",
    R"({"type":"alert","target":"shop","ts":5,"payload":{"a":"\udc00"}})"));
}
