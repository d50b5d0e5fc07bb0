// Text from strangers (a torrent's name, a magnet link's dn, a peer's error
// message) on its way to a terminal: control bytes would set the window
// title, clear the screen or move the cursor, so they are shown as escapes.
#pragma once

#include <string>
#include <string_view>

namespace annals {

/// `text` with C0 controls (newline and tab included), DEL, C1 controls and
/// bytes that are not valid UTF-8 written as `\xNN`, and `\` as `\\`, so the
/// result is one printable line and says exactly which bytes were there.
std::string terminal_safe(std::string_view text);

} // namespace annals
