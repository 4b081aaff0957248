#!/usr/bin/env bash
# Compiles every translation unit of weighlink-agent and weighlink-scale for Windows with
# mingw-w64 (x86_64-w64-mingw32-g++, C++20, -O1 -Wall -Wextra -Werror; -O1 keeps the Beast server
# object under PE/COFF's string table limit), the Windows service code
# included: what can be checked here of the Windows build. Compile only: linking needs Windows
# builds of gRPC, protobuf, SQLite, libserialport, yaml-cpp and OpenSSL, which the MSVC build gets
# from vcpkg (vcpkg.json, CMakePresets.json "windows-msvc"; docs/install-windows.md). The
# libraries' headers are the host's (Debian 12), through a directory of links that keeps the
# host's own system headers out.
#   tests/windows/cross-compile.sh SOURCE_DIR BUILD_DIR    (BUILD_DIR: for the generated protobuf
#   and operator page)
set -euo pipefail

src=${1:?usage: cross-compile.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: cross-compile.sh SOURCE_DIR BUILD_DIR}
cxx=x86_64-w64-mingw32-g++-posix
command -v "$cxx" >/dev/null || { echo "cross-compile: $cxx is missing (g++-mingw-w64-x86-64-posix)" >&2; exit 1; }
version=$(sed -n 's/^project(weighlink VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/include"
for d in boost spdlog fmt CLI yaml-cpp grpcpp grpc google absl sqlite3.h libserialport.h openssl modbus; do
  ln -s "/usr/include/$d" "$work/include/$d"
done
# OpenSSL's configuration headers live in the multiarch directory.
mkdir -p "$work/include-arch/openssl"
for h in opensslconf.h configuration.h; do
  ln -s "/usr/include/x86_64-linux-gnu/openssl/$h" "$work/include-arch/openssl/$h"
done
# FFmpeg's headers (the camera's RTSP still, rtsp_grab.cpp) live in the multiarch directory.
for d in libavformat libavcodec libavutil libswscale; do
  ln -s "/usr/include/x86_64-linux-gnu/$d" "$work/include-arch/$d"
done

# The flags of cmake/WeighlinkOptions.cmake, and what the MSVC build defines for Windows.
flags=(-std=c++20 -O1 -Wall -Wextra -Wno-unused-parameter -Werror -Wa,-mbig-obj
       -DWEIGHLINK_VERSION="\"$version\"" -DBOOST_ASIO_NO_DEPRECATED
       -DBOOST_BEAST_USE_STD_STRING_VIEW -DSPDLOG_FMT_EXTERNAL -D_WIN32_WINNT=0x0A00 -DNOMINMAX
       -DWIN32_LEAN_AND_MEAN
       -I"$src/scale/include" -I"$src/sync/include" -I"$src/sync/base/include"
       -I"$src/sync/record/include" -I"$src/proto/include" -I"$src/agent/include" -I"$src/agent/src"
       -I"$build/proto/gen" -isystem "$work/include-arch" -isystem "$work/include")
# weighlink::base without its POSIX-only parts (the process runner, atomic file writes), as
# sync/base/CMakeLists.txt builds it for Windows.
base_sources=()
for f in "$src"/sync/base/src/*.cpp; do
  case "$(basename "$f")" in subprocess.cpp | file_write.cpp) ;; *) base_sources+=("$f") ;; esac
done
shopt -s globstar  # agent/src has one folder per part
sources=("$src"/scale/src/*.cpp "${base_sources[@]}" "$src"/sync/record/src/*.cpp
         "$src"/sync/src/*.cpp "$src"/agent/src/**/*.cpp "$src"/agent/main.cpp
         "$build"/agent/page/operator_page.cpp
         "$src"/scale/main.cpp "$build"/proto/gen/weighlink/sync/v1/*.cc)
# One compiler per core, the flags in a response file (paths may hold spaces); each failure
# leaves its messages in a file.
printf '%q\n' "${flags[@]}" >"$work/flags"
export cxx work
printf '%s\0' "${sources[@]}" |
  xargs -0 -P "$(nproc)" -n 1 bash -c '
    id=$(printf "%s" "$1" | md5sum | cut -c1-12)
    "$cxx" @"$work/flags" -c "$1" -o "$work/$id.o" 2>"$work/$id.err" ||
      { mv "$work/$id.err" "$work/$id.failed"; printf "%s\n" "$1" >"$work/$id.name"; }
    rm -f "$work/$id.o"' _
failed=0
for name in "$work"/*.name; do
  [[ -f "$name" ]] || continue
  failed=$((failed + 1))
  echo "cross-compile: FAILED $(cat "$name")"
  head -20 "${name%.name}.failed"
done
echo "cross-compile: ${#sources[@]} translation units for x86_64-w64-mingw32, $failed failed"
[[ $failed -eq 0 ]]
