#!/usr/bin/env bash
# The .deb end to end (make package-test; make test runs it): built from BUILD_DIR's binaries,
# then in a clean Debian 12 root (debootstrap minbase, chroot): installed with apt (its
# dependencies resolved from the archive), its files, user, units and conffiles checked, the
# default configuration accepted by --check-config, the agent run as the weighlink user;
# upgraded with a changed configuration and an outbox that must survive; removed and purged, with
# an outbox holding unsent mutations kept and an empty one removed. The station CA: created as the
# weighlink user, trusted through ca-certificates (the agent's https verifies against the system
# bundle), kept on upgrade, out of the trust store after purge. Also systemd-analyze verify on
# the units (in the clean root, with systemd installed) and lintian on the package. Needs root
# (chroot), debootstrap, lintian, fakeroot, dpkg-dev, curl and network access to the Debian
# archive (the debootstrap base is cached in $WEIGHLINK_TEST_CACHE).
#   installers/linux/package-test.sh [BUILD_DIR]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${1:-$repo/build}
cache=${WEIGHLINK_TEST_CACHE:-/var/cache/weighlink-test}
mirror=${WEIGHLINK_TEST_MIRROR:-http://deb.debian.org/debian}
work=$(mktemp -d /tmp/wl-package-test.XXXXXX)
root="$work/root"
failures=0
agent_pid=

step() { echo "package-test: $*"; }
check() {  # check DESCRIPTION COMMAND...: runs COMMAND, counts a failure when it fails
  local what=$1
  shift
  if "$@"; then
    echo "  ok    $what"
  else
    echo "  FAIL  $what"
    failures=$((failures + 1))
  fi
}
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

cleanup() {
  if [[ -n "$agent_pid" ]]; then kill "$agent_pid" 2>/dev/null || true; fi
  for m in proc dev/pts dev; do
    if mountpoint -q "$root/$m" 2>/dev/null; then umount -l "$root/$m" || true; fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

if [[ $(id -u) -ne 0 ]]; then
  echo "package-test: needs root (it installs the package into a chroot)" >&2
  exit 1
fi

step "building the packages from $build"
deb1=$("$here/build-deb.sh" "$build" "$work/v1")
deb2=$(WEIGHLINK_DEB_VERSION="$(dpkg-deb -f "$deb1" Version)+upgrade1" "$here/build-deb.sh" "$build" "$work/v2")
version1=$(dpkg-deb -f "$deb1" Version)
version2=$(dpkg-deb -f "$deb2" Version)
echo "  $deb1 ($(du -k "$deb1" | cut -f1) KiB), depends: $(dpkg-deb -f "$deb1" Depends)"

step "lintian"
lintian_out="$work/lintian.txt"
lintian --fail-on error,warning --tag-display-limit 0 "$deb1" >"$lintian_out" 2>&1 && lintian_ok=1 || lintian_ok=0
sed 's/^/  | /' "$lintian_out"
check "lintian reports no errors and no warnings" test "$lintian_ok" = 1

step "a clean Debian 12 root"
mkdir -p "$cache"
if [[ ! -f "$cache/bookworm-minbase.tgz" ]]; then
  debootstrap --variant=minbase --make-tarball="$cache/bookworm-minbase.tgz" bookworm \
    "$work/tarball" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log"; exit 1; }
fi
debootstrap --variant=minbase --unpack-tarball="$cache/bookworm-minbase.tgz" bookworm "$root" \
  "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; exit 1; }
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
cp /etc/resolv.conf "$root/etc/resolv.conf"
echo "deb $mirror bookworm main" >"$root/etc/apt/sources.list"
in_root apt-get update -qq >/dev/null
cp "$deb1" "$deb2" "$root/tmp/"
# systemd, as on a station PC: the units are verified against it.
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd \
  >"$work/systemd.log" 2>&1 || { tail -30 "$work/systemd.log"; exit 1; }

step "install $version1"
# The installer's question (debconf), answered in advance as an administrator would preseed it.
echo "weighlink weighlink/allowed_origins string https://truload.example.org" |
  in_root debconf-set-selections
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "/tmp/$(basename "$deb1")" >"$work/install.log" 2>&1 || { tail -30 "$work/install.log"; exit 1; }
check "installed at $version1" test "$(in_root dpkg-query -W -f='${Status} ${Version}' weighlink)" = "install ok installed $version1"
for f in /usr/bin/weighlink-agent /usr/bin/weighlink-backend /usr/bin/weighlink-scale; do
  check "$f runs" in_root "$f" --version
done
for f in /lib/systemd/system/weighlink-agent.service /lib/systemd/system/weighlink-backend.service \
  /usr/share/doc/weighlink/copyright /usr/share/doc/weighlink/examples/99-weighlink-serial.rules; do
  check "$f is there" test -f "$root$f"
done
check "the weighlink user is a system user with no login" \
  bash -c "in_root() { chroot '$root' \"\$@\"; }; e=\$(in_root getent passwd weighlink); u=\$(echo \"\$e\" | cut -d: -f3); [[ \$u -lt 1000 && \$e == *:/var/lib/weighlink:/usr/sbin/nologin ]]"
check "weighlink is in dialout (serial ports)" bash -c "chroot '$root' id -nG weighlink | tr ' ' '\n' | grep -qx dialout"
check "/var/lib/weighlink is weighlink's, mode 0750" test "$(in_root stat -c '%U:%G %a' /var/lib/weighlink)" = "weighlink:weighlink 750"
check "backend.env is root:weighlink 0640" test "$(in_root stat -c '%U:%G %a' /etc/weighlink/backend.env)" = "root:weighlink 640"
check "both configuration files are conffiles" \
  bash -c "chroot '$root' dpkg-query -W -f='\${Conffiles}' weighlink | grep -q /etc/weighlink/agent.yaml && chroot '$root' dpkg-query -W -f='\${Conffiles}' weighlink | grep -q /etc/weighlink/backend.env"
check "the agent's unit is enabled" test -L "$root/etc/systemd/system/multi-user.target.wants/weighlink-agent.service"
check "the backend's unit is installed but not enabled" test ! -e "$root/etc/systemd/system/multi-user.target.wants/weighlink-backend.service"
for unit in weighlink-agent.service weighlink-backend.service; do
  out=$(in_root systemd-analyze verify "/lib/systemd/system/$unit" 2>&1 || echo "exit status $?")
  [[ -z "$out" ]] || echo "$out" | sed 's/^/  | /'
  check "systemd-analyze verify $unit: clean" test -z "$out"
done
check "the default configuration passes --check-config" in_root /usr/bin/weighlink-agent --config /etc/weighlink/agent.yaml --check-config
check "the debconf answer is the drop-in origins.d/debconf.conf" \
  grep -qx 'https://truload.example.org' "$root/etc/weighlink/origins.d/debconf.conf"

step "the station CA is created and trusted"
tls=/var/lib/weighlink/tls
trusted=$(cd "$root" && ls usr/local/share/ca-certificates/weighlink-*.crt 2>/dev/null | head -1 || true)
check "the CA key and the certificate key are weighlink's, mode 0600" \
  test "$(in_root stat -c '%U %a' $tls/ca.key $tls/server.key | tr '\n' ' ')" = "weighlink 600 weighlink 600 "
check "the CA is in /usr/local/share/ca-certificates" test -n "$trusted"
check "it is the agent's CA" cmp -s "$root/$trusted" "$root$tls/ca.crt"
check "/etc/ssl/certs links it" \
  test -L "$root/etc/ssl/certs/$(basename "$trusted" .crt).pem"
check "the system bundle holds it" \
  bash -c "grep -q \"\$(sed -n 2p '$root$tls/ca.crt')\" '$root/etc/ssl/certs/ca-certificates.crt'"
check "openssl verify -CApath /etc/ssl/certs passes the server certificate" \
  in_root openssl verify -CApath /etc/ssl/certs -verify_hostname localhost "$tls/server.crt"
ca_before=$(sha256sum "$root$tls/ca.crt" | cut -d' ' -f1)

step "the agent runs as weighlink on the installed configuration"
# Without a scale device here: the configured serial port is missing, which the agent reports and
# retries; it still serves. Port 0 and a ready file instead of the fixed 8420.
chroot "$root" runuser -u weighlink -- /usr/bin/weighlink-agent --config /etc/weighlink/agent.yaml \
  --listen 127.0.0.1:0 --tls-listen 127.0.0.1:0 --ready-file /var/lib/weighlink/ready.json \
  >"$work/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 100); do [[ -f "$root/var/lib/weighlink/ready.json" ]] && break; sleep 0.1; done
address=$(sed -n 's/.*"http":"\([^"]*\)".*/\1/p' "$root/var/lib/weighlink/ready.json" 2>/dev/null || true)
check "it became ready" test -n "$address"
posted=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$address/v1/mutations" \
  -H 'Content-Type: application/json' -H 'Idempotency-Key: package-test-1' \
  -d '{"kind":"note.added","payload":{"text":"queued before the upgrade"}}' || true)
check "a mutation is queued (202)" test "$posted" = 202
preset=$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: https://truload.example.org' \
  "http://$address/v1/status" || true)
check "the preset origin is allowed (200)" test "$preset" = 200
https_address=$(sed -n 's/.*"https":"\([^"]*\)".*/\1/p' "$root/var/lib/weighlink/ready.json" 2>/dev/null || true)
check "https on loopback verifies against the system trust bundle" \
  curl -sf -o /dev/null --cacert "$root/etc/ssl/certs/ca-certificates.crt" \
  "https://localhost:${https_address##*:}/healthz"
kill -TERM "$agent_pid"
wait "$agent_pid" || true
agent_pid=
check "the outbox and the station key are the weighlink user's" \
  test "$(in_root stat -c '%U' /var/lib/weighlink/outbox.db /var/lib/weighlink/station.key | tr '\n' ' ')$(in_root stat -c '%a' /var/lib/weighlink/station.key)" = "weighlink weighlink 600"
outbox_before=$(in_root runuser -u weighlink -- /usr/bin/weighlink-agent outbox list --data-dir /var/lib/weighlink --json)
key_before=$(sha256sum "$root/var/lib/weighlink/station.key" | cut -d' ' -f1)

step "upgrade to $version2 with a changed configuration"
sed -i 's/^station_id: station-1$/station_id: wb-upgrade-test/' "$root/etc/weighlink/agent.yaml"
in_root env DEBIAN_FRONTEND=noninteractive dpkg -i "/tmp/$(basename "$deb2")" >"$work/upgrade.log" 2>&1 ||
  { tail -30 "$work/upgrade.log"; exit 1; }
check "upgraded to $version2" test "$(in_root dpkg-query -W -f='${Version}' weighlink)" = "$version2"
check "the changed configuration is kept" grep -qx 'station_id: wb-upgrade-test' "$root/etc/weighlink/agent.yaml"
check "the outbox is kept, row for row" test "$(in_root runuser -u weighlink -- /usr/bin/weighlink-agent outbox list --data-dir /var/lib/weighlink --json)" = "$outbox_before"
check "the station key is kept" test "$(sha256sum "$root/var/lib/weighlink/station.key" | cut -d' ' -f1)" = "$key_before"
check "the station CA is kept" test "$(sha256sum "$root$tls/ca.crt" | cut -d' ' -f1)" = "$ca_before"
check "the CA is still trusted" cmp -s "$root/$trusted" "$root$tls/ca.crt"

step "purge while the outbox holds an unsent mutation"
in_root env DEBIAN_FRONTEND=noninteractive dpkg --purge weighlink >"$work/purge.log" 2>&1 ||
  { tail -30 "$work/purge.log"; exit 1; }
sed 's/^/  | /' "$work/purge.log"
check "the package is gone" bash -c "! chroot '$root' dpkg-query -W -f='\${Status}' weighlink 2>/dev/null | grep -q installed"
check "/etc/weighlink is gone" test ! -e "$root/etc/weighlink"
check "the units and their enable links are gone" \
  bash -c "! ls '$root'/lib/systemd/system/weighlink-* '$root'/etc/systemd/system/*/weighlink-* 2>/dev/null | grep -q ."
check "the outbox with the unsent mutation is kept, and purge said so" \
  bash -c "test -f '$root/var/lib/weighlink/outbox.db' && grep -q 'kept' '$work/purge.log'"
check "the CA left /usr/local/share/ca-certificates" test ! -e "$root/$trusted"
check "the CA left /etc/ssl/certs" \
  bash -c "! ls '$root/etc/ssl/certs/' | grep -q '^weighlink-' && ! grep -q \"\$(sed -n 2p '$root$tls/ca.crt')\" '$root/etc/ssl/certs/ca-certificates.crt'"
check "openssl verify -CApath /etc/ssl/certs now fails the server certificate" \
  bash -c "! chroot '$root' openssl verify -CApath /etc/ssl/certs $tls/server.crt >/dev/null 2>&1"

step "install again, and purge with nothing unsent"
rm -rf "$root/var/lib/weighlink"
in_root env DEBIAN_FRONTEND=noninteractive dpkg -i "/tmp/$(basename "$deb1")" >"$work/install2.log" 2>&1 ||
  { tail -30 "$work/install2.log"; exit 1; }
in_root env DEBIAN_FRONTEND=noninteractive dpkg --purge weighlink >"$work/purge2.log" 2>&1 ||
  { tail -30 "$work/purge2.log"; exit 1; }
check "/var/lib/weighlink is gone" test ! -e "$root/var/lib/weighlink"
check "/etc/weighlink is gone" test ! -e "$root/etc/weighlink"
check "no file of the package is left" bash -c "! ls '$root'/usr/bin/weighlink-* '$root'/usr/share/doc/weighlink 2>/dev/null | grep -q ."

if [[ $failures -gt 0 ]]; then
  step "$failures check(s) FAILED"
  exit 1
fi
step "all checks passed"
