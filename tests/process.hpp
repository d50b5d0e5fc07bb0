// A child process for tests that run servers (`annals run`, `annals relay
// subscribe`, the js-waku peer): output goes to files the test polls, and the
// child is killed when the test ends, passed or not.
#pragma once

#include "tests/temp_dir.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fcntl.h>
#include <functional>
#include <optional>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace annals::test {

class child_process {
public:
  /// Starts argv[0] (a path) with stdout and stderr in files; `env` entries
  /// ("K=V") are added to the environment; `cwd` empty keeps ours.
  child_process(std::vector<std::string> argv, std::filesystem::path out, std::filesystem::path err,
                std::vector<std::string> env = {}, std::filesystem::path cwd = {})
      : out_(std::move(out)), err_(std::move(err)) {
    pid_ = ::fork();
    if (pid_ == 0) {
      int o = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(o, 1);
      ::dup2(e, 2);
      ::setpgid(0, 0);
      if (!cwd.empty() && ::chdir(cwd.c_str()) != 0)
        ::_exit(126);
      for (auto& kv : env)
        ::putenv(kv.data());
      std::vector<char*> args;
      for (auto& a : argv)
        args.push_back(a.data());
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
  }
  ~child_process() {
    if (running())
      kill(SIGKILL);
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  std::string out() const { return read_file(out_); }
  std::string err() const { return read_file(err_); }

  /// Waits until the output holds a line for which `pred` is true; returns it.
  std::optional<std::string> wait_for_line(const std::function<bool(const std::string&)>& pred,
                                           std::chrono::milliseconds timeout,
                                           bool from_stderr = false) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto text = from_stderr ? err() : out();
      std::size_t start = 0;
      while (true) {
        auto end = text.find('\n', start);
        if (end == std::string::npos)
          break;
        auto line = text.substr(start, end - start);
        if (pred(line))
          return line;
        start = end + 1;
      }
      if (exited_)
        return std::nullopt;
      poll_exit();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::nullopt;
  }

  /// The exit code, or nullopt when still running after `timeout`; -1 for a
  /// death by signal.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!exited_ && std::chrono::steady_clock::now() < deadline) {
      poll_exit();
      if (!exited_)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!exited_)
      return std::nullopt;
    return code_;
  }

  bool running() {
    poll_exit();
    return pid_ > 0 && !exited_;
  }

  void kill(int sig) {
    if (pid_ > 0 && !exited_) {
      ::kill(-pid_, sig);
      ::kill(pid_, sig);
      if (sig == SIGKILL)
        wait(std::chrono::milliseconds(5000));
    }
  }

private:
  void poll_exit() const {
    if (exited_ || pid_ <= 0)
      return;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
  }

  std::filesystem::path out_, err_;
  pid_t pid_ = -1;
  mutable bool exited_ = false;
  mutable int code_ = -1;
};

} // namespace annals::test
