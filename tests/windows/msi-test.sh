#!/usr/bin/env bash
# The Windows installer's definition (installers/windows/weighlink.wxs), built with Debian's wixl
# and read back with msiinfo/msiextract: the files (with a DLL beside the executables), the
# ServiceInstall and ServiceControl rows, the custom action that sets the recovery actions and its
# place in the sequence, the station CA's custom actions (created with `tls init`, its directory
# restricted with icacls, trusted with certutil -addstore Root, removed from Root on uninstall only),
# the major-upgrade rule, and that the packed files are the given ones.
# The executables are stand-ins (bytes this test chooses): what is checked is the MSI's tables;
# the real binaries come from the MSVC build on Windows (docs/install-windows.md). Needs wixl and
# msitools.
#   tests/windows/msi-test.sh SOURCE_DIR
set -euo pipefail

src=${1:?usage: msi-test.sh SOURCE_DIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
check() {
  local what=$1
  shift
  if "$@"; then echo "  ok    $what"; else echo "  FAIL  $what"; failures=$((failures + 1)); fi
}
# A table's rows only, tab-separated (msiinfo writes CRLF line ends).
table() { msiinfo export "$msi" "$1" | tr -d '\r' | tail -n +4; }
row_is() { table "$1" | grep -qxF "$2"; }
has_line() { table "$1" | grep -qF "$2"; }
column_has() { table "$1" | cut -f"$2" | grep -qxF "$3"; }

mkdir -p "$work/bin"
printf 'MZ weighlink-agent stand-in %s' "$RANDOM" >"$work/bin/weighlink-agent.exe"
printf 'MZ weighlink-scale stand-in %s' "$RANDOM" >"$work/bin/weighlink-scale.exe"
printf 'MZ libssl stand-in' >"$work/bin/libssl-3-x64.dll"
msi=$("$src/installers/windows/build-msi.sh" "$work/bin" 0.1.0 "$work/out" | tail -1)
echo "msi-test: $msi ($(du -k "$msi" | cut -f1) KiB)"

tab=$'\t'
service_row=$(table ServiceInstall | cut -f1-11)
check "the ServiceInstall row: weighlink-agent, own process, automatic start, LocalService, 'service run'" \
  test "$service_row" = "AgentService${tab}weighlink-agent${tab}weighlink station agent${tab}16${tab}2${tab}1${tab}${tab}${tab}NT AUTHORITY\\LocalService${tab}${tab}service run"
check "the ServiceControl row: start on install, stop on install and uninstall, delete on uninstall (163), wait" \
  row_is ServiceControl "AgentServiceControl${tab}weighlink-agent${tab}163${tab}${tab}1${tab}Agent"
check "the recovery custom action runs 'weighlink-agent.exe service recovery' deferred, elevated (3090)" \
  row_is CustomAction "SetRecoveryActions${tab}3090${tab}AgentExe${tab}service recovery${tab}"
install_services=$(table InstallExecuteSequence | awk -F'\t' '$1=="InstallServices"{print $3}')
recovery=$(table InstallExecuteSequence | awk -F'\t' '$1=="SetRecoveryActions"{print $3}')
start_services=$(table InstallExecuteSequence | awk -F'\t' '$1=="StartServices"{print $3}')
check "it runs after InstallServices ($install_services) and before StartServices ($start_services): $recovery" \
  test -n "$recovery" -a "${recovery:-0}" -gt "${install_services:-0}" -a "${recovery:-0}" -lt "${start_services:-0}"
check "and not on uninstall" has_line InstallExecuteSequence "SetRecoveryActions${tab}NOT REMOVE=\"ALL\""
check "the station CA is created by 'weighlink-agent.exe tls init' in the service's data directory" \
  row_is CustomAction "TlsInit${tab}3090${tab}AgentExe${tab}tls init --data-dir \"[CommonAppDataFolder]weighlink\\data\"${tab}"
check "the service account (LocalService) may change ProgramData\\weighlink (icacls, deferred, elevated: 3122)" \
  row_is CustomAction "GrantStateDir${tab}3122${tab}ICACLS${tab}\"[CommonAppDataFolder]weighlink\" /grant *S-1-5-19:(OI)(CI)M${tab}"
check "the CA's directory: SYSTEM, Administrators and LocalService only" \
  has_line CustomAction "RestrictTlsDir${tab}3122${tab}ICACLS${tab}\"[CommonAppDataFolder]weighlink\\data\\tls\" /inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F *S-1-5-19:(OI)(CI)M"
check "the CA goes into the machine's Root store" \
  row_is CustomAction "TrustCa${tab}3122${tab}CERTUTIL${tab}-f -addstore Root \"[CommonAppDataFolder]weighlink\\data\\tls\\ca.crt\"${tab}"
check "and leaves it on uninstall, by its common name (errors ignored: 3186)" \
  row_is CustomAction "UntrustCa${tab}3186${tab}CERTUTIL${tab}-delstore Root \"weighlink local CA\"${tab}"
check "the tools are certutil.exe and icacls.exe" \
  bash -c "[[ \$(msiinfo export '$msi' Property | tr -d '\r' | grep -cxE 'ICACLS${tab}icacls.exe|CERTUTIL${tab}certutil.exe') == 2 ]]"
seq_of() { table InstallExecuteSequence | awk -F'\t' -v a="$1" '$1==a{print $3}'; }
check "tls init, the ACLs and the trust run in that order after the recovery actions and before StartServices" \
  test "$(seq_of SetRecoveryActions)" -lt "$(seq_of TlsInit)" -a "$(seq_of TlsInit)" -lt "$(seq_of GrantStateDir)" \
  -a "$(seq_of GrantStateDir)" -lt "$(seq_of RestrictTlsDir)" -a "$(seq_of RestrictTlsDir)" -lt "$(seq_of TrustCa)" \
  -a "$(seq_of TrustCa)" -lt "$start_services"
for a in TlsInit GrantStateDir RestrictTlsDir TrustCa; do
  check "$a not on uninstall" has_line InstallExecuteSequence "$a${tab}NOT REMOVE=\"ALL\""
done
check "the CA leaves the store on a full uninstall, not on the removal of a major upgrade" \
  has_line InstallExecuteSequence "UntrustCa${tab}REMOVE=\"ALL\" AND NOT UPGRADINGPRODUCTCODE"
for f in weighlink-agent.exe weighlink-scale.exe agent.example.yaml libssl-3-x64.dll; do
  check "the File table lists $f" column_has File 3 "$f"
done
check "every file goes to Program Files\\weighlink" \
  row_is Directory "INSTALLDIR${tab}ProgramFiles64Folder${tab}weighlink"
check "a newer version replaces an older one (Upgrade table with the UpgradeCode)" \
  has_line Upgrade "{8F1D3C52-6A77-4E2B-9B7E-3C0F1E2D4A51}"
check "a 64-bit package" grep -q 'Template: x64;1033' <(msiinfo suminfo "$msi")

mkdir -p "$work/extracted"
(cd "$work/extracted" && msiextract "$msi" >/dev/null)
for f in weighlink-agent.exe weighlink-scale.exe libssl-3-x64.dll; do
  packed=$(find "$work/extracted" -name "$f" | head -1)
  check "the packed $f is the given file" cmp -s "$packed" "$work/bin/$f"
done
packed_yaml=$(find "$work/extracted" -name agent.example.yaml | head -1)
check "the packed agent.example.yaml is installers/windows/agent.example.yaml" \
  cmp -s "$packed_yaml" "$src/installers/windows/agent.example.yaml"

if [[ $failures -gt 0 ]]; then
  echo "msi-test: $failures check(s) FAILED"
  exit 1
fi
echo "msi-test: all checks passed"
