#!/usr/bin/env bash
# make lint: every check the tree must pass besides the compiler's, each reported with what to do.
#   scripts/lint.sh [BUILD_DIR]       (BUILD_DIR: a configured build with compile_commands.json)
# 1. clang-format (.clang-format) in check mode over every tracked .cpp/.hpp: `make format` fixes.
# 2. clang-tidy-14 (.clang-tidy) over the project's translation units in BUILD_DIR's compile
#    database (generated code under build*/ left out), TIDY_JOBS at a time (default: nproc). A
#    translation unit that passed is not checked again until it, a project header, .clang-tidy or
#    its compile command changes (stamps in BUILD_DIR/lint-stamps/). TIDY_FILES (a regular
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
  # What every translation unit's verdict depends on besides itself and its command.
  common=$( (cat .clang-tidy; git ls-files -z '*.hpp' '*.h' | xargs -0 cat) | sha256sum | cut -c1-64)
  # One line per project translation unit: the stamp it earns and its file.
  python3 - "$db" "$root" "$common" "${TIDY_FILES:-}" >"$stamps/todo" <<'EOF' || failed+=("clang-tidy: cannot read $db")
import hashlib, json, os, re, sys
db, root, common, only = sys.argv[1], sys.argv[2], sys.argv[3], re.compile(sys.argv[4])
seen = set()
for entry in json.load(open(db)):
    path = os.path.normpath(os.path.join(entry["directory"], entry["file"]))
    rel = os.path.relpath(path, root)
    if rel.startswith("..") or rel.split(os.sep)[0].startswith("build") or path in seen:
        continue
    if not only.search(rel):
        continue
    seen.add(path)
    key = hashlib.sha256()
    key.update(common.encode())
    key.update(json.dumps(entry.get("arguments") or entry.get("command")).encode())
    key.update(open(path, "rb").read())
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
