#pragma once
// Recording one print of a weighing's ticket as a weighlink.ticket_printed mutation, shared by the
// tickets' route (POST /v1/tickets/{seq}/print) and the station's printers (devices/printer/), so
// that original and duplicate numbering stays one sequence per weighing whoever prints.
// Threading: io thread only; `done` is called on the io thread (through `post`).

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "weighlink/agent/clock.hpp"
#include "weighlink/sync/outbox.hpp"

namespace weighlink::agent {

inline constexpr std::string_view kTicketPrintedKind = "weighlink.ticket_printed";

struct TicketPrintEnv {
  std::string station_id;
  sync::Outbox* outbox = nullptr;
  const Clock* clock = nullptr;
  std::function<void(std::function<void()>)> post;  // runs on the io thread
};

struct TicketPrintOrder {
  std::uint64_t seq = 0;
  std::string weighing_key;  // the weighing's idempotency key
  std::string key;           // the print's idempotency key
  std::string request_hash;
  std::string format;  // html | pdf | escpos | cups
  std::string operator_id;
  boost::json::object extra;  // further payload members (the printer's id and job)
  // State written in the same transaction as the print, given its number (a printer's job: the
  // job exists exactly when its print is recorded). Unset: none.
  std::function<std::vector<sync::StateWrite>(std::uint64_t number)> writes;
};

// Records `order` as print number (recorded count + 1). Prints of one weighing are recorded one
// after another across the agent: the next starts when the one before is on disk. A key already
// in the outbox is not recorded again: `done` gets {replayed, that row}, whatever its kind and
// request (the caller decides between a replay and a conflict).
void record_ticket_print(const TicketPrintEnv& env, TicketPrintOrder order,
                         std::function<void(sync::EnqueueResult)> done);

// The recorded prints of weighing `seq` (0: none).
[[nodiscard]] std::uint64_t ticket_print_count(sync::Outbox& outbox, std::uint64_t seq);

}  // namespace weighlink::agent
