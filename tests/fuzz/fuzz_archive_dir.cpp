// A whole archive directory (index + data) as `archive inspect` and a
// member's import see it: the verifier decodes every archive the index lists.
// The data part also goes through read_wire, which must accept only bytes
// that protobuf parses and writes back unchanged, and read them alike.
#include "core/archive_reader.hpp"
#include "tests/fuzz/fuzz.hpp"

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace {

std::filesystem::path scratch() {
  static auto dir = [] {
    auto d = std::filesystem::path("/dev/shm") / ("annals-fuzz-dir-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

void write(const std::filesystem::path& file, std::string_view bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parts = annals::fuzz::split(annals::fuzz::view(data, size));
  auto dir = scratch();
  write(dir / "index", parts.first);
  write(dir / "data", parts.second);
  (void)annals::verify_archive_dir(dir, true);

  if (auto wire = annals::read_wire(parts.second)) {
    annals::pb::WakuMessage proto;
    if (!proto.ParseFromArray(parts.second.data(), static_cast<int>(parts.second.size())))
      __builtin_trap();
    if (proto.SerializeAsString() != parts.second || proto.timestamp() != wire->timestamp
        || proto.hash() != wire->hash
        || proto.payload().size() + proto.sig().size() != wire->cap_size)
      __builtin_trap();
  }
  return 0;
}
