// Pure parts of the agent: exact JSON numbers for TruConnect frames, and the latest-wins hand-off
// of readings from a reader thread to the io thread.
#include "weighlink/agent/truconnect.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "weighlink/agent/live_state.hpp"

namespace json = boost::json;
using weighlink::agent::exact_number;
using weighlink::agent::LatestReading;
using weighlink::agent::serialize_exact;
using weighlink::scale::Decimal;

TEST_CASE("truconnect: weights leave as the exact decimal, never through a double") {
  CHECK(serialize_exact(exact_number(*Decimal::parse("32540"))) == "32540");
  CHECK(serialize_exact(exact_number(*Decimal::parse("12.50"))) == "12.50");
  CHECK(serialize_exact(exact_number(*Decimal::parse("-0.005"))) == "-0.005");
  // A whole value with decimal places is a plain integer.
  CHECK(serialize_exact(exact_number(*Decimal::parse("1200.0"))) == "1200");
  // 0.1 + 0.2 style values stay as shown (a double would print 0.30000000000000004 or 3E-1).
  CHECK(serialize_exact(json::object{{"w", exact_number(*Decimal::parse("0.3"))}}) ==
        R"({"w":0.3})");
  // Nested in arrays and objects, with strings escaped as JSON requires.
  json::object o{{"decks", json::array{exact_number(*Decimal::parse("1.5")), 2}},
                 {"plate", "KCA \"1\"\n"}};
  CHECK(serialize_exact(o) == R"({"decks":[1.5,2],"plate":"KCA \"1\"\n"})");
  CHECK(json::parse(serialize_exact(o)).at("decks").as_array()[0].as_double() == 1.5);
}

TEST_CASE("truconnect: a tagged value that is not a decimal is written as the object it is") {
  // Browser text can never become raw JSON: only a well-formed decimal is unwrapped.
  json::object evil{{std::string_view("\0decimal", 8), "1,\"x\":2"}};
  const auto text = serialize_exact(evil);
  CHECK(json::parse(text).is_object());
  CHECK(json::parse(text).as_object().size() == 1);
}

TEST_CASE("live state: readings hand over latest-wins with one pending hand-off") {
  LatestReading slot;
  weighlink::scale::Reading r;
  r.scale = "main";
  r.seq = 1;
  CHECK(slot.put(r));  // the first schedules a take
  r.seq = 2;
  CHECK_FALSE(slot.put(r));  // one is pending already
  r.seq = 3;
  CHECK_FALSE(slot.put(r));
  auto taken = slot.take();
  REQUIRE(taken);
  CHECK(taken->first.seq == 3);  // the newest
  CHECK(taken->second == 3);     // and how many arrived
  CHECK_FALSE(slot.take());      // nothing new
  r.seq = 4;
  CHECK(slot.put(r));  // after a take, the next put schedules again
  r.stale = true;
  r.seq = 4;
  CHECK_FALSE(slot.put(r));
  taken = slot.take();
  REQUIRE(taken);
  CHECK(taken->first.stale);  // a stale marker is never lost behind an older reading
  CHECK(taken->second == 1);  // stale repeats are not counted as readings
}
