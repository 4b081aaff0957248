#pragma once
// The replay cursor: which outbox rows the next Replay call carries, and what the backend's
// answers and watermarks do to the outbox: acknowledgements and dead letters, a gap the backend
// reports (expected_seq), a rewind when the backend lost records after a restore, withholding the
// one mutation that fails whole calls, pruning what a verified backup holds. No sockets, gRPC,
// clock or logging: the time is an argument, and what should be logged is returned as notes
// (take_notes()); the gRPC adapter (replay_grpc.cpp) only translates.
//
// Threading: not thread-safe; used by one thread (the replay worker's).

#include <boost/system/result.hpp>
#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "weighlink/sync/outbox.hpp"

namespace weighlink::sync {

// The backend's view of a station (sync.proto Watermark).
struct Watermark {
  std::uint64_t high_water_seq = 0;  // highest contiguous seq it processed
  std::uint64_t durable_seq = 0;     // highest seq in its latest verified backup
  std::string generation;            // changes with every restore
};

// The backend's answer for one mutation (sync.proto MutationResult).
enum class ReplayOutcome { unspecified, applied, duplicate, rejected };
struct ReplayResult {
  std::uint64_t seq = 0;
  std::string idempotency_key;
  ReplayOutcome outcome = ReplayOutcome::unspecified;
  ReplayOutcome original_outcome = ReplayOutcome::unspecified;  // for duplicate: the first one
  std::string reason;
};

// The backend's answer for one Replay call (sync.proto ReplayResponse).
struct ReplayAnswer {
  std::vector<ReplayResult> results;  // in seq order; none after a gap
  std::uint64_t expected_seq = 0;     // non-zero: the call did not continue the station's seqs
  Watermark watermark;
};

// Whether an answer lets the next calls in flight stand: every mutation of the batch answered,
// no gap (expected_seq), no marker. Anything else makes the worker await (or cancel) the calls
// behind it and apply the existing rules with nothing in flight.
[[nodiscard]] bool clean_answer(std::size_t rows, bool markers, const ReplayAnswer& answer);

// Decision after a watermark: from which seq must the agent re-send? nullopt when nothing was
// lost: the backend lost data when its high water is below what the agent holds as acknowledged.
[[nodiscard]] std::optional<std::uint64_t> rewind_point(std::uint64_t backend_high_water,
                                                        std::uint64_t local_acknowledged_seq);

// Whether a failed Replay call's status is one that retrying the same batch does not cure: the
// backend refused what the batch holds (INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE,
// INTERNAL, DATA_LOSS), not the call (auth, load, a link down, a deadline). gRPC codes as ints.
[[nodiscard]] bool content_failure(int grpc_code);

// Finds the one mutation that makes the backend fail whole calls (an older backend, or a bug),
// so that the rest of the queue flows on: after a content failure the next call holds the first
// half of the failed batch, and so on down to one mutation; a call of that one alone failing
// `strikes` times in a row (INTERNAL may be a passing fault) means withhold it: it becomes a dead
// letter here and the backend gets a marker for its seq. Pure: no clock, no I/O.
class Isolation {
 public:
  explicit Isolation(std::uint32_t strikes = 2) : strikes_(strikes) {}
  struct Step {
    bool withhold = false;  // the failed call held one mutation (`first_seq`): withhold it
    std::size_t limit = 0;  // otherwise: at most this many mutations in the next call
  };
  // A call of `count` mutations starting at `first_seq` failed with a content failure.
  Step on_failure(std::uint64_t first_seq, std::size_t count);
  // A call holding mutations up to `last_seq` was answered.
  void on_answer(std::uint64_t last_seq);
  // The cap on the next call while isolating; nullopt when not isolating.
  [[nodiscard]] std::optional<std::size_t> limit() const { return limit_; }

 private:
  std::uint32_t strikes_;
  std::optional<std::size_t> limit_;
  std::uint64_t isolating_through_ = 0;  // the last seq of the first failed call
  std::uint64_t struck_seq_ = 0;
  std::uint32_t struck_ = 0;
};

// A line the adapter logs.
struct ReplayNote {
  enum class Level { info, warn, error } level = Level::info;
  std::string text;
};

class ReplayCursor {
 public:
  struct Options {
    // Acknowledged mutations are pruned once the backend holds them in a verified backup
    // (durable_seq) and they are at least this old.
    std::chrono::milliseconds min_retention{std::chrono::hours(24 * 7)};
    // A mutation failing calls alone this many times in a row is withheld (Isolation).
    std::uint32_t isolation_strikes = 2;
  };

  // The rows of one Replay call. Rows in `markers` go as markers in place of the mutation
  // (sync.proto withheld_reason): the seq, the chain fields, no payload, the reason given here.
  struct Batch {
    std::vector<OutboxRow> rows;
    std::map<std::uint64_t, std::string> markers;
    [[nodiscard]] bool empty() const { return rows.empty(); }
  };

  ReplayCursor(Outbox& outbox, Options options);
  ReplayCursor(const ReplayCursor&) = delete;
  ReplayCursor& operator=(const ReplayCursor&) = delete;
  ~ReplayCursor();

  // The backend the cursor talks to now (named in notes).
  void set_backend(std::string address) { backend_ = std::move(address); }

  // The next call's rows: the withheld candidate alone, or markers for the dead letters at the
  // backend's gap first, then pending rows above what was sent and above the batches listed
  // before whose answers are still awaited (calls in flight), at most `limit` in all (fewer while
  // a failing mutation is isolated). Empty when nothing is pending.
  [[nodiscard]] Batch next_batch(std::size_t limit);

  // The batches listed and not answered (in flight, or built and not sent) were dropped: the
  // next batch starts above what was answered again.
  void forget_listed() { listed_through_ = 0; }

  // Only one call at a time: a mutation is being isolated or withheld, or the backend reported
  // a gap that markers fill. The window of calls in flight is 1 meanwhile.
  [[nodiscard]] bool serial() const {
    return withholding_.has_value() || isolation_.limit().has_value() || expected_.has_value();
  }

  // Hello answered with `watermark`; `local_acknowledged` is what the outbox held as acknowledged
  // when Hello was sent. Rewinds what a restore lost, continues the numbering above the
  // backend's, and prunes. An error (the outbox could not record it) is the uplink's message.
  [[nodiscard]] boost::system::result<void, std::string> on_hello(const Watermark& watermark,
                                                                  std::uint64_t local_acknowledged,
                                                                  std::int64_t now_ms);

  // The backend answered `batch`. Records the answers (those of a batch that ran to its end while
  // the next one is on its way: settle() waits for them), re-sends from a gap the backend reports
  // at or below the batch, and applies the watermark.
  [[nodiscard]] boost::system::result<void, std::string> on_answer(const Batch& batch,
                                                                   const ReplayAnswer& answer,
                                                                   std::int64_t now_ms);

  // The call carrying `batch` failed with gRPC status `grpc_code`. Records the attempt; when the
  // backend refused what the batch holds, narrows the next call down to the mutation that does it
  // and withholds that one (Isolation). True when isolating: the next call may go at once.
  bool on_failure(const Batch& batch, int grpc_code, const std::string& message);

  // Waits until the answers recorded in the background are on disk; from then on the next batch
  // starts at the oldest pending row again. An error leaves those rows pending (they are sent
  // again and the backend answers DUPLICATE) and is returned as the uplink's message.
  [[nodiscard]] std::optional<std::string> settle();

  // The backend's last watermark.
  [[nodiscard]] const Watermark& watermark() const { return watermark_; }
  // Mutations withheld so far.
  [[nodiscard]] std::uint64_t withheld() const { return withheld_; }
  // What happened since the last call, to log.
  [[nodiscard]] std::vector<ReplayNote> take_notes() { return std::exchange(notes_, {}); }

  // At most this many mutations withheld in a row without the backend answering another mutation
  // in between: a backend that fails every call of some kind is broken, not fed one bad mutation,
  // and must not empty the queue into dead letters. Then the queue waits (the stuck alarm).
  static constexpr std::uint32_t kMaxWithheldInARow = 3;

 private:
  struct Withholding {
    std::uint64_t seq = 0;
    std::string reason;
  };

  // Rewinds what the backend lost, and keeps its watermark.
  void apply_watermark(const Watermark& watermark, std::uint64_t local_acknowledged);
  void prune(std::uint64_t durable_seq, std::int64_t now_ms);
  void note(ReplayNote::Level level, std::string text);

  Outbox& outbox_;
  Options options_;
  std::string backend_;
  Watermark watermark_;
  std::vector<ReplayNote> notes_;
  std::uint64_t pruned_through_ = 0;
  // The answers of the last batch being recorded, and the highest seq sent whose answer is not
  // recorded yet (0: none; the next batch starts at the oldest pending row).
  std::future<boost::system::result<void>> marking_;
  std::uint64_t sent_through_ = 0;
  // The last seq of the newest batch listed whose answer is not handled yet (0: none).
  std::uint64_t listed_through_ = 0;
  // Finding and withholding a mutation that fails whole calls.
  Isolation isolation_;
  std::optional<Withholding> withholding_;
  std::uint32_t withheld_in_a_row_ = 0;
  std::uint64_t withheld_ = 0;
  // The seq the backend last said it needs next (a gap): dead letters from there go as markers.
  std::optional<std::uint64_t> expected_;
};

}  // namespace weighlink::sync
