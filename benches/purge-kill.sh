#!/usr/bin/env bash
# The real thing behind the kill-point tests: `keywarden purge` SIGKILLed at random moments.
# Each run works on a fresh `cp -a` copy of a repository (never the original), starts a purge
# of the planted keys, kills it with SIGKILL after a random delay within the time a whole
# purge takes, then checks the state the kill left and finishes it: half the runs with
# `purge --resume`, half with `purge --abort`. A run counts as consistent when, after the
# kill, `git fsck` is clean, every ref is at its old or its new value and a whole backup (if
# any) lists the original refs; and as resumable when the resume leaves no object holding a
# planted key (or the abort restores the original refs exactly) with fsck clean and no
# journal left. Prints the counts; asserts nothing.
#
# usage: benches/purge-kill.sh [RUNS]       (default 20)
# env:   SRC (default $BENCH_DATA/hist30k; a smaller repository makes runs faster),
#        WORK (scratch dir, default $BENCH_DATA/purge-kill), KEYWARDEN, BENCH_DATA: see lib.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
runs=${1:-20}
src=$(realpath -m "${SRC:-$bench_history_repo}")
planted=${PLANTED:-$src.planted.jsonl}
work=$(realpath -m "${WORK:-$bench_data/purge-kill}")
[ -d "$src" ] || bench_die "missing $src"
case "$work" in "$src" | "$src"/*) bench_die "WORK must not be inside SRC" ;; esac
bench_keywarden_binaries
rm -rf "$work"
mkdir -p "$work"
chmod 700 "$work"
umask 077
python3 -c 'import json,sys
for line in open(sys.argv[1]): print(json.loads(line)["secret"])' "$planted" > "$work/secrets.txt"
umask 022
bench_load

refs_of() { git -C "$1" for-each-ref --format='%(refname) %(objectname)' | grep -v '^refs/keywarden-' || true; }

# The refs before and after a complete purge, once, untimed.
cp -a "$src" "$work/reference"
refs_of "$work/reference" > "$work/refs-before"
start=$(date +%s.%N)
"$kw" -C "$work/reference" purge --secrets-file "$work/secrets.txt" --yes > /dev/null 2>&1
full=$(echo "$(date +%s.%N) - $start" | bc)
refs_of "$work/reference" > "$work/refs-after"
rm -rf "$work/reference"
echo "a whole purge takes ${full} s; killing at random moments within it, $runs runs"

consistent=0
resumable=0
for i in $(seq 1 "$runs"); do
  repo=$work/run
  rm -rf "$repo"
  cp -a "$src" "$repo"
  git -C "$repo" update-index -q --refresh > /dev/null || true
  delay=$(python3 -c "import random; print(round(random.uniform(0.05, $full), 2))")
  "$kw" -C "$repo" purge --secrets-file "$work/secrets.txt" --yes > "$work/out" 2>&1 &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
  ok=yes
  git -C "$repo" fsck --no-progress > /dev/null 2>&1 || { ok=no; echo "run $i: fsck failed after the kill"; }
  refs_of "$repo" > "$work/refs-now"
  while read -r name oid; do
    grep -qxF "$name $oid" "$work/refs-before" || grep -qxF "$name $oid" "$work/refs-after" \
      || { ok=no; echo "run $i: $name at $oid is neither old nor new"; }
  done < "$work/refs-now"
  for bundle in "$repo"/.git/keywarden/backup-*.bundle; do
    [ -e "$bundle" ] || continue
    git bundle list-heads "$bundle" | grep -v ' HEAD$' | grep -v ' refs/keywarden-backup/' \
      | awk '{print $2" "$1}' | sort > "$work/bundle-refs"
    sort "$work/refs-before" | diff -q - "$work/bundle-refs" > /dev/null \
      || { ok=no; echo "run $i: the backup does not list the original refs"; }
  done
  [ "$ok" = yes ] && consistent=$((consistent + 1))
  if [ -e "$repo/.git/keywarden/purge-journal.json" ]; then
    if [ $((i % 2)) = 0 ]; then how=--abort; else how=--resume; fi
  else
    how=done
  fi
  finished=yes
  case "$how" in
    --resume) "$kw" -C "$repo" purge --resume --secrets-file "$work/secrets.txt" --yes > "$work/out" 2>&1 || finished=no ;;
    --abort) "$kw" -C "$repo" purge --abort > "$work/out" 2>&1 || finished=no ;;
    done) ;;
  esac
  git -C "$repo" fsck --no-progress > /dev/null 2>&1 || finished=no
  [ -e "$repo/.git/keywarden/purge-journal.json" ] && finished=no
  if [ "$how" = --abort ]; then
    refs_of "$repo" | diff -q - "$work/refs-before" > /dev/null || finished=no
  elif [ "$how" = done ] && refs_of "$repo" | diff -q - "$work/refs-before" > /dev/null; then
    : # killed before anything was written: nothing to finish
  else
    n=$(git -C "$repo" cat-file --batch-all-objects --batch | grep -c -F -f "$work/secrets.txt" || true)
    [ "$n" = 0 ] || finished=no
  fi
  [ "$finished" = yes ] && resumable=$((resumable + 1)) || { echo "run $i ($how after ${delay} s):"; tail -n 3 "$work/out"; }
  echo "run $i: killed after ${delay} s, then $how: consistent=$ok finished=$finished"
done
rm -rf "$work/run"
echo
echo "$consistent of $runs runs consistent after the kill; $resumable of $runs finished by --resume/--abort"
