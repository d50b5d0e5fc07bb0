// Running the `annals` binary from a test, as a user would from a shell.
#pragma once

#include "tests/process.hpp"
#include "tests/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>
#include <sys/wait.h>

namespace annals::test {

struct run_result {
  int code = -1;    // exit status; -1 when killed by a signal
  std::string out;  // stdout
  std::string err;  // stderr
};

/// Runs `PROGRAM ARGS` to completion (ARGS go through the shell); stderr is
/// collected through a file in `dir`.
inline run_result run_program(const std::string& program, const std::string& args,
                              const temp_dir& dir) {
  auto err_file = dir / "stderr.txt";
  auto command = program + " " + args + " 2>" + err_file.string();
  run_result r;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  while (auto n = std::fread(buf, 1, sizeof(buf), pipe))
    r.out.append(buf, n);
  int status = ::pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_file(err_file);
  return r;
}

/// Runs `annals ARGS` to completion, as run_program.
inline run_result run_annals(const std::string& args, const temp_dir& dir) {
  return run_program(ANNALS_BINARY, args, dir);
}

/// Starts `annals ARGS` in the background, its output in DIR/TAG.out and
/// DIR/TAG.err.
inline std::unique_ptr<child_process> start_annals(const temp_dir& dir, const std::string& tag,
                                                   std::vector<std::string> args) {
  args.insert(args.begin(), ANNALS_BINARY);
  return std::make_unique<child_process>(std::move(args), dir / (tag + ".out"),
                                         dir / (tag + ".err"));
}

/// The text without trailing line breaks.
inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
    s.pop_back();
  return s;
}

} // namespace annals::test
