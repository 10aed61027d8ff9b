#pragma once
// Typed reads from parsed TOML, shared by run configurations (config.cpp) and sweep files (sweep/plan.cpp): every
// failure is one InputError line "ORIGIN: WHEREKEY: what was expected", unknown keys get a did-you-mean hint.
#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace linflow::detail {

/// Parses TOML text; a syntax error becomes InputError "ORIGIN:LINE:COLUMN: description".
toml::table parse_toml(const std::string& text, const std::string& origin);

/// " (did you mean 'x'?)" for the candidate closest to `word` in edit distance when it is close enough (at most a
/// third of the word's length, and at least 3, edits away), else "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

class TomlReader {
 public:
  explicit TomlReader(std::string origin) : origin_(std::move(origin)) {}

  const std::string& origin() const { return origin_; }
  [[noreturn]] void fail(const std::string& message) const;

  /// Every key of `table` is in `allowed`; otherwise "unknown key WHERENAME" with a did-you-mean hint, or the list
  /// of allowed keys when none is close.
  void check_keys(const toml::table& table, const std::string& where, const std::vector<std::string>& allowed) const;

  // Each returns nullopt when `key` is absent and fails naming WHEREKEY when it has the wrong type.
  std::optional<double> number(const toml::table& table, const char* key, const std::string& where) const;
  std::optional<std::int64_t> integer(const toml::table& table, const char* key, const std::string& where) const;
  std::optional<bool> boolean(const toml::table& table, const char* key, const std::string& where) const;
  std::optional<std::string> string(const toml::table& table, const char* key, const std::string& where) const;
  std::optional<std::vector<double>> numbers(const toml::table& table, const char* key, const std::string& where) const;
  std::optional<std::vector<std::int64_t>> integers(const toml::table& table, const char* key,
                                                    const std::string& where) const;

 private:
  std::string origin_;
};

}  // namespace linflow::detail
