#include "weighlink/agent/frame_flags.hpp"

#include <doctest/doctest.h>

using std::chrono::milliseconds;
using std::chrono::seconds;
using weighlink::agent::FlaggedFrames;
using weighlink::scale::Decimal;
using weighlink::scale::FlagReason;
using weighlink::scale::Reading;
using weighlink::scale::ReadingFlag;

namespace {

const weighlink::agent::SteadyTime t0{};

Reading zedem(bool mismatch) {
  Reading r;
  r.scale = "deck";
  r.unit = "kg";
  r.weight = Decimal{16000, 0};
  if (mismatch) r.flag = ReadingFlag{FlagReason::total_mismatch, {16010, 0}, {16000, 0}};
  return r;
}

}  // namespace

TEST_CASE("flagged frames: every one is counted, one warning per minute with the ones held back") {
  FlaggedFrames flags;
  CHECK_FALSE(flags.note(zedem(false), t0));  // a consistent frame is neither counted nor logged
  CHECK(flags.count(FlagReason::total_mismatch) == 0);

  const auto first = flags.note(zedem(true), t0);
  REQUIRE(first);
  CHECK(first->find("scale deck") != std::string::npos);
  CHECK(first->find("total 16010 kg") != std::string::npos);
  CHECK(first->find("decks 16000 kg") != std::string::npos);
  CHECK(first->find("more flagged") == std::string::npos);

  // Within the minute: counted, not logged.
  CHECK_FALSE(flags.note(zedem(true), t0 + seconds(1)));
  CHECK_FALSE(flags.note(zedem(true), t0 + seconds(59)));
  CHECK(flags.count(FlagReason::total_mismatch) == 3);

  // A minute after the first line: the next line says how many were held back.
  const auto next = flags.note(zedem(true), t0 + seconds(60));
  REQUIRE(next);
  CHECK(next->find("(2 more flagged frame(s) since the last line)") != std::string::npos);
  CHECK(flags.count(FlagReason::total_mismatch) == 4);

  // A quiet spell, then one more: logged at once, nothing held back.
  const auto later = flags.note(zedem(true), t0 + seconds(600));
  REQUIRE(later);
  CHECK(later->find("more flagged") == std::string::npos);
}

TEST_CASE("flagged frames: the period is the limiter's argument, so a test needs no clock") {
  FlaggedFrames flags(milliseconds(10));
  CHECK(flags.note(zedem(true), t0));
  CHECK_FALSE(flags.note(zedem(true), t0 + milliseconds(9)));
  CHECK(flags.note(zedem(true), t0 + milliseconds(10)));
}
