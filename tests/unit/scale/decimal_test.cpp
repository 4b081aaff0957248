#include "weighlink/scale/decimal.hpp"

#include <doctest/doctest.h>

#include <limits>

using weighlink::scale::Decimal;

TEST_CASE("decimal: parses indicator-style numbers exactly") {
  CHECK(Decimal::parse("  -0012.50") == Decimal{-1250, 2});
  CHECK(Decimal::parse("32540") == Decimal{32540, 0});
  CHECK(Decimal::parse("0.000") == Decimal{0, 3});
  CHECK(Decimal::parse("+5") == Decimal{5, 0});
  CHECK(Decimal::parse("   7.650") == Decimal{7650, 3});
  CHECK(Decimal::parse("-   12.5") == Decimal{-125, 1});
  CHECK(Decimal::parse(".5") == Decimal{5, 1});
  CHECK(Decimal::parse("5.") == Decimal{5, 0});
  CHECK(Decimal::parse("000000000000000000000001") == Decimal{1, 0});
  CHECK(Decimal::parse("999999999999999999") == Decimal{999999999999999999, 0});
  CHECK(Decimal::parse("0.123456789") == Decimal{123456789, 9});
}

TEST_CASE("decimal: refuses what is not a number") {
  for (const char* bad : {"", " ", "-", "+", ".", "-.", "1.2.3", "12a", "1e5", "1 2", "--1", "1-",
                          "0x10", "1,5", "----------", "1234567890123456789", "0.1234567890"}) {
    INFO(bad);
    CHECK_FALSE(Decimal::parse(bad).has_value());
  }
}

TEST_CASE("decimal: formats with the decimals it carries and round-trips") {
  CHECK(Decimal{-1250, 2}.to_string() == "-12.50");
  CHECK(Decimal{5, 3}.to_string() == "0.005");
  CHECK(Decimal{-5, 3}.to_string() == "-0.005");
  CHECK(Decimal{0, 0}.to_string() == "0");
  CHECK(Decimal{0, 2}.to_string() == "0.00");
  CHECK(Decimal{32540, 0}.to_string() == "32540");
  CHECK(Decimal{std::numeric_limits<std::int64_t>::min(), 0}.to_string() == "-9223372036854775808");
  for (const char* text :
       {"-12.50", "0.005", "32540", "0.000", "-0.89", "999999999999999999", "0.123456789"}) {
    INFO(text);
    const auto d = Decimal::parse(text);
    REQUIRE(d);
    CHECK(d->to_string() == text);
  }
  // Negative zero is not a displayed value.
  CHECK(Decimal::parse("-0.00")->to_string() == "0.00");
}

TEST_CASE("decimal: rescales up only, and refuses overflow") {
  CHECK(Decimal{125, 1}.rescaled(3) == Decimal{12500, 3});
  CHECK(Decimal{125, 1}.rescaled(1) == Decimal{125, 1});
  CHECK_FALSE(Decimal{125, 1}.rescaled(0).has_value());
  CHECK_FALSE(Decimal{125, 1}.rescaled(10).has_value());
  CHECK_FALSE(Decimal{999999999999999999, 0}.rescaled(2).has_value());
  CHECK_FALSE(Decimal{-999999999999999999, 0}.rescaled(2).has_value());
}

TEST_CASE("decimal: compares numerically across decimal places") {
  CHECK(Decimal{150, 2}.compare(Decimal{15, 1}) == std::strong_ordering::equal);
  CHECK_FALSE(Decimal{150, 2} == Decimal{15, 1});  // representation differs
  CHECK(Decimal{-15, 1}.compare(Decimal{-149, 2}) == std::strong_ordering::less);
  CHECK(Decimal{-149, 2}.compare(Decimal{-15, 1}) == std::strong_ordering::greater);
  CHECK(Decimal{0, 0}.compare(Decimal{0, 3}) == std::strong_ordering::equal);
  CHECK(Decimal{1, 9}.compare(Decimal{0, 0}) == std::strong_ordering::greater);
  CHECK(Decimal{-1, 9}.compare(Decimal{0, 0}) == std::strong_ordering::less);
  // Values whose rescaling would overflow int64 still compare correctly.
  CHECK(Decimal{999999999999999999, 0}.compare(Decimal{999999999999999999, 9}) ==
        std::strong_ordering::greater);
  CHECK(Decimal{-999999999999999999, 0}.compare(Decimal{-999999999999999999, 9}) ==
        std::strong_ordering::less);
  CHECK(Decimal{32540, 0}.compare(Decimal{32539999, 3}) == std::strong_ordering::greater);
}

TEST_CASE("decimal: adds and subtracts exactly at the finer places, refusing overflow") {
  CHECK(Decimal{15, 1}.plus(Decimal{225, 2}) == Decimal{375, 2});  // 1.5 + 2.25
  CHECK(Decimal{8200, 0}.minus(Decimal{99995, 1}) == Decimal{-17995, 1});
  CHECK(Decimal{-5, 0}.plus(Decimal{5, 0}) == Decimal{0, 0});
  // Never through a double: 0.1 + 0.2 is 0.3.
  CHECK(Decimal::parse("0.1")->plus(*Decimal::parse("0.2"))->to_string() == "0.3");
  const Decimal max{std::numeric_limits<std::int64_t>::max(), 0};
  const Decimal min{std::numeric_limits<std::int64_t>::min(), 0};
  CHECK_FALSE(max.plus(Decimal{1, 0}));
  CHECK_FALSE(min.minus(Decimal{1, 0}));
  CHECK_FALSE(min.plus(Decimal{-1, 0}));
  CHECK_FALSE(max.minus(Decimal{-1, 0}));
  CHECK(max.minus(Decimal{1, 0}) == Decimal{std::numeric_limits<std::int64_t>::max() - 1, 0});
  // A value that cannot be rescaled to the other's places does not fit either.
  CHECK_FALSE(Decimal{999999999999999999, 0}.plus(Decimal{1, 2}));
}

TEST_CASE("decimal: multiplies by a power of ten exactly (tonnes to kilograms)") {
  CHECK(Decimal{12345, 3}.times_pow10(3) == Decimal{12345, 0});  // 12.345 t
  CHECK(Decimal{123, 1}.times_pow10(3) == Decimal{12300, 0});    // 12.3 t
  CHECK(Decimal{5, 0}.times_pow10(3) == Decimal{5000, 0});
  CHECK(Decimal{123456, 5}.times_pow10(3) == Decimal{123456, 2});  // 1.23456 t = 1234.56 kg
  CHECK_FALSE(Decimal{999999999999999999, 0}.times_pow10(3));
  CHECK_FALSE(Decimal{1, 0}.times_pow10(-1));
}

TEST_CASE("decimal: half rounded half up, as Math.round(w / 2)") {
  CHECK(Decimal{8200, 0}.half_rounded_up() == Decimal{4100, 0});
  CHECK(Decimal{8201, 0}.half_rounded_up() == Decimal{4101, 0});
  CHECK(Decimal{5, 1}.half_rounded_up() == Decimal{3, 1});    // 0.5 -> 0.3 (0.25 up)
  CHECK(Decimal{-5, 0}.half_rounded_up() == Decimal{-2, 0});  // Math.round(-2.5) = -2
  CHECK(Decimal{-3, 0}.half_rounded_up() == Decimal{-1, 0});  // Math.round(-1.5) = -1
  CHECK(Decimal{-4, 0}.half_rounded_up() == Decimal{-2, 0});
  const auto max = std::numeric_limits<std::int64_t>::max();
  CHECK(Decimal{max, 0}.half_rounded_up() == Decimal{max / 2 + 1, 0});  // no overflow
}
