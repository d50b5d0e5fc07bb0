#include "core/archive_builder.hpp"

#include "core/archive_reader.hpp"
#include "core/file_io.hpp"
#include "core/piece_hasher.hpp"

#include <algorithm>

namespace annals {

namespace {

/// Accumulates one archive's serialized bytes: the metadata field first,
/// then each message's bytes as they come (field 3 of WakuMessageArchive,
/// the order protobuf writes), so no message is parsed or copied twice.
/// With a `slice` handler (archives in clear), every whole run of pieces is
/// handed on as soon as it is complete, so a chunk of up to 30 MB is hashed
/// and written while it is still being encoded, through a few small
/// buffers that are reused rather than freshly faulted in.
class chunk_encoder {
public:
  /// Takes the bytes of whole pieces, in order; the start of a chunk is
  /// always a piece boundary.
  using slice_handler = std::function<result<void>(page_buffer&&)>;
  /// Returns a buffer to fill (a spare one when there is one).
  using buffer_source = std::function<page_buffer()>;

  chunk_encoder(const std::vector<topic4>& topics, slice_handler slice = {},
                buffer_source buffers = {})
    : slice_(std::move(slice)), buffers_(std::move(buffers)) {
    for (const auto& topic : topics)
      metadata_.mutable_metadata()->add_contenttopic(std::string(as_view(topic)));
  }

  /// Starts the chunks of window [from, to).
  void begin_window(std::uint64_t from, std::uint64_t to) {
    auto* meta = metadata_.mutable_metadata();
    meta->set_from(from);
    meta->set_to(to);
    // WakuMessageArchive: version 0 is not written; metadata is field 2.
    auto meta_bytes = meta->SerializeAsString();
    head_.clear();
    head_.push_back(static_cast<char>(2 << 3 | 2));
    append_varint(head_, meta_bytes.size());
    head_ += meta_bytes;
    start();
  }

  bool empty() const { return count_ == 0; }
  std::uint64_t cap_size() const { return cap_size_; }

  result<void> add(const message_wire& message) {
    bytes_.push_back(static_cast<char>(3 << 3 | 2));
    append_varint(bytes_, message.bytes.size());
    bytes_.append(message.bytes);
    cap_size_ += message.cap_size;
    ++count_;
    if (slice_ && bytes_.size() >= slice_bytes)
      return hand_on_whole_pieces();
    return {};
  }

  /// Ends the chunk as the archive at `offset` (sealed with `cipher` when
  /// there is one): its index entry, and in `bytes` what was not handed on
  /// yet, unpadded. Starts a new chunk of the same window.
  result<encoded_archive> finish(std::uint64_t offset, const archive_cipher* cipher) {
    encoded_archive out;
    out.bytes = std::move(bytes_);
    if (cipher) {
      // Sealing needs the whole archive: nothing was handed on.
      auto sealed = cipher->seal(std::string_view(out.bytes));
      if (!sealed)
        return sealed.error();
      out.bytes.assign(sealed->begin(), sealed->end());
    }
    auto padded = pad_archive(handed_on_ + out.bytes.size());
    auto& entry = out.archive.entry;
    *entry.mutable_metadata() = metadata_.metadata();
    entry.set_offset(offset);
    entry.set_size(padded.size);
    entry.set_padding(padded.padding);
    out.archive.id = archive_id(entry);
    out.archive.message_count = count_;
    start();
    return out;
  }

private:
  /// Pieces per slice handed on: 4 MB, a few of which are in flight.
  static constexpr std::size_t slice_bytes = 40 * archive_piece_length;

  void start() {
    bytes_ = buffers_ ? buffers_() : page_buffer();
    bytes_.clear();
    bytes_.reserve(slice_ ? slice_bytes + 2 * archive_piece_length : 1u << 20);
    bytes_ += head_;
    handed_on_ = 0;
    count_ = 0;
    cap_size_ = 0;
  }

  result<void> hand_on_whole_pieces() {
    auto whole = bytes_.size() / archive_piece_length * archive_piece_length;
    auto rest = buffers_ ? buffers_() : page_buffer();
    rest.clear();
    rest.reserve(slice_bytes + 2 * archive_piece_length);
    rest.append(bytes_, whole, std::string::npos);
    bytes_.resize(whole);
    handed_on_ += whole;
    auto handed = slice_(std::move(bytes_));
    bytes_ = std::move(rest);
    return handed;
  }

  slice_handler slice_;
  buffer_source buffers_;
  pb::WakuMessageArchiveIndexMetadata metadata_;  // only its metadata is set
  std::string head_;   // the metadata field, the start of every chunk
  page_buffer bytes_;  // the chunk's bytes not handed on yet
  std::uint64_t handed_on_ = 0;
  std::size_t count_ = 0;
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

  /// Whole pieces of the chunk being encoded, at the end of what was
  /// handed on before.
  result<void> hand_on(page_buffer&& bytes) {
    if (!data_)
      if (auto opened = open_data(); !opened)
        return opened;
    return hasher_.add(std::make_shared<page_buffer>(std::move(bytes)));
  }

  /// A buffer that hashed and written bytes left, or a new one.
  page_buffer spare() { return hasher_.take_spare(); }

  std::uint64_t offset() const { return offset_; }

  result<void> append(encoded_archive archive) {
    if (!data_) {
      if (auto opened = open_data(); !opened)
        return opened;
    }
    const auto& entry = archive.archive.entry;
    // The rest of the archive, padded: whole pieces again, hashed and
    // appended on the hasher's threads while this one encodes on.
    auto bytes = std::make_shared<page_buffer>(std::move(archive.bytes));
    bytes->resize(bytes->size() + entry.padding());
    if (!bytes->empty())
      if (auto r = hasher_.add(std::move(bytes)); !r)
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
    auto digests = hasher_.finish();
    if (!digests)
      return digests.error();
    report_.appended_pieces.digests = std::move(*digests);
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
    report_.appended_pieces.first = offset_ / archive_piece_length;
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
  // Last, so it stops (and stops writing to data_) before data_ closes.
  // Up to 8 slices of 4 MiB wait to be hashed and 8 to be written (64 MiB
  // at most): a virtual disk pauses for tens of milliseconds now and then,
  // and with 2 each such pause stalled the encoding (builds 0.82-0.98 s
  // for 1 GB; with 8, 0.72-0.85 s).
  piece_hasher hasher_{8, [this](std::string_view bytes) { return data_->write_aligned(bytes); }};
};

} // namespace

encoded_archive encode_archive(std::uint64_t from, std::uint64_t to,
                               const std::vector<topic4>& topics,
                               const std::vector<archive_message>& messages,
                               std::uint64_t offset) {
  chunk_encoder chunk(topics);  // no slice handler: add() cannot fail
  chunk.begin_window(from, to);
  for (const auto& message : messages)
    visit_encoded([&](const message_wire& wire) { (void)chunk.add(wire); }, message);
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
  std::optional<archive_writer> writer;
  writer.emplace(layout, std::move(index), offset, report, request.stage_index,
                 request.cipher.get());
  // A build that fails (a full disk, a source error) leaves `data` as it
  // found it at once: the writer stops (its threads write no more), then
  // the bytes it appended are cut off, so no torn tail holds the disk full
  // until a later build, and the torrent in place stays valid.
  auto rolled_back = [&](annals::error failure) -> annals::error {
    writer.reset();
    auto cut = cut_data_back(layout, offset);
    if (!cut)
      return make_error(failure.code, failure.message + "; " + cut.error().message);
    if (!*cut)
      return failure;
    return make_error(failure.code, failure.message + " (" + layout.data_file().string()
                                      + " cut back to its last good end, "
                                      + std::to_string(offset) + " bytes)");
  };
  const auto total_windows =
    request.late.size()
    + (request.to > request.from
         ? static_cast<std::size_t>((request.to - request.from) / request.partition
                                    + ((request.to - request.from) % request.partition != 0))
         : 0);

  // One encoder for every window. Sealed archives are handed on whole.
  chunk_encoder chunk(
    request.topics,
    request.cipher ? chunk_encoder::slice_handler()
                   : [&](page_buffer&& bytes) { return writer->hand_on(std::move(bytes)); },
    [&] { return writer->spare(); });
  // One window: its messages in chunks under the 30 MB cap.
  auto build_window = [&](std::uint64_t from, std::uint64_t to) -> result<void> {
    chunk.begin_window(from, to);
    result<void> write_status;
    auto visit = [&](const message_wire& message) {
      if (!write_status)
        return;
      auto size = message.cap_size;
      if (size > max_archive_payload) {
        report.dropped.push_back({std::string(message.hash), message.timestamp, size});
        return;
      }
      if (!chunk.empty() && chunk.cap_size() + size > max_archive_payload) {
        write_status = writer->append(chunk);
        if (!write_status)
          return;
      }
      write_status = chunk.add(message);
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
    } else if (auto r = writer->append(chunk); !r) {
      return r.error();
    }
    if (progress)
      progress(report.windows, total_windows);
    return {};
  };

  for (const auto& window : request.late)
    if (window.from < window.to)
      if (auto r = build_window(window.from, window.to); !r)
        return rolled_back(r.error());
  for (auto from = request.from; from < request.to;) {
    // min() before adding: from + partition may overflow near UINT64_MAX.
    auto to = from + std::min(request.partition, request.to - from);
    if (auto r = build_window(from, to); !r)
      return rolled_back(r.error());
    from = to;
  }

  if (auto r = writer->commit(); !r)
    return rolled_back(r.error());
  return report;
}

result<void> promote_staged_index(const archive_layout& layout) {
  return rename_durably(layout.staged_index_file(), layout.index_file());
}

result<bool> cut_data_back(const archive_layout& layout, std::uint64_t end) {
  std::error_code ec;
  auto size = std::filesystem::file_size(layout.data_file(), ec);
  if (ec || size <= end)
    return false;
  std::filesystem::resize_file(layout.data_file(), end, ec);
  if (ec)
    return make_error(errc::io, "cutting " + layout.data_file().string() + " back to "
                                  + std::to_string(end) + " bytes failed: " + ec.message());
  return true;
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
                  const message_visitor& visit) -> result<void> {
    auto first = std::lower_bound(shared->begin(), shared->end(), from,
                                  [](const archive_message& m, std::uint64_t ts) {
                                    return m.timestamp < ts;
                                  });
    for (auto it = first; it != shared->end() && it->timestamp < to; ++it)
      if (std::find(topics.begin(), topics.end(), it->topic) != topics.end())
        visit_encoded(visit, *it);
    return {};
  };
}

void visit_encoded(const message_visitor& visit, const archive_message& message) {
  thread_local std::string bytes;
  bytes.clear();
  append_wire(bytes, message);
  visit({bytes, message.timestamp, message.hash, message.cap_size(), as_view(message.topic)});
}

} // namespace annals
