#!/usr/bin/env bash
# Pre-commit hook latency: `git`'s view of a commit with 10 staged files, in the 30 000-commit
# reference repository, against the same 10 files in a one-commit repository (the hook must
# not depend on history size). With KEYWARDEN_BASE, each keywarden row is measured for both
# binaries, each in its own pair of repositories, and printed side by side with the ratio
# new/base. Prints hyperfine's figures (medians over ROUNDS rounds of hyperfine, so the two
# binaries alternate) and the hook's peak RSS; asserts nothing.
#
#   benches/hook-latency.sh [HISTORY_REPO]      (default $REPO, or $BENCH_DATA/hist30k)
#
# env: RUNS (runs of each command in all, default 50), ROUNDS (default 5),
#      KEYWARDEN, KEYWARDEN_BASE, BENCH_DATA: see benches/lib.sh
#
# The reference repository is built by ../shared/bench/make-history-repo.py; it is only
# read (cloned with hardlinks), never modified. Needs hyperfine (apt-get install hyperfine).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
history_repo=$(realpath -m "${1:-${REPO:-$bench_history_repo}}")
runs=${RUNS:-50}
rounds=${ROUNDS:-5}
runs_per_round=$(( (runs + rounds - 1) / rounds ))

command -v hyperfine >/dev/null || bench_die "hyperfine is missing: apt-get install -y hyperfine"
bench_need_time
[ -d "$history_repo" ] || bench_die "$history_repo: no such repository (run make-history-repo.py)"
bench_keywarden_binaries

work=$(mktemp -d "${TMPDIR:-/tmp}/keywarden-hook-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME=$work/home NO_COLOR=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
mkdir -p "$HOME"
# The shims find keywarden on PATH first, then at the path recorded by `install`. Take any
# keywarden off PATH so each repository's hook runs the binary that installed it.
path=
IFS=: read -ra path_dirs <<< "$PATH"
for d in "${path_dirs[@]}"; do [ -x "$d/keywarden" ] || path=${path:+$path:}$d; done
export PATH=$path

# Ten tracked text files, each changed by one appended line.
mapfile -t files < <(git -C "$history_repo" ls-files -- '*.rs' | head -n 10)

# make_repos SUFFIX BINARY : $work/big$SUFFIX (a clone of the history, the ten files changed
# and staged) and $work/small$SUFFIX (the same ten files as changes in a one-commit
# repository), both with BINARY's hooks installed; $work/bin$SUFFIX/keywarden is BINARY.
make_repos() {
  local big=$work/big$1 small=$work/small$1 f
  git clone -q "$history_repo" "$big"
  for f in "${files[@]}"; do printf '// changed for the hook benchmark\n' >> "$big/$f"; done
  git -C "$big" add -- "${files[@]}"
  mkdir -p "$small"
  git -C "$small" init -q
  for f in "${files[@]}"; do
    mkdir -p "$small/$(dirname "$f")"
    git -C "$big" show "HEAD:$f" > "$small/$f"
  done
  git -C "$small" add -A && git -C "$small" commit -q -m base
  for f in "${files[@]}"; do cp "$big/$f" "$small/$f"; done
  git -C "$small" add -A
  for repo in "$big" "$small"; do
    (cd "$repo" && "$2" install --yes >/dev/null)
    # `git commit` completes the index's cache-tree before it runs pre-commit
    # (builtin/commit.c: cache_tree_update); write-tree does the same, so the hook below
    # sees the index exactly as it does inside a commit.
    git -C "$repo" write-tree >/dev/null
  done
  mkdir -p "$work/bin$1"
  ln -s "$2" "$work/bin$1/keywarden"
}
make_repos "" "$kw"
[ -z "$kw_base" ] || make_repos -base "$kw_base"
base_commit=$(git -C "$work/big" rev-parse HEAD)
# A pre-commit hook that does nothing: git's own cost of having a hook at all.
mkdir -p "$work/noop-hooks"
printf '#!/bin/sh\nexit 0\n' > "$work/noop-hooks/pre-commit"
chmod +x "$work/noop-hooks/pre-commit"
echo "history: $(git -C "$work/big" rev-list --count HEAD) commits, $(git -C "$work/big" ls-files | wc -l) files; staged: ${#files[@]} files"
echo "$runs runs of each command in $rounds rounds of $runs_per_round"
bench_load

# A whole `git commit` with keywarden's hook and with one that does nothing (the difference
# is what a user waits for), the shim git runs (it execs `keywarden hook pre-commit`), and
# the binary alone. Every commit is undone before the next run. Rows measured for each
# keywarden binary end in " [base]" for the second one; the two binaries swap places every
# round. Figures are wall time: on a shared machine compare them within one run, and read
# user+system time too.
keywarden_rows() { # SUFFIX : appends the rows that depend on the keywarden binary
  local big=$work/big$1 small=$work/small$1 tag=${1:+ [base]}
  commands+=(--command-name "git commit, keywarden's pre-commit$tag" "git -C $big commit -q -m bench")
  commands+=(--command-name "keywarden --version (process start)$tag" "$work/bin$1/keywarden --version")
  commands+=(--command-name "pre-commit shim, $(basename "$history_repo")$tag" "sh -c 'cd $big && PATH=$work/bin$1:/usr/bin:/bin .git/hooks/pre-commit'")
  commands+=(--command-name "keywarden hook pre-commit, $(basename "$history_repo")$tag" "sh -c 'cd $big && $work/bin$1/keywarden hook pre-commit'")
  commands+=(--command-name "keywarden hook pre-commit, 1-commit repo$tag" "sh -c 'cd $small && $work/bin$1/keywarden hook pre-commit'")
}
reset="git -C $work/big reset -q --soft $base_commit"
[ -z "$kw_base" ] || reset="sh -c '$reset && git -C $work/big-base reset -q --soft $base_commit'"

for round in $(seq "$rounds"); do
  commands=()
  for name in $(bench_keywarden_order "$round"); do keywarden_rows "${name#keywarden}"; done
  commands+=(--command-name "git commit, a pre-commit that does nothing" "git -C $work/big -c core.hooksPath=$work/noop-hooks commit -q -m bench")
  commands+=(--command-name "git commit --no-verify" "git -C $work/big commit -q --no-verify -m bench")
  hyperfine --warmup 3 --runs "$runs_per_round" -N --style none --export-json "$work/round-$round.json" \
    --prepare "$reset" "${commands[@]}" >/dev/null 2>"$work/hyperfine.err" || {
    cat "$work/hyperfine.err" >&2; exit 1; }
  # The hook's peak memory, once per round for each binary, on the staged changes (the
  # last timed commit undone first).
  eval "$reset"
  bench_time "$work/rss" "$work/big" 0 "$kw" hook pre-commit || exit 1
  [ -z "$kw_base" ] || bench_time "$work/rss-base" "$work/big-base" 0 "$kw_base" hook pre-commit || exit 1
done

python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
times, cpu, round_medians = {}, {}, {}
for r in range(1, rounds + 1):
    for res in json.load(open(f"{work}/round-{r}.json"))["results"]:
        times.setdefault(res["command"], []).extend(res["times"])
        round_medians.setdefault(res["command"], []).append(res["median"])
        cpu.setdefault(res["command"], []).extend([res["user"] + res["system"]] * len(res["times"]))
def rss(name):
    try:
        return statistics.median(int(l.split()[1]) for l in open(f"{work}/{name}.times")) / 1024
    except OSError:
        return None
ms = lambda seconds: f"{seconds * 1000:.1f} ms"
width = max(len(c) for c in times)
has_base = any(c.endswith(" [base]") for c in times)
head = f"{'what':<{width}} {'median':>9} {'user+sys':>9}"
print(head + (f" {'base':>9} {'user+sys':>9} {'new/base':>9} {'CPU n/b':>8}" if has_base else ""))
for command in times:
    if command.endswith(" [base]"):
        continue
    row = f"{command:<{width}} {ms(statistics.median(times[command])):>9} {ms(statistics.mean(cpu[command])):>9}"
    base = command + " [base]"
    if base in times:
        row += (f" {ms(statistics.median(times[base])):>9} {ms(statistics.mean(cpu[base])):>9}"
                f" {statistics.median(times[command]) / statistics.median(times[base]):>8.2f}x"
                f" {statistics.mean(cpu[command]) / statistics.mean(cpu[base]):>7.2f}x")
    print(row)
print(f"({len(next(iter(times.values())))} runs each; user+sys is hyperfine's mean CPU time per run)")
if has_base:
    print("new/base per round (ratio of the round's medians; their spread is the noise):")
    for command in times:
        if command + " [base]" in times:
            ratios = " ".join(f"{a / b:.2f}" for a, b in zip(round_medians[command], round_medians[command + " [base]"]))
            print(f"  {command}: {ratios}")
line = f"peak RSS of keywarden hook pre-commit, big repository: {rss('rss'):.1f} MiB"
if has_base:
    line += f", base {rss('rss-base'):.1f} MiB ({rss('rss') / rss('rss-base'):.2f}x)"
print(line)
PY
bench_load
