// The replay cursor (replay_cursor.hpp) and the decisions it rests on: rewind_point, which
// failures are the content's, and Isolation.
#include "weighlink/sync/replay_cursor.hpp"

#include <algorithm>

#include "weighlink/base/log_text.hpp"

namespace weighlink::sync {

std::optional<std::uint64_t> rewind_point(std::uint64_t backend_high_water,
                                          std::uint64_t local_acknowledged_seq) {
  if (backend_high_water >= local_acknowledged_seq) return std::nullopt;
  return backend_high_water;
}

bool clean_answer(std::size_t rows, bool markers, const ReplayAnswer& answer) {
  return answer.expected_seq == 0 && !markers && answer.results.size() == rows;
}

bool content_failure(int grpc_code) {
  // grpc::StatusCode values (grpcpp/impl/codegen/status_code_enum.h), without the gRPC include:
  // this core has none.
  constexpr int kInvalidArgument = 3;
  constexpr int kFailedPrecondition = 9;
  constexpr int kOutOfRange = 11;
  constexpr int kInternal = 13;
  constexpr int kDataLoss = 15;
  return grpc_code == kInvalidArgument || grpc_code == kFailedPrecondition ||
         grpc_code == kOutOfRange || grpc_code == kInternal || grpc_code == kDataLoss;
}

Isolation::Step Isolation::on_failure(std::uint64_t first_seq, std::size_t count) {
  if (!limit_) isolating_through_ = first_seq + count - 1;
  if (count <= 1) {
    struck_ = struck_seq_ == first_seq ? struck_ + 1 : 1;
    struck_seq_ = first_seq;
    if (struck_ >= strikes_) {
      struck_ = 0;
      struck_seq_ = 0;
      // What follows the withheld one is sent one by one until the first failed call's rows are
      // through: another of them may fail the call too.
      limit_ = 1;
      return Step{true, 1};
    }
    limit_ = 1;
    return Step{false, 1};
  }
  limit_ = std::max<std::size_t>(1, count / 2);
  return Step{false, *limit_};
}

void Isolation::on_answer(std::uint64_t last_seq) {
  if (struck_seq_ != 0 && last_seq >= struck_seq_) {
    struck_ = 0;
    struck_seq_ = 0;
  }
  if (limit_ && last_seq >= isolating_through_) limit_.reset();
}

ReplayCursor::ReplayCursor(Outbox& outbox, Options options)
    : outbox_(outbox), options_(options), isolation_(options.isolation_strikes) {}

ReplayCursor::~ReplayCursor() = default;

void ReplayCursor::note(ReplayNote::Level level, std::string text) {
  notes_.push_back(ReplayNote{level, std::move(text)});
}

ReplayCursor::Batch ReplayCursor::next_batch(std::size_t limit) {
  if (auto cap = isolation_.limit()) limit = std::min(limit, *cap);
  Batch batch;
  if (withholding_) {
    auto found = outbox_.list(std::nullopt, withholding_->seq - 1, 1);
    if (found.empty() || found.front().seq != withholding_->seq ||
        found.front().state != MutationState::pending) {
      withholding_.reset();  // released or changed meanwhile
    } else {
      batch.markers.emplace(found.front().seq, withholding_->reason);
      batch.rows.push_back(std::move(found.front()));
      return batch;  // alone: its answer decides whether it is withheld
    }
  }
  // Above what the previous batch sent (its answers may still be being recorded) and above the
  // batches in flight.
  std::uint64_t after = std::max(sent_through_, listed_through_);
  if (expected_ && *expected_ > 0) {
    for (auto& row : outbox_.list(std::nullopt, *expected_ - 1, limit)) {
      if (row.state != MutationState::dead && row.state != MutationState::discarded) break;
      after = row.seq;
      batch.markers.emplace(row.seq, row.state == MutationState::discarded
                                         ? "discarded at the agent: " + row.discard_reason
                                         : "a dead letter at the agent: " + row.last_error);
      batch.rows.push_back(std::move(row));
    }
  }
  if (batch.rows.size() < limit) {
    for (auto& row : outbox_.list(MutationState::pending, after, limit - batch.rows.size())) {
      batch.rows.push_back(std::move(row));
    }
  }
  if (!batch.rows.empty()) listed_through_ = std::max(listed_through_, batch.rows.back().seq);
  return batch;
}

boost::system::result<void, std::string> ReplayCursor::on_hello(const Watermark& watermark,
                                                                std::uint64_t local_acknowledged,
                                                                std::int64_t now_ms) {
  apply_watermark(watermark, local_acknowledged);
  // An agent reinstalled on a known station continues the numbering above the backend's (and
  // renumbers what it queued offline before it first reached the backend). Only here: a Replay
  // answer's high water never passes what this outbox numbered. Until it is done, no Replay.
  if (auto r = outbox_.continue_above(watermark.high_water_seq); !r) {
    return {boost::system::in_place_error, "cannot continue the outbox's numbering above seq " +
                                               std::to_string(watermark.high_water_seq) + ": " +
                                               r.error().message() +
                                               "; check the disk holding the outbox"};
  }
  prune(watermark.durable_seq, now_ms);
  return {};
}

void ReplayCursor::apply_watermark(const Watermark& watermark, std::uint64_t local_acknowledged) {
  if (auto from = rewind_point(watermark.high_water_seq, local_acknowledged)) {
    auto n = outbox_.rewind_above(*from);
    note(ReplayNote::Level::warn,
         "backend " + backend_ + " holds this station only up to seq " +
             std::to_string(watermark.high_water_seq) + " (generation " + watermark.generation +
             ") but " + std::to_string(local_acknowledged) + " was acknowledged: re-sending " +
             std::to_string(n ? *n : 0) + " mutations");
  }
  if (!watermark_.generation.empty() && watermark_.generation != watermark.generation) {
    note(ReplayNote::Level::warn, "backend generation changed from " + watermark_.generation +
                                      " to " + watermark.generation +
                                      ": the database was restored");
  }
  watermark_ = watermark;
}

// Acknowledged rows the backend holds in a verified backup, old enough, leave the outbox.
void ReplayCursor::prune(std::uint64_t durable_seq, std::int64_t now_ms) {
  // The evidence archive keeps what was pruned for the legal period, and no longer.
  if (auto t = outbox_.trim_archive(now_ms); !t) {
    note(ReplayNote::Level::warn,
         "outbox: trimming the evidence archive failed: " + t.error().message());
  }
  if (durable_seq == 0 || durable_seq <= pruned_through_) return;
  auto r = outbox_.prune(durable_seq, now_ms - options_.min_retention.count());
  if (!r) {
    note(ReplayNote::Level::warn, "outbox: pruning up to seq " + std::to_string(durable_seq) +
                                      " failed: " + r.error().message());
    return;
  }
  if (r->rows > 0) {
    note(ReplayNote::Level::info, "outbox: pruned " + std::to_string(r->rows) +
                                      " acknowledged mutations up to seq " +
                                      std::to_string(r->anchor_seq) + " (backend durable_seq " +
                                      std::to_string(durable_seq) + ")");
  }
  // Rows kept for their age are looked at again at the next Hello.
  if (r->anchor_seq >= durable_seq) pruned_through_ = durable_seq;
}

std::optional<std::string> ReplayCursor::settle() {
  sent_through_ = 0;
  if (!marking_.valid()) return std::nullopt;
  if (auto r = marking_.get(); !r) {
    std::string message =
        "cannot record the backend's answers in the outbox: " + r.error().message();
    note(ReplayNote::Level::error, message);
    return message;
  }
  return std::nullopt;
}

boost::system::result<void, std::string> ReplayCursor::on_answer(const Batch& batch,
                                                                 const ReplayAnswer& answer,
                                                                 std::int64_t now_ms) {
  const auto& rows = batch.rows;
  const auto& results = answer.results;
  if (rows.empty()) return {};
  if (rows.back().seq >= listed_through_) listed_through_ = 0;  // nothing listed after it
  isolation_.on_answer(rows.back().seq);
  const bool answers_held = withholding_ && !results.empty() && results[0].seq == withholding_->seq;
  if (answers_held && results[0].outcome == ReplayOutcome::duplicate &&
      results[0].original_outcome == ReplayOutcome::applied) {
    // The backend had applied the mutation itself (an answer lost before the calls began to
    // fail): acknowledged, nothing withheld.
    const MutationOutcome done{withholding_->seq, MutationOutcome::Kind::duplicate, ""};
    if (auto r = outbox_.mark_results(std::span(&done, 1), now_ms); !r) {
      return {boost::system::in_place_error,
              "cannot record the backend's answer in the outbox: " + r.error().message()};
    }
  } else if (answers_held) {
    // The backend recorded the marker: the seq is counted, the rows behind it flow on. The
    // mutation stays here as a dead letter with why.
    const MutationOutcome dead{withholding_->seq, MutationOutcome::Kind::rejected,
                               withholding_->reason};
    if (auto r = outbox_.mark_results(std::span(&dead, 1), now_ms); !r) {
      return {boost::system::in_place_error,
              "cannot record a withheld mutation in the outbox: " + r.error().message()};
    }
    const auto seq = std::to_string(withholding_->seq);
    note(ReplayNote::Level::error,
         "withheld mutation seq " + seq + " key " + base::log_safe(rows.front().idempotency_key) +
             " as a dead letter: " + base::log_safe(withholding_->reason) +
             "; the rows behind it flow on (inspect it with `weighlink-agent outbox show " + seq +
             "`, then retry or discard it)");
    ++withheld_;
  }
  withholding_.reset();
  std::vector<MutationOutcome> outcomes;
  for (const auto& r : results) {
    // A marker's answer changes nothing here: the row keeps its own reason and state.
    if (batch.markers.contains(r.seq)) continue;
    withheld_in_a_row_ = 0;
    MutationOutcome o;
    o.seq = r.seq;
    o.reason = r.reason;
    const auto effective = r.outcome == ReplayOutcome::duplicate ? r.original_outcome : r.outcome;
    if (effective == ReplayOutcome::rejected) {
      o.kind = MutationOutcome::Kind::rejected;
      note(ReplayNote::Level::warn, "backend rejected mutation seq " + std::to_string(r.seq) +
                                        " key " + base::log_safe(r.idempotency_key) + ": " +
                                        base::log_safe(r.reason) + " (moved to dead letters)");
    } else {
      o.kind = r.outcome == ReplayOutcome::duplicate ? MutationOutcome::Kind::duplicate
                                                     : MutationOutcome::Kind::applied;
    }
    outcomes.push_back(std::move(o));
  }
  // The previous batch's answers are recorded before this one's: one order on disk.
  if (auto e = settle()) return {boost::system::in_place_error, std::move(*e)};
  expected_.reset();
  if (answer.expected_seq != 0) expected_ = answer.expected_seq;
  if (answer.expected_seq != 0 || results.size() != rows.size() || !batch.markers.empty()) {
    // Stopped at a gap: recorded now, and the next batch starts at the oldest pending row.
    if (auto r = outbox_.mark_results(outcomes, now_ms); !r) {
      return {boost::system::in_place_error,
              "cannot record the backend's answers in the outbox: " + r.error().message()};
    }
    if (answer.expected_seq != 0 && answer.expected_seq <= rows.front().seq) {
      // The backend misses earlier mutations (restored from a backup): re-send from there.
      auto n = outbox_.rewind_above(answer.expected_seq - 1);
      note(ReplayNote::Level::warn, "backend expects seq " + std::to_string(answer.expected_seq) +
                                        ": re-sending " + std::to_string(n ? *n : 0) +
                                        " acknowledged mutations");
    }
  } else {
    // Recorded on the outbox writer while the next batch is on its way to the backend.
    sent_through_ = rows.back().seq;  // rows were listed above what was sent before
    marking_ = outbox_.mark_results_later(std::move(outcomes), now_ms);
  }
  apply_watermark(answer.watermark, outbox_.stats().acknowledged_seq);
  return {};
}

bool ReplayCursor::on_failure(const Batch& batch, int grpc_code, const std::string& message) {
  const auto& rows = batch.rows;
  if (rows.empty()) return false;
  listed_through_ = 0;  // the worker dropped the calls behind it
  std::vector<std::uint64_t> seqs;
  seqs.reserve(rows.size());
  for (const auto& row : rows) seqs.push_back(row.seq);
  (void)outbox_.mark_attempt_failed(seqs, message);
  if (!content_failure(grpc_code)) return false;
  if (withholding_) {
    // Even the marker, which holds no payload, fails: the backend is broken for this station,
    // not fed one bad mutation. Nothing is withheld; the queue waits with backoff.
    note(ReplayNote::Level::warn,
         "the backend also fails the marker for seq " + std::to_string(withholding_->seq) + " (" +
             base::log_safe(message) + "): not withholding it; retrying with backoff");
    withholding_.reset();
    return false;
  }
  if (rows.size() == 1 && batch.markers.contains(rows.front().seq)) return false;
  const auto step = isolation_.on_failure(rows.front().seq, rows.size());
  if (step.withhold) {
    if (withheld_in_a_row_ >= kMaxWithheldInARow) {
      note(ReplayNote::Level::error,
           "the backend fails every call holding seq " + std::to_string(rows.front().seq) + " (" +
               base::log_safe(message) + "), and " + std::to_string(withheld_in_a_row_) +
               " mutations were withheld in a row already: not withholding more; the queue "
               "waits (check the backend's log)");
      return false;
    }
    ++withheld_in_a_row_;
    withholding_ = Withholding{rows.front().seq,
                               "withheld: the backend fails every call holding this mutation "
                               "alone (gRPC " +
                                   std::to_string(grpc_code) + ": " + message.substr(0, 120) + ")"};
  } else {
    note(ReplayNote::Level::warn, "the backend failed a call of " + std::to_string(rows.size()) +
                                      " mutations from seq " + std::to_string(rows.front().seq) +
                                      " (" + base::log_safe(message) + "): sending at most " +
                                      std::to_string(step.limit) + " to find the one it refuses");
  }
  return true;
}

}  // namespace weighlink::sync
