// The web app's values beside the agent's (app_record.hpp): exact comparison within one scale
// division, the record's `app` and `discrepancy` members, and which stable deck weight is the
// one the operator took.
#include "weighlink/agent/app_record.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "weighlink/record/exact_json.hpp"

using namespace weighlink::agent;
using weighlink::scale::Decimal;
namespace json = boost::json;

namespace {

Decimal d(const char* text) { return *Decimal::parse(text); }

}  // namespace

TEST_CASE("app record: values within one division agree, across decimal places") {
  CHECK(within(d("27000"), d("27010"), d("10")));
  CHECK_FALSE(within(d("27000"), d("27011"), d("10")));
  CHECK(within(d("12.34"), d("12.3"), d("0.05")));
  CHECK(within(d("-5"), d("5"), d("10")));
  CHECK_FALSE(within(d("0.001"), d("0"), d("0")));
}

TEST_CASE("app record: a part differs when the agent lacks it or it is more than a division off") {
  const std::vector<PartValues> parts{
      {"axle 1", d("7000"), std::nullopt, "scale_not_stable: did not settle"},
      {"axle 2", d("8000"), d("8010"), {}},
      {"axle 3", std::nullopt, d("9000"), {}},  // the app did not say: not a discrepancy
      {"gvw", d("15000"), d("8010"), {}}};
  const auto diff = differing(parts, d("10"));
  REQUIRE(diff.size() == 2);
  CHECK(diff[0].part == "axle 1");
  CHECK(diff[1].part == "gvw");
  CHECK(differing(parts, d("20000")).size() == 1);  // only the axle the agent has no value for
}

TEST_CASE("app record: the payload gains the app's parts, and a flagged discrepancy") {
  json::object payload{{"gvw", "8010"}};
  annotate_record(payload,
                  {{"axle 1", d("7000"), std::nullopt, "scale_not_stable: moving"},
                   {"gvw", d("15000.5"), d("8010"), {}}},
                  d("10"), "kg", json::object{{"source", "truconnect"}});
  const auto text = weighlink::record::serialize_exact(payload);
  // Numbers leave as the exact decimals they were, never through binary floating point.
  CHECK(text.find(R"("app":{"source":"truconnect","parts":[{"part":"axle 1","weight":7000},)"
                  R"({"part":"gvw","weight":15000.5}],"unit":"kg"})") != std::string::npos);
  CHECK(text.find(R"("discrepancy":{"flagged":true,"division":10,"unit":"kg","parts":[)") !=
        std::string::npos);
  CHECK(
      text.find(R"({"part":"axle 1","app":7000,"agent":null,"note":"scale_not_stable: moving"})") !=
      std::string::npos);
  CHECK(text.find(R"({"part":"gvw","app":15000.5,"agent":8010,"difference":-6990.5})") !=
        std::string::npos);

  json::object agreed;
  annotate_record(agreed, {{"gvw", d("27000"), d("27005"), {}}}, d("10"), "kg");
  CHECK(agreed.contains("app"));
  CHECK_FALSE(agreed.contains("discrepancy"));
}

TEST_CASE("app record: the weight taken is the one the app's GVW names, else the newest") {
  using From = TakeChoice::From;
  const std::vector<Decimal> plateaus{d("12000"), d("27000"), d("26500")};
  SUBCASE("the decks still show it") {
    auto c = choose_take_weight(plateaus, d("27000"), d("27000"), d("10"));
    CHECK(c.from == From::current);
  }
  SUBCASE("the truck left: the earlier stable weight the app took, not the newest") {
    auto c = choose_take_weight(plateaus, std::nullopt, d("27005"), d("10"));
    CHECK(c.from == From::earlier);
    CHECK(c.plateau == 1);
    CHECK(c.reason.find("earlier stable weight") != std::string::npos);
  }
  SUBCASE("the app's GVW matches nothing: the weight on the decks now") {
    auto c = choose_take_weight(plateaus, d("26500"), d("30000"), d("10"));
    CHECK(c.from == From::current);
  }
  SUBCASE("nothing on the decks and no match: the vehicle's newest stable weight") {
    auto c = choose_take_weight(plateaus, std::nullopt, d("30000"), d("10"));
    CHECK(c.from == From::earlier);
    CHECK(c.plateau == 2);
  }
  SUBCASE("no app GVW, no stable weight at all: none, the caller waits for one") {
    auto c = choose_take_weight({}, std::nullopt, std::nullopt, d("10"));
    CHECK(c.from == From::none);
  }
}

TEST_CASE("app record: a sum is exact across decimal places and refuses what does not fit") {
  CHECK(sum({d("7000"), d("8000.5"), d("0.25")})->to_string() == "15000.75");
  CHECK(sum({})->to_string() == "0");
  CHECK_FALSE(sum({Decimal{INT64_MAX, 0}, d("1")}).has_value());
}
