#include "core/file_io.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace annals {

namespace {

error os_error(const std::filesystem::path& file, const char* what, int err) {
  return make_error(err == ENOENT ? errc::not_found : errc::io,
                    file.string() + ": " + what + ": " + std::strerror(err));
}

result<void> write_all(int fd, const char* data, std::size_t size,
                       const std::filesystem::path& file) {
  while (size > 0) {
    auto n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return os_error(file, "write", errno);
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

result<void> sync_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return os_error(dir, "open directory", errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0)
    return os_error(dir, "fsync directory", err);
  return {};
}

/// What stat said of `file`, checked: a regular file of at most max_size.
result<std::uint64_t> regular_and_within(const std::filesystem::path& file, const struct stat& st,
                                         std::uint64_t max_size) {
  if (!S_ISREG(st.st_mode))
    return make_error(errc::invalid_argument, file.string() + ": not a regular file");
  auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > max_size)
    return make_error(errc::invalid_argument,
                      file.string() + ": " + std::to_string(size) + " bytes, more than the "
                        + std::to_string(max_size) + " it may hold");
  return size;
}

} // namespace

result<std::uint64_t> regular_file_within(const std::filesystem::path& file,
                                          std::uint64_t max_size) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0)
    return os_error(file, "stat", errno);
  return regular_and_within(file, st, max_size);
}

result<std::string> read_file_bytes(const std::filesystem::path& file, std::uint64_t max_size) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer.
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return os_error(file, "open", errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return os_error(file, "stat", err);
  }
  if (auto checked = regular_and_within(file, st, max_size); !checked) {
    ::close(fd);
    return checked.error();
  }
  std::string out;
  char buf[1 << 16];
  for (;;) {
    auto n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      int err = errno;
      ::close(fd);
      return os_error(file, "read", err);
    }
    if (n == 0)
      break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max_size) {  // it grew while being read
      ::close(fd);
      return make_error(errc::invalid_argument, file.string() + ": grew past "
                                                  + std::to_string(max_size) + " bytes");
    }
  }
  ::close(fd);
  return out;
}

std::optional<std::uint64_t> free_disk_bytes(const std::filesystem::path& path) {
  auto at = path.empty() ? std::filesystem::path(".") : path;
  std::error_code ec;
  while (!std::filesystem::exists(at, ec) && at.has_parent_path() && at.parent_path() != at)
    at = at.parent_path();
  if (!std::filesystem::exists(at, ec) && at.is_relative())
    at = ".";
  struct statvfs st;
  if (::statvfs(at.c_str(), &st) != 0)
    return std::nullopt;
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

result<void> create_private_dirs(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return make_error(errc::io, dir.string() + ": create directory: " + ec.message());
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  return {};
}

result<void> write_file_atomic(const std::filesystem::path& file, std::string_view bytes,
                               int mode) {
  auto dir = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  auto tmp = file;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return os_error(tmp, "open", errno);
  auto written = write_all(fd, bytes.data(), bytes.size(), tmp);
  if (written && ::fsync(fd) != 0)
    written = os_error(tmp, "fsync", errno);
  ::close(fd);
  if (!written) {
    ::unlink(tmp.c_str());
    return written;
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return os_error(file, "rename", err);
  }
  return sync_dir(dir);
}

result<void> rename_durably(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    return os_error(to, "rename", errno);
  return sync_dir(to.has_parent_path() ? to.parent_path() : std::filesystem::path("."));
}

result<append_file> append_file::open(const std::filesystem::path& file, int mode) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode);
  if (fd < 0)
    return os_error(file, "open", errno);
  return append_file(fd, file);
}

append_file::append_file(append_file&& other) noexcept
  : fd_(other.fd_), file_(std::move(other.file_)), direct_fd_(other.direct_fd_),
    direct_refused_(other.direct_refused_), direct_end_(other.direct_end_),
    bounce_(other.bounce_) {
  other.fd_ = -1;
  other.direct_fd_ = -1;
  other.bounce_ = nullptr;
}

append_file& append_file::operator=(append_file&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0)
      ::close(fd_);
    close_direct();
    fd_ = other.fd_;
    file_ = std::move(other.file_);
    direct_fd_ = other.direct_fd_;
    direct_refused_ = other.direct_refused_;
    direct_end_ = other.direct_end_;
    bounce_ = other.bounce_;
    other.fd_ = -1;
    other.direct_fd_ = -1;
    other.bounce_ = nullptr;
  }
  return *this;
}

append_file::~append_file() {
  if (fd_ >= 0)
    ::close(fd_);
  close_direct();
}

void append_file::close_direct() {
  if (direct_fd_ >= 0)
    ::close(direct_fd_);
  direct_fd_ = -1;
  std::free(bounce_);
  bounce_ = nullptr;
}

namespace {
constexpr std::size_t direct_block = 4096;
constexpr std::size_t direct_buffer_size = 4u << 20;
} // namespace

result<void> append_file::write_aligned(std::string_view bytes) {
  if (direct_refused_ || bytes.size() % direct_block != 0)
    return write(bytes);
  if (direct_fd_ < 0) {
    auto end = size();
    if (!end)
      return end.error();
    if (*end % direct_block != 0)
      return write(bytes);
    bounce_ = static_cast<char*>(std::aligned_alloc(direct_block, direct_buffer_size));
    direct_fd_ = bounce_ ? ::open(file_.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC) : -1;
    if (direct_fd_ < 0) {
      close_direct();
      direct_refused_ = true;
      return write(bytes);
    }
    direct_end_ = *end;
  }
  const bool aligned = reinterpret_cast<std::uintptr_t>(bytes.data()) % direct_block == 0;
  for (std::size_t at = 0; at < bytes.size();) {
    auto n = aligned ? bytes.size() - at : std::min(direct_buffer_size, bytes.size() - at);
    const char* from = bytes.data() + at;
    if (!aligned) {
      std::memcpy(bounce_, from, n);
      from = bounce_;
    }
    for (std::size_t done = 0; done < n;) {
      auto wrote = ::pwrite(direct_fd_, from + done, n - done,
                            static_cast<off_t>(direct_end_));
      if (wrote < 0 && errno == EINTR)
        continue;
      if (wrote < 0 && errno == EINVAL && at == 0 && done == 0) {
        // The file system opened it but will not write it directly.
        close_direct();
        direct_refused_ = true;
        return write(bytes);
      }
      if (wrote < 0)
        return fail("write");
      if (wrote == 0) {
        errno = ENOSPC;
        return fail("write");
      }
      done += static_cast<std::size_t>(wrote);
      direct_end_ += static_cast<std::uint64_t>(wrote);
    }
    at += n;
  }
  return {};
}

result<void> append_file::fail(const char* what) const {
  return os_error(file_, what, errno);
}

result<std::uint64_t> append_file::size() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0)
    return os_error(file_, "stat", errno);
  return static_cast<std::uint64_t>(st.st_size);
}

result<void> append_file::truncate(std::uint64_t size) {
  close_direct();  // its end is read again at the next aligned write
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0)
    return fail("truncate");
  return {};
}

result<void> append_file::write(std::string_view bytes) {
  return write_all(fd_, bytes.data(), bytes.size(), file_);
}

result<void> append_file::write_zeros(std::uint64_t count) {
  static const std::string zeros(64 * 1024, '\0');
  while (count > 0) {
    auto n = std::min<std::uint64_t>(count, zeros.size());
    if (auto r = write_all(fd_, zeros.data(), n, file_); !r)
      return r;
    count -= n;
  }
  return {};
}

result<void> append_file::sync() {
  if (::fsync(fd_) != 0)
    return fail("fsync");
  return {};
}

result<dir_lock> dir_lock::acquire(const std::filesystem::path& dir) {
  auto file = dir / "annals.lock";
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return make_error(errc::io, file.string() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    auto why = errno;
    char text[32] = {};
    auto got = ::pread(fd, text, sizeof text - 1, 0);
    ::close(fd);
    if (why != EWOULDBLOCK)
      return make_error(errc::io, file.string() + ": " + std::strerror(why));
    std::string pid = got > 0 ? std::string(text, static_cast<std::size_t>(got)) : "";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' '))
      pid.pop_back();
    return make_error(errc::conflict,
                      "data_dir " + dir.string() + " is in use by another annals process"
                        + (pid.empty() ? std::string() : " (pid " + pid + ")") + "; see "
                        + file.string());
  }
  auto pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    auto why = errno;
    ::close(fd);
    return make_error(errc::io, file.string() + ": " + std::strerror(why));
  }
  return dir_lock(fd);
}

dir_lock::~dir_lock() {
  if (fd_ >= 0)
    ::close(fd_);  // releases the lock; the file stays for the next holder
}

} // namespace annals
