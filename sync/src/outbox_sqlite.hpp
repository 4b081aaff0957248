#pragma once
// The SQLite outbox (Outbox's one implementation). Private to sync/. Its members are defined in
// three files along its seams: outbox_sqlite.cpp (opening, the reader connection's queries),
// outbox_writer.cpp (the writer thread and its group commit), outbox_maintenance.cpp (answers,
// rewinds, dead letters, renumbering and pruning, run as jobs on the writer thread).
//
// Threading: as Outbox. The writer connection is used by one thread at a time: the one that set
// committing_ (the writer thread, or a caller of enqueue_wait() leading a commit); the reader
// connection is used under reader_mu_.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "sqlite_handle.hpp"
#include "weighlink/sync/outbox.hpp"

namespace weighlink::sync::detail {

class SqliteOutbox final : public Outbox {
 public:
  SqliteOutbox(sqlite::Db writer, sqlite::Db reader, OutboxOptions options,
               std::filesystem::path file);
  ~SqliteOutbox() override;

  // Reads where the numbering and the chain continue, and starts the writer thread.
  // Nothing, or the Error naming the file (io_error).
  [[nodiscard]] base::Expected<void> init();

  void enqueue(NewMutation mutation, std::function<void(EnqueueResult)> done) override;
  EnqueueResult enqueue_wait(NewMutation mutation) override;
  std::optional<OutboxRow> find(const std::string& key) override;
  std::vector<OutboxRow> list(std::optional<MutationState> state, std::uint64_t after_seq,
                              std::size_t limit) override;
  OutboxStats stats() override;
  std::vector<StoredRecord> search_weighings(const WeighingQuery& query) override;  // outbox_search
  boost::system::result<void> mark_results(std::span<const MutationOutcome> outcomes,
                                           std::int64_t now_ms) override;
  std::future<boost::system::result<void>> mark_results_later(std::vector<MutationOutcome> outcomes,
                                                              std::int64_t now_ms) override;
  boost::system::result<void> mark_attempt_failed(std::span<const std::uint64_t> seqs,
                                                  const std::string& error) override;
  boost::system::result<std::uint64_t> rewind_above(std::uint64_t high_water_seq) override;
  boost::system::result<bool> retry_dead(const std::string& key) override;
  boost::system::result<bool> discard_dead(const std::string& key, const std::string& reason,
                                           std::int64_t now_ms) override;
  boost::system::result<std::uint64_t> continue_above(std::uint64_t high_water) override;
  boost::system::result<PruneResult> prune(std::uint64_t durable_seq,
                                           std::int64_t created_before_ms) override;
  boost::system::result<PruneResult> trim_archive(std::int64_t now_ms) override;
  std::vector<StoredRecord> records(std::uint64_t from, std::uint64_t to,
                                    std::size_t limit) override;
  boost::system::result<void> scan(const std::function<void(const Chain&)>& on_chain,
                                   const std::function<bool(const OutboxRow&)>& on_row) override;
  boost::system::result<void> scan_evidence(
      const std::function<void(const Chain&)>& on_chain,
      const std::function<bool(const StoredRecord&)>& on_record) override;
  std::optional<std::string> get_state(const std::string& key) override;
  void put_state(StateWrite write, std::function<void(boost::system::result<void>)> done) override;
  void set_on_commit(std::function<void()> callback) override;
  void close() override;

 private:
  struct Pending {
    NewMutation mutation;
    std::function<void(EnqueueResult)> done;
    bool state_only = false;  // put_state(): only mutation.state_writes, in queue order
  };
  using Job = std::function<void(sqlite3*)>;
  using TransactionFn = std::function<boost::system::result<void>(sqlite3*)>;

  // Queues `fn` to run inside one transaction on the writer thread; its result once committed.
  std::future<boost::system::result<void>> submit_on_writer(TransactionFn fn);
  // The same, waiting for it (`fn` may refer to the caller's locals).
  boost::system::result<void> run_on_writer(const TransactionFn& fn);
  void writer_loop();
  // Under mu_ (held by `lock`): takes the next group off the queue.
  std::deque<Pending> take_group();
  // enqueue_wait() with no commit in progress: commits groups on this thread until `answered`.
  void lead(std::unique_lock<std::mutex>& lock, const bool& answered);
  // Reader connection, one snapshot: the chain, then each row `sql` selects until `on_row` says
  // stop.
  boost::system::result<void> scan_rows(const std::string& sql,
                                        const std::function<void(const Chain&)>& on_chain,
                                        const std::function<bool(const sqlite::Stmt&)>& on_row);
  // One transaction for the whole group; each mutation is checked against its key first.
  void commit_group(std::deque<Pending>& batch);
  // Writer thread, after the commit: each accepted row read back and compared with what was
  // written; a mismatch turns its result into readback_failed.
  void read_back(std::vector<EnqueueResult>& results);
  // Writer thread, in its transaction: see outbox_maintenance.cpp.
  boost::system::result<std::uint64_t> renumber_above(sqlite3* db, std::uint64_t high_water);

  // The statements of every commit, prepared once on the writer thread.
  struct WriterStatements {
    explicit WriterStatements(sqlite3* db);
    sqlite::Stmt begin, commit, find, insert, readback, head;
  };

  sqlite::Db writer_;
  sqlite::Db reader_;
  std::unique_ptr<WriterStatements> w_;  // writer thread
  OutboxOptions options_;
  std::filesystem::path file_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  std::deque<Job> jobs_;
  std::unordered_set<std::string> in_progress_;
  std::function<void()> on_commit_;
  bool closed_ = false;
  // The writer connection is in use (a group or a job); only its holder touches it and the members
  // "written by the committer" below.
  bool committing_ = false;
  std::uint64_t commits_ = 0;
  std::uint64_t caller_commits_ = 0;

  // Written by the committer only (committing_); read by stats().
  std::atomic<std::uint64_t> last_seq_{0};
  std::atomic<std::uint64_t> row_count_{0};
  std::string last_hash_;  // the chain's newest hash (the committer)
  std::uint64_t anchor_seq_ = 0;
  bool full_ = false;
  std::string full_reason_;
  std::atomic<bool> archive_full_{false};
  std::atomic<std::uint64_t> readback_failures_{0};

  std::mutex reader_mu_;
  std::thread thread_;
};

}  // namespace weighlink::sync::detail
