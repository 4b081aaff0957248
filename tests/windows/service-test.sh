#!/usr/bin/env bash
# The agent's Windows service code run for real under Wine's service control manager (wine64): the
# agent's own `service install|run|uninstall` code (agent/src/service/windows_service.cpp,
# service_command.cpp) built with mingw-w64 into service_harness.exe, whose stand-in agent logs
# what it sees (the real agent cannot be linked here). Checks: install registers the service as
# the agent would be (command line, automatic start, LocalService, own process, name,
# description); the service control manager starts it, it reports RUNNING once ready, its
# configuration is created from agent.example.yaml in ProgramData; STOP reaches the agent's stop
# path and it reports STOPPED; `service run` from a console refuses; uninstall stops and removes it
# and keeps ProgramData. Wine is not Windows: recovery actions are accepted but not kept by Wine,
# so they are not checked here (docs/install-windows.md).
#   tests/windows/service-test.sh SOURCE_DIR
set -euo pipefail

src=${1:?usage: service-test.sh SOURCE_DIR}
cxx=x86_64-w64-mingw32-g++-posix
wine=/usr/lib/wine/wine64
wineserver=/usr/lib/wine/wineserver
for tool in "$cxx" "$wine"; do
  command -v "$tool" >/dev/null || { echo "service-test: $tool is missing" >&2; exit 1; }
done
work=$(mktemp -d /tmp/wl-service-test.XXXXXX)
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
cleanup() {
  "$wineserver" -k >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
check() {
  local what=$1
  shift
  if "$@"; then echo "  ok    $what"; else echo "  FAIL  $what"; failures=$((failures + 1)); fi
}
w() { (cd "$work" && timeout 60 "$wine" "$@" 2>&1 | tr -d '\r'); }
state() { w sc query weighlink-agent | sed -n 's/.*STATE *: *[0-9]* *\([A-Z_]*\).*/\1/p'; }
# Asks for a state until the service is in it (up to 30 s): Wine's service control manager answers
# "database locked" while it is itself starting the automatic services, this one among them.
until_state() {  # until_state STATE start|stop
  for _ in $(seq 1 30); do
    [[ "$(state)" == "$1" ]] && return 0
    w sc "$2" weighlink-agent >/dev/null || true
    sleep 1
  done
  return 1
}

echo "service-test: building the harness"
# The host's Boost headers (base/error.hpp: boost::system::result), through a directory of links
# that keeps the host's own system headers out, as cross-compile.sh does.
mkdir -p "$work/include"
ln -s /usr/include/boost "$work/include/boost"
"$cxx" -std=c++20 -O1 -Wall -Wextra -Werror -static -I"$src/agent/include" -I"$src/sync/include" \
  -I"$src/sync/base/include" -I"$src/sync/record/include" -I"$src/proto/include" \
  -isystem "$work/include" \
  "$src/tests/windows/service_harness.cpp" "$src/agent/src/service/service_command.cpp" \
  "$src/agent/src/service/windows_service.cpp" -ladvapi32 -lshell32 -lole32 -luuid -o "$work/harness.exe"

echo "service-test: a Wine prefix"
"$wine" wineboot -i >"$work/wineboot.log" 2>&1 || { tail -20 "$work/wineboot.log"; exit 1; }
drive_c="$WINEPREFIX/drive_c"
mkdir -p "$drive_c/weighlink"
cp "$work/harness.exe" "$drive_c/weighlink/weighlink-agent.exe"
cp "$src/installers/windows/agent.example.yaml" "$drive_c/weighlink/agent.example.yaml"
programdata=$(w cmd /c 'echo %ProgramData%' | tail -1)
echo "  %ProgramData% is $programdata"

echo "service-test: install"
out=$(w 'C:\weighlink\weighlink-agent.exe' service install)
echo "$out" | sed 's/^/  | /'
check "service install says so" grep -q "service weighlink-agent installed" <<<"$out"
key='HKLM\System\CurrentControlSet\Services\weighlink-agent'
reg=$(w reg query "$key")
value() { sed -n "s/^ *$1 *REG_[A-Z_]* *//p" <<<"$reg"; }
check "the command line runs 'service run' on ProgramData's agent.yaml" \
  test "$(value ImagePath)" = '"C:\weighlink\weighlink-agent.exe" service run --config "C:\ProgramData\weighlink\agent.yaml"'
check "automatic start" test "$(value Start)" = 0x2
check "its own process" test "$(value Type)" = 0x10
check "as LocalService" test "$(value ObjectName)" = 'NT AUTHORITY\LocalService'
check "its display name" test "$(value DisplayName)" = "weighlink station agent"
check "its description" grep -q "durable outbox" <<<"$(value Description)"

echo "service-test: start"
check "RUNNING once the agent is ready" until_state RUNNING start
log="$drive_c/ProgramData/weighlink/harness.log"
for _ in $(seq 1 20); do grep -q ready "$log" 2>/dev/null && break; sleep 0.5; done
sed 's/^/  | /' "$log" 2>/dev/null || true
check "the agent got ProgramData's agent.yaml, created from the example" \
  grep -qxF 'started config=C:\ProgramData\weighlink\agent.yaml config_exists=yes' <(tr -d '\r' <"$log")
check "that agent.yaml is the example" cmp -s "$drive_c/ProgramData/weighlink/agent.yaml" \
  "$src/installers/windows/agent.example.yaml"

echo "service-test: stop"
# (Each new Wine session starts the automatic services again, so the state is read from the answer
# to the STOP itself, not from a later query.)
stopped=no
for _ in $(seq 1 30); do
  if w sc stop weighlink-agent | grep -q 'STATE *: *1 *STOPPED'; then stopped=yes; break; fi
  sleep 1
done
check "STOPPED after a STOP control" test "$stopped" = yes
check "the STOP reached the agent's stop path" grep -qxF "stopped on request" <(tr -d '\r' <"$log")

echo "service-test: run outside the service control manager"
set +e
run_out=$(cd "$work" && timeout 60 "$wine" 'C:\weighlink\weighlink-agent.exe' service run 2>&1 | tr -d '\r')
set -e
check "it refuses and says why" grep -q "not started by the service control manager" <<<"$run_out"

echo "service-test: uninstall"
out=$(w 'C:\weighlink\weighlink-agent.exe' service uninstall)
echo "$out" | sed 's/^/  | /'
check "the service is gone" bash -c "! (cd '$work' && timeout 60 '$wine' reg query '$key' >/dev/null 2>&1)"
check "ProgramData's configuration stays" test -f "$drive_c/ProgramData/weighlink/agent.yaml"

if [[ $failures -gt 0 ]]; then
  echo "service-test: $failures check(s) FAILED"
  exit 1
fi
echo "service-test: all checks passed"
