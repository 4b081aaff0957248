#pragma once
// The weighing workstation's pure core (issue 19): the station's reference fields and their
// checks, plate normalization, and the book of two-pass transactions, stored tares and recently
// seen plates, with the exact net of a closed transaction. No I/O and no clock: times are
// arguments. Thread-compatible values; the routes (station_routes.hpp) own one book on the io
// thread.

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weighlink/scale/decimal.hpp"

namespace weighlink::agent {

// One field the operator fills in for a weighing (customer, product, ...).
struct ReferenceField {
  std::string id;                            // [a-z_]{1,32}
  std::map<std::string, std::string> label;  // per language: "en", "sw"
  std::string type = "text";                 // text | number | choice
  bool required = false;
  std::vector<std::string> choices;  // type choice
  std::size_t max_length = 64;       // characters of a text value
};

// The `station:` section of the agent's configuration.
struct StationConfig {
  std::string language = "en";  // en | sw: the operator page and the ticket
  std::vector<ReferenceField> reference_fields = default_fields();
  // A stored tare older than this is refused for a one-pass weighing; 0 = no limit.
  int tare_max_age_days = 90;

  // customer, product, direction (in/out), driver, order; none required.
  [[nodiscard]] static std::vector<ReferenceField> default_fields();
};

// Why a request's field was refused: the HTTP code (invalid_plate, invalid_reference, ...), the
// field it names and a message saying the rule.
struct FieldError {
  std::string code;
  std::string field;
  std::string message;
};

inline constexpr std::size_t kPlateMaxLength = 16;

// A plate as the station keeps it: upper case, spaces and dashes removed, then 1..16 of [A-Z0-9]
// ("kcb 123-a" -> "KCB123A"). An error naming the rule otherwise.
[[nodiscard]] std::optional<FieldError> normalize_plate(std::string_view text, std::string& out);

// The request's "reference" against the station's fields: every member must be a configured
// field (text: a string of at most max_length characters, no control characters; number: an
// exact decimal as a JSON number or a string; choice: one of the choices), every required field
// present. `out` gets the values as strings (numbers as their exact decimal text).
[[nodiscard]] std::optional<FieldError> check_reference(const boost::json::object& reference,
                                                        const std::vector<ReferenceField>& fields,
                                                        boost::json::object& out);

// One pass over the scale, as recorded (filled from the outbox row once it is accepted: seq 0
// until then).
struct Pass {
  std::string idempotency_key;
  std::uint64_t seq = 0;
  std::string scale;
  std::string weight;  // exact decimal text
  std::string unit;
  std::string captured_at;  // RFC 3339
  std::string record_hash;
  std::int64_t at_ms = 0;  // when the pass was requested (the stored tare's age)
};

[[nodiscard]] boost::json::object to_json(const Pass& pass);
[[nodiscard]] Pass pass_from_json(const boost::json::object& o);

// gross (the heavier), tare (the lighter) and net = |first - second|, exactly.
struct NetWeights {
  scale::Decimal gross;
  scale::Decimal tare;
  scale::Decimal net;
};

// The net of two weights in `unit`; an error (unit_mismatch, invalid_weight) when the units
// differ or a weight is not a decimal.
[[nodiscard]] std::optional<FieldError> compute_net(const std::string& first_weight,
                                                    const std::string& first_unit,
                                                    const std::string& second_weight,
                                                    const std::string& second_unit,
                                                    NetWeights& out);

struct Transaction {
  std::string id;              // "<station>-T<n>"
  std::uint64_t number = 0;    // n: the order they were opened in
  std::string mode;            // two_pass | stored_tare
  std::string state = "open";  // open | closed | cancelled
  std::string plate;
  boost::json::object reference;  // the validated fields (plate not included)
  std::string operator_id;
  std::int64_t opened_at_ms = 0;
  std::int64_t ended_at_ms = 0;  // closed or cancelled
  Pass first;                    // two_pass: the first pass; stored_tare: the one pass
  std::optional<Pass> second;    // two_pass, once closed
  std::optional<Pass> stored_tare;
  std::string gross, tare, net, unit;  // closed
  std::string cancel_reason;
  std::string cancel_key;  // the weighlink.transaction_cancelled record's key
};

// GET /v1/transactions item.
[[nodiscard]] boost::json::object to_json(const Transaction& t);

struct StoredTare {
  std::string plate;
  Pass pass;
  boost::json::object reference;
  std::string operator_id;
};

// Open, closed and cancelled transactions, stored tares, recently seen plates. Closed and
// cancelled transactions and plates are bounded (the oldest go first); tares by plate.
class StationBook {
 public:
  static constexpr std::size_t kMaxPlates = 200;
  static constexpr std::size_t kMaxEnded = 200;  // closed ones, and cancelled ones, each
  static constexpr std::size_t kMaxTares = 2000;

  // The next transaction number (and counts it); its id is "<station>-T<n>".
  [[nodiscard]] std::uint64_t take_number() { return next_number_++; }

  [[nodiscard]] const Transaction* find(const std::string& id) const;
  [[nodiscard]] Transaction* find(const std::string& id);
  // The transaction with a pass or cancel record of `key`.
  [[nodiscard]] const Transaction* find_by_key(const std::string& key) const;
  [[nodiscard]] const Transaction* open_for_plate(const std::string& plate) const;
  // Newest first, at most `limit`, of one state.
  [[nodiscard]] std::vector<const Transaction*> list(const std::string& state,
                                                     std::size_t limit) const;
  // Adds or replaces it, then drops the oldest ended ones beyond kMaxEnded.
  void put(Transaction t);

  // Refusals of a second pass in `unit` at `now` (the first pass must be recorded and in the same
  // unit, and before it).
  [[nodiscard]] std::optional<FieldError> check_complete(const Transaction& t,
                                                         const std::string& unit,
                                                         std::int64_t now_ms) const;

  // The plate's stored tare for a one-pass weighing at `now`: no_stored_tare, stored_tare_expired
  // (older than max_age_days, 0 = no limit) or the tare.
  [[nodiscard]] std::optional<FieldError> usable_tare(const std::string& plate, std::int64_t now_ms,
                                                      int max_age_days,
                                                      const StoredTare*& out) const;
  [[nodiscard]] const StoredTare* tare(const std::string& plate) const;
  [[nodiscard]] const std::map<std::string, StoredTare>& tares() const { return tares_; }
  void put_tare(StoredTare tare);

  // Most recent first; seen again moves it to the front.
  void note_plate(const std::string& plate);
  [[nodiscard]] std::vector<std::string> plates(std::string_view prefix, std::size_t limit) const;

  // Passes not yet filled from their record (after a crash between a capture and its fill).
  [[nodiscard]] std::vector<Pass*> unfilled();

  // The durable documents (outbox state), and back. from_json throws on a malformed document.
  [[nodiscard]] std::string transactions_json() const;
  [[nodiscard]] std::string tares_json() const;
  [[nodiscard]] std::string plates_json() const;
  void load(const std::optional<std::string>& transactions, const std::optional<std::string>& tares,
            const std::optional<std::string>& plates);

 private:
  std::uint64_t next_number_ = 1;
  std::map<std::string, Transaction> transactions_;
  std::map<std::string, StoredTare> tares_;
  std::deque<std::string> plates_;
};

}  // namespace weighlink::agent
