// Runs the data files in tests/data/fingerprint: readers see behaviour, not
// C++ (the format is described at the top of grouping.test).

#include "optischema/analysis/fingerprint.hpp"

#include "data_file.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

using namespace optischema;

namespace {

struct block {
  std::string directive;
  std::vector<std::string> lines;
  int line_no = 0;
};

/// A data file's blocks: a directive line, then the statements it is about.
std::vector<block> read_blocks(const std::filesystem::path& file) {
  std::vector<block> out;
  for (auto& tb : test::read_blocks(file)) {
    block b{tb.lines[0].text, {}, tb.lines[0].no};
    for (size_t i = 1; i < tb.lines.size(); ++i)
      b.lines.push_back(tb.lines[i].text);
    out.push_back(std::move(b));
  }
  return out;
}

} // namespace

TEST_CASE("fingerprint data files", "[fingerprint]") {
  auto dir = test::data_path("fingerprint");
  size_t checked = 0;
  for (auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".test")
      continue;
    for (auto& b : read_blocks(entry.path())) {
      INFO(entry.path().filename().string()
           << ":" << b.line_no << " " << b.directive);
      if (b.directive == "same") {
        REQUIRE(b.lines.size() >= 2);
        auto first = fingerprint_statement(b.lines[0]);
        CHECK_FALSE(first.parse_error);
        for (auto& l : b.lines) {
          INFO(l);
          CHECK(fingerprint_statement(l).fingerprint == first.fingerprint);
        }
      } else if (b.directive == "differ") {
        std::set<std::string> seen;
        for (auto& l : b.lines) {
          INFO(l);
          auto fp = fingerprint_statement(l);
          CHECK_FALSE(fp.parse_error);
          CHECK(seen.insert(fp.fingerprint).second);
        }
      } else if (b.directive == "normalize") {
        for (size_t i = 0; i + 1 < b.lines.size(); i += 2) {
          INFO(b.lines[i]);
          REQUIRE(b.lines[i + 1].rfind("=> ", 0) == 0);
          CHECK(fingerprint_statement(b.lines[i]).normalized
                == b.lines[i + 1].substr(3));
        }
      } else if (b.directive == "reparse") {
        for (size_t i = 0; i + 1 < b.lines.size(); i += 2) {
          INFO(b.lines[i]);
          REQUIRE(b.lines[i + 1].rfind("=> ", 0) == 0);
          CHECK(reparsable_sql(b.lines[i]) == b.lines[i + 1].substr(3));
        }
      } else if (b.directive == "error") {
        for (auto& l : b.lines) {
          INFO(l);
          auto fp = fingerprint_statement(l);
          CHECK(fp.parse_error);
          CHECK_FALSE(fp.error.empty());
          // Still grouped: same text, same (hash) fingerprint.
          CHECK(fp.fingerprint.size() == 16);
          CHECK(fingerprint_statement(l).fingerprint == fp.fingerprint);
        }
      } else if (b.directive == "secret") {
        for (auto& l : b.lines) {
          INFO(l);
          auto fp = fingerprint_statement(l);
          CHECK(fp.secret);
          CHECK(fp.normalized.empty());
        }
      } else {
        FAIL("unknown directive " << b.directive);
      }
      ++checked;
    }
  }
  CHECK(checked >= 6);
}

TEST_CASE("the fingerprint cache evicts the least recently used",
          "[fingerprint]") {
  fingerprint_cache cache{2};
  auto a = cache.get("SELECT 1");
  cache.get("SELECT a FROM t");
  cache.get("SELECT 1");        // a is now the most recent
  cache.get("SELECT b FROM t"); // evicts "SELECT a FROM t"
  CHECK(cache.size() == 2);
  CHECK(cache.misses() == 3);
  CHECK(cache.hits() == 1);
  cache.get("SELECT 1");
  CHECK(cache.hits() == 2);
  cache.get("SELECT a FROM t");
  CHECK(cache.misses() == 4);
  CHECK(a.fingerprint == cache.get("SELECT 2").fingerprint);
}
