// record_ticket_print (ticket_print.hpp): one print of a weighing as a chained mutation, its number
// from the durable count the print before wrote.
#include "tickets/ticket_print.hpp"

#include <deque>
#include <map>
#include <memory>
#include <utility>

#include "weighlink/agent/tickets.hpp"
#include "weighlink/base/timestamp.hpp"
#include "weighlink/record/exact_json.hpp"

namespace weighlink::agent {
namespace json = boost::json;
namespace {

struct Pending {
  TicketPrintEnv env;
  TicketPrintOrder order;
  std::function<void(sync::EnqueueResult)> done;
};

// Prints of one weighing waiting behind the one being recorded, per outbox (an agent has one;
// tests run several). Io thread only, like every caller.
using Waiting =
    std::map<std::pair<const sync::Outbox*, std::uint64_t>, std::deque<std::shared_ptr<Pending>>>;
Waiting& waiting() {
  static Waiting w;
  return w;
}

void start(const std::shared_ptr<Pending>& p);

void finish(const std::shared_ptr<Pending>& p, sync::EnqueueResult result) {
  p->done(std::move(result));
  auto& all = waiting();
  const auto it = all.find({p->env.outbox, p->order.seq});
  if (it == all.end()) return;
  it->second.pop_front();
  if (it->second.empty()) {
    all.erase(it);
    return;
  }
  start(it->second.front());
}

void start(const std::shared_ptr<Pending>& p) {
  auto& outbox = *p->env.outbox;
  const auto& o = p->order;
  if (auto existing = outbox.find(o.key)) {
    return finish(p, sync::EnqueueResult{sync::EnqueueStatus::replayed, std::move(*existing), {}});
  }
  const std::uint64_t number = ticket_print_count(outbox, o.seq) + 1;
  const auto now = p->env.clock->now();
  const auto& station = p->env.station_id;
  json::object printed{{"station_id", station},
                       {"seq", o.seq},
                       {"record_id", station + "/" + std::to_string(o.seq)},
                       {"weighing_key", o.weighing_key},
                       {"print_number", number},
                       {"copy", number <= 1 ? "original" : "duplicate"},
                       {"format", o.format},
                       {"operator", o.operator_id},
                       {"printed_at", base::format_utc_timestamp_ms(now)}};
  for (const auto& [k, v] : o.extra) printed[k] = v;
  sync::NewMutation m;
  m.idempotency_key = o.key;
  m.kind = std::string(kTicketPrintedKind);
  m.payload_json = record::serialize_exact(printed);
  m.request_hash = o.request_hash;
  m.created_at_ms = to_ms(now);
  m.state_writes.push_back({ticket_print_count_key(o.seq), std::to_string(number)});
  if (o.writes) {
    for (auto& w : o.writes(number)) m.state_writes.push_back(std::move(w));
  }
  outbox.enqueue(std::move(m), [p](sync::EnqueueResult result) {
    p->env.post([p, result = std::move(result)]() mutable { finish(p, std::move(result)); });
  });
}

}  // namespace

std::uint64_t ticket_print_count(sync::Outbox& outbox, std::uint64_t seq) {
  const auto stored = outbox.get_state(ticket_print_count_key(seq));
  if (!stored) return 0;
  std::uint64_t n = 0;
  for (char c : *stored) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

void record_ticket_print(const TicketPrintEnv& env, TicketPrintOrder order,
                         std::function<void(sync::EnqueueResult)> done) {
  auto p = std::make_shared<Pending>(Pending{env, std::move(order), std::move(done)});
  auto& queue = waiting()[{env.outbox, p->order.seq}];
  queue.push_back(p);
  if (queue.size() == 1) start(p);
}

}  // namespace weighlink::agent
