#include "app/commands.hpp"
#include <annals/log.hpp>
#include "core/terminal_text.hpp"

#include <iostream>
#include <streambuf>
#include <string>

namespace {

// Everything the binary writes to std::cerr can carry strangers' bytes (a
// torrent's name, a magnet link's dn, a peer's error text); each piece goes
// out through terminal_safe(), newlines kept, so none reaches the terminal
// as a control sequence. stdout is JSON, escaped by its writer.
class terminal_safe_buffer : public std::streambuf {
public:
  explicit terminal_safe_buffer(std::streambuf* target) : target_(target) {}
  std::streambuf* target() const { return target_; }

protected:
  int_type overflow(int_type ch) override {
    if (traits_type::eq_int_type(ch, traits_type::eof()))
      return traits_type::not_eof(ch);
    pending_ += traits_type::to_char_type(ch);
    if (ch == '\n')
      flush_pending();
    return ch;
  }
  std::streamsize xsputn(const char* data, std::streamsize size) override {
    pending_.append(data, static_cast<std::size_t>(size));
    if (pending_.find('\n') != std::string::npos)
      flush_pending();
    return size;
  }
  int sync() override {
    flush_pending();
    return target_->pubsync();
  }

private:
  void flush_pending() {
    std::size_t start = 0;
    for (auto end = pending_.find('\n'); end != std::string::npos;
         start = end + 1, end = pending_.find('\n', start)) {
      auto line = annals::terminal_safe(std::string_view(pending_).substr(start, end - start));
      line += '\n';
      target_->sputn(line.data(), static_cast<std::streamsize>(line.size()));
    }
    pending_.erase(0, start);
    if (!pending_.empty()) {
      auto rest = annals::terminal_safe(pending_);
      target_->sputn(rest.data(), static_cast<std::streamsize>(rest.size()));
      pending_.clear();
    }
  }

  std::streambuf* target_;
  std::string pending_;
};

} // namespace

int main(int argc, char** argv) {
  terminal_safe_buffer safe_stderr(std::cerr.rdbuf());
  std::cerr.rdbuf(&safe_stderr);
  struct restore_stderr {
    std::streambuf* original;
    ~restore_stderr() {
      std::cerr.flush();
      std::cerr.rdbuf(original);
    }
  } restore{safe_stderr.target()};
  CLI::App app{"annals: keeps a Waku community's message history alive as status-go "
               "compatible BitTorrent archives"};
  app.require_subcommand(1);
  app.set_version_flag("--version",
                       std::string("annals ") + ANNALS_VERSION + " (" + ANNALS_REVISION + ")");
  annals::app::add_keygen_command(app);
  annals::app::add_hrkey_commands(app);
  annals::app::add_archive_commands(app);
  annals::app::add_demo_command(app);
  annals::app::add_magnetlink_commands(app);
  annals::app::add_enr_commands(app);
  annals::app::add_relay_commands(app);
  annals::app::add_run_command(app);
  annals::app::add_store_commands(app);
  annals::app::add_bench_commands(app);
  annals::app::check_numbers(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    // Our commands end here with their message; CLI11's own errors (usage)
    // go through exit(), which prints help where it helps.
    if (e.what() && *e.what()) {
      // A node logging JSON (`run --log-format json`) ends in JSON too, so a
      // log shipper sees why it stopped.
      if (annals::current_log_options().format == annals::log_format::json) {
        std::string_view text = e.what();
        if (text.rfind("annals: ", 0) == 0)
          text.remove_prefix(8);
        annals::log_error("annals", text);
      } else {
        std::cerr << e.what() << "\n";
      }
    }
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : annals::app::exit_bad_input;
  }
  return 0;
}
