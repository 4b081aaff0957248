#pragma once
// The tickets' routes beside the core API (docs/local-api.md, "Weighings and tickets"):
// GET /v1/weighings, GET /v1/tickets/{seq}, GET /v1/tickets/{seq}.pdf and
// POST /v1/tickets/{seq}/print, which records a weighlink.ticket_printed mutation.
// Threading: io thread only (as Api); outbox answers come back through ApiContext::post.

#include <functional>
#include <memory>

#include "weighlink/agent/api.hpp"
#include "weighlink/agent/ticket.hpp"
#include "weighlink/sync/blob_store.hpp"

namespace weighlink::agent {

// The durable count of a weighing's prints (Outbox state, written with each print record).
[[nodiscard]] std::string ticket_print_count_key(std::uint64_t seq);

class TicketRoutes final : public ApiRoutes {
 public:
  // Copies `context`'s station id, outbox, clock and post (set them first); the outbox and the
  // clock must outlive this.
  // `images`: where the cameras' stills are (the ticket shows them); null: no images.
  TicketRoutes(const ApiContext& context, TicketConfig layout,
               const sync::BlobStore* images = nullptr);

  bool handle(const HttpRequest& request, const std::string& path,
              const std::string& correlation_id, Respond& respond) override;
  void metrics(std::string& out) const override;

 private:
  void weighings(const HttpRequest& request, const std::string& correlation_id,
                 const Respond& respond);
  void ticket(const HttpRequest& request, std::uint64_t seq, bool pdf,
              const std::string& correlation_id, const Respond& respond);
  void print(const HttpRequest& request, std::uint64_t seq, const std::string& correlation_id,
             Respond respond);
  struct PrintJob;
  [[nodiscard]] HttpResponse print_answer(const PrintJob& job, int status,
                                          const sync::OutboxRow& printed) const;
  [[nodiscard]] std::string language(const HttpRequest& request) const;

  std::string station_id_;
  sync::Outbox* outbox_;
  const sync::BlobStore* images_ = nullptr;
  const Clock* clock_;
  std::function<void(std::function<void()>)> post_;
  TicketConfig layout_;
  std::uint64_t prints_ = 0;  // since start, for /metrics
};

}  // namespace weighlink::agent
