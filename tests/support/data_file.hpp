#pragma once

// The one reader of the data files under tests/data: blocks of lines
// separated by blank lines, `#` lines being comments, every line with its
// number so a failing case names its place. What a block means is each
// test's business (see the format notes at the top of each data file).

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace optischema::test {

/// tests/data/<sub> in the source tree.
inline std::filesystem::path data_path(const std::string& sub) {
  return std::filesystem::path{OPTISCHEMA_SOURCE_DIR} / "tests/data" / sub;
}

/// A whole file; throws (the test fails with the path) when it is missing.
inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in{file};
  if (!in.good())
    throw std::runtime_error("cannot read " + file.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string trim(const std::string& x) {
  auto b = x.find_first_not_of(" \t");
  auto e = x.find_last_not_of(" \t");
  return b == std::string::npos ? "" : x.substr(b, e - b + 1);
}

struct data_line {
  int no = 0;
  std::string text;
};

struct text_block {
  std::string file;
  std::vector<data_line> lines;

  /// "file:line" of the block's first line.
  std::string where() const {
    return file + ":" + std::to_string(lines.empty() ? 0 : lines[0].no);
  }
};

/// The blocks of a data file, in order.
inline std::vector<text_block> read_blocks(const std::filesystem::path& file) {
  std::ifstream in{file};
  if (!in.good())
    throw std::runtime_error("cannot read " + file.string());
  std::vector<text_block> out;
  text_block cur{file.filename().string(), {}};
  auto flush = [&] {
    if (!cur.lines.empty())
      out.push_back(cur);
    cur.lines.clear();
  };
  int no = 0;
  for (std::string line; std::getline(in, line);) {
    ++no;
    if (!line.empty() && line[0] == '#')
      continue;
    if (trim(line).empty())
      flush();
    else
      cur.lines.push_back({no, line});
  }
  flush();
  return out;
}

/// The whitespace-separated words of a line.
inline std::vector<std::string> words(const std::string& line) {
  std::istringstream in{line};
  std::vector<std::string> out;
  for (std::string w; in >> w;)
    out.push_back(w);
  return out;
}

/// The text after the first `n` words of `line`.
inline std::string rest(const std::string& line, size_t n) {
  size_t i = 0;
  for (size_t k = 0; k < n; ++k) {
    i = line.find_first_not_of(' ', i);
    i = line.find(' ', i);
    if (i == std::string::npos)
      return {};
  }
  auto start = line.find_first_not_of(' ', i);
  return start == std::string::npos ? std::string{} : line.substr(start);
}

/// `x` cut at every `sep`, each piece trimmed ("a, b" → {"a", "b"}).
inline std::vector<std::string> split(const std::string& x, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : x) {
    if (c == sep) {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(trim(cur));
  return out;
}

/// The "key=value" words from index `from` on (a bare word maps to "").
inline std::map<std::string, std::string>
options(const std::vector<std::string>& ws, size_t from = 0) {
  std::map<std::string, std::string> out;
  for (auto i = from; i < ws.size(); ++i) {
    auto eq = ws[i].find('=');
    if (eq == std::string::npos)
      out[ws[i]] = "";
    else
      out[ws[i].substr(0, eq)] = ws[i].substr(eq + 1);
  }
  return out;
}

/// The value of "key=value" among the words; empty when absent.
inline std::string option(const std::vector<std::string>& ws,
                          const std::string& key) {
  for (auto& w : ws)
    if (w.rfind(key + "=", 0) == 0)
      return w.substr(key.size() + 1);
  return {};
}

} // namespace optischema::test
