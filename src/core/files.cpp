#include "core/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "linflow/error.hpp"

namespace linflow::detail {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path, const std::string& what) {
  std::error_code ec;
  // An ifstream opens a directory and reads it as empty: a config that is a folder would run the defaults.
  if (fs::is_directory(path, ec)) throw InputError(path.string() + ": is a directory, expected a " + what);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string() + ": cannot open " + what);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void ensure_writable_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw InputError(dir.string() + ": cannot create output directory");
  const fs::path probe = dir / ".linflow-write-test";
  {
    std::ofstream out(probe);
    if (!out) throw InputError(dir.string() + ": output directory is not writable");
  }
  fs::remove(probe, ec);
}

void write_all(int fd, const std::string& text, const fs::path& path) {
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw InputError(path.string() + ": write failed: " + std::strerror(errno));
    p += n;
    left -= static_cast<size_t>(n);
  }
}

fs::path write_beside(const fs::path& path, const std::string& text) {
  fs::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw InputError(tmp.string() + ": cannot write: " + std::strerror(errno));
  // From here every failure removes the temporary: nothing but the old or the new content is left under either name.
  auto fail = [&tmp](const std::string& message) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw InputError(message);
  };
  try {
    write_all(fd, text, tmp);
  } catch (const InputError& e) {
    ::close(fd);
    fail(e.what());
  }
  // fsync before the caller's rename: after a power cut the name points at either the old or the complete new content.
  const bool synced = ::fsync(fd) == 0;
  if (::close(fd) != 0 || !synced) fail(tmp.string() + ": write failed: " + std::strerror(errno));
  return tmp;
}

void write_file_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = write_beside(path, text);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    const std::string why = ec.message();
    fs::remove(tmp, ec);
    throw InputError(path.string() + ": cannot replace: " + why);
  }
}

}  // namespace linflow::detail
