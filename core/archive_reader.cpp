#include "core/archive_reader.hpp"

#include "core/file_io.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace annals {

namespace {

/// A read-only file for positioned reads, so archives are read one at a time
/// and `data` is never loaded whole.
class data_reader {
public:
  static result<data_reader> open(const std::filesystem::path& file) {
    // O_NONBLOCK: a FIFO named `data` must not block the open.
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
      return make_error(errno == ENOENT ? errc::not_found : errc::io,
                        file.string() + ": " + std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return make_error(errc::io, file.string() + ": " + std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      return make_error(errc::invalid_argument, file.string() + ": not a regular file");
    }
    return data_reader(fd, static_cast<std::uint64_t>(st.st_size), file);
  }
  data_reader(data_reader&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), size_(other.size_), file_(std::move(other.file_)) {}
  data_reader(const data_reader&) = delete;
  ~data_reader() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  std::uint64_t size() const { return size_; }

  result<std::string> read(std::uint64_t offset, std::uint64_t count) const {
    if (offset > size_ || count > size_ - offset)
      return make_error(errc::verification_failed,
                        file_.string() + ": range [" + std::to_string(offset) + ", "
                          + std::to_string(offset + count) + ") is past its end ("
                          + std::to_string(size_) + " bytes)");
    std::string out(count, '\0');
    std::uint64_t done = 0;
    while (done < count) {
      auto n = ::pread(fd_, out.data() + done, count - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return make_error(errc::io, file_.string() + ": read failed at offset "
                                      + std::to_string(offset + done));
      done += static_cast<std::uint64_t>(n);
    }
    return out;
  }

private:
  data_reader(int fd, std::uint64_t size, std::filesystem::path file)
    : fd_(fd), size_(size), file_(std::move(file)) {}
  int fd_;
  std::uint64_t size_;
  std::filesystem::path file_;
};

/// Opens a hash-ratchet message with `keys` (none: the error names the key).
result<std::string> open_encrypted(std::string_view bytes, const hr_keyring* keys) {
  static const hr_keyring no_keys;
  auto opened = hr_open(bytes, keys ? *keys : no_keys);
  if (!opened)
    return opened.error();
  return std::move(opened->plaintext);
}

/// An archive's bytes in clear: read from `data`, opened when sealed.
result<std::string> archive_bytes(const data_reader& data,
                                  const pb::WakuMessageArchiveIndexMetadata& entry,
                                  const hr_keyring* keys) {
  if (entry.padding() > entry.size())
    return make_error(errc::verification_failed,
                      "padding " + std::to_string(entry.padding()) + " exceeds size "
                        + std::to_string(entry.size()));
  auto bytes = data.read(entry.offset(), entry.size() - entry.padding());
  if (!bytes)
    return bytes.error();
  if (is_hash_ratchet_message(*bytes)) {
    auto opened = open_encrypted(*bytes, keys);
    if (!opened)
      return make_error(opened.error().code, "encrypted archive at offset "
                                               + std::to_string(entry.offset()) + ": "
                                               + opened.error().message);
    bytes = std::move(opened);
  }
  return bytes;
}

result<pb::WakuMessageArchive> decode_archive(const data_reader& data,
                                              const pb::WakuMessageArchiveIndexMetadata& entry,
                                              const hr_keyring* keys) {
  auto bytes = archive_bytes(data, entry, keys);
  if (!bytes)
    return bytes.error();
  pb::WakuMessageArchive archive;
  if (!archive.ParseFromString(*bytes) || !archive.has_metadata())
    return make_error(errc::malformed, "bytes at offset " + std::to_string(entry.offset())
                                         + " are not a WakuMessageArchive");
  return archive;
}

/// What verification reads off an archive: its metadata, its message count
/// and the timestamps' range.
struct archive_outline {
  pb::WakuMessageArchiveMetadata metadata;
  std::size_t messages = 0;
  std::uint64_t oldest = UINT64_MAX;
  std::uint64_t newest = 0;
};

/// A protobuf varint, padded or not (what a parser accepts).
std::optional<std::uint64_t> read_varint(std::string_view bytes, std::size_t& at) {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64 && at < bytes.size(); shift += 7) {
    auto byte = static_cast<std::uint8_t>(bytes[at++]);
    value |= std::uint64_t(byte & 0x7f) << shift;
    if (!(byte & 0x80))
      return value;
  }
  return std::nullopt;
}

/// Walks a serialized WakuMessageArchive's fields as protobuf's parser
/// would, without building it: field 2 merged into `metadata` (it must be
/// there), `message(value)` for each field 3, any other field skipped.
/// Empty when the bytes parse, else what is wrong; `message` stops the walk
/// by returning what is wrong.
template <class Message>
std::string walk_archive(std::string_view bytes, pb::WakuMessageArchiveMetadata& metadata,
                         Message&& message) {
  bool has_metadata = false;
  for (std::size_t at = 0; at < bytes.size();) {
    auto key = read_varint(bytes, at);
    if (!key || (*key >> 3) == 0)
      return "bad field key at byte " + std::to_string(at);
    auto field = *key >> 3;
    switch (*key & 7) {
      case 0:  // varint: version, or an unknown field
        if (!read_varint(bytes, at))
          return "truncated varint";
        break;
      case 1:
        if (bytes.size() - at < 8)
          return "truncated fixed64";
        at += 8;
        break;
      case 5:
        if (bytes.size() - at < 4)
          return "truncated fixed32";
        at += 4;
        break;
      case 2: {
        auto size = read_varint(bytes, at);
        if (!size || *size > bytes.size() - at)
          return "a field runs past the end";
        auto value = bytes.substr(at, static_cast<std::size_t>(*size));
        at += value.size();
        std::string wrong;
        if (field == 2) {
          if (!metadata.MergeFromString(std::string(value)))
            wrong = "metadata does not parse";
          has_metadata = true;
        } else if (field == 3) {
          wrong = message(value);
        }
        if (!wrong.empty())
          return wrong;
        break;
      }
      default:  // groups: not in this schema
        return "unsupported wire type " + std::to_string(*key & 7);
    }
  }
  return has_metadata ? std::string() : "no metadata";
}

/// Reads a WakuMessageArchive's bytes for verification: canonical messages
/// through read_wire (no allocation per field), any other through protobuf
/// itself. A gigabyte of archives is then checked at about the speed of
/// reading it.
std::optional<archive_outline> outline_archive(std::string_view bytes) {
  archive_outline out;
  pb::WakuMessage fallback;
  auto wrong = walk_archive(
    bytes, out.metadata,
    [&](std::string_view value) -> std::string {
      std::uint64_t timestamp = 0;
      if (auto wire = read_wire(value)) {
        timestamp = wire->timestamp;
      } else {
        if (!fallback.ParseFromArray(value.data(), static_cast<int>(value.size())))
          return "a message is not a WakuMessage";
        timestamp = fallback.timestamp();
      }
      ++out.messages;
      out.oldest = std::min(out.oldest, timestamp);
      out.newest = std::max(out.newest, timestamp);
      return "";
    });
  if (!wrong.empty())
    return std::nullopt;
  return out;
}

bool same_metadata(const pb::WakuMessageArchiveMetadata& a,
                   const pb::WakuMessageArchiveMetadata& b) {
  return a.version() == b.version() && a.from() == b.from() && a.to() == b.to()
         && std::equal(a.contenttopic().begin(), a.contenttopic().end(),
                       b.contenttopic().begin(), b.contenttopic().end());
}

bool all_zero(const std::string& bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

} // namespace

result<pb::WakuMessageArchiveIndex> parse_index(std::string_view bytes, const hr_keyring* keys) {
  if (bytes.empty())
    return make_error(errc::malformed, "index is empty");
  pb::WakuMessageArchiveIndex index;
  if (!index.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return make_error(errc::malformed, "index is not a WakuMessageArchiveIndex protobuf");
  if (!index.archives().empty())
    return index;
  // status-go reads a non-empty index without archives as a hash-ratchet
  // encrypted ProtocolMessage (token-gated communities).
  if (!is_hash_ratchet_message(bytes))
    return make_error(errc::malformed, "index lists no archives and is not encrypted either");
  auto opened = open_encrypted(bytes, keys);
  if (!opened)
    return make_error(opened.error().code, "encrypted index: " + opened.error().message);
  if (!index.ParseFromString(*opened) || index.archives().empty())
    return make_error(errc::malformed, "encrypted index holds no WakuMessageArchiveIndex");
  return index;
}

result<pb::WakuMessageArchiveIndex> read_index(const std::filesystem::path& index_file,
                                               const hr_keyring* keys) {
  auto bytes = read_file_bytes(index_file);
  if (!bytes)
    return bytes.error();
  auto index = parse_index(*bytes, keys);
  if (!index)
    return make_error(index.error().code, index_file.string() + ": " + index.error().message);
  return index;
}

result<std::string> read_archive_bytes(const std::filesystem::path& data_file,
                                       const pb::WakuMessageArchiveIndexMetadata& entry,
                                       const hr_keyring* keys) {
  auto data = data_reader::open(data_file);
  if (!data)
    return data.error();
  return archive_bytes(*data, entry, keys);
}

result<archive_wire> wire_archive(std::string_view bytes) {
  archive_wire out;
  pb::WakuMessage proto;
  auto wrong = walk_archive(
    bytes, out.metadata,
    [&](std::string_view value) -> std::string {
      auto wire = read_wire(value);
      if (wire && wire->topic.size() == 4) {
        out.messages.push_back(*wire);
        return "";
      }
      // Not as the store keeps it: parse it and write it again, as
      // importing through the protobuf did.
      if (!proto.ParseFromArray(value.data(), static_cast<int>(value.size())))
        return "message " + std::to_string(out.messages.size()) + " is not a WakuMessage";
      const auto& message = out.reparsed.emplace_back(from_proto(proto));
      auto& encoded = out.reencoded.emplace_back();
      append_wire(encoded, message);
      out.messages.push_back({encoded, message.timestamp, message.hash, message.cap_size(),
                              as_view(message.topic)});
      return "";
    });
  if (!wrong.empty())
    return make_error(errc::malformed, "not a WakuMessageArchive: " + wrong);
  return out;
}

result<pb::WakuMessageArchive> read_archive(const std::filesystem::path& data_file,
                                            const pb::WakuMessageArchiveIndexMetadata& entry,
                                            const hr_keyring* keys) {
  auto data = data_reader::open(data_file);
  if (!data)
    return data.error();
  return decode_archive(*data, entry, keys);
}

std::vector<std::pair<std::string, pb::WakuMessageArchiveIndexMetadata>>
sorted_entries(const pb::WakuMessageArchiveIndex& index) {
  std::vector<std::pair<std::string, pb::WakuMessageArchiveIndexMetadata>> out(
    index.archives().begin(), index.archives().end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a.second.offset(), a.first) < std::make_pair(b.second.offset(), b.first);
  });
  return out;
}

namespace {

/// Decodes archive `entry` of `data` and checks it against its entry;
/// returns its message count, telling `problem` what is wrong.
template <class Problem>
std::size_t check_contents(const data_reader& data, const pb::WakuMessageArchiveIndexMetadata& entry,
                           const hr_keyring* keys, Problem&& problem) {
  const auto& meta = entry.metadata();
  auto bytes = archive_bytes(data, entry, keys);
  auto outline = bytes ? outline_archive(*bytes) : std::nullopt;
  if (!bytes) {
    problem(bytes.error().message);
    return 0;
  }
  if (!outline) {
    problem("bytes at offset " + std::to_string(entry.offset()) + " are not a WakuMessageArchive");
    return 0;
  }
  if (!same_metadata(outline->metadata, meta))
    problem("archive metadata differs from its index entry");
  auto outside = outline->oldest < meta.from() ? outline->oldest : outline->newest;
  if (outline->messages > 0 && (outline->oldest < meta.from() || outline->newest >= meta.to()))
    problem("message at " + std::to_string(outside) + " lies outside the archive window");
  return outline->messages;
}

} // namespace

result<std::size_t> verify_archive_contents(const std::filesystem::path& data_file,
                                            const pb::WakuMessageArchiveIndexMetadata& entry,
                                            const hr_keyring* keys) {
  auto data = data_reader::open(data_file);
  if (!data)
    return data.error();
  std::string problems;
  auto messages = check_contents(*data, entry, keys, [&](const std::string& what) {
    problems += problems.empty() ? what : "; " + what;
  });
  if (!problems.empty())
    return make_error(errc::verification_failed, problems);
  return messages;
}

result<verify_report> verify_archive_dir(const std::filesystem::path& archive_dir,
                                         bool decode, const hr_keyring* keys,
                                         const std::filesystem::path& index_file) {
  auto index = read_index(index_file.empty() ? archive_dir / "index" : index_file, keys);
  if (!index)
    return index.error();
  auto data = data_reader::open(archive_dir / "data");
  if (!data)
    return data.error();

  constexpr auto L = archive_piece_length;
  verify_report report;
  report.data_size = data->size();
  std::uint64_t expected_offset = 0;
  for (auto& listed : sorted_entries(*index)) {
    // Named, not bound: a lambda below captures it (C++17 cannot capture a
    // structured binding).
    const auto& id = listed.first;
    auto& entry = listed.second;
    verified_archive checked{id, entry, 0, false};
    auto problems_before = report.problems.size();
    auto problem = [&](const std::string& what) { report.problems.push_back(id + ": " + what); };

    if (auto computed = archive_id(entry); computed != id)
      problem("ID does not match its entry (the entry hashes to " + computed + ")");
    const auto& meta = entry.metadata();
    if (meta.from() >= meta.to())
      problem("window [" + std::to_string(meta.from()) + ", " + std::to_string(meta.to())
              + ") is empty");
    if (entry.offset() % L != 0 || entry.size() % L != 0 || entry.size() == 0)
      problem("offset " + std::to_string(entry.offset()) + " / size " + std::to_string(entry.size())
              + " are not aligned to " + std::to_string(L) + "-byte pieces");
    else if (entry.padding() > entry.size()
             || pad_archive(entry.size() - entry.padding()).padding != entry.padding())
      problem("padding " + std::to_string(entry.padding()) + " does not fit size "
              + std::to_string(entry.size()));
    if (entry.offset() != expected_offset)
      problem(std::string(entry.offset() < expected_offset ? "overlaps" : "leaves a gap after")
              + " the previous archive (offset " + std::to_string(entry.offset()) + ", expected "
              + std::to_string(expected_offset) + ")");
    expected_offset = std::max(expected_offset, entry.offset() + entry.size());

    if (entry.offset() > data->size() || entry.size() > data->size() - entry.offset()) {
      problem("extends past the end of data (" + std::to_string(data->size()) + " bytes)");
    } else if (report.problems.size() == problems_before) {
      auto pad = data->read(entry.offset() + entry.size() - entry.padding(), entry.padding());
      if (!pad)
        problem(pad.error().message);
      else if (!all_zero(*pad))
        problem("padding holds non-zero bytes");
      if (decode)
        checked.message_count = check_contents(*data, entry, keys, problem);
    }
    checked.ok = report.problems.size() == problems_before;
    report.archives.push_back(std::move(checked));
  }
  // Bytes past the set are a newer fetch's only while its staged index is
  // not the one read.
  std::error_code ec;
  auto staged = archive_dir / fetching_index_name;
  if (expected_offset < data->size() && index_file != staged
      && std::filesystem::exists(staged, ec))
    report.fetching_bytes = data->size() - expected_offset;
  else if (expected_offset < data->size())
    report.problems.push_back("data: " + std::to_string(data->size() - expected_offset)
                              + " trailing bytes belong to no archive");
  return report;
}

} // namespace annals
