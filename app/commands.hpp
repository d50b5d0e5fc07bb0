// The `annals` command line: each group of verbs registers itself on the app.
#pragma once

#include "core/archive_format.hpp"
#include "core/result.hpp"

#include <CLI/CLI.hpp>

#include <cmath>
#include <iostream>
#include <string>

namespace annals::app {

/// Exit codes: 0 success, 1 the work failed (verification, network, disk),
/// 2 bad input (arguments, files that do not parse).
inline constexpr int exit_failure = 1;
inline constexpr int exit_bad_input = 2;

/// Ends the command with `code` after printing "annals: <error>" to stderr.
[[noreturn]] inline void fail(const annals::error& err, int code = exit_failure) {
  throw CLI::RuntimeError("annals: " + err.to_string(), code);
}
[[noreturn]] inline void fail(const std::string& message, int code = exit_failure) {
  throw CLI::RuntimeError("annals: " + message, code);
}

/// The one mapping from error codes to exit statuses: input that does not
/// parse, is invalid or names nothing is bad input (2), the rest failed work (1).
inline int exit_code_for(errc code) {
  bool input = code == errc::malformed || code == errc::invalid_argument || code == errc::not_found;
  return input ? exit_bad_input : exit_failure;
}

/// A number of seconds or a share: finite and not negative (CLI11 takes
/// "nan" and "-1" for a double otherwise).
inline const CLI::Validator finite_non_negative(
  [](std::string& text) -> std::string {
    try {
      std::size_t used = 0;
      double value = std::stod(text, &used);
      if (used == text.size() && std::isfinite(value) && value >= 0)
        return {};
    } catch (const std::exception&) {
    }
    return "must be a finite number, 0 or more (got " + text + ")";
  },
  "NUMBER >= 0");

/// A whole number that must not be negative: CLI11 reads "-1" into an
/// unsigned option as 2^64 - 1.
inline const CLI::Validator unsigned_number(
  [](std::string& text) -> std::string {
    static const std::string max = "18446744073709551615";
    if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos
        && (text.size() < max.size() || (text.size() == max.size() && text <= max)))
      return {};
    return "must be a whole number from 0 to 2^64 - 1 (got " + text + ")";
  },
  "UINT");

/// `--log-level error|warn|info|debug` and `--log-format text|json`, for the
/// long-running commands (`run`, `demo`).
inline void add_log_options(CLI::App& cmd, std::string& level, std::string& format) {
  cmd.add_option("--log-level", level, "Least severe log lines written")
    ->check(CLI::IsMember({"error", "warn", "info", "debug"}))
    ->capture_default_str();
  cmd.add_option("--log-format", format,
                 "text (timestamp, level, component, message) or json (one object per line)")
    ->check(CLI::IsMember({"text", "json"}))
    ->capture_default_str();
}

/// Unwraps a result or fails the command; bad-input error codes map to 2.
template <class T>
T take(result<T> r, const std::string& context = {}) {
  if (!r) {
    auto err = r.error();
    if (!context.empty())
      err.message = context + ": " + err.message;
    fail(err, exit_code_for(err.code));
  }
  return std::move(*r);
}
inline void take(result<void> r, const std::string& context = {}) {
  if (!r) {
    auto err = r.error();
    if (!context.empty())
      err.message = context + ": " + err.message;
    fail(err);
  }
}

/// DIR is either an archive directory (holding `data` or `index`) or a
/// build/node root holding archivedata/<communityID>/; `community` picks one
/// when the root holds several.
result<archive_layout> resolve_layout(const std::filesystem::path& dir,
                                      const std::string& community);

void add_keygen_command(CLI::App& app);
void add_hrkey_commands(CLI::App& app);
void add_archive_commands(CLI::App& app);
/// `archive seed` and `archive fetch`, registered on the `archive` group.
void add_archive_transfer_commands(CLI::App& archive);
void add_archive_import_command(CLI::App& archive);
void add_demo_command(CLI::App& app);
void add_enr_commands(CLI::App& app);
void add_magnetlink_commands(CLI::App& app);
/// `relay probe|publish|subscribe`.
void add_relay_commands(CLI::App& app);
/// `run --config FILE`.
void add_run_command(CLI::App& app);
void add_store_commands(CLI::App& app);
void add_bench_commands(CLI::App& app);
/// Makes every numeric option of `app` and its subcommands refuse what
/// CLI11 2.1 would wrap or saturate (negative unsigned, out of range, NaN).
/// Call after every option is added.
void check_numbers(CLI::App& app);

} // namespace annals::app
