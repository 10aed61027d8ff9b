#include "run/toml_reader.hpp"

#include <algorithm>
#include <sstream>

#include "linflow/error.hpp"

namespace linflow::detail {
namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

template <class T>
std::optional<std::vector<T>> array_of(const TomlReader& reader, const toml::table& table, const char* key,
                                       const std::string& where, const char* what) {
  const toml::node* n = table.get(key);
  if (!n) return std::nullopt;
  const auto* array = n->as_array();
  if (!array) reader.fail(where + key + ": expected an array");
  std::vector<T> values;
  values.reserve(array->size());
  for (const auto& item : *array) {
    std::optional<T> v;
    if constexpr (std::is_integral_v<T>) {
      v = item.value_exact<T>();
    } else {
      if (!item.is_boolean()) v = item.value<T>();
    }
    if (!v) reader.fail(where + key + ": expected an array of " + what);
    values.push_back(*v);
  }
  return values;
}

}  // namespace

toml::table parse_toml(const std::string& text, const std::string& origin) {
  try {
    return toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << origin << ":" << e.source().begin.line << ":" << e.source().begin.column << ": " << e.description();
    throw InputError(os.str());
  }
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(3, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best.empty() ? std::string() : " (did you mean '" + best + "'?)";
}

void TomlReader::fail(const std::string& message) const { throw InputError(origin_ + ": " + message); }

void TomlReader::check_keys(const toml::table& table, const std::string& where,
                            const std::vector<std::string>& allowed) const {
  for (auto&& [key, node] : table) {
    const std::string name(key.str());
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
    std::string hint = did_you_mean(name, allowed);
    if (hint.empty()) {
      for (const auto& a : allowed) hint += (hint.empty() ? " (expected one of: " : ", ") + a;
      hint += ")";
    }
    fail("unknown key " + where + name + hint);
  }
}

std::optional<double> TomlReader::number(const toml::table& table, const char* key, const std::string& where) const {
  const toml::node* n = table.get(key);
  if (!n) return std::nullopt;
  const auto v = n->value<double>();
  if (!v || n->is_boolean()) fail(where + key + ": expected a number");
  return v;
}

std::optional<std::int64_t> TomlReader::integer(const toml::table& table, const char* key,
                                                const std::string& where) const {
  const toml::node* n = table.get(key);
  if (!n) return std::nullopt;
  const auto v = n->value_exact<std::int64_t>();
  if (!v) fail(where + key + ": expected an integer");
  return v;
}

std::optional<bool> TomlReader::boolean(const toml::table& table, const char* key, const std::string& where) const {
  const toml::node* n = table.get(key);
  if (!n) return std::nullopt;
  const auto v = n->value_exact<bool>();
  if (!v) fail(where + key + ": expected true or false");
  return v;
}

std::optional<std::string> TomlReader::string(const toml::table& table, const char* key,
                                              const std::string& where) const {
  const toml::node* n = table.get(key);
  if (!n) return std::nullopt;
  auto v = n->value_exact<std::string>();
  if (!v) fail(where + key + ": expected a string");
  return v;
}

std::optional<std::vector<double>> TomlReader::numbers(const toml::table& table, const char* key,
                                                       const std::string& where) const {
  return array_of<double>(*this, table, key, where, "numbers");
}

std::optional<std::vector<std::int64_t>> TomlReader::integers(const toml::table& table, const char* key,
                                                              const std::string& where) const {
  return array_of<std::int64_t>(*this, table, key, where, "integers");
}

}  // namespace linflow::detail
