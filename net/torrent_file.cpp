#include "net/torrent_file.hpp"

#include "core/file_io.hpp"
#include "core/piece_hasher.hpp"
#include "core/hex.hpp"

#include <libtorrent/bdecode.hpp>
#include <libtorrent/bencode.hpp>
#include <libtorrent/entry.hpp>
#include <libtorrent/hasher.hpp>
#include <libtorrent/magnet_uri.hpp>
#include <libtorrent/torrent_info.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <map>
#include <system_error>

namespace annals {

namespace fs = std::filesystem;

namespace {

/// The file names inside the archive directory, in torrent order: anacrolix
/// sorts by path, and `data` must come first so archive offsets map straight
/// onto piece indexes.
constexpr std::string_view torrent_files[] = {"data", "index"};

/// 64 MiB of .torrent holds 3.3 million piece hashes (over 300 GB of
/// archives); anything larger is not ours, and is not worth reading into RAM.
constexpr std::uintmax_t max_torrent_file_size = 64u << 20;

std::string errno_text(int err) {
  return std::error_code(err, std::generic_category()).message();
}

/// Closes a POSIX descriptor on every path out of a function.
class unique_fd {
public:
  explicit unique_fd(int fd) : fd_(fd) {}
  ~unique_fd() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  int get() const { return fd_; }

private:
  int fd_;
};

bool is_community_id(std::string_view name) {
  return name.size() == 68 && name.substr(0, 2) == "0x" &&
         std::all_of(name.begin() + 2, name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

/// The torrent name doubles as the directory the files are saved under, so it
/// has to be the community ID exactly as status-go spells it.
result<void> check_community_id(std::string_view name, errc code) {
  if (!is_community_id(name))
    return make_error(code, "torrent name \"" + std::string(name) +
                              "\" is not a community ID (0x + 66 lowercase hex)");
  return ok_result();
}

result<std::uint64_t> regular_file_size(const fs::path& file) {
  std::error_code ec;
  auto status = fs::status(file, ec);
  if (!fs::exists(status))
    return make_error(errc::not_found, file.string() + ": no such file");
  if (!fs::is_regular_file(status))
    return make_error(errc::invalid_argument, file.string() + ": not a regular file");
  auto size = fs::file_size(file, ec);
  if (ec)
    return make_error(errc::io, file.string() + ": " + ec.message());
  return static_cast<std::uint64_t>(size);
}

/// SHA-1 of the pieces of `file`'s first `size` bytes, read a few pieces at
/// a time.
result<std::string> hash_file_pieces(const fs::path& file, std::uint64_t size) {
  std::string digests;
  unique_fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0)
    return make_error(errc::io, file.string() + ": " + errno_text(errno));
  std::string buffer(40 * archive_piece_length, '\0');
  for (std::uint64_t done = 0; done < size;) {
    auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), size - done));
    std::size_t filled = 0;
    while (filled < want) {
      auto got = ::read(fd.get(), buffer.data() + filled, want - filled);
      if (got < 0 && errno == EINTR)
        continue;
      if (got < 0)
        return make_error(errc::io, file.string() + ": " + errno_text(errno));
      if (got == 0)
        return make_error(errc::io, file.string() + ": shrank to "
                                      + std::to_string(done + filled) + " bytes while being hashed");
      filled += static_cast<std::size_t>(got);
    }
    sha1_pieces(std::string_view(buffer.data(), filled), digests);
    done += filled;
  }
  return digests;
}

result<std::string> read_torrent_bytes(const fs::path& file) {
  auto size = regular_file_size(file);
  if (!size)
    return size.error();
  if (*size > max_torrent_file_size)
    return make_error(errc::malformed, file.string() + ": " + std::to_string(*size) +
                                         " bytes is too large for a .torrent");
  return read_file_bytes(file);
}

/// Checks the raw `files` list rather than lt::torrent_info's view of it,
/// which would hide pad files, attributes and sanitised path components.
result<std::pair<std::uint64_t, std::uint64_t>> check_files(const lt::bdecode_node& info) {
  auto files = info.dict_find_list("files");
  if (!files)
    return make_error(errc::verification_failed,
                      "single-file torrent; an archive torrent has the files data and index");
  if (files.list_size() != 2)
    return make_error(errc::verification_failed,
                      std::to_string(files.list_size()) +
                        " files; an archive torrent has exactly data and index");
  std::uint64_t sizes[2] = {};
  for (int i = 0; i < 2; ++i) {
    auto entry = files.list_at(i);
    auto path = entry.type() == lt::bdecode_node::dict_t ? entry.dict_find_list("path")
                                                         : lt::bdecode_node();
    auto length = entry.type() == lt::bdecode_node::dict_t ? entry.dict_find_int("length")
                                                           : lt::bdecode_node();
    if (!path || !length || length.int_value() < 0)
      return make_error(errc::malformed, "file " + std::to_string(i) +
                                           " lacks a path or a valid length");
    std::string joined;
    for (int part = 0; part < path.list_size(); ++part)
      joined += (part > 0 ? "/" : "") + std::string(path.list_string_value_at(part));
    if (path.list_size() != 1 || joined != torrent_files[i])
      return make_error(errc::verification_failed,
                        "file " + std::to_string(i) + " is \"" + joined + "\", expected \"" +
                          std::string(torrent_files[i]) + "\"");
    sizes[i] = static_cast<std::uint64_t>(length.int_value());
  }
  return std::pair{sizes[0], sizes[1]};
}

/// Bencoded bytes as a dictionary node; `what` names them in errors. The node
/// points into `bytes`, which must outlive it.
result<lt::bdecode_node> decode_dict(std::string_view bytes, const char* what) {
  lt::error_code ec;
  int error_pos = 0;
  auto node = lt::bdecode(lt::span<const char>(bytes.data(), static_cast<long>(bytes.size())),
                          ec, &error_pos);
  if (ec)
    return make_error(errc::malformed, "not bencoded: " + ec.message() + " at byte " +
                                         std::to_string(error_pos));
  if (node.type() != lt::bdecode_node::dict_t)
    return make_error(errc::malformed,
                      std::string("not ") + what + ": the top level is not a dictionary");
  // bdecode stops at the end of the first value; anything after it would be
  // bytes no hash covers, carried along unnoticed.
  if (auto used = static_cast<std::size_t>(node.data_section().size()); used != bytes.size())
    return make_error(errc::malformed, std::string("not ") + what + ": "
                                         + std::to_string(bytes.size() - used)
                                         + " trailing bytes after the dictionary");
  return node;
}

struct info_shape {
  std::string name;
  std::uint64_t data_size = 0;
  std::uint64_t index_size = 0;
};

/// status-go's shape rules on an info dict. Both a .torrent file and the
/// metadata a magnet download receives come through here.
result<info_shape> check_info_shape(const lt::bdecode_node& info) {
  // anacrolix v1.41 ignores v2 keys, so a hybrid torrent would have a v1
  // hash that status-go never produces for the same files.
  if (info.dict_find("meta version") || info.dict_find("file tree"))
    return make_error(errc::verification_failed,
                      "BitTorrent v2 keys present; archive torrents are v1 only");

  auto name = std::string(info.dict_find_string_value("name"));
  if (auto checked = check_community_id(name, errc::verification_failed); !checked)
    return checked.error();
  auto sizes = check_files(info);
  if (!sizes)
    return sizes.error();
  auto piece_length = info.dict_find_int_value("piece length", -1);
  if (piece_length != static_cast<std::int64_t>(archive_piece_length))
    return make_error(errc::verification_failed,
                      "piece length " + std::to_string(piece_length) + ", expected " +
                        std::to_string(archive_piece_length));
  auto [data_size, index_size] = *sizes;
  if (data_size % archive_piece_length != 0)
    return make_error(errc::verification_failed,
                      "data is " + std::to_string(data_size) +
                        " bytes, not a multiple of the piece length; archive offsets "
                        "would not map onto pieces");
  return info_shape{std::move(name), data_size, index_size};
}

/// The summary of a torrent that passed check_info_shape and libtorrent's
/// own consistency checks (piece hash count against the sizes).
torrent_summary summarize(const lt::torrent_info& ti, info_shape shape) {
  torrent_summary summary;
  const auto& v1 = ti.info_hashes().v1;
  summary.info_hash = to_hex(std::string_view(v1.data(), v1.size()));
  summary.name = std::move(shape.name);
  summary.data_size = shape.data_size;
  summary.index_size = shape.index_size;
  summary.piece_count = static_cast<std::uint64_t>(ti.num_pieces());
  for (const auto& tracker : ti.trackers())
    summary.trackers.push_back(tracker.url);
  summary.magnet = magnet_link(summary.info_hash, summary.name, summary.trackers);
  return summary;
}

result<torrent_summary> check_archive_torrent(const std::string& bytes) {
  auto root = decode_dict(bytes, "a torrent");
  if (!root)
    return root.error();
  auto info = root->dict_find_dict("info");
  if (!info)
    return make_error(errc::malformed, "not a torrent: no info dictionary");
  if (root->dict_find("piece layers"))
    return make_error(errc::verification_failed,
                      "BitTorrent v2 keys present; archive torrents are v1 only");
  auto shape = check_info_shape(info);
  if (!shape)
    return shape.error();
  lt::error_code ec;
  lt::torrent_info ti(*root, ec);
  if (ec)
    return make_error(errc::malformed, "not a valid torrent: " + ec.message());
  return summarize(ti, std::move(*shape));
}

} // namespace

std::vector<std::string> status_go_trackers() {
  return {"udp://tracker.opentrackr.org:1337/announce",
          "udp://tracker.openbittorrent.com:6969/announce"};
}

namespace {

/// The info dict's `pieces` (20-byte SHA-1 digests, in order) of .torrent
/// bytes that passed check_archive_torrent.
std::string torrent_piece_digests(const std::string& bytes) {
  lt::error_code decode_error;
  auto root = lt::bdecode(lt::span<const char>(bytes.data(), static_cast<long>(bytes.size())),
                          decode_error);
  if (decode_error)
    return {};
  return std::string(root.dict_find_dict("info").dict_find_string_value("pieces"));
}

/// The digests of the data pieces of the archive torrent at `file`, if it
/// is one for `community` whose data is exactly `data_size` bytes.
std::optional<std::string> previous_data_pieces(const fs::path& file,
                                                const std::string& community,
                                                std::uint64_t data_size) {
  std::error_code ec;
  if (!fs::exists(file, ec))
    return std::nullopt;
  auto bytes = read_torrent_bytes(file);
  if (!bytes)
    return std::nullopt;
  auto summary = check_archive_torrent(*bytes);
  if (!summary || summary->name != community || summary->data_size != data_size)
    return std::nullopt;
  auto pieces = torrent_piece_digests(*bytes);
  auto wanted = data_size / archive_piece_length * 20;
  if (pieces.size() < wanted)
    return std::nullopt;
  pieces.resize(wanted);
  return pieces;
}

/// The digests of every data piece: the appended ones as the build hashed
/// them, the ones before from the previous torrent when it describes
/// exactly that prefix, and only what neither covers read back from disk.
result<std::string> data_pieces(const archive_layout& layout, std::uint64_t data_size,
                                const data_piece_hashes* appended) {
  const auto count = data_size / archive_piece_length;
  if (!appended || appended->digests.size() % 20 != 0
      || appended->first + appended->digests.size() / 20 != count)
    return hash_file_pieces(layout.data_file(), data_size);
  std::string digests;
  if (appended->first > 0) {
    auto prefix_size = appended->first * archive_piece_length;
    auto previous = previous_data_pieces(layout.torrent_file(), layout.community_id, prefix_size);
    if (previous) {
      digests = std::move(*previous);
    } else {
      auto hashed = hash_file_pieces(layout.data_file(), prefix_size);
      if (!hashed)
        return hashed.error();
      digests = std::move(*hashed);
    }
  }
  digests += appended->digests;
  return digests;
}

} // namespace

result<torrent_summary> write_archive_torrent(const archive_layout& layout,
                                              const torrent_options& options,
                                              const data_piece_hashes* appended) {
  if (auto checked = check_community_id(layout.community_id, errc::invalid_argument); !checked)
    return checked.error();
  const fs::path paths[] = {layout.data_file(), layout.index_file()};
  std::vector<std::pair<fs::path, std::uint64_t>> files;
  for (const auto& path : paths) {
    auto size = regular_file_size(path);
    if (!size)
      return size.error();
    files.emplace_back(path, *size);
  }
  if (files[0].second % archive_piece_length != 0)
    return make_error(errc::verification_failed,
                      files[0].first.string() + ": " + std::to_string(files[0].second) +
                        " bytes is not a multiple of the piece length " +
                        std::to_string(archive_piece_length));
  auto pieces = data_pieces(layout, files[0].second, appended);
  if (!pieces)
    return pieces.error();
  auto index_pieces = hash_file_pieces(files[1].first, files[1].second);
  if (!index_pieces)
    return index_pieces.error();
  *pieces += *index_pieces;

  // lt::entry dictionaries are std::maps, so bencode emits the keys sorted
  // as BEP 3 requires, and the bytes depend only on the inputs.
  lt::entry info(lt::entry::dictionary_t);
  auto& file_list = info["files"] = lt::entry::list_type{};
  for (std::size_t i = 0; i < files.size(); ++i) {
    lt::entry file(lt::entry::dictionary_t);
    file["length"] = static_cast<std::int64_t>(files[i].second);
    file["path"] = lt::entry::list_type{lt::entry(std::string(torrent_files[i]))};
    file_list.list().push_back(std::move(file));
  }
  info["name"] = layout.community_id;
  info["piece length"] = static_cast<std::int64_t>(archive_piece_length);
  info["pieces"] = std::move(*pieces);

  std::string info_bytes;
  lt::bencode(std::back_inserter(info_bytes), info);

  lt::entry torrent(lt::entry::dictionary_t);
  if (!options.trackers.empty()) {
    auto& tiers = torrent["announce-list"] = lt::entry::list_type{};
    for (const auto& tracker : options.trackers)
      tiers.list().push_back(lt::entry::list_type{lt::entry(tracker)});
  }
  if (!options.created_by.empty())
    torrent["created by"] = options.created_by;
  if (options.creation_date != 0)
    torrent["creation date"] = options.creation_date;
  torrent["info"] = std::move(info);

  std::string torrent_bytes;
  lt::bencode(std::back_inserter(torrent_bytes), torrent);
  if (auto created = create_private_dirs(layout.torrent_file().parent_path()); !created)
    return created.error();
  if (auto written = write_file_atomic(layout.torrent_file(), torrent_bytes); !written)
    return written.error();

  torrent_summary summary;
  auto info_hash = lt::hasher(info_bytes.data(), static_cast<int>(info_bytes.size())).final();
  summary.info_hash = to_hex(std::string_view(info_hash.data(), info_hash.size()));
  summary.name = layout.community_id;
  summary.data_size = files[0].second;
  summary.index_size = files[1].second;
  summary.piece_count =
    (summary.data_size + summary.index_size + archive_piece_length - 1) / archive_piece_length;
  summary.trackers = options.trackers;
  summary.magnet = magnet_link(summary.info_hash, summary.name, summary.trackers);
  return summary;
}

result<torrent_summary> read_archive_torrent(const fs::path& file) {
  auto bytes = read_torrent_bytes(file);
  if (!bytes)
    return bytes.error();
  auto summary = check_archive_torrent(*bytes);
  if (!summary)
    return make_error(summary.error().code, file.string() + ": " + summary.error().message);
  return summary;
}

result<torrent_summary> check_archive_info_dict(std::string_view bencoded_info) {
  auto info = decode_dict(bencoded_info, "an info dictionary");
  if (!info)
    return info.error();
  auto shape = check_info_shape(*info);
  if (!shape)
    return shape.error();
  lt::error_code ec;
  lt::torrent_info ti(lt::info_hash_t{});
  // The same piece-count bound libtorrent applies to a .torrent file.
  if (!ti.parse_info_section(*info, ec, lt::load_torrent_limits{}.max_pieces))
    return make_error(errc::malformed, "not a valid torrent: " + ec.message());
  return summarize(ti, std::move(*shape));
}

result<torrent_summary> verify_archive_torrent_files(const archive_layout& layout) {
  auto summary = read_archive_torrent(layout.torrent_file());
  if (!summary)
    return summary.error();
  // A torrent names the directory its files are in: another name would
  // serve (and make members save into) a directory that is not this one.
  if (summary->name != layout.community_id)
    return make_error(errc::verification_failed,
                      layout.torrent_file().string() + " names \"" + summary->name
                        + "\", not the directory's community " + layout.community_id);
  auto bytes = read_torrent_bytes(layout.torrent_file());
  if (!bytes)
    return bytes.error();
  auto expected = torrent_piece_digests(*bytes);

  const std::pair<fs::path, std::uint64_t> described[] = {
    {layout.data_file(), summary->data_size},
    {described_index_file(layout), summary->index_size}};
  std::string pieces;
  for (const auto& [file, size] : described) {
    auto actual = regular_file_size(file);
    if (!actual)
      return actual.error();
    // Bytes past the end of `data` belong to a newer set a member was
    // fetching (they land past the held set's end); the set described is
    // whole without them.
    bool longer_data = file == layout.data_file() && *actual > size;
    if (*actual != size && !longer_data)
      return make_error(errc::verification_failed,
                        file.string() + " is " + std::to_string(*actual) +
                          " bytes, the torrent says " + std::to_string(size));
    // `data` is whole pieces (the shape check), so `index` starts a piece.
    auto hashed = hash_file_pieces(file, size);
    if (!hashed)
      return hashed.error();
    pieces += *hashed;
  }
  constexpr std::size_t sha1_size = 20;
  for (std::size_t i = 0; i * sha1_size < pieces.size(); ++i) {
    if (pieces.compare(i * sha1_size, sha1_size, expected, i * sha1_size, sha1_size) == 0)
      continue;
    auto offset = i * archive_piece_length;
    auto in_data = offset < summary->data_size;
    return make_error(errc::verification_failed,
                      "piece " + std::to_string(i) + " (" + (in_data ? "data" : "index") +
                        " offset " +
                        std::to_string(in_data ? offset : offset - summary->data_size) +
                        ") does not match the torrent's hash");
  }
  return summary;
}

namespace {

// Whether the staged index is the index layout's .torrent describes; an
// error when one of them cannot be read.
result<bool> staged_index_described(const archive_layout& layout) {
  std::error_code ec;
  auto staged = layout.fetching_index_file();
  if (!fs::exists(staged, ec) || !fs::exists(layout.torrent_file(), ec))
    return false;
  auto bytes = read_torrent_bytes(layout.torrent_file());
  if (!bytes)
    return bytes.error();
  auto summary = check_archive_torrent(*bytes);
  if (!summary || summary->name != layout.community_id)
    return false;
  auto size = regular_file_size(staged);
  if (!size || *size != summary->index_size)
    return false;
  auto expected = torrent_piece_digests(*bytes);
  constexpr std::size_t sha1_size = 20;
  auto first = static_cast<std::size_t>(summary->data_size / archive_piece_length) * sha1_size;
  auto hashed = hash_file_pieces(staged, *size);
  if (!hashed)
    return hashed.error();
  return first <= expected.size() && expected.compare(first, std::string::npos, *hashed) == 0;
}

} // namespace

fs::path described_index_file(const archive_layout& layout) {
  // Unreadable, the staged index is not the described one: the reader then
  // meets `index` and names what does not match.
  auto described = staged_index_described(layout);
  return described && *described ? layout.fetching_index_file() : layout.index_file();
}

result<bool> promote_fetched_index(const archive_layout& layout) {
  auto described = staged_index_described(layout);
  if (!described || !*described)
    return described;
  if (auto moved = rename_durably(layout.fetching_index_file(), layout.index_file()); !moved)
    return moved.error();
  return true;
}

std::optional<std::string> magnet_info_hash(std::string_view magnet) {
  lt::error_code ec;
  auto params = lt::parse_magnet_uri(lt::string_view(magnet.data(), magnet.size()), ec);
  if (ec || !params.info_hashes.has_v1())
    return std::nullopt;
  const auto& v1 = params.info_hashes.v1;
  return to_hex(reinterpret_cast<const std::uint8_t*>(v1.data()), v1.size());
}

std::optional<std::string> magnet_name(std::string_view magnet) {
  lt::error_code ec;
  auto params = lt::parse_magnet_uri(lt::string_view(magnet.data(), magnet.size()), ec);
  if (ec || params.name.empty())
    return std::nullopt;
  return params.name;
}

std::string magnet_link(const std::string& info_hash_hex, const std::string& name,
                        const std::vector<std::string>& trackers,
                        const std::vector<std::string>& peers) {
  // Go's url.Values.Encode: keys sorted, each key's values in insertion order.
  std::map<std::string, std::vector<std::string>> params;
  if (!name.empty())
    params["dn"].push_back(name);
  for (const auto& tracker : trackers)
    params["tr"].push_back(tracker);
  for (const auto& peer : peers)
    params["x.pe"].push_back(peer);

  // anacrolix leaves "urn:btih:" unescaped because Transmission and Deluge
  // expect it so, and puts xt first for Deluge.
  std::string link = "magnet:?xt=urn:btih:" + info_hash_hex;
  for (const auto& [key, values] : params)
    for (const auto& value : values)
      link += "&" + query_escape(key) + "=" + query_escape(value);
  return link;
}

std::string query_escape(std::string_view text) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 0x0f];
    }
  }
  return out;
}

} // namespace annals
