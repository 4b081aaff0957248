#!/usr/bin/env bash
# make demo: a throwaway PostgreSQL cluster under .demo/, the backend, a simulated indicator on a
# pseudo-terminal and the agent. Prints the URLs; Ctrl-C stops everything and leaves nothing behind.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/build/bin"
demo="$root/.demo"
pgbin=/usr/lib/postgresql/15/bin
agent_listen=${WEIGHLINK_DEMO_LISTEN:-127.0.0.1:8420}

pids=()
pgdata=""
as_pg=()
cleanup() {
  trap - EXIT INT TERM
  echo
  echo "demo: stopping"
  for ((i=${#pids[@]}-1; i>=0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n "$pgdata" && -f "$pgdata/postmaster.pid" ]]; then
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true
  fi
  echo "demo: stopped (logs and data remain in $demo)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$demo"
mkdir -p "$demo"

# PostgreSQL refuses to run as root: run it as the postgres user, in a directory it can enter.
pgroot="$demo/pg"
if [[ $(id -u) -eq 0 ]]; then
  as_pg=(runuser -u postgres --)
  if ! runuser -u postgres -- test -x "$demo"; then
    pgroot=$(mktemp -d /tmp/weighlink-demo-pg.XXXXXX)
    ln -s "$pgroot" "$demo/pg"
  else
    mkdir -p "$pgroot"
  fi
  chown postgres "$pgroot"
else
  mkdir -p "$pgroot"
fi
pgdata="$pgroot/data"
echo "demo: creating a throwaway PostgreSQL cluster in $pgroot"
"${as_pg[@]}" "$pgbin/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
  --no-sync >"$demo/initdb.log" 2>&1
pgport=""
for attempt in $(seq 1 20); do
  port=$((20000 + RANDOM % 30000))
  if "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdata" -l "$pgroot/postgres.log" -w -t 30 \
      -o "-p $port -k $pgroot -c listen_addresses=127.0.0.1" start >/dev/null 2>&1; then
    pgport=$port
    break
  fi
done
[[ -n "$pgport" ]] || { echo "demo: PostgreSQL did not start; see $pgroot/postgres.log" >&2; exit 1; }
"${as_pg[@]}" "$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U postgres weighlink
dsn="host=127.0.0.1 port=$pgport user=postgres dbname=weighlink"

"$bin/weighlink-backend" migrate --dsn "$dsn"
"$bin/weighlink-backend" station add --dsn "$dsn" --id demo-station | tail -n 1 >"$demo/station.token"
chmod 600 "$demo/station.token"

wait_ready() {  # file pid name
  for _ in $(seq 1 300); do
    [[ -s "$1" ]] && return 0
    kill -0 "$2" 2>/dev/null || { echo "demo: $3 exited; see its log in $demo" >&2; exit 1; }
    sleep 0.1
  done
  echo "demo: $3 did not become ready; see its log in $demo" >&2
  exit 1
}
addr_of() { sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" "$1"; }

"$bin/weighlink-backend" serve --dsn "$dsn" --grpc-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
  --ready-file "$demo/backend.ready" >"$demo/backend.log" 2>&1 &
pids+=($!)
wait_ready "$demo/backend.ready" "${pids[-1]}" backend
grpc=$(addr_of "$demo/backend.ready" grpc)
backend_http=$(addr_of "$demo/backend.ready" http)

"$bin/weighlink-scale" simulate --protocol mt-continuous --pty "$demo/scale" --profile truck \
  --rate 10 >"$demo/simulator.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do [[ -e "$demo/scale" ]] && break; sleep 0.1; done

# TruConnect compatibility on 127.0.0.1:3030/3031 for the TruLoad web app
# (WEIGHLINK_DEMO_TRUCONNECT=off when those ports are taken).
compat=()
[[ "${WEIGHLINK_DEMO_TRUCONNECT:-on}" == "off" ]] || compat=(--truconnect)
"$bin/weighlink-agent" --listen "$agent_listen" --ready-file "$demo/agent.ready" \
  --data-dir "$demo/agent-data" --station-id demo-station \
  --station-token-file "$demo/station.token" --backend "$grpc" "${compat[@]}" \
  --scale-source "serial:$demo/scale" --scale-protocol mt-continuous >"$demo/agent.log" 2>&1 &
pids+=($!)
wait_ready "$demo/agent.ready" "${pids[-1]}" agent
# A new station refuses unsigned weighings: register the key the agent made on its first start
# (its weighings are then signed and checked), or allow them when there is none.
if [[ -s "$demo/agent-data/station.key" ]]; then
  "$bin/weighlink-backend" station set-key --dsn "$dsn" --id demo-station \
    --key-file "$demo/agent-data/station.key" >/dev/null
else
  "$bin/weighlink-backend" station set-unsigned-weighings --dsn "$dsn" --id demo-station allow \
    >/dev/null
fi
http=$(addr_of "$demo/agent.ready" http)
tc_ws=$(addr_of "$demo/agent.ready" truconnect_ws)
tc_http=$(addr_of "$demo/agent.ready" truconnect_http)

cat <<MSG

weighlink demo is running
  operator page    http://$http/
  live socket      ws://$http/v1/live
  agent status     http://$http/v1/status
  TruConnect       ws://${tc_ws:-off} and http://${tc_http:-off}/api/v1 (TruLoad web app)
  backend health   http://$backend_http/readyz
  backend gRPC     $grpc
  PostgreSQL       $dsn
  logs             $demo/*.log

A web app (the TruLoad app, or yours) is refused until this station pairs it: its first request
is listed on the operator page ("Allow https://... to use this station's scale?"); Allow it there,
or: $bin/weighlink-agent origins allow https://app.example.org --data-dir $demo/agent-data
(docs/browsers.md says what each browser needs).

Capture the current weight:
  curl -s -X POST http://$http/v1/captures -H 'Content-Type: application/json' \\
       -H "Idempotency-Key: \$(cat /proc/sys/kernel/random/uuid)" -d '{"scale":"main"}'

Press Ctrl-C to stop.
MSG

wait -n "${pids[@]}" || true
echo "demo: a component exited; see the logs in $demo" >&2
exit 1
