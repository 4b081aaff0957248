#pragma once
// Internal to weighlink::recovery (drill, dr-status): JSON for files and lines people read too.

#include <boost/json/value.hpp>
#include <string>

namespace weighlink::recovery {

// json::serialize, but with decimals as people write them: "0.293126" and "14400", not
// Boost.JSON's "2.93126E-1" and "1.44E4" (at most six decimals; NaN and infinities as null).
[[nodiscard]] std::string to_readable_json(const boost::json::value& value);

}  // namespace weighlink::recovery
