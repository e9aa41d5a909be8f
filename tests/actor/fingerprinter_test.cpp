#define CAF_SUITE fingerprinter
#include "fixture.hpp"

#include "optischema/actors/fingerprinter.hpp"

using namespace optischema;
using namespace optischema::actors;
using namespace optischema::test;

namespace {

struct fixture : actor_fixture {
  fingerprinter_actor aut = sys.spawn(fingerprinter, size_t{100});
  ~fixture() override {
    anon_send_exit(aut, caf::exit_reason::user_shutdown);
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(fingerprinter_tests, fixture)

CAF_TEST(one result per text in order and a cache for repeats) {
  text_list texts{"SELECT * FROM t WHERE a = 1", "SELECT * FROM t WHERE a = 2",
                  "not sql at all"};
  fingerprint_list got;
  auto first = self->request(aut, caf::infinite, atom::fprint_v, texts);
  consume_messages();
  first.receive([&](const fingerprint_list& xs) { got = xs; },
                [&](const caf::error& err) { CAF_FAIL(sys.render(err)); });
  CAF_REQUIRE_EQUAL(got.size(), 3u);
  CAF_CHECK_EQUAL(got[0].fingerprint, got[1].fingerprint);
  CAF_CHECK_EQUAL(got[0].normalized, "SELECT * FROM t WHERE a = $1");
  CAF_CHECK(got[2].parse_error);
  CAF_CHECK_NOT_EQUAL(got[2].fingerprint, got[0].fingerprint);
  auto again = self->request(aut, caf::infinite, atom::fprint_v,
                             text_list{texts[0]});
  consume_messages();
  again.receive([&](const fingerprint_list& xs) { got = xs; },
                [&](const caf::error& err) { CAF_FAIL(sys.render(err)); });
  CAF_CHECK_EQUAL(got.size(), 1u);
  auto& st
    = deref<fingerprinter_actor::stateful_base<fingerprinter_state>>(aut).state;
  CAF_CHECK_EQUAL(st.cache.hits(), 1u);
  CAF_CHECK_EQUAL(st.cache.misses(), 3u);
}

CAF_TEST_FIXTURE_SCOPE_END()
