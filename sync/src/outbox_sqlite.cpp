// The SQLite adapter of the outbox: opening the file, and the queries of the reader connection
// (WAL lets them run beside the writer thread, outbox_writer.cpp).
#include "outbox_sqlite.hpp"

#include <limits>

#include "outbox_schema.hpp"
#include "weighlink/record/evidence.hpp"

namespace weighlink::sync {

namespace detail {

using sqlite::exec;
using sqlite::sqlite_error;
using sqlite::Stmt;
using sqlite::Transaction;

SqliteOutbox::SqliteOutbox(sqlite::Db writer, sqlite::Db reader, OutboxOptions options,
                           std::filesystem::path file)
    : writer_(std::move(writer)),
      reader_(std::move(reader)),
      options_(std::move(options)),
      file_(std::move(file)) {}

SqliteOutbox::~SqliteOutbox() { close(); }

base::Expected<void> SqliteOutbox::init() {
  Stmt last(writer_.get(), "SELECT COALESCE(MAX(seq), 0) FROM mutations");
  if (!last.ok() || last.step() != SQLITE_ROW) {
    return base::Error{std::make_error_code(std::errc::io_error),
                       "cannot read outbox " + file_.string() + ": " + last.error()};
  }
  last_seq_ = static_cast<std::uint64_t>(last.i64(0));
  Stmt floor(writer_.get(), "SELECT value FROM meta WHERE key='seq_floor'");
  if (floor.step() == SQLITE_ROW) {
    last_seq_ = std::max<std::uint64_t>(last_seq_, static_cast<std::uint64_t>(floor.i64(0)));
  }
  Stmt rows(writer_.get(), "SELECT COUNT(*) FROM mutations");
  rows.step();
  row_count_ = static_cast<std::uint64_t>(rows.i64(0));
  // The chain continues from the newest row, or from the anchor when every row was pruned.
  Stmt head(writer_.get(), "SELECT record_hash FROM mutations ORDER BY seq DESC LIMIT 1");
  if (head.step() == SQLITE_ROW) {
    last_hash_ = head.text(0);
  } else {
    last_hash_ = std::string(record::kGenesisHash);
    const auto c = read_chain(writer_.get());
    if (!c.anchor_hash.empty()) last_hash_ = c.anchor_hash;
  }
  anchor_seq_ = read_chain(writer_.get()).anchor_seq;
  // Every row pruned: numbering continues after the last one.
  last_seq_ = std::max<std::uint64_t>(last_seq_, anchor_seq_);
  thread_ = std::thread([this] { writer_loop(); });
  return {};
}

std::optional<OutboxRow> SqliteOutbox::find(const std::string& key) {
  std::lock_guard lock(reader_mu_);
  const std::string sql =
      std::string("SELECT ") + kRowColumns + " FROM mutations WHERE idempotency_key=?";
  Stmt s(reader_.get(), sql.c_str());
  s.bind(1, key);
  if (s.step() == SQLITE_ROW) return read_row(s);
  return std::nullopt;
}

std::vector<OutboxRow> SqliteOutbox::list(std::optional<MutationState> state,
                                          std::uint64_t after_seq, std::size_t limit) {
  std::lock_guard lock(reader_mu_);
  std::string sql = std::string("SELECT ") + kRowColumns + " FROM mutations WHERE seq > ?";
  if (state) sql += " AND state = ?";
  sql += " ORDER BY seq LIMIT ?";
  Stmt s(reader_.get(), sql.c_str());
  int i = 1;
  s.bind(i++, static_cast<std::int64_t>(after_seq));
  if (state) s.bind(i++, to_string(*state));
  s.bind(i++, static_cast<std::int64_t>(limit));
  std::vector<OutboxRow> out;
  while (s.step() == SQLITE_ROW) out.push_back(read_row(s));
  return out;
}

OutboxStats SqliteOutbox::stats() {
  OutboxStats st;
  {
    std::lock_guard lock(reader_mu_);
    sqlite3* db = reader_.get();
    Transaction snapshot(db, Transaction::Mode::deferred);  // one snapshot for the three reads
    {
      Stmt s(db, "SELECT pending, acknowledged, dead, discarded FROM head WHERE id = 1");
      if (s.step() == SQLITE_ROW) {
        const auto n = [&s](int col) {
          return static_cast<std::uint64_t>(std::max<std::int64_t>(0, s.i64(col)));
        };
        st.pending = n(0);
        st.acknowledged = n(1);
        st.dead = n(2);
        st.discarded = n(3);
      }
    }
    {
      // The head of the queue: the pending row sent next (index mutations_by_state).
      Stmt s(db,
             "SELECT created_at_ms FROM mutations WHERE state = 'pending' ORDER BY seq "
             "LIMIT 1");
      if (s.step() == SQLITE_ROW) st.oldest_pending_created_at_ms = s.i64(0);
    }
    {
      Stmt s(db, "SELECT MAX(seq) FROM mutations WHERE state = 'acknowledged'");
      if (s.step() == SQLITE_ROW && !s.is_null(0)) {
        st.acknowledged_seq = static_cast<std::uint64_t>(s.i64(0));
      }
    }
    {
      Stmt s(db,
             "SELECT (SELECT value FROM meta WHERE key = 'archive_rows'), "
             "(SELECT value FROM meta WHERE key = 'archive_bytes'), "
             "(SELECT seq FROM archive ORDER BY seq LIMIT 1), "
             "(SELECT created_at_ms FROM archive ORDER BY seq LIMIT 1)");
      if (s.step() == SQLITE_ROW) {
        st.archived_rows = static_cast<std::uint64_t>(std::max<std::int64_t>(0, s.i64(0)));
        st.archive_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(0, s.i64(1)));
        if (!s.is_null(2)) {
          st.archive_oldest_seq = static_cast<std::uint64_t>(s.i64(2));
          st.archive_oldest_created_at_ms = s.i64(3);
        }
      }
    }
    st.archive_trimmed_through_seq = read_chain(db).archive_anchor_seq;
    (void)snapshot.commit();
  }
  st.archive_max_bytes = options_.archive_max_bytes;
  st.evidence_retention_ms = options_.evidence_retention_ms;
  st.readback_failures = readback_failures_;
  std::lock_guard lock(mu_);
  st.last_seq = last_seq_;
  st.commits = commits_;
  st.caller_commits = caller_commits_;
  st.rows = row_count_;
  st.max_rows = options_.max_rows;
  st.pruned_through_seq = anchor_seq_;
  st.full = full_;
  st.full_reason = full_reason_;
  return st;
}

namespace {

// The archive's rows and the outbox's, in seq order, each with a last column `archived` (1 or 0);
// `where` filters both.
std::string evidence_select(const std::string& where) {
  return std::string("SELECT ") + kRowColumns + ", 1 FROM archive " + where + " UNION ALL SELECT " +
         kRowColumns + ", 0 FROM mutations " + where + " ORDER BY 1";
}

}  // namespace

boost::system::result<void> SqliteOutbox::scan_rows(
    const std::string& sql, const std::function<void(const Chain&)>& on_chain,
    const std::function<bool(const Stmt&)>& on_row) {
  std::lock_guard lock(reader_mu_);
  sqlite3* db = reader_.get();
  Transaction snapshot(db, Transaction::Mode::deferred);
  if (!snapshot.begun()) return sqlite_error(sqlite3_errcode(db));
  on_chain(read_chain(db));
  int rc = SQLITE_DONE;
  {
    Stmt s(db, sql.c_str());
    while ((rc = s.step()) == SQLITE_ROW) {
      if (!on_row(s)) {
        rc = SQLITE_DONE;
        break;
      }
    }
  }
  (void)snapshot.commit();
  if (rc != SQLITE_DONE) return sqlite_error(rc);
  return {};
}

boost::system::result<void> SqliteOutbox::scan(
    const std::function<void(const Chain&)>& on_chain,
    const std::function<bool(const OutboxRow&)>& on_row) {
  return scan_rows(std::string("SELECT ") + kRowColumns + " FROM mutations ORDER BY seq", on_chain,
                   [&](const Stmt& s) { return on_row(read_row(s)); });
}

boost::system::result<void> SqliteOutbox::scan_evidence(
    const std::function<void(const Chain&)>& on_chain,
    const std::function<bool(const StoredRecord&)>& on_record) {
  return scan_rows(evidence_select(""), on_chain, [&](const Stmt& s) {
    return on_record(StoredRecord{read_row(s), s.i64(kArchivedColumn) != 0});
  });
}

std::vector<StoredRecord> SqliteOutbox::records(std::uint64_t from, std::uint64_t to,
                                                std::size_t limit) {
  std::lock_guard lock(reader_mu_);
  const auto sql = evidence_select("WHERE seq BETWEEN ?1 AND ?2") + " LIMIT ?3";
  Stmt s(reader_.get(), sql.c_str());
  // Seqs are stored as signed 64-bit integers.
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  s.bind(1, static_cast<std::int64_t>(std::min(from, kMax)))
      .bind(2, static_cast<std::int64_t>(std::min(to, kMax)))
      .bind(3, static_cast<std::int64_t>(std::min<std::uint64_t>(limit, kMax)));
  std::vector<StoredRecord> out;
  while (s.step() == SQLITE_ROW) {
    out.push_back(StoredRecord{read_row(s), s.i64(kArchivedColumn) != 0});
  }
  return out;
}

std::optional<std::string> SqliteOutbox::get_state(const std::string& key) {
  std::lock_guard lock(reader_mu_);
  Stmt s(reader_.get(), "SELECT value FROM state WHERE key=?");
  s.bind(1, key);
  if (s.step() == SQLITE_ROW) return s.text(0);
  return std::nullopt;
}

void SqliteOutbox::set_on_commit(std::function<void()> callback) {
  std::lock_guard lock(mu_);
  on_commit_ = std::move(callback);
}

}  // namespace detail

std::string_view to_string(MutationState state) {
  switch (state) {
    case MutationState::pending:
      return "pending";
    case MutationState::acknowledged:
      return "acknowledged";
    case MutationState::dead:
      return "dead";
    case MutationState::discarded:
      return "discarded";
  }
  return "pending";
}

std::optional<MutationState> parse_state(std::string_view text) {
  if (text == "pending") return MutationState::pending;
  if (text == "acknowledged") return MutationState::acknowledged;
  if (text == "dead") return MutationState::dead;
  if (text == "discarded") return MutationState::discarded;
  return std::nullopt;
}

base::Expected<std::unique_ptr<Outbox>> Outbox::open(const std::filesystem::path& file,
                                                     OutboxOptions options) {
  if (!options.create_if_missing && !std::filesystem::exists(file)) {
    return base::Error{
        std::make_error_code(std::errc::no_such_file_or_directory),
        "no outbox at " + file.string() +
            "; give the agent's data directory (--data-dir or data_dir in the configuration)"};
  }
  auto writer = sqlite::open_db(file, options.create_if_missing);
  if (!writer) return writer.error();

  // Refuse a damaged file before touching it: an operator must decide what to do with it.
  if (options.check_integrity) {
    sqlite::Stmt check(writer->get(), "PRAGMA quick_check");
    const int rc = check.step();
    const std::string verdict = rc == SQLITE_ROW ? check.text(0) : check.error();
    if (verdict != "ok") {
      return base::Error{
          std::make_error_code(std::errc::illegal_byte_sequence),
          "the outbox " + file.string() + " is damaged (" + verdict +
              "); the agent will not start on it. Stop the agent, move the file (with its -wal "
              "and -shm files) aside for support, and see docs/operations.md, "
              "\"Outbox integrity\""};
    }
  }
  if (auto prepared = detail::prepare_schema(writer->get(), file, options); !prepared) {
    return prepared.error();
  }
  auto reader = sqlite::open_db(file, options.create_if_missing);
  if (!reader) return reader.error();
  auto outbox = std::make_unique<detail::SqliteOutbox>(std::move(*writer), std::move(*reader),
                                                       std::move(options), file);
  if (auto started = outbox->init(); !started) return started.error();
  return std::unique_ptr<Outbox>(std::move(outbox));
}

}  // namespace weighlink::sync
