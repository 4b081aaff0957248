#pragma once
// The workstation's durable state and how an accepted record fills the book (station_*.cpp).

#include <boost/json/object.hpp>
#include <string_view>

#include "weighlink/agent/station.hpp"
#include "weighlink/sync/outbox.hpp"

namespace weighlink::agent::station_state {

// Outbox state keys: the transactions, the stored tares, the recently seen plates.
inline constexpr std::string_view kTransactions = "station/transactions";
inline constexpr std::string_view kTares = "station/tares";
inline constexpr std::string_view kPlates = "station/plates";

// Fills the passes recorded by `row` (its seq, hash, weight, unit, time) and, for a closing
// record, the transaction's gross, tare and net as the record states them.
void fill(StationBook& book, const sync::OutboxRow& row);

// GET /v1/tares item: the plate, the weighing, its age and whether it is still usable.
[[nodiscard]] boost::json::object tare_json(const StoredTare& tare, std::int64_t now_ms,
                                            const StationConfig& config);

}  // namespace weighlink::agent::station_state
