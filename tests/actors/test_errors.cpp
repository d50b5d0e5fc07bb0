// annals' error category: a core error code survives an actor boundary and
// renders as "cause: detail", not as an opaque runtime_error string.
#include "actors/archive_builder.hpp"
#include "actors/errors.hpp"
#include "actors/node.hpp"
#include "actors/signal_bus.hpp"
#include "storage/store.hpp"
#include "tests/temp_dir.hpp"

#include <caf/all.hpp>
#include <catch2/catch.hpp>

using namespace annals;

TEST_CASE("a core error code survives the trip through CAF", "[actors][errors]") {
  for (auto code : {errc::invalid_argument, errc::malformed, errc::verification_failed,
                    errc::unsupported, errc::not_found, errc::io, errc::conflict,
                    errc::missing_key}) {
    auto back = from_caf_error(to_caf_error(code, "detail"));
    REQUIRE(back);
    CHECK(back->code == code);
    CHECK(back->message == "detail");
  }
  // CAF's own errors are not mistaken for ours.
  CHECK_FALSE(from_caf_error(caf::make_error(caf::sec::request_timeout)));
  CHECK_FALSE(from_caf_error(caf::error{}));
}

TEST_CASE("an actor's refusal keeps its code and renders as cause and detail",
          "[actors][errors]") {
  test::temp_dir dir("annals-errors");
  std::shared_ptr<store> db = std::move(*store::open(dir / "db"));
  node_system_config cfg;
  caf::actor_system sys{cfg};
  auto bus = sys.spawn(signal_bus);
  auto builder = sys.spawn(archive_builder, archive_builder_config{dir.path(), {}, "test", "n", {}},
                           db, bus);
  auto unknown = private_key::generate().public_key().community_id();
  caf::scoped_actor self{sys};
  caf::error refused;
  self->request(builder, std::chrono::seconds(10), build_atom::value,
                build_job{unknown, 100, 10})
    .receive([](const build_outcome&) { FAIL("built archives of an unknown community"); },
             [&](const caf::error& err) { refused = err; });
  auto code = from_caf_error(refused);
  REQUIRE(code);
  CHECK(code->code == errc::not_found);
  CHECK(sys.render(refused) == "not found: unknown community " + unknown);
  self->send_exit(builder, caf::exit_reason::user_shutdown);
  self->send_exit(bus, caf::exit_reason::user_shutdown);
}
