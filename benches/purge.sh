#!/usr/bin/env bash
# Benchmark: `keywarden purge` against `git filter-repo --replace-text` on the 30 000-commit
# reference history (built by ../shared/bench/make-history-repo.py --plant 20).
#
# Each run works on a fresh `cp -a` copy of the original (never on the original itself),
# keywarden and filter-repo runs alternate so both see the same machine load, and every run
# is timed as a whole process with /usr/bin/time -v (wall time, peak RSS of the process or
# its largest child). Both tools end with
# `git gc --prune=now` (filter-repo does it itself). Afterwards the HEAD tree, and the tree of
# every branch, must be identical between the two results.
#
# usage: benches/purge.sh [RUNS]          (default 3)
# env:   SRC (default /work/bench-data/hist30k), WORK (scratch dir, default
#        /work/bench-data/purge-bench), KEYWARDEN (default target/bench-release/keywarden),
#        FILTER_REPO (default ~/.cache/keywarden-peers/bin/git-filter-repo)
set -euo pipefail
runs=${1:-3}
src=${SRC:-/work/bench-data/hist30k}
planted=${PLANTED:-$src.planted.jsonl}
work=${WORK:-/work/bench-data/purge-bench}
kw=$(realpath "${KEYWARDEN:-target/bench-release/keywarden}")
fr=${FILTER_REPO:-$HOME/.cache/keywarden-peers/bin/git-filter-repo}

[ -d "$src" ] || { echo "missing $src (make-history-repo.py --plant 20)" >&2; exit 2; }
[ -x "$kw" ] || { echo "missing $kw (cargo build --profile bench-release)" >&2; exit 2; }
[ -x "$fr" ] || { echo "missing $fr (../shared/bench/setup-peers.sh)" >&2; exit 2; }
case "$(realpath -m "$work")" in "$(realpath "$src")"*) echo "WORK must not be inside SRC" >&2; exit 2;; esac

rm -rf "$work"
mkdir -p "$work"
chmod 700 "$work"
# The planted (fake) keys, one per line: the same file feeds both tools (filter-repo takes
# literal lines and replaces them with ***REMOVED***, keywarden's default too).
umask 077
python3 -c 'import json,sys
for line in open(sys.argv[1]): print(json.loads(line)["secret"])' "$planted" > "$work/secrets.txt"
umask 022
echo "purging $(wc -l < "$work/secrets.txt") planted keys from $src ($(git -C "$src" rev-list --all --count) commits)"
echo "keywarden:   $kw purge --secrets-file secrets.txt --yes"
echo "filter-repo: $("$fr" --version) --replace-text secrets.txt --force"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

measure() { # name dir cmd...
  local name=$1 dir=$2; shift 2
  ( cd "$dir" && /usr/bin/time -v "$@" > "$work/$name.out" 2> "$work/$name.err" ) || {
    echo "$name failed:" >&2; tail -5 "$work/$name.err" >&2; exit 1; }
  local wall rss
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/$name.err" |
    awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/$name.err")
  echo "$wall $rss"
}

kw_walls=(); kw_rss=(); fr_walls=(); fr_rss=(); same=yes
for i in $(seq 1 "$runs"); do
  cp -a "$src" "$work/kw"
  cp -a "$src" "$work/fr"
  # A copy has new inode numbers, so every index entry looks stale; refresh both (untimed), as
  # a repository in use has a fresh index.
  git -C "$work/kw" update-index -q --refresh >/dev/null || true
  git -C "$work/fr" update-index -q --refresh >/dev/null || true
  read -r w r < <(measure "kw-$i" "$work/kw" "$kw" purge --secrets-file "$work/secrets.txt" --yes)
  kw_walls+=("$w"); kw_rss+=("$r")
  printf 'run %d keywarden:   %6.2f s  %7d KB\n' "$i" "$w" "$r"
  read -r w r < <(measure "fr-$i" "$work/fr" "$fr" --replace-text "$work/secrets.txt" --force)
  fr_walls+=("$w"); fr_rss+=("$r")
  printf 'run %d filter-repo: %6.2f s  %7d KB\n' "$i" "$w" "$r"
  for ref in HEAD $(git -C "$work/kw" for-each-ref --format='%(refname)' refs/heads); do
    a=$(git -C "$work/kw" rev-parse "$ref^{tree}"); b=$(git -C "$work/fr" rev-parse "$ref^{tree}")
    if [ "$a" != "$b" ]; then same=no; echo "tree differs at $ref: $a vs $b"; fi
  done
  if [ "$i" = 1 ]; then
    # Independent check (not timed): no object left in either repository holds a key.
    for tool in kw fr; do
      n=$(git -C "$work/$tool" cat-file --batch-all-objects --batch | grep -c -F -f "$work/secrets.txt" || true)
      echo "run 1 $tool: objects still holding a planted key: $n"
    done
  fi
  rm -rf "$work/kw" "$work/fr"
done

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
kw_w=$(median "${kw_walls[@]}"); fr_w=$(median "${fr_walls[@]}")
kw_r=$(median "${kw_rss[@]}"); fr_r=$(median "${fr_rss[@]}")
echo
printf '%-12s %12s %14s\n' tool "median wall" "median peak RSS"
printf '%-12s %10.2f s %11.0f MB\n' keywarden "$kw_w" "$(echo "$kw_r / 1024" | bc -l)"
printf '%-12s %10.2f s %11.0f MB\n' filter-repo "$fr_w" "$(echo "$fr_r / 1024" | bc -l)"
printf 'speed-up: %.1fx   HEAD and branch trees identical: %s   (%d runs)\n' "$(echo "$fr_w / $kw_w" | bc -l)" "$same" "$runs"
rm -f "$work/secrets.txt"
