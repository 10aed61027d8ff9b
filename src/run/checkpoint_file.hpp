#pragma once
// DIR/checkpoint.bin (private): a Checkpoint of train() with what the run layer needs to resume it — the
// configuration and version of the run that took it, and the length and hash of the trajectory.csv it had written.
//
// Format: the line "linflow checkpoint 1", a JSON object on one line (every double as its 64-bit pattern, so that
// it comes back bit for bit, NaN and infinities included), then the state and stage vectors as raw little-endian
// float64, their lengths in the JSON and an FNV-1a hash of their bytes beside them. Written atomically
// (write_file_atomically): a kill leaves the previous checkpoint or the new one.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "linflow/solver.hpp"

namespace linflow::detail {

/// FNV-1a (64 bit) of `bytes`, continuing from `hash`.
constexpr std::uint64_t kFnvOffset = 14695981039346656037ULL;
std::uint64_t fnv1a(std::string_view bytes, std::uint64_t hash = kFnvOffset);

struct CheckpointFile {
  Checkpoint checkpoint;
  nlohmann::json config;  ///< to_json of the configuration of the run that took it
  std::string version;    ///< linflow's
  std::uint64_t trajectory_bytes = 0;
  std::uint64_t trajectory_hash = kFnvOffset;  ///< fnv1a of those bytes
};

void write_checkpoint_file(const std::filesystem::path& path, const CheckpointFile& file);
/// Reads what write_checkpoint_file wrote; InputError naming the file when it is not one or is damaged.
CheckpointFile read_checkpoint_file(const std::filesystem::path& path);

}  // namespace linflow::detail
