// The outbox's writer: one connection, used by one thread at a time, and group commit. Producers
// queue mutations; the writer thread commits everything queued in one transaction (one fsync for
// many producers), assigning seqs in commit order, and only then completes each request. A caller
// of enqueue_wait() that finds no commit in progress commits the queue on its own thread instead
// (leader/follower: a lone producer pays no hand-off). Maintenance jobs (outbox_maintenance.cpp)
// run on the writer thread between groups, each in its own transaction.
#include <spdlog/spdlog.h>

#include "outbox_schema.hpp"
#include "outbox_sqlite.hpp"
#include "weighlink/record/evidence.hpp"

namespace weighlink::sync::detail {

using sqlite::sqlite_error;
using sqlite::Stmt;
using sqlite::Transaction;

SqliteOutbox::WriterStatements::WriterStatements(sqlite3* db)
    : begin(db, "BEGIN IMMEDIATE", SQLITE_PREPARE_PERSISTENT),
      commit(db, "COMMIT", SQLITE_PREPARE_PERSISTENT),
      find(db,
           (std::string("SELECT ") + kRowColumns + " FROM mutations WHERE idempotency_key=?")
               .c_str(),
           SQLITE_PREPARE_PERSISTENT),
      insert(db,
             "INSERT INTO mutations(seq, idempotency_key, kind, payload, request_hash, "
             "state, created_at_ms, prev_hash, record_hash, signature) "
             "VALUES(?,?,?,?,?,'pending',?,?,?,?)",
             SQLITE_PREPARE_PERSISTENT),
      readback(db, (std::string("SELECT ") + kRowColumns + " FROM mutations WHERE seq=?").c_str(),
               SQLITE_PREPARE_PERSISTENT),
      head(db, kWriteHead, SQLITE_PREPARE_PERSISTENT) {}

namespace {

// What differs between the row written and the row read back; empty when they are the same.
std::string readback_difference(const OutboxRow& written, const OutboxRow& read) {
  std::string d;
  auto field = [&d](bool same, const char* name) {
    if (same) return;
    d += d.empty() ? "" : ", ";
    d += name;
  };
  field(read.seq == written.seq, "seq");
  field(read.idempotency_key == written.idempotency_key, "idempotency_key");
  field(read.kind == written.kind, "kind");
  field(read.payload_json == written.payload_json, "payload");
  field(read.request_hash == written.request_hash, "request_hash");
  field(read.created_at_ms == written.created_at_ms, "created_at_ms");
  field(read.prev_hash == written.prev_hash, "prev_hash");
  field(read.record_hash == written.record_hash, "record_hash");
  field(read.signature == written.signature, "signature");
  return d;
}

}  // namespace

void SqliteOutbox::read_back(std::vector<EnqueueResult>& results) {
  for (auto& res : results) {
    if (res.status != EnqueueStatus::accepted || res.row.seq == 0) continue;
    auto& s = w_->readback.reset();
    s.bind(1, static_cast<std::int64_t>(res.row.seq));
    std::string difference;
    if (s.step() == SQLITE_ROW) {
      difference = readback_difference(res.row, read_row(s));
    } else {
      difference = "the row itself (not found: " + s.error() + ")";
    }
    s.reset();
    if (difference.empty()) continue;
    ++readback_failures_;
    spdlog::error(
        "outbox {}: seq {} (key {}) read back after its commit differs from what was written "
        "({}); it is not reported as recorded. Stop the agent and check the disk and the file "
        "(docs/outbox.md, \"Read-back\")",
        file_.string(), res.row.seq, res.row.idempotency_key, difference);
    res.status = EnqueueStatus::readback_failed;
    res.message = "record " + std::to_string(res.row.seq) +
                  " was committed but reading it back from the outbox gave a different " +
                  difference +
                  "; it is not reported as recorded: check the station's disk and "
                  "contact support (docs/outbox.md, \"Read-back\")";
  }
}

void SqliteOutbox::enqueue(NewMutation mutation, std::function<void(EnqueueResult)> done) {
  EnqueueResult r;
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      r.status = EnqueueStatus::failed;
      r.message = "the outbox is shutting down";
    } else if (!in_progress_.insert(mutation.idempotency_key).second) {
      // The same key is still being committed: tell the caller to come back (409).
      r.status = EnqueueStatus::in_progress;
    } else {
      queue_.push_back(Pending{std::move(mutation), std::move(done)});
      if (!committing_) cv_.notify_one();  // else the committer looks at the queue when it is done
      return;
    }
  }
  done(std::move(r));  // outside the lock: `done` may call back into the outbox
}

// With one producer there is nothing to group: the hand-off to the writer thread and back (two
// wake-ups per mutation) would be its only effect. So a caller that finds no commit in progress
// commits the queue itself; one that finds a commit in progress (or a job waiting) queues as
// enqueue() does, and the writer thread takes everything queued meanwhile in its next group.
EnqueueResult SqliteOutbox::enqueue_wait(NewMutation mutation) {
  EnqueueResult result;
  bool answered = false;
  std::mutex answer_mu;
  std::condition_variable answer_cv;
  auto done = [&](EnqueueResult r) {
    std::lock_guard lock(answer_mu);
    result = std::move(r);
    answered = true;
    answer_cv.notify_one();
  };
  {
    std::unique_lock lock(mu_);
    // Maintenance jobs waiting for the writer thread go first: a producer in a loop must not keep
    // the connection from them.
    if (!closed_ && !committing_ && jobs_.empty() &&
        in_progress_.insert(mutation.idempotency_key).second) {
      queue_.push_back(Pending{std::move(mutation), done});
      lead(lock, answered);
      return result;
    }
  }
  enqueue(std::move(mutation), done);
  std::unique_lock lock(answer_mu);
  answer_cv.wait(lock, [&] { return answered; });
  return result;
}

std::deque<SqliteOutbox::Pending> SqliteOutbox::take_group() {
  std::deque<Pending> group;
  while (!queue_.empty() && group.size() < options_.max_group) {
    group.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return group;
}

void SqliteOutbox::lead(std::unique_lock<std::mutex>& lock, const bool& answered) {
  committing_ = true;
  // Handed back even if a commit throws: the writer thread and other callers wait for it.
  struct Release {
    SqliteOutbox& self;
    std::unique_lock<std::mutex>& lock;
    ~Release() {
      if (!lock.owns_lock()) lock.lock();
      self.committing_ = false;
      // What was queued meanwhile (and jobs, and a close) is the writer thread's.
      if (!self.queue_.empty() || !self.jobs_.empty() || self.closed_) self.cv_.notify_one();
    }
  } release{*this, lock};
  // Its own mutation is in the queue, behind whatever was queued before it: committed in order.
  // `answered` is set by this thread, inside commit_group().
  while (!answered) {
    auto group = take_group();
    lock.unlock();
    const auto commits_before = commits_;  // only the committer changes it
    commit_group(group);
    lock.lock();
    if (commits_ != commits_before) ++caller_commits_;
  }
}

// In the same queue as mutations, so a state write and a mutation that deletes the same state
// commit in the order they were asked for.
void SqliteOutbox::put_state(StateWrite write,
                             std::function<void(boost::system::result<void>)> done) {
  Pending p;
  p.mutation.state_writes.push_back(std::move(write));
  p.state_only = true;
  p.done = [done = std::move(done)](const EnqueueResult& r) {
    if (r.status == EnqueueStatus::accepted) return done(boost::system::result<void>());
    done(make_error_code(r.status == EnqueueStatus::full ? boost::system::errc::no_space_on_device
                                                         : boost::system::errc::io_error));
  };
  {
    std::lock_guard lock(mu_);
    if (!closed_) {
      queue_.push_back(std::move(p));
      cv_.notify_one();
      return;
    }
  }
  p.done(EnqueueResult{});
}

void SqliteOutbox::close() {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    cv_.notify_all();
  }
  // The writer thread ends once no caller is committing and the queue is empty; no caller starts a
  // commit after closed_.
  if (thread_.joinable()) thread_.join();
}

std::future<boost::system::result<void>> SqliteOutbox::submit_on_writer(TransactionFn fn) {
  auto promise = std::make_shared<std::promise<boost::system::result<void>>>();
  auto future = promise->get_future();
  std::lock_guard lock(mu_);
  if (closed_) {
    promise->set_value(make_error_code(boost::system::errc::operation_canceled));
    return future;
  }
  jobs_.emplace_back([promise, fn = std::move(fn)](sqlite3* db) {
    boost::system::result<void> r;
    {
      Transaction tx(db);
      if (!tx.begun()) {
        r = sqlite_error(sqlite3_errcode(db));
      } else {
        r = fn(db);
        if (r) {
          if (!tx.commit()) r = sqlite_error(tx.rc());
        }
      }
    }  // rolled back here unless committed, before the caller hears of it
    promise->set_value(r);
  });
  cv_.notify_one();
  return future;
}

boost::system::result<void> SqliteOutbox::run_on_writer(const TransactionFn& fn) {
  return submit_on_writer([&fn](sqlite3* db) { return fn(db); }).get();
}

void SqliteOutbox::writer_loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return !committing_ && (closed_ || !queue_.empty() || !jobs_.empty()); });
    if (queue_.empty() && jobs_.empty()) break;  // closed, and nothing left
    committing_ = true;
    std::deque<Job> jobs;
    jobs.swap(jobs_);
    auto batch = take_group();
    lock.unlock();
    for (auto& job : jobs) job(writer_.get());
    if (!batch.empty()) commit_group(batch);
    lock.lock();
    committing_ = false;
  }
}

void SqliteOutbox::commit_group(std::deque<Pending>& batch) {
  std::vector<EnqueueResult> results(batch.size());
  sqlite3* db = writer_.get();
  std::string error;
  const std::uint64_t seq_before = last_seq_;
  const std::uint64_t rows_before = row_count_;
  const std::string hash_before = last_hash_;
  std::int64_t added_rows = 0;
  bool added = false;
  if (!w_) w_ = std::make_unique<WriterStatements>(db);
  int rc = SQLITE_OK;
  {
    Transaction tx(db, w_->begin, w_->commit);
    rc = tx.rc();
    if (rc != SQLITE_OK) error = sqlite3_errmsg(db);
    for (std::size_t i = 0; rc == SQLITE_OK && i < batch.size(); ++i) {
      const auto& m = batch[i].mutation;
      auto& res = results[i];
      if (batch[i].state_only) {
        for (const auto& w : m.state_writes) {
          if (rc == SQLITE_OK) rc = put_state_row(db, w);
        }
        if (rc != SQLITE_OK) {
          error = sqlite3_errmsg(db);
          break;
        }
        res.status = EnqueueStatus::accepted;
        continue;
      }
      auto& find = w_->find.reset();
      find.bind(1, m.idempotency_key);
      const int frc = find.step();
      if (frc == SQLITE_ROW) {
        res.row = read_row(find);
        res.status = res.row.request_hash == m.request_hash ? EnqueueStatus::replayed
                                                            : EnqueueStatus::key_reused;
        continue;
      }
      if (frc != SQLITE_DONE) {
        rc = frc;
        error = find.error();
        break;
      }
      if (row_count_ >= options_.max_rows) {
        res.status = EnqueueStatus::full;
        res.message = "the outbox holds " + std::to_string(row_count_.load()) +
                      " mutations, its configured cap (outbox.max_rows): nothing was queued; "
                      "restore the link to the backend so acknowledged mutations can be pruned, "
                      "or raise the cap";
        continue;
      }
      OutboxRow row;
      row.seq = last_seq_ + 1;
      row.idempotency_key = m.idempotency_key;
      row.kind = m.kind;
      row.payload_json = m.payload_json;
      row.request_hash = m.request_hash;
      row.state = MutationState::pending;
      row.created_at_ms = m.created_at_ms;
      row.prev_hash = last_hash_;
      row.record_hash = record::chain_hash(
          row.prev_hash, record::EvidenceFields{options_.station_id, row.seq, row.idempotency_key,
                                                row.kind, row.created_at_ms, row.payload_json});
      row.signature = record::sign_record(options_.signing_key, row.record_hash);
      auto& ins = w_->insert.reset();
      ins.bind(1, static_cast<std::int64_t>(row.seq))
          .bind(2, row.idempotency_key)
          .bind(3, row.kind)
          .bind(4, row.payload_json)
          .bind(5, row.request_hash)
          .bind(6, row.created_at_ms)
          .bind(7, row.prev_hash)
          .bind(8, row.record_hash)
          .bind(9, row.signature);
      if (ins.step() != SQLITE_DONE) {
        rc = ins.rc();
        error = ins.error();
        break;
      }
      for (const auto& w : m.state_writes) {
        rc = put_state_row(db, w);
        if (rc != SQLITE_OK) {
          error = sqlite3_errmsg(db);
          break;
        }
      }
      if (rc != SQLITE_OK) break;
      last_hash_ = row.record_hash;
      last_seq_ = row.seq;
      ++row_count_;
      ++added_rows;
      res.status = EnqueueStatus::accepted;
      res.row = std::move(row);
      added = true;
    }
    if (rc == SQLITE_OK && added) {
      // The signed head (a record cut off the end of the chain is found by verify-evidence) and
      // the pending count, in one row: one page.
      auto& head = w_->head.reset();
      head.bind(1, static_cast<std::int64_t>(last_seq_.load()))
          .bind(2, last_hash_)
          .bind(3, sign_head(options_, last_seq_, last_hash_))
          .bind(4, added_rows);
      if (head.step() != SQLITE_DONE) {
        rc = head.rc();
        error = head.error();
      }
    }
    if (rc == SQLITE_OK) {
      w_->find.reset();  // no statement left mid-row across the commit
      w_->insert.reset();
      w_->head.reset();
      if (auto committed = tx.commit(); !committed) {
        rc = tx.rc();
        error = std::move(committed.error().message);
      }
    }
  }  // rolled back here unless committed
  if (rc == SQLITE_OK && added) read_back(results);
  if (rc != SQLITE_OK) {
    last_seq_ = seq_before;
    last_hash_ = hash_before;
    row_count_ = rows_before;
    added = false;
    const bool full = rc == SQLITE_FULL;
    spdlog::error("outbox commit failed in {}: {}", file_.string(), error);
    for (auto& res : results) {
      res = EnqueueResult{};
      res.status = full ? EnqueueStatus::full : EnqueueStatus::failed;
      res.message = full ? "the disk holding the outbox (" + file_.string() +
                               ") is full: nothing was queued; free space on it"
                         : "the outbox could not commit (" + error + ")";
    }
  }
  std::function<void()> on_commit;
  {
    std::lock_guard lock(mu_);
    if (rc == SQLITE_OK) ++commits_;
    for (const auto& res : results) {
      if (res.status == EnqueueStatus::full) {
        if (!full_) spdlog::error("outbox full: {}", res.message);
        full_ = true;
        full_reason_ = res.message;
      } else if (res.status == EnqueueStatus::accepted && full_) {
        spdlog::info("outbox accepting mutations again after being full");
        full_ = false;
        full_reason_.clear();
      }
    }
    for (const auto& p : batch) {
      if (!p.state_only) in_progress_.erase(p.mutation.idempotency_key);
    }
    on_commit = on_commit_;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(results[i]));
  if (added && on_commit) on_commit();
}

}  // namespace weighlink::sync::detail
