// Request targets: web/src/server_uri.cpp (percent-decoding, query strings,
// the ".." check), static file lookup (server_static_files.cpp: never a
// file outside the static directory), route matching and the query parsers
// of web/src/api.cpp that read them.

#include "fuzz.hpp"

#include "optischema/web/api.hpp"

#include "server_static_files.hpp"
#include "server_uri.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace optischema;

namespace {

namespace fs = std::filesystem;

/// A static directory (index.html, a page, a directory page) with a file
/// next to it that no request may reach; removed at exit.
const fs::path& static_root() {
  // Never destroyed: the atexit handler below still needs it.
  static const auto* root = [] {
    auto top = fs::temp_directory_path()
      / ("optischema-fuzz-static-" + std::to_string(getpid()));
    fs::create_directories(top / "out" / "queries");
    std::ofstream{top / "out" / "index.html"} << "home";
    std::ofstream{top / "out" / "status.html"} << "status";
    std::ofstream{top / "out" / "queries" / "index.html"} << "queries";
    std::ofstream{top / "secret"} << "secret";
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(static_root().parent_path(), ec);
    });
    return new fs::path{top / "out"};
  }();
  return *root;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto raw = fuzz::text(data, size);
  auto target = web::parse_target(raw);
  if (!target)
    return 0;
  fuzz::require(target->path.find('\0') == std::string::npos,
                "a decoded path holding a NUL byte");
  // As the server does: a path with a ".." segment is refused before any
  // lookup; whatever else is found lies inside the static directory.
  if (!web::has_dot_dot_segment(target->path)) {
    auto found = web::find_static_file(static_root(), target->path);
    if (found.what == web::static_lookup::kind::file) {
      auto inside = fs::weakly_canonical(found.file)
                      .lexically_relative(fs::weakly_canonical(static_root()));
      fuzz::require(!inside.empty() && *inside.begin() != "..",
                    "a static file outside the static directory");
    }
  }
  web::match_route(target->path);
  auto& q = target->query;
  if (auto hot = web::parse_hot_query(q))
    fuzz::require(hot->limit >= 1 && hot->limit <= 1000,
                  "a hot limit outside 1..1000");
  if (auto r = web::parse_raw_query(q))
    fuzz::require(r->limit >= 1 && r->limit <= 10'000,
                  "a raw limit outside 1..10,000");
  constexpr int64_t now_ms = 1'750'000'000'000;
  constexpr int64_t day_ms = 86'400'000;
  if (auto h = web::parse_history_query(q, now_ms, day_ms))
    fuzz::require(h->from_ms < h->to_ms && h->from_ms >= -90 * day_ms,
                  "a history range that is empty or reversed");
  return 0;
}
