#pragma once

// The config file (`--config FILE`): the TOML the docs and the shipped
// manifests show, read by our own reader because CLI11 2.1's cannot
// (an array whose items sit on the following lines becomes the string "[",
// and a `#` inside a quoted value cuts it: a password `pa#ss` became `pa`).
// parse_config_file is pure; config_reader hands its entries to CLI11, which
// maps them onto the same options as the flags.

#include "optischema/util/error.hpp"

#include <CLI/CLI.hpp>

#include <istream>
#include <string>
#include <string_view>
#include <vector>

namespace optischema::app {

/// One `key = value` of a config file.
struct config_entry {
  std::vector<std::string> section; ///< [serve] -> {"serve"}; dotted keys add
  std::string key;
  std::vector<std::string> values; ///< one for a scalar, each item of an array
  int line = 0;
};

/// Reads the TOML subset a configuration needs: [sections], comments,
/// "basic" and 'literal' strings, bare values (numbers, booleans, 30s),
/// arrays over several lines with trailing commas. INI files of the same
/// shape (key = bare value, ; comments) read the same. A failure names the
/// line and what to write instead.
expected<std::vector<config_entry>> parse_config_file(std::string_view text);

/// CLI11's config formatter with parse_config_file as the reader (its
/// writer, `--help`'s defaults, stays CLI11's).
class config_reader : public CLI::ConfigTOML {
public:
  std::vector<CLI::ConfigItem> from_config(std::istream& in) const override;
};

} // namespace optischema::app
