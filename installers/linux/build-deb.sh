#!/bin/sh
# Builds weighlink_VERSION_ARCH.deb from a build directory's binaries (make package).
#   installers/linux/build-deb.sh [BUILD_DIR] [OUT_DIR]
# BUILD_DIR defaults to build-release, OUT_DIR to build/package. WEIGHLINK_DEB_VERSION overrides
# the version (the binaries' own by default), as the upgrade test does.
# Needs dpkg-dev (dpkg-shlibdeps) and fakeroot; prints the .deb's path last.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build-release}
out=${2:-$root/build/package}

for b in weighlink-agent weighlink-backend weighlink-scale; do
  if [ ! -x "$build/bin/$b" ]; then
    echo "build-deb: $build/bin/$b is missing; build first (make package does)" >&2
    exit 1
  fi
done
version=${WEIGHLINK_DEB_VERSION:-$("$build/bin/weighlink-agent" --version | awk '{print $2}')}
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
work=$(mktemp -d)
trap 'rm -rf "$stage" "$work"' EXIT INT TERM

# Files, with the modes and owners (root) that dpkg records.
for b in weighlink-agent weighlink-backend weighlink-scale; do
  install -D -m 0755 "$build/bin/$b" "$stage/usr/bin/$b"
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/$b"
done
install -D -m 0644 "$here/weighlink-agent.service" "$stage/lib/systemd/system/weighlink-agent.service"
install -D -m 0644 "$here/weighlink-backend.service" "$stage/lib/systemd/system/weighlink-backend.service"
install -D -m 0644 "$here/agent.yaml" "$stage/etc/weighlink/agent.yaml"
install -D -m 0644 "$here/backend.env" "$stage/etc/weighlink/backend.env"
doc="$stage/usr/share/doc/weighlink"
install -D -m 0644 "$here/debian/copyright" "$doc/copyright"
install -D -m 0644 "$here/99-weighlink-serial.rules" "$doc/examples/99-weighlink-serial.rules"
for d in install-linux.md configuration.md troubleshooting.md operations.md backend.md local-tls.md; do
  if [ -f "$root/docs/$d" ]; then install -m 0644 "$root/docs/$d" "$doc/$d"; fi
done
for page in "$here"/man/*.1; do
  install -d "$stage/usr/share/man/man1"
  gzip -9n < "$page" > "$stage/usr/share/man/man1/$(basename "$page").gz"
  chmod 0644 "$stage/usr/share/man/man1/$(basename "$page").gz"
done
sed -e "s/@VERSION@/$version/" -e "s/@DATE@/$(date -R -u -d @"${SOURCE_DATE_EPOCH:-$(date +%s)}")/" \
  "$here/debian/changelog" | gzip -9n > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

# Depends: the shared libraries the binaries need, as dpkg-shlibdeps finds them.
mkdir -p "$work/debian"
printf 'Source: weighlink\n\nPackage: weighlink\nArchitecture: any\n' > "$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O "$stage/usr/bin/weighlink-agent" \
  "$stage/usr/bin/weighlink-backend" "$stage/usr/bin/weighlink-scale" 2>/dev/null |
  sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
# And the libraries the agent opens when first used (FFmpeg's for RTSP cameras, libcups for CUPS
# printers: agent/src/devices/lazy_library.hpp), which dpkg-shlibdeps cannot see: the packages of
# the libraries it was built against (the -dev packages' links name them).
libdir=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for lib in libavutil libswscale libavcodec libavformat libcups; do
  owner=$(dpkg -S "$(readlink -f "$libdir/$lib.so")" 2>/dev/null | head -1 | cut -d: -f1)
  [ -n "$owner" ] || { echo "build-deb: no installed package has $libdir/$lib.so" >&2; exit 1; }
  depends="$depends, $owner"
done

# Binaries linked with packed relative relocations (DT_RELR) need glibc 2.36's loader, a version
# the symbols dpkg-shlibdeps reads do not name.
if readelf -V "$stage/usr/bin/weighlink-agent" | grep -q GLIBC_ABI_DT_RELR; then
  depends="$depends, libc6 (>= 2.36)"
fi

mkdir -p "$stage/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
  -e "s/@DEPENDS@/$depends/" "$here/debian/control.in" > "$stage/DEBIAN/control"
install -m 0644 "$here/debian/conffiles" "$stage/DEBIAN/conffiles"
for s in config postinst prerm postrm; do install -m 0755 "$here/debian/$s" "$stage/DEBIAN/$s"; done
install -m 0644 "$here/debian/templates" "$stage/DEBIAN/templates"
(cd "$stage" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' |
  sort -z | xargs -0 md5sum > DEBIAN/md5sums)
chmod 0644 "$stage/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/weighlink_${version}_${arch}.deb"
fakeroot dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
