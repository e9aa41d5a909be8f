// Connection strings (pg/src/conninfo.cpp): libpq's parser, then the
// engine's own rendering. What the engine connects with must read back as
// the same settings (a quoting slip would change a host or add a key), and
// neither the display form nor the redacted DSN may show the password.

#include "fuzz.hpp"

#include <algorithm>
#include <cstring>

#include "optischema/pg/conninfo.hpp"
#include "optischema/util/redact.hpp"

#include <map>
#include <string>

using namespace optischema;

namespace {

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1))
    ++n;
  return n;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string dsn{fuzz::text(data, size)};
  // DSNs come from argv, the environment and config values: C strings,
  // which end at the first NUL (libpq reads no further either).
  dsn.resize(std::strlen(dsn.c_str()));
  auto ci = pg::parse_conninfo(dsn, {});
  if (!ci)
    return 0;
  auto given = *pg::conninfo_settings(dsn);
  auto back = pg::conninfo_settings(ci->effective);
  fuzz::require(back.has_value() && *back == given,
                "the effective connection string reads back differently");
  auto pw = given.find("password");
  // A password that is long and appears once in the DSN (so nothing else
  // there spells it) must not survive redaction or the display form.
  // Text that reads both as a URI and as key=value (a host of "/x://y:z",
  // a password holding "password=") is no DSN an operator writes: which
  // part is the password then depends on the reading, and redaction, made
  // for log lines as well, cannot know it.
  auto mixed = std::any_of(given.begin(), given.end(), [](auto& kv) {
    return kv.second.find("://") != std::string::npos
      || kv.second.find("password") != std::string::npos
      || kv.second.find("PASSWORD") != std::string::npos;
  });
  // Percent-decoded, a URI's password may be spelled elsewhere in the text
  // (in the host) and only there.
  mixed = mixed || (dsn.find("://") != std::string::npos
                    && dsn.find('%') != std::string::npos);
  if (!mixed && pw != given.end() && pw->second.size() >= 6
      && count(dsn, pw->second) == 1) {
    fuzz::require(redact_secrets(dsn).find(pw->second) == std::string::npos,
                  "the password survives redact_secrets");
    // Unless the password spells the user, host or database the display
    // form shows anyway (password=postgres with the default user postgres).
    std::string without;
    for (auto& [k, v] : given)
      if (k != "password")
        without += k + "=" + pg::quote_conninfo_value(v) + " ";
    auto plain = pg::parse_conninfo(without, {});
    if (!plain || plain->display.find(pw->second) == std::string::npos)
      fuzz::require(ci->display.find(pw->second) == std::string::npos,
                    "the password shows in the display form");
  }
  return 0;
}
