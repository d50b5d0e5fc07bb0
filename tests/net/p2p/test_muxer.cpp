#include "core/hex.hpp"
#include "net/p2p/muxer.hpp"
#include "net/p2p/varint.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

using namespace annals;
using namespace annals::p2p;

namespace {

std::string hex(std::string_view text) {
  return *from_hex(text);
}

/// Two muxers wired back to back in memory: `a` dialled, `b` accepted.
struct wire {
  std::unique_ptr<muxer> a;
  std::unique_ptr<muxer> b;
  std::vector<muxer_event> a_events;
  std::vector<muxer_event> b_events;

  /// Moves output both ways until neither side has anything left to say.
  void pump() {
    for (int round = 0; round < 10000; ++round) {
      auto to_b = a->take_output();
      auto to_a = b->take_output();
      if (to_b.empty() && to_a.empty())
        return;
      REQUIRE(b->feed(to_b, b_events));
      REQUIRE(a->feed(to_a, a_events));
    }
    FAIL("the muxers kept talking");
  }
};

wire make_mplex_wire(muxer_limits limits = {}) {
  return wire{make_mplex(true, limits), make_mplex(false, limits), {}, {}};
}

wire make_yamux_wire(muxer_limits limits = {}) {
  return wire{make_yamux(true, limits), make_yamux(false, limits), {}, {}};
}

/// The events for one stream, as readable strings.
std::vector<std::string> story(const std::vector<muxer_event>& events, stream_handle h) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    if (e.stream != h)
      continue;
    switch (e.what) {
      case muxer_event::kind::opened: out.push_back("opened"); break;
      case muxer_event::kind::data: out.push_back("data:" + e.bytes); break;
      case muxer_event::kind::remote_closed: out.push_back("remote_closed"); break;
      case muxer_event::kind::reset: out.push_back("reset"); break;
    }
  }
  return out;
}

/// All bytes delivered on one stream.
std::string received(const std::vector<muxer_event>& events, stream_handle h) {
  std::string out;
  for (const auto& e : events)
    if (e.stream == h && e.what == muxer_event::kind::data)
      out += e.bytes;
  return out;
}

/// Handles of streams the peer opened, in order.
std::vector<stream_handle> opened(const std::vector<muxer_event>& events) {
  std::vector<stream_handle> out;
  for (const auto& e : events)
    if (e.what == muxer_event::kind::opened)
      out.push_back(e.stream);
  return out;
}

struct mplex_frame {
  std::uint64_t id;
  int flag;
  std::string data;
};

std::vector<mplex_frame> parse_mplex(std::string_view bytes) {
  std::vector<mplex_frame> frames;
  while (!bytes.empty()) {
    auto header = decode_uvarint(bytes);
    REQUIRE(header);
    bytes.remove_prefix(header->size);
    auto length = decode_uvarint(bytes);
    REQUIRE(length);
    bytes.remove_prefix(length->size);
    REQUIRE(bytes.size() >= length->value);
    frames.push_back({header->value >> 3, static_cast<int>(header->value & 7),
                      std::string(bytes.substr(0, length->value))});
    bytes.remove_prefix(length->value);
  }
  return frames;
}

std::string mplex_bytes(std::uint64_t id, int flag, std::string_view data) {
  auto out = encode_uvarint((id << 3) | static_cast<std::uint64_t>(flag));
  append_uvarint(out, data.size());
  out.append(data);
  return out;
}

constexpr std::uint8_t y_data = 0, y_window = 1, y_ping = 2, y_go_away = 3;
constexpr std::uint16_t y_syn = 1, y_ack = 2, y_fin = 4, y_rst = 8;
constexpr std::uint32_t y_window_size = 256 * 1024;

struct yamux_frame {
  std::uint8_t type;
  std::uint16_t flags;
  std::uint32_t id;
  std::uint32_t length;
  std::string payload;
};

std::uint32_t be32(std::string_view b) {
  return (std::uint32_t(std::uint8_t(b[0])) << 24) | (std::uint32_t(std::uint8_t(b[1])) << 16) |
         (std::uint32_t(std::uint8_t(b[2])) << 8) | std::uint32_t(std::uint8_t(b[3]));
}

std::vector<yamux_frame> parse_yamux(std::string_view bytes) {
  std::vector<yamux_frame> frames;
  while (!bytes.empty()) {
    REQUIRE(bytes.size() >= 12);
    REQUIRE(bytes[0] == 0);
    yamux_frame f{std::uint8_t(bytes[1]),
                  std::uint16_t((std::uint8_t(bytes[2]) << 8) | std::uint8_t(bytes[3])),
                  be32(bytes.substr(4)), be32(bytes.substr(8)), {}};
    bytes.remove_prefix(12);
    if (f.type == y_data) {
      REQUIRE(bytes.size() >= f.length);
      f.payload = std::string(bytes.substr(0, f.length));
      bytes.remove_prefix(f.length);
    }
    frames.push_back(std::move(f));
  }
  return frames;
}

std::string yamux_bytes(std::uint8_t type, std::uint16_t flags, std::uint32_t id,
                        std::uint32_t length, std::string_view payload = {}) {
  std::string out{char(0), char(type), char(flags >> 8), char(flags)};
  for (auto v : {id, length})
    for (int shift = 24; shift >= 0; shift -= 8)
      out.push_back(char(v >> shift));
  out.append(payload);
  return out;
}

/// Window updates that return credit (not the bare SYN/ACK/FIN/RST signals).
std::uint64_t credit_in(const std::vector<yamux_frame>& frames, int* count = nullptr) {
  std::uint64_t total = 0;
  for (const auto& f : frames) {
    if (f.type == y_window && f.length > 0) {
      total += f.length;
      if (count)
        ++*count;
    }
  }
  return total;
}

std::uint64_t data_in(const std::vector<yamux_frame>& frames) {
  std::uint64_t total = 0;
  for (const auto& f : frames)
    if (f.type == y_data)
      total += f.payload.size();
  return total;
}

std::string pattern(std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i)
    out[i] = static_cast<char>((i * 31 + i / 251) & 0xff);
  return out;
}

} // namespace

// -- mplex --------------------------------------------------------------------

TEST_CASE("mplex frames have the spec's bytes in both roles", "[p2p][muxer]") {
  auto a = make_mplex(true);
  auto b = make_mplex(false);
  CHECK(a->protocol() == "/mplex/6.7.0");

  // NewStream (flag 0) for id 0, named "0": header 0<<3|0, length 1, '0'.
  auto h0 = a->open_stream();
  CHECK(a->is_local(h0));
  auto new0 = a->take_output();
  CHECK(new0 == hex("000130"));
  // MessageInitiator (flag 2) for id 0 with "hi".
  REQUIRE(a->write(h0, "hi"));
  auto msg0 = a->take_output();
  CHECK(msg0 == hex("02026869"));
  // The second stream is id 1: header 1<<3|0 = 08, named "1".
  auto h1 = a->open_stream();
  auto new1 = a->take_output();
  CHECK(new1 == hex("080131"));

  std::vector<muxer_event> events;
  REQUIRE(b->feed(new0 + msg0 + new1, events));
  auto inbound = opened(events);
  REQUIRE(inbound.size() == 2);
  CHECK_FALSE(b->is_local(inbound[0]));
  CHECK(story(events, inbound[0]) == std::vector<std::string>{"opened", "data:hi"});

  // The receiver answers with the odd flags: MessageReceiver (1),
  // CloseReceiver (3), ResetReceiver (5, on id 1: 1<<3|5 = 0d).
  REQUIRE(b->write(inbound[0], "ok"));
  CHECK(b->take_output() == hex("01026f6b"));
  b->close(inbound[0]);
  CHECK(b->take_output() == hex("0300"));
  b->reset(inbound[1]);
  CHECK(b->take_output() == hex("0d00"));

  // The opener closes with CloseInitiator (4) and resets with ResetInitiator
  // (6, on id 1: 1<<3|6 = 0e).
  a->close(h0);
  CHECK(a->take_output() == hex("0400"));
  a->reset(h1);
  CHECK(a->take_output() == hex("0e00"));
}

TEST_CASE("mplex streams carry data both ways and half-close", "[p2p][muxer]") {
  auto w = make_mplex_wire();
  auto h = w.a->open_stream();
  REQUIRE(w.a->write(h, "ping"));
  w.pump();
  auto in = opened(w.b_events);
  REQUIRE(in.size() == 1);
  auto hb = in[0];
  CHECK(story(w.b_events, hb) == std::vector<std::string>{"opened", "data:ping"});

  REQUIRE(w.b->write(hb, "pong"));
  w.pump();
  CHECK(story(w.a_events, h) == std::vector<std::string>{"data:pong"});

  // Our close ends only our direction: the peer may still write.
  w.a->close(h);
  CHECK_FALSE(w.a->write(h, "too late"));
  w.pump();
  CHECK(story(w.b_events, hb).back() == "remote_closed");
  REQUIRE(w.b->write(hb, "still talking"));
  w.pump();
  CHECK(story(w.a_events, h).back() == "data:still talking");
  CHECK(w.a->stream_count() == 1);
  CHECK(w.b->stream_count() == 1);

  // Once both directions are closed the streams are forgotten.
  w.b->close(hb);
  w.pump();
  CHECK(story(w.a_events, h).back() == "remote_closed");
  CHECK(w.a->stream_count() == 0);
  CHECK(w.b->stream_count() == 0);
  CHECK_FALSE(w.b->write(hb, "gone"));
  // Handles keep telling who opened them, even after the stream is gone.
  CHECK(w.a->is_local(h));
  CHECK_FALSE(w.b->is_local(hb));
}

TEST_CASE("mplex drops data after the peer's close", "[p2p][muxer]") {
  auto b = make_mplex(false);
  std::vector<muxer_event> events;
  REQUIRE(b->feed(mplex_bytes(0, 0, "0") + mplex_bytes(0, 2, "before") + mplex_bytes(0, 4, "") +
                    mplex_bytes(0, 2, "after") + mplex_bytes(0, 4, ""),
                  events));
  auto in = opened(events);
  REQUIRE(in.size() == 1);
  CHECK(story(events, in[0]) ==
        std::vector<std::string>{"opened", "data:before", "remote_closed"});
  CHECK(b->stream_count() == 1);  // our direction is still open
}

TEST_CASE("mplex lets both sides use stream id 0 at once", "[p2p][muxer]") {
  auto w = make_mplex_wire();
  auto a_out = w.a->open_stream();
  auto b_out = w.b->open_stream();
  // Both sides name their first stream id 0.
  auto a_bytes = w.a->take_output();
  auto b_bytes = w.b->take_output();
  CHECK(a_bytes == hex("000130"));
  CHECK(b_bytes == hex("000130"));
  REQUIRE(w.b->feed(a_bytes, w.b_events));
  REQUIRE(w.a->feed(b_bytes, w.a_events));
  auto a_in = opened(w.a_events);
  auto b_in = opened(w.b_events);
  REQUIRE(a_in.size() == 1);
  REQUIRE(b_in.size() == 1);
  CHECK(a_in[0] != a_out);
  CHECK(b_in[0] != b_out);
  CHECK(w.a->stream_count() == 2);

  REQUIRE(w.a->write(a_out, "a->b on a's stream"));
  REQUIRE(w.a->write(a_in[0], "a->b on b's stream"));
  REQUIRE(w.b->write(b_out, "b->a on b's stream"));
  REQUIRE(w.b->write(b_in[0], "b->a on a's stream"));
  w.pump();
  CHECK(received(w.b_events, b_in[0]) == "a->b on a's stream");
  CHECK(received(w.b_events, b_out) == "a->b on b's stream");
  CHECK(received(w.a_events, a_in[0]) == "b->a on b's stream");
  CHECK(received(w.a_events, a_out) == "b->a on a's stream");

  // Resetting a's stream 0 leaves b's stream 0 alone.
  w.a->reset(a_out);
  w.pump();
  CHECK(story(w.b_events, b_in[0]).back() == "reset");
  CHECK(story(w.b_events, b_out) == std::vector<std::string>{"data:a->b on b's stream"});
  REQUIRE(w.b->write(b_out, "still here"));
  w.pump();
  CHECK(received(w.a_events, a_in[0]) == "b->a on b's streamstill here");
  CHECK(w.a->stream_count() == 1);
  CHECK(w.b->stream_count() == 1);
}

TEST_CASE("mplex reset forgets the stream and ignores frames in flight", "[p2p][muxer]") {
  auto w = make_mplex_wire();
  auto h = w.a->open_stream();
  w.pump();
  auto hb = opened(w.b_events).at(0);

  // The reset and a write cross on the wire.
  w.b->reset(hb);
  REQUIRE(w.a->write(h, "in flight"));
  w.pump();
  CHECK(story(w.a_events, h) == std::vector<std::string>{"reset"});
  CHECK(story(w.b_events, hb) == std::vector<std::string>{"opened"});
  CHECK(w.a->stream_count() == 0);
  CHECK(w.b->stream_count() == 0);
  CHECK_FALSE(w.a->write(h, "after reset"));
  CHECK_FALSE(w.b->write(hb, "after reset"));
  // Closing or resetting a forgotten stream sends nothing.
  w.a->close(h);
  w.a->reset(h);
  CHECK(w.a->take_output().empty());
}

TEST_CASE("mplex parses frames fed one byte at a time", "[p2p][muxer]") {
  auto a = make_mplex(true);
  auto h = a->open_stream();
  REQUIRE(a->write(h, "hello"));
  REQUIRE(a->write(h, pattern(300)));  // a two-byte length varint
  a->close(h);
  auto bytes = a->take_output();

  auto b = make_mplex(false);
  std::vector<muxer_event> events;
  for (char c : bytes)
    REQUIRE(b->feed(std::string_view(&c, 1), events));
  auto in = opened(events);
  REQUIRE(in.size() == 1);
  CHECK(story(events, in[0]) == std::vector<std::string>{"opened", "data:hello",
                                                         "data:" + pattern(300), "remote_closed"});
}

TEST_CASE("mplex chunks large writes to the frame limit", "[p2p][muxer]") {
  muxer_limits limits;
  limits.max_frame = 1000;
  auto w = make_mplex_wire(limits);
  auto h = w.a->open_stream();
  w.pump();
  auto payload = pattern(2500);
  REQUIRE(w.a->write(h, payload));
  auto bytes = w.a->take_output();
  auto frames = parse_mplex(bytes);
  REQUIRE(frames.size() == 3);
  CHECK(frames[0].data.size() == 1000);
  CHECK(frames[1].data.size() == 1000);
  CHECK(frames[2].data.size() == 500);
  for (const auto& f : frames)
    CHECK(f.flag == 2);
  REQUIRE(w.b->feed(bytes, w.b_events));
  CHECK(received(w.b_events, opened(w.b_events).at(0)) == payload);
}

TEST_CASE("mplex refuses an oversized frame from its header", "[p2p][muxer]") {
  muxer_limits limits;
  limits.max_frame = 16;
  auto at_limit = make_mplex(false, limits);
  std::vector<muxer_event> events;
  REQUIRE(at_limit->feed(mplex_bytes(0, 0, std::string(16, 'n')), events));
  CHECK(opened(events).size() == 1);

  auto b = make_mplex(false, limits);
  // Only the header and a 17-byte length: refused before the body arrives.
  auto r = b->feed(hex("00") + encode_uvarint(17), events);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("exceeds") != std::string::npos);
  // The frame boundaries are lost, so the muxer stays failed.
  CHECK_FALSE(b->feed(mplex_bytes(1, 0, "1"), events));

  // The default limit is the spec's 1 MiB.
  auto d = make_mplex(false);
  CHECK_FALSE(d->feed(hex("02") + encode_uvarint((1 << 20) + 1), events));
}

TEST_CASE("mplex rejects a reopened stream, an unknown flag and a bad varint", "[p2p][muxer]") {
  std::vector<muxer_event> events;
  auto b = make_mplex(false);
  REQUIRE(b->feed(mplex_bytes(5, 0, "5"), events));
  CHECK_FALSE(b->feed(mplex_bytes(5, 0, "5"), events));

  auto c = make_mplex(false);
  REQUIRE(c->feed(mplex_bytes(5, 0, "5"), events));
  CHECK_FALSE(c->feed(mplex_bytes(5, 7, ""), events));

  auto d = make_mplex(false);
  CHECK_FALSE(d->feed(hex("8000"), events));  // non-minimal varint header

  // A frame for a stream nobody opened is ignored, not fatal.
  auto e = make_mplex(false);
  events.clear();
  REQUIRE(e->feed(mplex_bytes(9, 2, "stray") + mplex_bytes(9, 1, "stray") +
                    mplex_bytes(9, 4, "") + mplex_bytes(9, 6, ""),
                  events));
  CHECK(events.empty());
}

TEST_CASE("mplex resets inbound streams beyond max_streams", "[p2p][muxer]") {
  muxer_limits limits;
  limits.max_streams = 2;
  auto a = make_mplex(true);
  auto b = make_mplex(false, limits);
  std::vector<stream_handle> mine{a->open_stream(), a->open_stream(), a->open_stream()};
  std::vector<muxer_event> a_events, b_events;
  REQUIRE(b->feed(a->take_output(), b_events));
  CHECK(opened(b_events).size() == 2);
  CHECK(b->stream_count() == 2);
  CHECK(b->streams_refused() == 1);
  // ResetReceiver for id 2: 2<<3|5 = 0x15, empty.
  auto refusal = b->take_output();
  CHECK(refusal == hex("1500"));
  REQUIRE(a->feed(refusal, a_events));
  CHECK(story(a_events, mine[2]) == std::vector<std::string>{"reset"});
  CHECK(a->stream_count() == 2);
  // Data still in flight on the refused stream is ignored.
  REQUIRE(b->feed(mplex_bytes(2, 2, "late"), b_events));
  CHECK(b_events.size() == 2);
}

// -- yamux --------------------------------------------------------------------

TEST_CASE("yamux frames have the spec's bytes and client ids are odd", "[p2p][muxer]") {
  auto c = make_yamux(true);
  auto s = make_yamux(false);
  CHECK(c->protocol() == "/yamux/1.0.0");

  // Opening: WindowUpdate (1) with SYN (1), stream 1, delta 0.
  auto h1 = c->open_stream();
  auto syn1 = c->take_output();
  CHECK(syn1 == hex("000100010000000100000000"));
  std::vector<muxer_event> events;
  REQUIRE(s->feed(syn1, events));
  auto in = opened(events);
  REQUIRE(in.size() == 1);
  // Accepting: WindowUpdate with ACK (2), delta 0.
  CHECK(s->take_output() == hex("000100020000000100000000"));

  // The client's next stream is 3; the server's first is 2.
  auto h3 = c->open_stream();
  CHECK(c->take_output() == hex("000100010000000300000000"));
  s->open_stream();
  CHECK(s->take_output() == hex("000100010000000200000000"));

  // Data (0), no flags, stream 1, length 2, "hi".
  REQUIRE(c->write(h1, "hi"));
  CHECK(c->take_output() == hex("0000000000000001000000026869"));
  // FIN (4) and RST (8) ride on window updates.
  c->close(h1);
  CHECK(c->take_output() == hex("000100040000000100000000"));
  c->reset(h3);
  CHECK(c->take_output() == hex("000100080000000300000000"));
}

TEST_CASE("yamux streams carry data both ways, half-close and reset", "[p2p][muxer]") {
  auto w = make_yamux_wire();
  auto h = w.a->open_stream();
  REQUIRE(w.a->write(h, "ping"));
  w.pump();
  auto hb = opened(w.b_events).at(0);
  CHECK(story(w.b_events, hb) == std::vector<std::string>{"opened", "data:ping"});
  CHECK(w.a->is_local(h));
  CHECK_FALSE(w.b->is_local(hb));

  REQUIRE(w.b->write(hb, "pong"));
  w.pump();
  CHECK(story(w.a_events, h) == std::vector<std::string>{"data:pong"});

  w.b->close(hb);
  CHECK_FALSE(w.b->write(hb, "too late"));
  w.pump();
  CHECK(story(w.a_events, h).back() == "remote_closed");
  REQUIRE(w.a->write(h, "still talking"));
  w.pump();
  CHECK(story(w.b_events, hb).back() == "data:still talking");
  CHECK(w.a->stream_count() == 1);
  CHECK(w.b->stream_count() == 1);

  w.a->close(h);
  w.pump();
  CHECK(story(w.b_events, hb).back() == "remote_closed");
  CHECK(w.a->stream_count() == 0);
  CHECK(w.b->stream_count() == 0);

  // A second stream, opened by the server, ends in a reset.
  auto hs = w.b->open_stream();
  REQUIRE(w.b->write(hs, "x"));
  w.pump();
  auto ha = opened(w.a_events).at(0);
  CHECK(story(w.a_events, ha) == std::vector<std::string>{"opened", "data:x"});
  w.a->reset(ha);
  REQUIRE(w.b->write(hs, "in flight"));  // crosses the reset: ignored
  w.pump();
  CHECK(story(w.b_events, hs) == std::vector<std::string>{"reset"});
  CHECK(story(w.a_events, ha) == std::vector<std::string>{"opened", "data:x"});
  CHECK(w.a->stream_count() == 0);
  CHECK(w.b->stream_count() == 0);
  CHECK_FALSE(w.b->write(hs, "after reset"));
}

TEST_CASE("yamux peer may open a stream with a Data frame carrying SYN", "[p2p][muxer]") {
  auto s = make_yamux(false);
  std::vector<muxer_event> events;
  REQUIRE(s->feed(yamux_bytes(y_data, y_syn | y_fin, 1, 5, "hello"), events));
  auto in = opened(events);
  REQUIRE(in.size() == 1);
  CHECK(story(events, in[0]) == std::vector<std::string>{"opened", "data:hello", "remote_closed"});
  auto frames = parse_yamux(s->take_output());
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].type == y_window);
  CHECK(frames[0].flags == y_ack);
  CHECK(frames[0].id == 1);
}

TEST_CASE("yamux parses frames fed one byte at a time", "[p2p][muxer]") {
  auto c = make_yamux(true);
  auto h = c->open_stream();
  REQUIRE(c->write(h, "hello"));
  REQUIRE(c->write(h, pattern(20000)));  // two Data frames
  c->close(h);
  auto bytes = c->take_output();

  auto s = make_yamux(false);
  std::vector<muxer_event> events;
  for (char ch : bytes)
    REQUIRE(s->feed(std::string_view(&ch, 1), events));
  auto in = opened(events);
  REQUIRE(in.size() == 1);
  CHECK(received(events, in[0]) == "hello" + pattern(20000));
  CHECK(story(events, in[0]).back() == "remote_closed");
}

TEST_CASE("yamux moves 1 MiB only thanks to window updates", "[p2p][muxer]") {
  auto w = make_yamux_wire();
  auto h = w.a->open_stream();
  auto payload = pattern(1 << 20);
  REQUIRE(w.a->write(h, payload));

  // Only the initial 256 KiB window goes out; the rest has to wait.
  auto first_bytes = w.a->take_output();
  auto first = parse_yamux(first_bytes);
  CHECK(data_in(first) == y_window_size);
  for (const auto& f : first)
    CHECK(f.payload.size() <= 16 * 1024);
  CHECK(w.a->take_output().empty());
  CHECK(w.a->pending_bytes() == payload.size() - y_window_size);
  REQUIRE(w.b->feed(first_bytes, w.b_events));

  std::uint64_t credit = 0;
  int updates = 0;
  std::uint64_t sent = data_in(first);
  for (int round = 0; round < 1000; ++round) {
    auto to_a = w.b->take_output();
    auto frames = parse_yamux(to_a);
    credit += credit_in(frames, &updates);
    REQUIRE(w.a->feed(to_a, w.a_events));
    auto to_b = w.a->take_output();
    if (to_a.empty() && to_b.empty())
      break;
    sent += data_in(parse_yamux(to_b));
    REQUIRE(w.b->feed(to_b, w.b_events));
  }
  auto hb = opened(w.b_events).at(0);
  CHECK(sent == payload.size());
  CHECK(received(w.b_events, hb) == payload);
  // 768 KiB beyond the first window needed at least that much credit.
  CHECK(credit >= payload.size() - y_window_size);
  CHECK(updates >= 3);
  CHECK(w.a->pending_bytes() == 0);

  // What a reset stream held back leaves the sum with it.
  auto second = w.a->open_stream();
  REQUIRE(w.a->write(second, pattern(2 * y_window_size)));
  CHECK(w.a->pending_bytes() == y_window_size);
  w.a->reset(second);
  CHECK(w.a->pending_bytes() == 0);
}

TEST_CASE("yamux batches window updates for small messages", "[p2p][muxer]") {
  auto c = make_yamux(true);
  auto s = make_yamux(false);
  std::vector<muxer_event> events;
  auto h = c->open_stream();
  REQUIRE(s->feed(c->take_output(), events));
  (void)s->take_output();  // the ACK

  // Half the window is 131072 bytes: 131 messages of 1000 bytes stay below
  // it and earn no update; the 132nd crosses it and earns exactly one.
  const std::string message(1000, 'm');
  std::vector<yamux_frame> replies;
  for (int i = 0; i < 131; ++i) {
    REQUIRE(c->write(h, message));
    REQUIRE(s->feed(c->take_output(), events));
    auto frames = parse_yamux(s->take_output());
    replies.insert(replies.end(), frames.begin(), frames.end());
  }
  CHECK(replies.empty());
  REQUIRE(c->write(h, message));
  REQUIRE(s->feed(c->take_output(), events));
  auto frames = parse_yamux(s->take_output());
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].type == y_window);
  CHECK(frames[0].flags == 0);
  CHECK(frames[0].id == 1);
  CHECK(frames[0].length == 132000);
}

TEST_CASE("yamux close sends FIN only after queued data", "[p2p][muxer]") {
  auto w = make_yamux_wire();
  auto h = w.a->open_stream();
  auto payload = pattern(300 * 1024);
  REQUIRE(w.a->write(h, payload));
  w.a->close(h);
  CHECK_FALSE(w.a->write(h, "after close"));
  auto first = w.a->take_output();
  for (const auto& f : parse_yamux(first))
    CHECK((f.flags & y_fin) == 0);
  REQUIRE(w.b->feed(first, w.b_events));
  w.pump();
  auto hb = opened(w.b_events).at(0);
  CHECK(received(w.b_events, hb) == payload);
  CHECK(story(w.b_events, hb).back() == "remote_closed");
  CHECK(w.a->stream_count() == 1);  // the peer's direction is still open
  w.b->close(hb);
  w.pump();
  CHECK(w.a->stream_count() == 0);
  CHECK(w.b->stream_count() == 0);
}

TEST_CASE("yamux write fails once the pending queue is full", "[p2p][muxer]") {
  muxer_limits limits;
  limits.max_pending_send = 1000;
  auto w = make_yamux_wire(limits);
  auto h = w.a->open_stream();
  REQUIRE(w.a->write(h, std::string(y_window_size + 1000, 'q')));
  auto full = w.a->write(h, "q");
  REQUIRE_FALSE(full);
  CHECK(full.error().code == errc::io);
  // Once the peer reads and returns credit, writing works again.
  w.pump();
  REQUIRE(w.a->write(h, "q"));
  w.pump();
  CHECK(received(w.b_events, opened(w.b_events).at(0)).size() == y_window_size + 1001);
}

TEST_CASE("yamux answers a ping with an ACK carrying the same opaque value", "[p2p][muxer]") {
  auto s = make_yamux(false);
  std::vector<muxer_event> events;
  REQUIRE(s->feed(yamux_bytes(y_ping, y_syn, 0, 0xdeadbeef), events));
  CHECK(s->take_output() == hex("0002000200000000deadbeef"));
  CHECK(events.empty());
  // An ACK to a ping we never sent needs no answer.
  REQUIRE(s->feed(yamux_bytes(y_ping, y_ack, 0, 7), events));
  CHECK(s->take_output().empty());
}

TEST_CASE("yamux GoAway resets every stream and refuses new ones", "[p2p][muxer]") {
  auto w = make_yamux_wire();
  auto h1 = w.a->open_stream();
  auto h2 = w.a->open_stream();
  w.b->open_stream();
  w.pump();
  auto inbound = opened(w.a_events).at(0);
  REQUIRE(w.a->stream_count() == 3);

  REQUIRE(w.a->feed(yamux_bytes(y_go_away, 0, 0, 0), w.a_events));
  CHECK(story(w.a_events, h1) == std::vector<std::string>{"reset"});
  CHECK(story(w.a_events, h2) == std::vector<std::string>{"reset"});
  CHECK(story(w.a_events, inbound) == std::vector<std::string>{"opened", "reset"});
  CHECK(w.a->stream_count() == 0);

  // No SYN for a new stream: it can never be written.
  auto late = w.a->open_stream();
  CHECK(w.a->take_output().empty());
  CHECK_FALSE(w.a->write(late, "x"));
  CHECK(w.a->stream_count() == 0);
  // A stream the peer still tries to open is refused.
  std::vector<muxer_event> events;
  REQUIRE(w.a->feed(yamux_bytes(y_window, y_syn, 4, 0), events));
  CHECK(events.empty());
  auto frames = parse_yamux(w.a->take_output());
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].flags == y_rst);
  CHECK(frames[0].id == 4);
}

TEST_CASE("yamux refuses data beyond the receive window", "[p2p][muxer]") {
  std::vector<muxer_event> events;
  // 100000 bytes stay below the update threshold, leaving 162144 of the window.
  auto open_and_fill = [&](muxer& s) {
    REQUIRE(s.feed(yamux_bytes(y_window, y_syn, 1, 0), events));
    REQUIRE(s.feed(yamux_bytes(y_data, 0, 1, 100000, std::string(100000, 'd')), events));
  };
  auto fits = make_yamux(false);
  open_and_fill(*fits);
  REQUIRE(fits->feed(yamux_bytes(y_data, 0, 1, 162144, std::string(162144, 'd')), events));

  auto over = make_yamux(false);
  open_and_fill(*over);
  auto r = over->feed(yamux_bytes(y_data, 0, 1, 162145, std::string(162145, 'd')), events);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("window") != std::string::npos);

  // A frame longer than any window is refused from its header alone.
  auto huge = make_yamux(false);
  CHECK_FALSE(huge->feed(yamux_bytes(y_data, y_syn, 1, y_window_size + 1), events));
}

TEST_CASE("yamux rejects bad versions, types and stream ids", "[p2p][muxer]") {
  std::vector<muxer_event> events;
  auto bad_version = make_yamux(false);
  auto frame = yamux_bytes(y_ping, y_syn, 0, 1);
  frame[0] = 1;
  auto r = bad_version->feed(frame, events);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("version") != std::string::npos);
  // The muxer stays failed: even a valid ping is refused now.
  CHECK_FALSE(bad_version->feed(yamux_bytes(y_ping, y_syn, 0, 1), events));
  CHECK(bad_version->take_output().empty());

  auto bad_type = make_yamux(false);
  CHECK_FALSE(bad_type->feed(yamux_bytes(4, 0, 0, 0), events));

  auto stream_zero = make_yamux(false);
  CHECK_FALSE(stream_zero->feed(yamux_bytes(y_data, 0, 0, 1, "x"), events));

  // A server must not see a client open an even id; nor a stream opened twice.
  auto parity = make_yamux(false);
  CHECK_FALSE(parity->feed(yamux_bytes(y_window, y_syn, 2, 0), events));
  auto twice = make_yamux(false);
  REQUIRE(twice->feed(yamux_bytes(y_window, y_syn, 1, 0), events));
  CHECK_FALSE(twice->feed(yamux_bytes(y_window, y_syn, 1, 0), events));

  // Frames for streams we do not know are ignored, not fatal.
  auto stray = make_yamux(false);
  events.clear();
  REQUIRE(stray->feed(yamux_bytes(y_data, 0, 7, 3, "abc") + yamux_bytes(y_window, 0, 7, 10) +
                        yamux_bytes(y_window, y_fin, 7, 0),
                      events));
  CHECK(events.empty());
}

TEST_CASE("yamux resets inbound streams beyond max_streams", "[p2p][muxer]") {
  muxer_limits limits;
  limits.max_streams = 1;
  auto c = make_yamux(true);
  auto s = make_yamux(false, limits);
  auto first = c->open_stream();
  auto second = c->open_stream();
  REQUIRE(c->write(second, "refused"));
  std::vector<muxer_event> c_events, s_events;
  REQUIRE(s->feed(c->take_output(), s_events));
  CHECK(opened(s_events).size() == 1);
  CHECK(s_events.size() == 1);  // no data event for the refused stream
  CHECK(s->stream_count() == 1);
  CHECK(s->streams_refused() == 1);
  auto reply = s->take_output();
  auto frames = parse_yamux(reply);
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].flags == y_ack);
  CHECK(frames[0].id == 1);
  CHECK(frames[1].type == y_window);
  CHECK(frames[1].flags == y_rst);
  CHECK(frames[1].id == 3);
  REQUIRE(c->feed(reply, c_events));
  CHECK(story(c_events, first).empty());
  CHECK(story(c_events, second) == std::vector<std::string>{"reset"});
  CHECK(c->stream_count() == 1);
}

TEST_CASE("make_muxer picks the muxer by protocol id", "[p2p][muxer]") {
  auto m = make_muxer("/mplex/6.7.0", true);
  REQUIRE(m);
  CHECK(m->protocol() == mplex_protocol);
  auto y = make_muxer("/yamux/1.0.0", false);
  REQUIRE(y);
  CHECK(y->protocol() == yamux_protocol);
  CHECK(make_muxer("/quic-mux/1", true) == nullptr);
}
