#pragma once
// The recent weighings (GET /v1/weighings): the query string read into an outbox search, and a
// stored weighing as one item of the answer. Pure functions.
// Threading: free functions, safe from any thread.

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "weighlink/sync/outbox.hpp"

namespace weighlink::agent {

inline constexpr std::size_t kWeighingsDefaultLimit = 50;
inline constexpr std::size_t kWeighingsMaxLimit = 200;

// Decimal digits only (a seq, a limit in a path or query) as a number; nullopt otherwise.
[[nodiscard]] std::optional<std::uint64_t> parse_count(std::string_view text);

// Why a query was refused: the parameter and what is wrong with it.
struct QueryRefusal {
  std::string parameter;
  std::string message;
};

// plate, q, from, to (a date YYYY-MM-DD, UTC, or an RFC 3339 time; `to` includes its whole day or
// its millisecond), state (queued | sent | dead), limit (1..200), before (a seq).
[[nodiscard]] std::variant<sync::WeighingQuery, QueryRefusal> parse_weighings_query(
    const std::vector<std::pair<std::string, std::string>>& params);

// queued (pending), sent (acknowledged), dead (dead or discarded).
[[nodiscard]] std::string_view weighing_state(sync::MutationState state);

// One item of GET /v1/weighings from a stored weighing.captured row (`archived`: from the
// evidence archive).
[[nodiscard]] boost::json::object weighing_item(const sync::StoredRecord& record);

}  // namespace weighlink::agent
