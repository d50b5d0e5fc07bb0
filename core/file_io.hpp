// Small POSIX file helpers whose errors name the file and the OS cause
// (ENOSPC reads "No space left on device"), for the places that must not
// lose data: archive appends, index and torrent replacement, key files.
#pragma once

#include "core/result.hpp"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <optional>
#include <string>
#include <string_view>

namespace annals {

/// The bytes of a regular file of at most `max_size` bytes. A directory, a
/// FIFO or a device (an `index` symlinked to /dev/zero) is refused before a
/// byte is read, so a read neither blocks nor grows without bound.
result<std::string> read_file_bytes(const std::filesystem::path& file,
                                    std::uint64_t max_size = std::uint64_t{1} << 30);

/// The size of `file` when it is a regular file of at most `max_size`
/// bytes; a directory, FIFO, device or larger file is refused by stat alone
/// (nothing is opened, so a FIFO cannot block the caller).
result<std::uint64_t> regular_file_within(const std::filesystem::path& file,
                                          std::uint64_t max_size);

/// Replaces `file` with `bytes`: writes a sibling temp file, fsyncs it,
/// renames it over `file` and fsyncs the directory. Readers see the old or
/// the new content, never a mix.
result<void> write_file_atomic(const std::filesystem::path& file, std::string_view bytes,
                               int mode = 0644);

/// Renames `from` over `to` and fsyncs the directory, so the rename survives
/// a power loss.
result<void> rename_durably(const std::filesystem::path& from, const std::filesystem::path& to);

/// Creates `dir` and its parents with mode 0700 (status-go's archive dirs).
result<void> create_private_dirs(const std::filesystem::path& dir);

/// Bytes an unprivileged writer may still use on the file system holding
/// `path` (or its nearest existing parent); nullopt when it cannot be told.
std::optional<std::uint64_t> free_disk_bytes(const std::filesystem::path& path);

/// An exclusive hold on a node's data directory for this process's life:
/// `dir/annals.lock`, locked with flock and holding the holder's PID. A
/// second process gets errc::conflict naming that PID, where RocksDB would
/// only say its LOCK is unavailable.
class dir_lock {
public:
  static result<dir_lock> acquire(const std::filesystem::path& dir);
  dir_lock(dir_lock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  dir_lock& operator=(dir_lock&&) = delete;
  dir_lock(const dir_lock&) = delete;
  ~dir_lock();

private:
  explicit dir_lock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

/// Allocates whole 4096-byte pages at page boundaries, so a buffer of them
/// goes to an O_DIRECT write as it is, without a copy into a bounce buffer.
template <class T>
struct page_allocator {
  using value_type = T;
  static constexpr std::size_t page = 4096;
  page_allocator() = default;
  template <class U>
  page_allocator(const page_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    auto bytes = (n * sizeof(T) + page - 1) / page * page;
    if (auto* p = std::aligned_alloc(page, bytes))
      return static_cast<T*>(p);
    throw std::bad_alloc();
  }
  void deallocate(T* p, std::size_t) noexcept { std::free(p); }
  template <class U>
  bool operator==(const page_allocator<U>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const page_allocator<U>&) const noexcept { return false; }
};
/// Bytes on their own pages once they outgrow the string's inline room.
using page_buffer = std::basic_string<char, std::char_traits<char>, page_allocator<char>>;

/// An append-only file: writes go to the end, sync() makes them durable.
class append_file {
public:
  static result<append_file> open(const std::filesystem::path& file, int mode = 0644);
  append_file(append_file&& other) noexcept;
  append_file& operator=(append_file&& other) noexcept;
  append_file(const append_file&) = delete;
  append_file& operator=(const append_file&) = delete;
  ~append_file();

  /// Current size of the file.
  result<std::uint64_t> size() const;
  /// Cuts the file back to `size` bytes (drops a torn tail).
  result<void> truncate(std::uint64_t size);
  result<void> write(std::string_view bytes);
  /// Appends `bytes`, whole 4096-byte blocks at an end that is a multiple
  /// of 4096 (archives padded to pieces are), with O_DIRECT where the file
  /// system takes it, straight from `bytes` when they start on a page (a
  /// page_buffer's do), else through an aligned buffer: a build's gigabytes
  /// then go to the disk without first being copied into fresh page-cache
  /// pages, which costs more than the disk on a VM. Anything else, or a
  /// file system without O_DIRECT, is appended as write() does.
  result<void> write_aligned(std::string_view bytes);
  /// Appends `count` zero bytes.
  result<void> write_zeros(std::uint64_t count);
  result<void> sync();

private:
  append_file(int fd, std::filesystem::path file) : fd_(fd), file_(std::move(file)) {}
  result<void> fail(const char* what) const;
  void close_direct();
  int fd_ = -1;
  std::filesystem::path file_;
  int direct_fd_ = -1;
  bool direct_refused_ = false;
  std::uint64_t direct_end_ = 0;
  char* bounce_ = nullptr;  // aligned, direct_buffer_size bytes
};

} // namespace annals
