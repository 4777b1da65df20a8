#!/usr/bin/env bash
# Pre-commit hook latency: `git`'s view of a commit with 10 staged files, in the 30 000-commit
# reference repository, against the same 10 files in a one-commit repository (the hook must
# not depend on history size). Prints hyperfine's figures; asserts nothing.
#
#   benches/hook-latency.sh [HISTORY_REPO]      (default ../bench-data/hist30k)
#
# The reference repository is built by ../shared/bench/make-history-repo.py; it is only
# read (cloned with hardlinks), never modified. Needs hyperfine (apt-get install hyperfine).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
history_repo=${1:-$here/../bench-data/hist30k}
runs=${RUNS:-50}

command -v hyperfine >/dev/null || { echo "hyperfine is missing: apt-get install -y hyperfine" >&2; exit 2; }
[ -d "$history_repo" ] || { echo "$history_repo: no such repository (run make-history-repo.py)" >&2; exit 2; }

cargo build --profile bench-release --quiet --manifest-path "$here/Cargo.toml"
kw=$here/target/bench-release/keywarden
work=$(mktemp -d "${TMPDIR:-/tmp}/keywarden-hook-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME=$work/home NO_COLOR=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
mkdir -p "$HOME"

git clone -q "$history_repo" "$work/big"
# Ten tracked text files, each changed by one appended line, staged.
mapfile -t files < <(git -C "$work/big" ls-files -- '*.rs' | head -n 10)
for f in "${files[@]}"; do
  printf '// changed for the hook benchmark\n' >> "$work/big/$f"
done
git -C "$work/big" add -- "${files[@]}"

# The same ten files, staged as changes in a repository with a single commit.
mkdir -p "$work/small"
git -C "$work/small" init -q
for f in "${files[@]}"; do
  mkdir -p "$work/small/$(dirname "$f")"
  git -C "$work/big" show "HEAD:$f" > "$work/small/$f"
done
git -C "$work/small" add -A && git -C "$work/small" commit -q -m base
for f in "${files[@]}"; do cp "$work/big/$f" "$work/small/$f"; done
git -C "$work/small" add -A

for repo in big small; do
  (cd "$work/$repo" && "$kw" install --yes >/dev/null)
  # `git commit` completes the index's cache-tree before it runs pre-commit
  # (builtin/commit.c: cache_tree_update); write-tree does the same, so the hook below
  # sees the index exactly as it does inside a commit.
  git -C "$work/$repo" write-tree >/dev/null
done
base=$(git -C "$work/big" rev-parse HEAD)
# A pre-commit hook that does nothing: git's own cost of having a hook at all.
mkdir -p "$work/noop-hooks"
printf '#!/bin/sh\nexit 0\n' > "$work/noop-hooks/pre-commit"
chmod +x "$work/noop-hooks/pre-commit"
echo "history: $(git -C "$work/big" rev-list --count HEAD) commits, $(git -C "$work/big" ls-files | wc -l) files; staged: ${#files[@]} files"

# A whole `git commit` with keywarden's hook and with one that does nothing (the difference
# is what a user waits for),
# the shim git runs (it execs `keywarden hook pre-commit`), and the binary alone. The
# commit is undone before every run. Figures are wall time: on a shared machine compare
# them within one run, and read user+system time too.
hyperfine --warmup 5 --runs "$runs" -N --export-json "$work/out.json" \
  --prepare "git -C $work/big reset -q --soft $base" \
  --command-name "git commit, keywarden's pre-commit" "git -C $work/big commit -q -m bench" \
  --command-name "git commit, a pre-commit that does nothing" "git -C $work/big -c core.hooksPath=$work/noop-hooks commit -q -m bench" \
  --command-name "git commit --no-verify" "git -C $work/big commit -q --no-verify -m bench" \
  --command-name "keywarden --version (process start)" "$kw --version" \
  --command-name "pre-commit shim, $(basename "$history_repo")" "sh -c 'cd $work/big && PATH=$here/target/bench-release:/usr/bin:/bin .git/hooks/pre-commit'" \
  --command-name "keywarden hook pre-commit, $(basename "$history_repo")" "sh -c 'cd $work/big && $kw hook pre-commit'" \
  --command-name "keywarden hook pre-commit, 1-commit repo" "sh -c 'cd $work/small && $kw hook pre-commit'"

python3 - "$work/out.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"{r['command']}: median {r['median']*1000:.1f} ms (mean {r['mean']*1000:.1f} ± {r['stddev']*1000:.1f} ms; user {r['user']*1000:.1f} + system {r['system']*1000:.1f} ms; {len(r['times'])} runs)")
PY
