#include "config_file.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <iterator>
#include <set>

namespace optischema::app {

namespace {

bool bare_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
    || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

/// A thrown failure inside the reader; parse_config_file turns it into
/// a `failure` (the recursion of arrays makes early returns noisy).
struct bad_file {
  std::string message;
};

/// One pass over the text; `line` counts newlines for messages.
class reader {
public:
  explicit reader(std::string_view text) : s_(text) {}

  std::vector<config_entry> read() {
    std::vector<config_entry> out;
    std::vector<std::string> section;
    // TOML refuses a key given twice; so do we, instead of keeping one of
    // them silently (a second `dsn =` is a mistake, an array is the way).
    std::set<std::vector<std::string>> seen;
    for (;;) {
      skip_blank();
      if (at_end())
        break;
      char c = s_[i_];
      if (c == '\n') {
        next_line();
        continue;
      }
      if (c == '#' || c == ';') {
        skip_comment();
        continue;
      }
      if (c == '[') {
        section = read_section();
        end_of_line();
        continue;
      }
      config_entry e;
      e.line = line_;
      e.section = section;
      auto key = read_key();
      e.key = key.back();
      key.pop_back();
      e.section.insert(e.section.end(), key.begin(), key.end());
      skip_blank();
      if (at_end() || s_[i_] != '=')
        fail(fmt::format("expected `=` after the key {}", e.key));
      ++i_;
      skip_blank();
      e.values = read_value();
      end_of_line();
      auto full = e.section;
      full.push_back(e.key);
      if (!seen.insert(full).second)
        fail(fmt::format("{} is set twice; give several values as an array: "
                         "{} = [\"a\", \"b\"]",
                         e.key, e.key));
      out.push_back(std::move(e));
    }
    return out;
  }

private:
  [[noreturn]] void fail(const std::string& what) const {
    throw bad_file{fmt::format("line {}: {}", line_, what)};
  }

  bool at_end() const {
    return i_ >= s_.size();
  }

  void next_line() {
    ++i_;
    ++line_;
  }

  void skip_blank() {
    while (!at_end() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r'))
      ++i_;
  }

  void skip_comment() {
    while (!at_end() && s_[i_] != '\n')
      ++i_;
  }

  /// Blanks, newlines and comments: what may sit between array items.
  void skip_space() {
    for (;;) {
      skip_blank();
      if (at_end())
        return;
      if (s_[i_] == '\n')
        next_line();
      else if (s_[i_] == '#')
        skip_comment();
      else
        return;
    }
  }

  /// After a value or a header: only blanks and a comment may follow.
  void end_of_line() {
    skip_blank();
    if (at_end())
      return;
    if (s_[i_] == '#') {
      skip_comment();
      return;
    }
    if (s_[i_] != '\n')
      fail(fmt::format("unexpected `{}` after the value; quote a value that "
                       "holds spaces or commas: key = \"a value\"",
                       printable(s_[i_])));
  }

  static std::string printable(char c) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7F)
      return fmt::format("\\x{:02x}", u);
    return std::string(1, c);
  }

  std::vector<std::string> read_section() {
    ++i_; // [
    if (!at_end() && s_[i_] == '[')
      fail("arrays of tables ([[...]]) are not options; use [serve]");
    skip_blank();
    auto parts = read_key();
    skip_blank();
    if (at_end() || s_[i_] != ']')
      fail("a section header ends with `]`: [serve]");
    ++i_;
    return parts;
  }

  /// A key: bare (serve, poll-interval), quoted, or dotted (serve.dsn).
  std::vector<std::string> read_key() {
    std::vector<std::string> parts;
    for (;;) {
      skip_blank();
      std::string part;
      if (!at_end() && (s_[i_] == '"' || s_[i_] == '\''))
        part = s_[i_] == '"' ? basic_string() : literal_string();
      else
        while (!at_end() && bare_key_char(s_[i_]))
          part += s_[i_++];
      if (part.empty())
        fail(at_end() || s_[i_] == '\n'
               ? std::string{"expected key = value"}
               : fmt::format("a key cannot start with `{}`; write key = value "
                             "(letters, digits, - and _)",
                             printable(s_[i_])));
      parts.push_back(std::move(part));
      skip_blank();
      if (at_end() || s_[i_] != '.')
        return parts;
      ++i_;
    }
  }

  std::vector<std::string> read_value() {
    if (at_end() || s_[i_] == '\n' || s_[i_] == '#')
      fail("the value is missing; write key = \"\" for an empty one");
    if (s_[i_] == '[')
      return read_array();
    if (s_[i_] == '{')
      fail("inline tables ({...}) are not options; use a [section]");
    return {read_scalar(false)};
  }

  std::vector<std::string> read_array() {
    ++i_; // [
    std::vector<std::string> items;
    for (;;) {
      skip_space();
      if (at_end())
        fail("the array is not closed; end it with `]`");
      if (s_[i_] == ']') {
        ++i_;
        return items;
      }
      if (s_[i_] == '[')
        fail("nested arrays are not options; give a flat list");
      if (s_[i_] == ',')
        fail("an array item is missing before `,`");
      items.push_back(read_scalar(true));
      skip_space();
      if (!at_end() && s_[i_] == ',')
        ++i_;
      else if (at_end() || s_[i_] != ']')
        fail("array items are separated by `,`: [\"a\", \"b\"]");
    }
  }

  std::string read_scalar(bool in_array) {
    if (s_.compare(i_, 3, R"(""")") == 0 || s_.compare(i_, 3, "'''") == 0)
      fail("multi-line strings are not supported; write the value on one "
           "line");
    if (s_[i_] == '"')
      return basic_string();
    if (s_[i_] == '\'')
      return literal_string();
    // A bare value: a number, true/false, or what INI files and the docs
    // write unquoted (30s, 0.0.0.0:8080). It ends at a comment, and inside
    // an array at `,` or `]`.
    auto start = i_;
    while (!at_end() && s_[i_] != '\n' && s_[i_] != '#'
           && !(in_array && (s_[i_] == ',' || s_[i_] == ']'))) {
      if (s_[i_] == '"' || s_[i_] == '\'')
        fail("a quote inside an unquoted value; quote the whole value");
      check_char(s_[i_]);
      ++i_;
    }
    auto v = std::string{s_.substr(start, i_ - start)};
    while (!v.empty()
           && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r'))
      v.pop_back();
    if (v.empty())
      fail("the value is missing; write key = \"\" for an empty one");
    return v;
  }

  /// Control characters never belong in a setting (a NUL would cut a DSN or
  /// a path where it reaches C).
  void check_char(char c) const {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7F)
      fail(fmt::format("a control character ({}) in a value; write it as an "
                       "escape in a \"basic\" string if it is meant",
                       printable(c)));
  }

  std::string literal_string() {
    ++i_; // '
    std::string out;
    for (;;) {
      if (at_end() || s_[i_] == '\n')
        fail("the string is not closed; end it with '");
      char c = s_[i_++];
      if (c == '\'')
        return out;
      check_char(c);
      out += c;
    }
  }

  std::string basic_string() {
    ++i_; // "
    std::string out;
    for (;;) {
      if (at_end() || s_[i_] == '\n')
        fail("the string is not closed; end it with \"");
      char c = s_[i_++];
      if (c == '"')
        return out;
      if (c != '\\') {
        check_char(c);
        out += c;
        continue;
      }
      if (at_end())
        fail("the string is not closed; end it with \"");
      char e = s_[i_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case 'b': out += '\b'; break;
        case 't': out += '\t'; break;
        case 'n': out += '\n'; break;
        case 'f': out += '\f'; break;
        case 'r': out += '\r'; break;
        case 'u': append_utf8(out, hex_escape(4)); break;
        case 'U': append_utf8(out, hex_escape(8)); break;
        default:
          fail(fmt::format("unknown escape \\{} in a string; write \\\\ for a "
                           "backslash (or use a 'literal' string)",
                           printable(e)));
      }
    }
  }

  uint32_t hex_escape(int digits) {
    uint32_t cp = 0;
    for (int k = 0; k < digits; ++k) {
      if (at_end())
        fail("a \\u escape needs its hex digits");
      char h = s_[i_++];
      uint32_t d;
      if (h >= '0' && h <= '9')
        d = uint32_t(h - '0');
      else if (h >= 'a' && h <= 'f')
        d = uint32_t(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        d = uint32_t(h - 'A' + 10);
      else
        fail("a \\u escape needs its hex digits");
      cp = cp * 16 + d;
    }
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      fail(fmt::format("\\u escape U+{:X} is not a character that may stand "
                       "in a setting",
                       cp));
    return cp;
  }

  std::string_view s_;
  size_t i_ = 0;
  int line_ = 1;
};

} // namespace

expected<std::vector<config_entry>> parse_config_file(std::string_view text) {
  try {
    return reader{text}.read();
  } catch (const bad_file& e) {
    return failure{ec::invalid_configuration, e.message};
  }
}

std::vector<CLI::ConfigItem>
config_reader::from_config(std::istream& in) const {
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  auto entries = parse_config_file(text);
  if (!entries)
    throw CLI::ConfigError("the config file, " + entries.error().message);
  std::vector<CLI::ConfigItem> out;
  // CLI11 closes a section with a "--" item (it runs a configurable
  // subcommand's callbacks); the same shape as its own reader gives.
  auto close = [&](std::vector<std::string> section) {
    for (; !section.empty(); section.pop_back()) {
      CLI::ConfigItem end;
      end.parents = section;
      end.name = "--";
      out.push_back(std::move(end));
    }
  };
  std::vector<std::string> current;
  for (auto& e : *entries) {
    if (e.section != current) {
      if (!current.empty()) {
        CLI::ConfigItem end;
        end.parents = current;
        end.name = "--";
        out.push_back(std::move(end));
      }
      current = e.section;
    }
    // An empty array gives nothing, as if the key were absent.
    if (e.values.empty())
      continue;
    CLI::ConfigItem item;
    item.parents = e.section;
    item.name = e.key;
    item.inputs = e.values;
    out.push_back(std::move(item));
  }
  close(current);
  return out;
}

} // namespace optischema::app
