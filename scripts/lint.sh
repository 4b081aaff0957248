#!/usr/bin/env bash
# make lint: every check the tree must pass besides the compiler's, each reported with what to do.
#   scripts/lint.sh [BUILD_DIR]       (BUILD_DIR: a configured build with compile_commands.json)
# 1. clang-format (.clang-format) in check mode over every tracked .cpp/.hpp: `make format` fixes.
# 2. clang-tidy-14 (.clang-tidy) over the project's translation units in BUILD_DIR's compile
#    database (generated code under build*/ left out), TIDY_JOBS at a time (default: nproc). A
#    translation unit that passed is not checked again until it, a project header it includes,
#    .clang-tidy or its compile command changes (stamps in BUILD_DIR/lint-stamps/). Which headers
#    a unit includes comes from the build's dependency log (ninja -t deps) when BUILD_DIR has
#    built it; a unit never built depends on every project header. TIDY_FILES (a regular
#    expression on the path from the top folder, e.g. '^scale/') narrows it while working.
# 3. The operator page (agent/page/) and the bench's Node.js relay: prettier --check and eslint,
#    pinned in scripts/lint/package-lock.json and installed there with npm ci when the lock changed.
# Runs every step and fails at the end if any failed.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd) || { echo "lint: no build directory ${1:-build}" >&2; exit 2; }
jobs=${TIDY_JOBS:-$(nproc)}
tidy=${CLANG_TIDY:-clang-tidy-14}
failed=()
cd "$root"

echo "lint: clang-format"
if ! git ls-files -z '*.cpp' '*.hpp' | xargs -0 clang-format --dry-run --Werror; then
  failed+=("clang-format (run make format)")
fi

echo "lint: $tidy ($jobs at a time)"
db="$build/compile_commands.json"
if [[ ! -f "$db" ]]; then
  failed+=("clang-tidy: $db is missing (configure with a preset: cmake --preset dev)")
elif ! command -v "$tidy" >/dev/null; then
  failed+=("clang-tidy: $tidy is missing (apt-get install clang-tidy-14)")
else
  stamps="$build/lint-stamps"
  mkdir -p "$stamps"
  # The headers each built object included, from the build's dependency log (may be empty).
  (cd "$build" && ninja -t deps 2>/dev/null) >"$stamps/deps" || true
  # One line per project translation unit: the stamp it earns and its file.
  python3 - "$db" "$root" "$stamps/deps" "${TIDY_FILES:-}" >"$stamps/todo" <<'EOF' || failed+=("clang-tidy: cannot read $db")
import hashlib, json, os, re, subprocess, sys
db, root, deps_log, only = sys.argv[1], sys.argv[2], sys.argv[3], re.compile(sys.argv[4])
def digest(path, cache={}):
    if path not in cache:
        try:
            cache[path] = hashlib.sha256(open(path, "rb").read()).hexdigest()
        except OSError:
            cache[path] = "missing"
    return cache[path]
def project_header(path):  # the tree's own and the ones it generates (protobuf), not the system's
    return not os.path.relpath(path, root).startswith("..")
# object (relative to the build folder) -> the project headers it included
build = os.path.dirname(os.path.dirname(deps_log))  # the log is BUILD_DIR/lint-stamps/deps
included, target = {}, None
for line in open(deps_log, errors="replace"):
    if not line.startswith(" "):
        target = line.split(":")[0] if "(VALID)" in line else None
        if target: included[target] = []
    elif target and line.strip():
        path = os.path.normpath(os.path.join(build, line.strip()))
        if path.endswith((".hpp", ".h")) and project_header(path): included[target].append(path)
tracked = subprocess.run(["git", "-C", root, "ls-files", "*.hpp", "*.h"], capture_output=True,
                         text=True).stdout.split()
every_header = [os.path.join(root, h) for h in tracked]
config = digest(os.path.join(root, ".clang-tidy"))
seen = set()
for entry in json.load(open(db)):
    path = os.path.normpath(os.path.join(entry["directory"], entry["file"]))
    rel = os.path.relpath(path, root)
    if rel.startswith("..") or rel.split(os.sep)[0].startswith("build") or path in seen:
        continue
    if not only.search(rel):
        continue
    seen.add(path)
    command = entry.get("arguments") or entry.get("command")
    out = re.search(r"(?:^|\s)-o\s+(\S+)", command if isinstance(command, str) else " ".join(command))
    headers = included.get(out.group(1)) if out else None
    key = hashlib.sha256()
    key.update(config.encode())
    key.update(json.dumps(command).encode())
    key.update(digest(path).encode())
    for header in sorted(set(headers if headers else every_header)):
        key.update(header.encode() + digest(header).encode())
    print(key.hexdigest(), path)
EOF
  export tidy build stamps root
  # Each unit: clang-tidy's findings to a log; the stamp only when it passed.
  while read -r stamp file; do
    [[ -f "$stamps/$stamp" ]] || printf '%s\0%s\0' "$stamp" "$file"
  done <"$stamps/todo" | xargs -0 -r -n 2 -P "$jobs" bash -c '
    out=$("$tidy" -p "$build" --quiet --header-filter="^$root/(agent|scale|sync|backend|proto|tests|installers)/" "$2" 2>&1)
    if [[ $? -eq 0 ]] && ! grep -q "warning:\|error:" <<<"$out"; then touch "$stamps/$1"; else
      printf "%s\n" "$out" | grep -v "^[0-9]* warnings\? generated\.$" >"$stamps/$1.log"; fi' _
  bad=0
  while read -r stamp file; do
    if [[ ! -f "$stamps/$stamp" ]]; then
      bad=$((bad + 1))
      [[ -f "$stamps/$stamp.log" ]] && cat "$stamps/$stamp.log"
      rm -f "$stamps/$stamp.log"
    fi
  done <"$stamps/todo"
  total=$(wc -l <"$stamps/todo")
  echo "lint: clang-tidy: $total translation units, $bad with findings"
  [[ $bad -eq 0 ]] || failed+=("clang-tidy: $bad translation units with findings (above; .clang-tidy says why each check is on)")
fi

echo "lint: prettier and eslint (scripts/lint/)"
tools="$root/scripts/lint"
if ! command -v npm >/dev/null; then
  failed+=("web: npm is missing (apt-get install nodejs npm)")
else
  if ! cmp -s "$tools/package-lock.json" "$tools/node_modules/.weighlink-lock"; then
    if (cd "$tools" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error); then
      cp "$tools/package-lock.json" "$tools/node_modules/.weighlink-lock"
    else
      failed+=("web: npm ci in scripts/lint failed (the npm registry, or a cache that has the lock's packages, is needed once)")
    fi
  fi
  web=(agent/page tests/bench/node-relay/relay.js)
  if [[ -x "$tools/node_modules/.bin/prettier" ]]; then
    "$tools/node_modules/.bin/prettier" --config "$tools/prettier.config.json" --check "${web[@]}" ||
      failed+=("prettier (fix: scripts/lint/node_modules/.bin/prettier --config scripts/lint/prettier.config.json --write ${web[*]})")
    "$tools/node_modules/.bin/eslint" --config "$tools/eslint.config.mjs" --max-warnings 0 "${web[@]}" ||
      failed+=("eslint")
  fi
fi

if [[ ${#failed[@]} -gt 0 ]]; then
  echo
  printf 'lint: FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "lint: ok"
