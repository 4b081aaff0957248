#!/usr/bin/env bash
# The point-in-time recovery drill of the 1 h tier (docs/operations.md, "Point-in-time recovery
# (pgBackRest)"), end to end with the real tools: a throwaway PostgreSQL 15 cluster archiving its
# WAL with pgBackRest into a repository in a temp dir; a full backup of an empty weighlink
# database; then `weighlink-backend migrate`, `station add` and captured weighings, which exist
# only in the archived WAL; a target time; a mistake after it (every weighing and mutation
# deleted); the server stopped; `pgbackrest restore --type=time --target=... --target-action=
# promote --delta`; the server started and waited for until it is promoted. Checks: every row from
# before the target is back, byte for byte (md5 over the rows), the mistake is not; the generation
# is the one the database had at the target until `weighlink-backend mark-restored` sets a new one
# with restored_from and restored_at; archiving goes on after the promotion (pgbackrest check on
# the new timeline). Prints the measured figures as the last line (JSON): backup_s, restore_s
# (pgbackrest restore), recovery_s (start, WAL replay to the target, promotion), mark_s, rto_s
# (the three together), wal_archived (pg_stat_archiver before the stop).
#   tests/pitr/pitr-drill.sh [WEIGHLINK_BACKEND | BIN_DIR]    (default: build/bin)
# Unix socket only (listen_addresses=''), nothing outside its temp dir; as root the server and
# pgBackRest run as `postgres`. PITR_KEEP=1 keeps the temp dir. Exit 0 only when every check passed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
arg=${1:-$here/../../build/bin}
if [[ -d "$arg" ]]; then backend=$arg/weighlink-backend; else backend=$arg; fi
pgbin=/usr/lib/postgresql/15/bin
stanza=weighlink
port=54329  # a socket file in our own directory: no TCP port is taken

say() { echo "pitr-drill: $*"; }
die() {
  echo "pitr-drill: FAIL: $*" >&2
  exit 1
}
[[ -x "$backend" ]] || die "no weighlink-backend at $backend; build it (cmake --build build --target weighlink-backend) or pass its path"
[[ -x "$pgbin/initdb" ]] || die "no PostgreSQL 15 in $pgbin; install postgresql-15 (scripts/deps.sh)"
command -v pgbackrest >/dev/null || die "pgbackrest is not installed; install it (scripts/deps.sh)"

work=$(mktemp -d /tmp/wl-pitr.XXXXXX)
data=$work/data
sock=$work/sock
cfg=$work/pgbackrest.conf
dsn="host=$sock port=$port user=postgres dbname=weighlink connect_timeout=5"

as_pg=()
if [[ $(id -u) -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || die "running as root but there is no postgres user"
  as_pg=(/usr/sbin/runuser -u postgres --)  # PostgreSQL refuses to run as root
  chown postgres: "$work"
fi
pg() { "${as_pg[@]}" "$@"; }
pgbr() { pg timeout 180 pgbackrest --config="$cfg" --stanza="$stanza" "$@"; }
sql() { timeout 30 "$pgbin/psql" "$dsn" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
now_s() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.2f", b - a }'; }

cleanup() {
  local rc=$?
  if [[ -f "$data/postmaster.pid" ]]; then
    pg "$pgbin/pg_ctl" -D "$data" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
    local pid
    pid=$(head -1 "$data/postmaster.pid" 2>/dev/null || true)
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  fi
  if [[ $rc -ne 0 ]]; then
    for log in "$work/server.log" "$work"/log/*.log; do
      [[ -f "$log" ]] || continue
      echo "---- last lines of $log" >&2
      tail -15 "$log" >&2
    done
  fi
  if [[ "${PITR_KEEP:-0}" == 1 ]]; then
    echo "pitr-drill: kept $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# Segment switched to, then waits (up to 60 s) until the archiver has pushed it to the repository.
archive_now() {
  local segment last failed
  segment=$(sql "SELECT pg_walfile_name(pg_switch_wal())")
  for _ in $(seq 1 120); do
    read -r last failed < <(sql "SELECT coalesce(last_archived_wal, '-'), failed_count FROM pg_stat_archiver" | tr '|' ' ')
    [[ "$failed" == 0 ]] || die "archive_command failed $failed times (pg_stat_archiver); see the pgBackRest log"
    [[ "$last" != - && ! "$last" < "$segment" ]] && return 0
    sleep 0.5
  done
  die "WAL segment $segment was not archived within 60 s (last archived: $last)"
}

start_server() {
  pg "$pgbin/pg_ctl" -D "$data" -l "$work/server.log" -w -t 30 start >/dev/null ||
    die "the server did not start within 30 s"
}

say "cluster in $work"
pg mkdir -p "$sock" "$work/repo" "$work/log" "$work/lock" "$work/spool"
pg "$pgbin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync \
  >"$work/initdb.log" 2>&1 || die "initdb failed: $(tail -3 "$work/initdb.log")"
pg tee -a "$data/postgresql.conf" >/dev/null <<EOF
listen_addresses = ''
port = $port
unix_socket_directories = '$sock'
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config=$cfg --stanza=$stanza archive-push %p'
archive_timeout = 60
EOF
pg tee "$cfg" >/dev/null <<EOF
[global]
repo1-path=$work/repo
repo1-retention-full=2
log-path=$work/log
lock-path=$work/lock
spool-path=$work/spool
log-level-console=warn
log-level-file=info
start-fast=y
compress-type=zst

[$stanza]
pg1-path=$data
pg1-port=$port
pg1-socket-path=$sock
pg1-user=postgres
EOF
start_server
timeout 30 "$pgbin/psql" "${dsn/dbname=weighlink/dbname=postgres}" -XAtq -c "CREATE DATABASE weighlink" >/dev/null

say "pgbackrest stanza-create, check, backup --type=full"
pgbr stanza-create || die "pgbackrest stanza-create failed"
pgbr check || die "pgbackrest check failed: archive_command does not deliver WAL to the repository"
t=$(now_s)
pgbr backup --type=full || die "pgbackrest backup --type=full failed"
backup_s=$(since "$t")

say "weighlink schema, 3 stations and their captures (after the backup: in the WAL only)"
"$backend" migrate --dsn "$dsn" >/dev/null || die "weighlink-backend migrate failed"
for s in st0 st1 st2; do
  "$backend" station add --dsn "$dsn" --id "$s" >/dev/null || die "weighlink-backend station add --id $s failed"
done
per_station=500
sql "INSERT INTO mutation_log (station_id, idempotency_key, seq, kind, payload, payload_sha256,
       outcome, created_at)
     SELECT 'st' || s, 'key-' || g, g, 'weighing.captured',
            jsonb_build_object('weight', (g * 20)::text), md5(g::text), 'applied', now()
     FROM generate_series(0, 2) s, generate_series(1, $per_station) g" >/dev/null
sql "INSERT INTO weighings (station_id, idempotency_key, scale, weight, unit, mode, captured_at)
     SELECT station_id, idempotency_key, 'main', (seq * 20)::numeric, 'kg', 'gross', now()
     FROM mutation_log" >/dev/null
sql "UPDATE stations SET high_water_seq = $per_station" >/dev/null

# What the restore must bring back exactly: counts, the rows' content, high waters, generation.
fingerprint() {
  sql "SELECT (SELECT count(*) FROM stations) || ' ' || (SELECT count(*) FROM mutation_log) || ' '
              || (SELECT count(*) FROM weighings) || ' '
              || (SELECT md5(coalesce(string_agg(m::text, ',' ORDER BY station_id, seq), ''))
                  FROM mutation_log m) || ' '
              || (SELECT md5(coalesce(string_agg(w::text, ',' ORDER BY station_id, idempotency_key), ''))
                  FROM weighings w) || ' '
              || (SELECT string_agg(id || '=' || high_water_seq, ',' ORDER BY id) FROM stations)"
}
generation() { sql "SELECT value FROM backend_meta WHERE key = 'generation'"; }
before=$(fingerprint)
generation_before=$(generation)
read -r n_stations n_mutations n_weighings _ <<<"$before"
[[ "$n_mutations" == $((3 * per_station)) && "$n_weighings" == $((3 * per_station)) ]] ||
  die "seeding gave $n_mutations mutations and $n_weighings weighings, expected $((3 * per_station)) each"

archive_now
# pgBackRest keeps the backup's stop time in whole seconds and restores to a target only from a
# backup that stopped before it: the target is taken once the clock has left the stop's second (a
# fast machine seeds within it).
backup_stop=$(timeout 30 "$pgbin/psql" "$dsn" -XAtq -v ON_ERROR_STOP=1 -v j="$(pgbr info --output=json)" <<<"
  SELECT b->'timestamp'->>'stop'
  FROM jsonb_array_elements(:'j'::jsonb) s, jsonb_path_query(s, '$.backup[last]') b")
[[ "$backup_stop" =~ ^[0-9]+$ ]] || die "pgbackrest info --output=json: no stop time for the backup"
sql "SELECT pg_sleep(GREATEST(0, $backup_stop + 1 - extract(epoch FROM clock_timestamp())))" >/dev/null
target=$(sql "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
say "target time $target ($n_stations stations, $n_mutations mutations, $n_weighings weighings)"
sleep 1  # the mistake commits strictly after the target

say "the mistake: every weighing and mutation deleted"
sql "BEGIN; DELETE FROM weighings; DELETE FROM mutation_log; UPDATE stations SET high_water_seq = 0; COMMIT" >/dev/null
[[ $(sql "SELECT count(*) FROM mutation_log") == 0 ]] || die "the mistake did not delete"
archive_now  # recovery must see a commit after the target to stop there
wal_archived=$(sql "SELECT archived_count FROM pg_stat_archiver")
info_json=$(pgbr info --output=json)
read -r info_status backup_error db_bytes repo_bytes < <(
  timeout 30 "$pgbin/psql" "$dsn" -XAtq -v ON_ERROR_STOP=1 -v j="$info_json" <<<"
    SELECT s->'status'->>'code', b->>'error', b->'info'->>'size', b->'info'->'repository'->>'size'
    FROM jsonb_array_elements(:'j'::jsonb) s, jsonb_path_query(s, '$.backup[last]') b" | tr '|' ' ')
[[ "${info_status:-}" == 0 && "${backup_error:-}" == false ]] ||
  die "pgbackrest info --output=json: status code ${info_status:-?}, backup error ${backup_error:-?}"
pg "$pgbin/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null || die "pg_ctl stop failed"

say "pgbackrest restore --type=time --target=\"$target\" --target-action=promote --delta"
t=$(now_s)
pgbr restore --type=time "--target=$target" --target-action=promote --delta ||
  die "pgbackrest restore failed"
restore_s=$(since "$t")
t=$(now_s)
start_server
for _ in $(seq 1 120); do
  [[ $(sql "SELECT pg_is_in_recovery()" 2>/dev/null || true) == f ]] && break
  sleep 0.5
done
[[ $(sql "SELECT pg_is_in_recovery()") == f ]] || die "the server is still in recovery after 60 s"
recovery_s=$(since "$t")

after=$(fingerprint)
[[ "$after" == "$before" ]] ||
  die "the restored database differs from the target's: expected [$before], got [$after]"
say "every row from before the target is back and the deletion is not: $after"
[[ $(generation) == "$generation_before" ]] || die "the generation changed during the restore"
timeline=$(sql "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int")
[[ "$timeline" -ge 2 ]] || die "the server did not promote onto a new timeline (timeline $timeline)"

t=$(now_s)
restored_from="pgbackrest PITR to $target"
out=$("$backend" mark-restored --dsn "$dsn" --from "$restored_from") ||
  die "weighlink-backend mark-restored failed: $out"
mark_s=$(since "$t")
echo "$out" | sed 's/^/  | /'
generation_after=$(tail -1 <<<"$out")
[[ "$generation_after" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] ||
  die "mark-restored's last line is not a generation: $generation_after"
[[ "$generation_after" != "$generation_before" ]] || die "mark-restored left the generation as it was"
[[ $(generation) == "$generation_after" ]] || die "backend_meta does not hold the printed generation"
[[ $(sql "SELECT value FROM backend_meta WHERE key = 'restored_from'") == "$restored_from" ]] ||
  die "restored_from is not \"$restored_from\""
[[ $(sql "SELECT value::timestamptz > now() - interval '5 minutes' FROM backend_meta
          WHERE key = 'restored_at'") == t ]] || die "restored_at is missing or not recent"
[[ $(fingerprint) == "$before" ]] || die "mark-restored changed the data"
rto_s=$(awk -v a="$restore_s" -v b="$recovery_s" -v c="$mark_s" 'BEGIN { printf "%.2f", a + b + c }')

say "archiving goes on after the promotion (pgbackrest check on timeline $timeline)"
pgbr check || die "pgbackrest check failed after the restore: archiving does not work on the new timeline"

say "pass"
printf '{"result":"pass","pgbackrest":"%s","backup_s":%s,"restore_s":%s,"recovery_s":%s,"mark_s":%s,"rto_s":%s,"wal_archived":%s,"db_bytes":%s,"repo_bytes":%s,"mutations":%s,"weighings":%s,"target":"%s","timeline":%s,"generation_before":"%s","generation_after":"%s"}\n' \
  "$(pgbackrest version | awk '{ print $2 }')" "$backup_s" "$restore_s" "$recovery_s" "$mark_s" \
  "$rto_s" "$wal_archived" "$db_bytes" "$repo_bytes" "$n_mutations" "$n_weighings" "$target" "$timeline" \
  "$generation_before" "$generation_after"
