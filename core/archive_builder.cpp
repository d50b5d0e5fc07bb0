#include "core/archive_builder.hpp"

#include "core/archive_reader.hpp"
#include "core/file_io.hpp"

#include <algorithm>

namespace annals {

namespace {

/// Accumulates one archive's messages directly into its protobuf, so a
/// window never holds more than one chunk (at most 30 MB of payload).
class chunk_encoder {
public:
  chunk_encoder(std::uint64_t from, std::uint64_t to, const std::vector<topic4>& topics) {
    auto* meta = archive_.mutable_metadata();
    meta->set_from(from);
    meta->set_to(to);
    for (const auto& topic : topics)
      meta->add_contenttopic(std::string(as_view(topic)));
  }

  bool empty() const { return archive_.messages_size() == 0; }
  std::uint64_t cap_size() const { return cap_size_; }

  void add(const archive_message& message) {
    to_proto(message, *archive_.add_messages());
    cap_size_ += message.cap_size();
  }

  /// Serializes the chunk as the archive at `offset` (sealed with `cipher`
  /// when there is one) and starts a new one.
  result<encoded_archive> finish(std::uint64_t offset, const archive_cipher* cipher) {
    encoded_archive out;
    out.bytes = archive_.SerializeAsString();
    if (cipher) {
      auto sealed = cipher->seal(out.bytes);
      if (!sealed)
        return sealed.error();
      out.bytes = std::move(*sealed);
    }
    auto padded = pad_archive(out.bytes.size());
    auto& entry = out.archive.entry;
    *entry.mutable_metadata() = archive_.metadata();
    entry.set_offset(offset);
    entry.set_size(padded.size);
    entry.set_padding(padded.padding);
    out.archive.id = archive_id(entry);
    out.archive.message_count = static_cast<std::size_t>(archive_.messages_size());
    archive_.clear_messages();
    cap_size_ = 0;
    return out;
  }

private:
  pb::WakuMessageArchive archive_;
  std::uint64_t cap_size_ = 0;
};

/// Appends archives to `data` and keeps the merged index. The data file is
/// opened on the first archive only, so a build that finds nothing leaves
/// the directory untouched, as status-go does.
class archive_writer {
public:
  archive_writer(const archive_layout& layout, pb::WakuMessageArchiveIndex index,
                 std::uint64_t offset, build_report& report, bool stage_index,
                 const archive_cipher* cipher)
    : layout_(layout), index_(std::move(index)), offset_(offset), report_(report),
      stage_index_(stage_index), cipher_(cipher) {}

  /// Seals and appends the chunk at the current end.
  result<void> append(chunk_encoder& chunk) {
    auto archive = chunk.finish(offset_, cipher_);
    if (!archive)
      return archive.error();
    return append(std::move(*archive));
  }

  std::uint64_t offset() const { return offset_; }

  result<void> append(encoded_archive archive) {
    if (!data_) {
      if (auto opened = open_data(); !opened)
        return opened;
    }
    const auto& entry = archive.archive.entry;
    if (auto r = data_->write(archive.bytes); !r)
      return r;
    if (auto r = data_->write_zeros(entry.padding()); !r)
      return r;
    offset_ += entry.size();
    report_.bytes_appended += entry.size();
    report_.messages += archive.archive.message_count;
    (*index_.mutable_archives())[archive.archive.id] = entry;
    report_.archives.push_back(std::move(archive.archive));
    return {};
  }

  /// Makes the appended data durable, then replaces the index. Until the
  /// rename the old index stays valid and describes a prefix of `data`.
  result<void> commit() {
    if (!data_)
      return {};
    if (auto r = data_->sync(); !r)
      return r;
    auto bytes = serialize_deterministic(index_);
    if (cipher_) {
      // status-go re-encrypts the whole index at every build, under the
      // group's newest key; older archives keep the key they were sealed with.
      auto sealed = cipher_->seal(bytes);
      if (!sealed)
        return sealed.error();
      bytes = std::move(*sealed);
    }
    return write_file_atomic(stage_index_ ? layout_.staged_index_file() : layout_.index_file(),
                             bytes);
  }

private:
  result<void> open_data() {
    if (auto r = create_private_dirs(layout_.archive_dir()); !r)
      return r;
    auto file = append_file::open(layout_.data_file());
    if (!file)
      return file.error();
    auto size = file->size();
    if (!size)
      return size.error();
    if (*size < offset_)
      return make_error(errc::verification_failed,
                        layout_.data_file().string() + " holds " + std::to_string(*size)
                          + " bytes but the index describes " + std::to_string(offset_));
    if (*size > offset_) {
      // A previous build crashed between appending and replacing the index;
      // those bytes belong to no archive and would shift every new offset.
      if (auto r = file->truncate(offset_); !r)
        return r;
      report_.recovered_tail = *size - offset_;
    }
    data_.emplace(std::move(*file));
    return {};
  }

  const archive_layout& layout_;
  pb::WakuMessageArchiveIndex index_;
  std::uint64_t offset_;
  build_report& report_;
  bool stage_index_ = false;
  const archive_cipher* cipher_ = nullptr;
  std::optional<append_file> data_;
};

} // namespace

encoded_archive encode_archive(std::uint64_t from, std::uint64_t to,
                               const std::vector<topic4>& topics,
                               const std::vector<archive_message>& messages,
                               std::uint64_t offset) {
  chunk_encoder chunk(from, to, topics);
  for (const auto& message : messages)
    chunk.add(message);
  return std::move(*chunk.finish(offset, nullptr));
}

result<build_report> build_archives(const archive_layout& layout, const build_request& request,
                                    const message_source& source,
                                    const build_progress& progress) {
  if (request.partition == 0)
    return make_error(errc::invalid_argument, "partition must be at least one second");
  if (request.topics.empty())
    return make_error(errc::invalid_argument, "no channel topics to archive");

  pb::WakuMessageArchiveIndex index;
  std::uint64_t offset = 0;
  std::error_code ec;
  if (std::filesystem::exists(layout.index_file(), ec)) {
    // Never append to an index that does not parse: rewriting it would
    // forget every archive it describes.
    auto existing = read_index(layout.index_file(),
                               request.cipher ? &request.cipher->keys : nullptr);
    if (!existing)
      return existing.error();
    index = std::move(*existing);
    for (const auto& [id, entry] : index.archives())
      offset += entry.size();
  }

  build_report report;
  archive_writer writer(layout, std::move(index), offset, report, request.stage_index,
                        request.cipher.get());
  const auto total_windows =
    request.late.size()
    + (request.to > request.from
         ? static_cast<std::size_t>((request.to - request.from) / request.partition
                                    + ((request.to - request.from) % request.partition != 0))
         : 0);

  // One window: its messages in chunks under the 30 MB cap.
  auto build_window = [&](std::uint64_t from, std::uint64_t to) -> result<void> {
    chunk_encoder chunk(from, to, request.topics);
    result<void> write_status;
    auto visit = [&](archive_message&& message) {
      if (!write_status)
        return;
      auto size = message.cap_size();
      if (size > max_archive_payload) {
        report.dropped.push_back({message.hash, message.timestamp, size});
        return;
      }
      if (!chunk.empty() && chunk.cap_size() + size > max_archive_payload)
        write_status = writer.append(chunk);
      chunk.add(message);
    };
    if (auto scanned = source(from, to, request.topics, visit); !scanned)
      return scanned.error();
    if (!write_status)
      return write_status.error();
    ++report.windows;
    // status-go emits an empty archive when every message of a window was
    // dropped; an empty chunk is skipped here instead.
    if (chunk.empty()) {
      ++report.empty_windows;
    } else if (auto r = writer.append(chunk); !r) {
      return r.error();
    }
    if (progress)
      progress(report.windows, total_windows);
    return {};
  };

  for (const auto& window : request.late)
    if (window.from < window.to)
      if (auto r = build_window(window.from, window.to); !r)
        return r.error();
  for (auto from = request.from; from < request.to;) {
    // min() before adding: from + partition may overflow near UINT64_MAX.
    auto to = from + std::min(request.partition, request.to - from);
    if (auto r = build_window(from, to); !r)
      return r.error();
    from = to;
  }

  if (auto r = writer.commit(); !r)
    return r.error();
  return report;
}

result<void> promote_staged_index(const archive_layout& layout) {
  return rename_durably(layout.staged_index_file(), layout.index_file());
}

result<void> discard_staged_index(const archive_layout& layout) {
  std::error_code ec;
  std::filesystem::remove(layout.staged_index_file(), ec);
  if (ec)
    return make_error(errc::io, layout.staged_index_file().string() + ": remove: " + ec.message());
  return {};
}

message_source memory_source(std::vector<archive_message> messages) {
  std::stable_sort(messages.begin(), messages.end(), [](const auto& a, const auto& b) {
    if (a.timestamp != b.timestamp)
      return a.timestamp < b.timestamp;
    if (a.topic != b.topic)
      return a.topic < b.topic;
    return a.hash < b.hash;
  });
  auto shared = std::make_shared<const std::vector<archive_message>>(std::move(messages));
  return [shared](std::uint64_t from, std::uint64_t to, const std::vector<topic4>& topics,
                  const std::function<void(archive_message&&)>& visit) -> result<void> {
    auto first = std::lower_bound(shared->begin(), shared->end(), from,
                                  [](const archive_message& m, std::uint64_t ts) {
                                    return m.timestamp < ts;
                                  });
    for (auto it = first; it != shared->end() && it->timestamp < to; ++it)
      if (std::find(topics.begin(), topics.end(), it->topic) != topics.end())
        visit(archive_message(*it));
    return {};
  };
}

} // namespace annals
