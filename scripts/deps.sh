#!/usr/bin/env bash
# Installs the Debian 12 packages that building, testing and the demo need, only those missing.
# Runs non-interactively as root; as another user it prints what is missing and how to install it.
set -euo pipefail

packages=(
  cmake ninja-build pkg-config g++ make ccache
  libboost1.81-dev libboost-system1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev sqlite3 libserialport-dev libpq-dev libprotobuf-dev protobuf-compiler
  libgrpc++-dev protobuf-compiler-grpc libspdlog-dev doctest-dev
  libcli11-dev libyaml-cpp-dev libssl-dev openssl
  postgresql-15 postgresql-client-15 socat procps util-linux
  rclone  # offsite backup locations (backend/recovery/src/offsite_rclone.cpp) and their tests
  pgbackrest  # point-in-time recovery, WAL archiving (docs/operations.md) and its drill (tests/pitr/)
  wixl msitools g++-mingw-w64-x86-64-posix wine64  # the Windows checks (tests/windows/)
  chromium  # headless, for the operator page tests (tests/integration/page_test.cpp); ~300 MB
  libnss3-tools  # certutil: the test CAs headless Chromium trusts (tests/integration/browser_tls_test.cpp)
  libmodbus-dev  # lights, barriers and position sensors on Modbus TCP modules (agent/src/devices/io/)
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev ffmpeg  # RTSP stills (agent/src/devices/camera/rtsp_grab.cpp); ffmpeg feeds the test RTSP server
  libcups2-dev cups-daemon cups-client  # ticket printers of type cups (agent/src/devices/printer/) and their test queue
  poppler-utils qpdf  # pdftotext and qpdf --check: the ticket PDF tests (tests/integration/tickets_test.cpp)
)
# Extra packages for one target (e.g. make fuzz: clang-14 libclang-rt-14-dev), named as arguments.
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "weighlink: missing Debian packages: ${missing[*]}" >&2
  echo "weighlink: install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "weighlink: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
