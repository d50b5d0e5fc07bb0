#include "core/terminal_text.hpp"

#include <catch2/catch.hpp>

using annals::terminal_safe;

TEST_CASE("terminal_safe keeps printable text and UTF-8 as they are", "[core][terminal]") {
  CHECK(terminal_safe("community 0x02ab, 3 archives") == "community 0x02ab, 3 archives");
  CHECK(terminal_safe("Grüße, 日本語, 🙂") == "Grüße, 日本語, 🙂");
  CHECK(terminal_safe("") == "");
}

TEST_CASE("terminal_safe shows control bytes as escapes", "[core][terminal]") {
  // A title change and a screen clear, as a hostile torrent name carries them.
  CHECK(terminal_safe("\x1b]0;owned-title\x07\x1b[2J") == "\\x1b]0;owned-title\\x07\\x1b[2J");
  CHECK(terminal_safe("two\nlines\ttab\r") == "two\\x0alines\\x09tab\\x0d");
  CHECK(terminal_safe("del\x7f") == "del\\x7f");
  CHECK(terminal_safe(std::string_view("nul\0byte", 8)) == "nul\\x00byte");
  // C1 CSI as UTF-8 (U+009B) and as a raw byte.
  CHECK(terminal_safe("\xc2\x9b" "2J") == "\\xc2\\x9b2J");
  CHECK(terminal_safe("\x9b" "2J") == "\\x9b2J");
  // A backslash is doubled, so an escape in the output always means a byte.
  CHECK(terminal_safe("a\\x1b") == "a\\\\x1b");
}

TEST_CASE("terminal_safe escapes bytes that are not valid UTF-8", "[core][terminal]") {
  CHECK(terminal_safe("\xff\xfe") == "\\xff\\xfe");
  CHECK(terminal_safe("\xc0\xaf") == "\\xc0\\xaf");              // overlong '/'
  CHECK(terminal_safe("\xed\xa0\x80") == "\\xed\\xa0\\x80");     // a surrogate
  CHECK(terminal_safe("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // past U+10FFFF
  CHECK(terminal_safe("cut \xe6\x97") == "cut \\xe6\\x97");      // truncated sequence
}
