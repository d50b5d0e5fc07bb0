#pragma once

#include <filesystem>
#include <string>

namespace annals::test {

/// A fresh directory under the system temp dir, removed on destruction.
class temp_dir {
public:
  explicit temp_dir(const std::string& tag = "annals");
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
  std::filesystem::path path_;
};

/// Whole file as bytes ("" when missing).
std::string read_file(const std::filesystem::path& file);
void write_file(const std::filesystem::path& file, const std::string& bytes);

} // namespace annals::test
