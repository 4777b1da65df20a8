#!/usr/bin/env bash
# Benchmark: `keywarden purge` against `git filter-repo --replace-text` on the 30 000-commit
# reference history (built by ../shared/bench/make-history-repo.py --plant 20).
#
# Each run works on a fresh `cp -a` copy of the original (never on the original itself);
# keywarden, keywarden (base) when given, and filter-repo alternate run by run so all see the
# same machine load, and every run is timed as a whole process with /usr/bin/time (wall
# time, peak RSS of the process or its largest child). All end with `git gc --prune=now`
# (filter-repo does it itself). Afterwards the HEAD tree, and the tree of every branch, must
# be identical between each keywarden result and filter-repo's; the first run also checks
# that no object left holds a planted key. Prints the figures; asserts no time.
#
# usage: benches/purge.sh [RUNS]          (default 3)
# env:   SRC (default $BENCH_DATA/hist30k), WORK (scratch dir, default
#        $BENCH_DATA/purge-bench), FILTER_REPO (default $PEERS/bin/git-filter-repo),
#        KEYWARDEN, KEYWARDEN_BASE, BENCH_DATA, PEERS: see benches/lib.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
runs=${1:-3}
src=$(realpath -m "${SRC:-$bench_history_repo}")
planted=${PLANTED:-$src.planted.jsonl}
work=$(realpath -m "${WORK:-$bench_data/purge-bench}")
fr=${FILTER_REPO:-$bench_peers/bin/git-filter-repo}

bench_need_time
[ -d "$src" ] || bench_die "missing $src (make-history-repo.py --plant 20)"
[ -x "$fr" ] || bench_die "missing $fr (../shared/bench/setup-peers.sh)"
case "$work" in "$src" | "$src"/*) bench_die "WORK must not be inside SRC" ;; esac
bench_keywarden_binaries

rm -rf "$work"
mkdir -p "$work"
chmod 700 "$work"
# The planted (fake) keys, one per line: the same file feeds every tool (filter-repo takes
# literal lines and replaces them with ***REMOVED***, keywarden's default too).
umask 077
python3 -c 'import json,sys
for line in open(sys.argv[1]): print(json.loads(line)["secret"])' "$planted" > "$work/secrets.txt"
umask 022
echo "purging $(wc -l < "$work/secrets.txt") planted keys from $src ($(git -C "$src" rev-list --all --count) commits)"
echo "keywarden:   purge --secrets-file secrets.txt --yes"
echo "filter-repo: $("$fr" --version) --replace-text secrets.txt --force"
bench_load

keywardens=(keywarden ${kw_base:+keywarden-base})
same=yes
for i in $(seq 1 "$runs"); do
  for tool in "${keywardens[@]}" filter-repo; do
    cp -a "$src" "$work/$tool"
    # A copy has new inode numbers, so every index entry looks stale; refresh it (untimed),
    # as a repository in use has a fresh index.
    git -C "$work/$tool" update-index -q --refresh >/dev/null || true
  done
  for tool in $(bench_keywarden_order "$i"); do
    bench_time "$work/$tool" "$work/$tool" 0 "$(bench_keywarden_bin "$tool")" purge --secrets-file "$work/secrets.txt" --yes || exit 1
  done
  bench_time "$work/filter-repo" "$work/filter-repo" 0 "$fr" --replace-text "$work/secrets.txt" --force || exit 1
  printf 'run %d:' "$i"
  for tool in "${keywardens[@]}" filter-repo; do
    printf '  %s %.2f s %d MiB' "$tool" "$(tail -n 1 "$work/$tool.times" | cut -d' ' -f1)" \
      "$(( $(tail -n 1 "$work/$tool.times" | cut -d' ' -f2) / 1024 ))"
  done
  echo
  for tool in "${keywardens[@]}"; do
    for ref in HEAD $(git -C "$work/$tool" for-each-ref --format='%(refname)' refs/heads); do
      a=$(git -C "$work/$tool" rev-parse "$ref^{tree}"); b=$(git -C "$work/filter-repo" rev-parse "$ref^{tree}")
      if [ "$a" != "$b" ]; then same=no; echo "$tool: tree differs from filter-repo's at $ref: $a vs $b"; fi
    done
  done
  if [ "$i" = 1 ]; then
    # Independent check (not timed): no object left in any result holds a key.
    for tool in "${keywardens[@]}" filter-repo; do
      n=$(git -C "$work/$tool" cat-file --batch-all-objects --batch | grep -c -F -f "$work/secrets.txt" || true)
      echo "run 1 $tool: objects still holding a planted key: $n"
    done
  fi
  for tool in "${keywardens[@]}" filter-repo; do rm -rf "${work:?}/$tool"; done
done

echo
bench_table "$work" "" keywarden=keywarden ${kw_base:+"keywarden-base=keywarden (base)"} "filter-repo=git filter-repo"
fr_over_kw=$(python3 -c 'import statistics, sys
med = lambda f: statistics.median(float(l.split()[0]) for l in open(f) if l.strip())
print(f"{med(sys.argv[2]) / med(sys.argv[1]):.1f}")' "$work/keywarden.times" "$work/filter-repo.times")
echo "speed-up over filter-repo: ${fr_over_kw}x   HEAD and branch trees identical: $same   ($runs runs)"
bench_load
rm -f "$work/secrets.txt"
