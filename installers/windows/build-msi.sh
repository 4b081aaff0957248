#!/bin/sh
# Builds weighlink-VERSION-x64.msi with Debian's wixl (msitools) from weighlink.wxs.
#   installers/windows/build-msi.sh BIN_DIR VERSION [OUT_DIR]
# BIN_DIR holds weighlink-agent.exe, weighlink-scale.exe and the DLLs beside them (the MSVC build's
# output, docs/install-windows.md); every *.dll there is packaged (DLLs.wxi is generated).
# Prints the .msi's path last.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "${1:?usage: build-msi.sh BIN_DIR VERSION [OUT_DIR]}" && pwd)
version=${2:?usage: build-msi.sh BIN_DIR VERSION [OUT_DIR]}
out=${3:-$(pwd)}
command -v wixl >/dev/null || { echo "build-msi: wixl is missing (apt-get install wixl)" >&2; exit 1; }
for f in weighlink-agent.exe weighlink-scale.exe; do
  [ -f "$bin/$f" ] || { echo "build-msi: $bin/$f is missing" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
cp "$here/weighlink.wxs" "$here/agent.example.yaml" "$work/"
ln -s "$bin" "$work/bin"  # wixl takes relative sources only
# Every DLL as a component (DLLs.wxi, included in INSTALLDIR) and in the group the Feature names
# (dlls-group.wxs). A stable GUID per DLL name, so upgrades replace rather than duplicate it.
echo '<?xml version="1.0" encoding="utf-8"?><Include>' > "$work/DLLs.wxi"
echo '<?xml version="1.0" encoding="utf-8"?><Wix xmlns="http://schemas.microsoft.com/wix/2006/wi"><Fragment><ComponentGroup Id="DLLs">' > "$work/dlls-group.wxs"
n=0
for dll in "$bin"/*.dll; do
  [ -f "$dll" ] || continue
  n=$((n + 1))
  name=$(basename "$dll")
  guid=$(printf 'weighlink-dll-%s' "$name" | md5sum |
    sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/' | tr a-f A-F)
  printf '  <Component Id="Dll%s" Guid="%s" Win64="yes"><File Id="Dll%s" Source="bin/%s" Name="%s" KeyPath="yes"/></Component>\n' \
    "$n" "$guid" "$n" "$name" "$name" >> "$work/DLLs.wxi"
  printf '  <ComponentRef Id="Dll%s"/>\n' "$n" >> "$work/dlls-group.wxs"
done
echo '</Include>' >> "$work/DLLs.wxi"
echo '</ComponentGroup></Fragment></Wix>' >> "$work/dlls-group.wxs"

mkdir -p "$out"
msi="$(cd "$out" && pwd)/weighlink-$version-x64.msi"
(cd "$work" && wixl -a x64 -D Version="$version" -D BinDir=bin -o "$msi" \
  weighlink.wxs dlls-group.wxs)
echo "$msi"
