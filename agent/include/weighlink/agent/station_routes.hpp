#pragma once
// The weighing workstation's routes (docs/local-api.md, "Workstation"): /v1/station, /v1/plates,
// /v1/transactions (two-pass and stored-tare weighings), /v1/tares. The book (station.hpp) is kept
// in the outbox's durable state and written in the same transaction as the weighing that changes
// it; what only the accepted record tells (its seq, weight, hash) is filled in right after, and
// again from the record at start if the agent stopped in between.
// Threading: io thread only. Recording requests run one at a time, in arrival order, so each one
// sees the book the previous one left.

#include <deque>
#include <functional>
#include <map>
#include <memory>

#include "weighlink/agent/api.hpp"
#include "weighlink/agent/station.hpp"

namespace weighlink::agent {

class StationRoutes final : public ApiRoutes {
 public:
  // Loads the book from the outbox of `ctx` (a copy is kept: its outbox, live state, captures
  // and clock must outlive this).
  StationRoutes(StationConfig config, const ApiContext& ctx);

  bool handle(const HttpRequest& request, const std::string& path,
              const std::string& correlation_id, Respond& respond) override;
  void status(boost::json::object& status) const override;
  void metrics(std::string& out) const override;

  [[nodiscard]] const StationBook& book() const { return book_; }

 private:
  // What a recording request will change once its record is accepted.
  struct Plan {
    CaptureRequest capture;                     // a weighing ...
    std::optional<sync::NewMutation> mutation;  // ... or another record (a cancel)
    StationBook next;                           // the book after it (passes not yet filled)
    std::string transaction_id;                 // answered with the response
    std::string tare_plate;                     // POST /v1/tares: answered with the response
    std::vector<sync::StateWrite> writes;       // written with the record
  };
  using Prepare = std::function<std::optional<HttpResponse>(const boost::json::object& body,
                                                            const std::string& key, Plan& plan)>;

  void get_station(const Respond& respond) const;
  void get_plates(const HttpRequest& request, const Respond& respond) const;
  void get_transactions(const HttpRequest& request, const std::string& correlation_id,
                        const Respond& respond) const;
  void get_tares(const std::string& plate, const std::string& correlation_id,
                 const Respond& respond) const;

  // The shared path of every recording POST: request checks, idempotent replay, one at a time,
  // `prepare` against the current book, the record, then the book.
  void record(const HttpRequest& request, const std::string& route,
              const std::string& correlation_id, Respond respond, Prepare prepare);
  void run_next();
  void finish(Plan& plan, const sync::EnqueueResult& result);
  // The answer with the transaction or the stored tare the record belongs to.
  [[nodiscard]] HttpResponse with_subject(HttpResponse response, const std::string& key,
                                          const std::string& transaction_id,
                                          const std::string& tare_plate) const;

  std::optional<HttpResponse> prepare_open(const boost::json::object& body, const std::string& key,
                                           Plan& plan, const std::string& correlation_id);
  std::optional<HttpResponse> prepare_complete(const std::string& id,
                                               const boost::json::object& body,
                                               const std::string& key, Plan& plan,
                                               const std::string& correlation_id);
  std::optional<HttpResponse> prepare_cancel(const std::string& id, const boost::json::object& body,
                                             const std::string& key, Plan& plan,
                                             const std::string& correlation_id);
  std::optional<HttpResponse> prepare_tare(const boost::json::object& body, const std::string& key,
                                           Plan& plan, const std::string& correlation_id);
  // scale, operator, plate and reference of a weighing request into `plan.capture`.
  std::optional<HttpResponse> weighing_request(const boost::json::object& body,
                                               const std::string& key, bool with_plate, Plan& plan,
                                               const std::string& correlation_id);
  [[nodiscard]] std::string live_unit(const std::string& scale_id) const;
  // The documents of `next` that differ from what is stored (each up to a few hundred KiB: only
  // the changed ones are written).
  [[nodiscard]] std::vector<sync::StateWrite> writes(const StationBook& next) const;
  // Writes the book's changed documents now.
  void save();

  StationConfig config_;
  ApiContext ctx_;
  StationBook book_;
  std::map<std::string, std::string> stored_;  // each document's text as last written
  bool busy_ = false;
  std::deque<std::function<void()>> waiting_;
};

// The routes of `config`, wired beside the core API in agent.cpp.
[[nodiscard]] std::unique_ptr<StationRoutes> make_station_routes(const StationConfig& config,
                                                                 const ApiContext& ctx);

}  // namespace weighlink::agent
