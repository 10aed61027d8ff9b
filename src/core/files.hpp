#pragma once
// File helpers shared by every layer that writes outputs (private).
#include <Eigen/Core>
#include <filesystem>
#include <string>

namespace linflow::detail {

/// The whole file as a string; InputError "PATH: cannot open WHAT" when it cannot be read.
std::string read_text(const std::filesystem::path& path, const std::string& what);
/// Creates `dir` if needed and checks that a file can be written in it (InputError otherwise), so that no work is
/// lost to an unwritable output directory discovered at the end.
void ensure_writable_dir(const std::filesystem::path& dir);
/// Writes all of `text` to the open descriptor `fd` (retrying on EINTR); InputError naming `path` on failure.
void write_all(int fd, const std::string& text, const std::filesystem::path& path);
/// Writes `text` to `path` + ".tmp", fsyncs and closes it, and returns that name, for the caller to rename over `path`
/// (or remove). On failure the temporary is removed and InputError names it.
std::filesystem::path write_beside(const std::filesystem::path& path, const std::string& text);
/// Replaces `path` by `text` atomically: write_beside, then rename. After a crash or power cut the name points at
/// either the old or the complete new content.
void write_file_atomically(const std::filesystem::path& path, const std::string& text);
/// The bytes of a .npy file holding M (float64, Fortran order): what write_npy writes.
std::string npy_bytes(const Eigen::Ref<const Eigen::MatrixXd>& M);

}  // namespace linflow::detail
