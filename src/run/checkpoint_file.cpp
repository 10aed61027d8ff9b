#include "run/checkpoint_file.hpp"

#include <bit>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/files.hpp"
#include "linflow/error.hpp"

namespace linflow::detail {
namespace {

constexpr std::string_view kMagic = "linflow checkpoint 1\n";
static_assert(std::endian::native == std::endian::little, "checkpoint.bin holds little-endian float64");

// A whole number of the header, checked before it is converted: nlohmann's get<> casts a float such as 4.5e19 to an
// integer type with undefined behaviour (fuzz_checkpoint found it).
std::uint64_t unsigned_at(const nlohmann::json& j) {
  if (!j.is_number_unsigned()) throw InputError("a field that should be a whole number ≥ 0 is not");
  return j.get<std::uint64_t>();
}
long count_at(const nlohmann::json& j) {
  const std::uint64_t n = unsigned_at(j);
  if (n > static_cast<std::uint64_t>(std::numeric_limits<long>::max())) throw InputError("a count out of range");
  return static_cast<long>(n);
}

nlohmann::json bits(double v) { return std::bit_cast<std::uint64_t>(v); }
nlohmann::json bits(const std::optional<double>& v) { return v ? bits(*v) : nlohmann::json(nullptr); }
double real(const nlohmann::json& j) { return std::bit_cast<double>(unsigned_at(j)); }
std::optional<double> optional_real(const nlohmann::json& j) {
  return j.is_null() ? std::nullopt : std::optional<double>(real(j));
}

void append(std::string& out, const Eigen::VectorXd& v) {
  out.append(reinterpret_cast<const char*>(v.data()), static_cast<size_t>(v.size()) * sizeof(double));
}

}  // namespace

std::uint64_t fnv1a(std::string_view bytes, std::uint64_t hash) {
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash;
}

void write_checkpoint_file(const std::filesystem::path& path, const CheckpointFile& file) {
  const Checkpoint& c = file.checkpoint;
  std::string vectors;
  nlohmann::json lengths = nlohmann::json::array({c.state.size()});
  append(vectors, c.state);
  for (const Eigen::VectorXd& s : c.stages) {
    lengths.push_back(s.size());
    append(vectors, s);
  }
  const nlohmann::json header = {{"version", file.version},
                                 {"config", file.config},
                                 {"trajectory", {{"bytes", file.trajectory_bytes}, {"hash", file.trajectory_hash}}},
                                 {"vectors", {{"lengths", lengths}, {"hash", fnv1a(vectors)}}},
                                 {"method", to_string(c.method)},
                                 {"integrator", to_string(c.integrator)},
                                 {"implicit", c.implicit},
                                 {"t", bits(c.t)},
                                 {"dt", bits(c.dt)},
                                 {"excess", bits(c.excess)},
                                 {"grad_norm", bits(c.grad_norm)},
                                 {"t_eps", bits(c.t_eps)},
                                 {"implicit_from", bits(c.implicit_from)},
                                 {"ceiling", bits(c.ceiling)},
                                 {"counts",
                                  {c.steps, c.rejected, c.rhs_evals, c.jacobians, c.jacobian_vector_products,
                                   c.next_sample, c.stiff, c.non_stiff, c.sharpness_products}}};
  std::string text(kMagic);
  text += header.dump();
  text += '\n';
  text += vectors;
  write_file_atomically(path, text);
}

CheckpointFile read_checkpoint_file(const std::filesystem::path& path) {
  const std::string text = read_text(path, "checkpoint");
  auto damaged = [&](const std::string& why) {
    return InputError(path.string() + ": not a checkpoint of linflow or damaged (" + why +
                      "); run without --resume to start the run again");
  };
  if (!text.starts_with(kMagic)) throw damaged("no 'linflow checkpoint 1' line");
  const size_t end = text.find('\n', kMagic.size());
  if (end == std::string::npos) throw damaged("no header");
  const nlohmann::json h =
      nlohmann::json::parse(text.begin() + static_cast<long>(kMagic.size()), text.begin() + static_cast<long>(end),
                            nullptr, /*allow_exceptions=*/false);
  if (!h.is_object()) throw damaged("its header is not JSON");
  struct Damaged {
    std::string why;
  };
  CheckpointFile f;
  try {
    Checkpoint& c = f.checkpoint;
    f.version = h.at("version").get<std::string>();
    f.config = h.at("config");
    f.trajectory_bytes = unsigned_at(h.at("trajectory").at("bytes"));
    f.trajectory_hash = unsigned_at(h.at("trajectory").at("hash"));
    c.method = method_from_string(h.at("method").get<std::string>());
    c.integrator = integrator_from_string(h.at("integrator").get<std::string>());
    c.implicit = h.at("implicit").get<bool>();
    c.t = real(h.at("t"));
    c.dt = real(h.at("dt"));
    c.excess = real(h.at("excess"));
    c.grad_norm = real(h.at("grad_norm"));
    c.t_eps = optional_real(h.at("t_eps"));
    c.implicit_from = optional_real(h.at("implicit_from"));
    c.ceiling = real(h.at("ceiling"));
    const nlohmann::json& counts_json = h.at("counts");
    // Eight counts before the sharpness column's cost was kept (its checkpoints resume with that cost at 0).
    if (!counts_json.is_array() || (counts_json.size() != 8 && counts_json.size() != 9)) throw Damaged{"its counts"};
    std::vector<long> counts;
    for (const nlohmann::json& n : counts_json) counts.push_back(count_at(n));
    if (counts[6] > std::numeric_limits<int>::max() || counts[7] > std::numeric_limits<int>::max()) {
      throw Damaged{"its counts"};
    }
    c.steps = counts[0];
    c.rejected = counts[1];
    c.rhs_evals = counts[2];
    c.jacobians = counts[3];
    c.jacobian_vector_products = counts[4];
    c.next_sample = counts[5];
    c.stiff = static_cast<int>(counts[6]);
    c.non_stiff = static_cast<int>(counts[7]);
    if (counts.size() == 9) c.sharpness_products = counts[8];
    const std::string_view vectors = std::string_view(text).substr(end + 1);
    const nlohmann::json& lengths_json = h.at("vectors").at("lengths");
    if (!lengths_json.is_array()) throw Damaged{"its vectors' lengths"};
    std::vector<std::uint64_t> lengths;
    for (const nlohmann::json& n : lengths_json) lengths.push_back(unsigned_at(n));
    std::uint64_t total = 0;
    for (const std::uint64_t n : lengths) {
      if (n > vectors.size() / sizeof(double)) throw Damaged{"a vector longer than the file"};
      total += n;
    }
    if (lengths.empty() || total * sizeof(double) != vectors.size()) throw Damaged{"its vectors' lengths"};
    if (fnv1a(vectors) != unsigned_at(h.at("vectors").at("hash"))) throw Damaged{"its vectors' hash"};
    size_t at = 0;
    for (size_t i = 0; i < lengths.size(); ++i) {
      Eigen::VectorXd v(static_cast<Eigen::Index>(lengths[i]));
      std::memcpy(v.data(), vectors.data() + at, lengths[i] * sizeof(double));
      at += lengths[i] * sizeof(double);
      if (i == 0) {
        c.state = std::move(v);
      } else {
        c.stages.push_back(std::move(v));
      }
    }
  } catch (const Damaged& d) {
    throw damaged(d.why);
  } catch (const nlohmann::json::exception& e) {
    throw damaged(e.what());
  } catch (const InputError& e) {
    throw damaged(e.what());
  }
  return f;
}

}  // namespace linflow::detail
