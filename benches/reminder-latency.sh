#!/usr/bin/env bash
# Rotation-reminder overhead of the post-checkout hook, in the 30 000-commit reference
# repository: `keywarden hook post-checkout` with no key registered (the hook as it was
# before reminders, give or take one failed stat), against the same hook with a registry
# of 21 keys of which the one this repository uses is due — on the day's first checkout
# (the reminder is worked out, printed and stamped), on a later checkout the same day (the
# stamp says "reminded today"), and with keys that are not due (worked out every time).
# Also a whole `git switch` with keywarden's hooks and with a post-checkout that does
# nothing. Prints hyperfine's figures and, where valgrind is installed, the instructions
# each hook run executes (callgrind), which do not depend on how busy the machine is;
# asserts nothing.
#
#   benches/reminder-latency.sh [HISTORY_REPO]      (default ../bench-data/hist30k)
#
# The reference repository is built by ../shared/bench/make-history-repo.py; it is only
# read (cloned with hardlinks), never modified. Needs hyperfine (apt-get install hyperfine)
# and python3 (to make fake keys, so this file holds none).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
history_repo=${1:-$here/../bench-data/hist30k}
runs=${RUNS:-100}

command -v hyperfine >/dev/null || { echo "hyperfine is missing: apt-get install -y hyperfine" >&2; exit 2; }
[ -d "$history_repo" ] || { echo "$history_repo: no such repository (run make-history-repo.py)" >&2; exit 2; }

cargo build --release --quiet --manifest-path "$here/Cargo.toml"
kw=$here/target/release/keywarden
work=$(mktemp -d "${TMPDIR:-/tmp}/keywarden-reminder-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME=$work/home NO_COLOR=1
export XDG_CONFIG_HOME=$HOME/.config KEYWARDEN_HOME=$work/state
export KEYWARDEN_KEYRING=file:$work/keyring.json
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
mkdir -p "$HOME"

# Fake keys, made here: an OpenAI-shaped key for the benchmark repository and twenty
# GitHub-shaped tokens used in another repository, so the registry is not trivially small.
fake_keys() {
  python3 - "$@" <<'PY'
import random, string, sys
rng = random.Random(7)
alnum = string.ascii_letters + string.digits
body = lambda n, chars=alnum + "_-": "".join(rng.choice(chars) for _ in range(n))
print("OPENAI_API_KEY=sk-proj-" + body(74) + "T3BlbkFJ" + body(74))
for i in range(1, 21):
    print(f"TOKEN_{i}=ghp_" + body(36, alnum))
PY
}
fake_keys > "$work/keys.env"

git clone -q "$history_repo" "$work/big"
(cd "$work/big" && "$kw" install --yes >/dev/null)
head -n 1 "$work/keys.env" > "$work/big/.env"
mkdir -p "$work/other" && git -C "$work/other" init -q
tail -n +2 "$work/keys.env" > "$work/other/.env"
# Registered on 2026-01-01; the benchmark's "now" is 2026-06-01 (due) or 2026-01-10 (not).
(cd "$work/big" && KEYWARDEN_NOW=2026-01-01T00:00:00Z "$kw" keys import >/dev/null)
(cd "$work/other" && KEYWARDEN_NOW=2026-01-01T00:00:00Z "$kw" keys import >/dev/null)
stamp=$work/big/.git/keywarden/reminded
empty_home=$work/empty-state
mkdir -p "$empty_home"

# Two branches that differ in one file, for a whole `git switch`.
git -C "$work/big" checkout -q -b bench-a
printf 'bench\n' > "$work/big/BENCH-FILE"
git -C "$work/big" add BENCH-FILE && git -C "$work/big" commit -q --no-verify -m bench
git -C "$work/big" checkout -q -b bench-b HEAD~1
mkdir -p "$work/noop-hooks"
printf '#!/bin/sh\nexit 0\n' > "$work/noop-hooks/post-checkout"
chmod +x "$work/noop-hooks/post-checkout"
noop="-c core.hooksPath=$work/noop-hooks"
echo "history: $(git -C "$work/big" rev-list --count HEAD) commits, $(git -C "$work/big" ls-files | wc -l) files; registry: $(grep -c '"fingerprint"' "$KEYWARDEN_HOME/registry.json") keys"

due=2026-06-01T09:00:00Z
fresh=2026-01-10T09:00:00Z
hook="cd $work/big && $kw hook post-checkout 0000000 1111111 1 2>/dev/null"
# One --prepare per command, in order (hyperfine's rule).
hyperfine --warmup 10 --runs "$runs" -N --export-json "$work/out.json" \
  --prepare "true" \
    --command-name "keywarden --version (process start)" "$kw --version" \
  --prepare "rm -f $stamp" \
    --command-name "post-checkout, no key registered" \
    "sh -c 'KEYWARDEN_HOME=$empty_home KEYWARDEN_NOW=$due $hook'" \
  --prepare "sh -c 'mkdir -p $(dirname "$stamp") && echo 2026-06-01 > $stamp'" \
    --command-name "post-checkout, a key due, already reminded today" \
    "sh -c 'KEYWARDEN_NOW=$due $hook'" \
  --prepare "rm -f $stamp" \
    --command-name "post-checkout, a key due, first checkout of the day (prints, stamps)" \
    "sh -c 'KEYWARDEN_NOW=$due $hook'" \
  --prepare "rm -f $stamp" \
    --command-name "post-checkout, 21 keys registered, none due" \
    "sh -c 'KEYWARDEN_NOW=$fresh $hook'" \
  --prepare "sh -c 'rm -f $stamp; git $noop -C $work/big switch -q bench-b'" \
    --command-name "git switch, keywarden's post-checkout (a key due, first of the day)" \
    "sh -c 'KEYWARDEN_NOW=$due git -C $work/big switch -q bench-a 2>/dev/null'" \
  --prepare "git $noop -C $work/big switch -q bench-b" \
    --command-name "git switch, a post-checkout that does nothing" \
    "git $noop -C $work/big switch -q bench-a"

python3 - "$work/out.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
for r in results:
    print(f"{r['command']}: median {r['median']*1000:.2f} ms (mean {r['mean']*1000:.2f} ± {r['stddev']*1000:.2f} ms; user {r['user']*1000:.2f} + system {r['system']*1000:.2f} ms; {len(r['times'])} runs)")
base = results[1]["median"]
for r in results[2:5]:
    print(f"added by the reminder, {r['command'].split(', ', 1)[1]}: {(r['median'] - base) * 1000:+.2f} ms (median against 'no key registered')")
print(f"git switch, keywarden's hook against a no-op hook: {(results[5]['median'] - results[6]['median']) * 1000:+.2f} ms")
PY

command -v valgrind >/dev/null || { echo "(valgrind is missing: no instruction counts)"; exit 0; }
# Instructions executed by one run (callgrind's total Ir), in the benchmark repository.
instructions() {
  (cd "$work/big" && env "$@" valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$kw" hook post-checkout 0000000 1111111 1 2>&1 >/dev/null) | sed -n 's/.*Collected : //p'
}
rm -f "$stamp"
none=$(instructions KEYWARDEN_HOME="$empty_home" KEYWARDEN_NOW=$due)
first=$(instructions KEYWARDEN_NOW=$due)
again=$(instructions KEYWARDEN_NOW=$due)
rm -f "$stamp"
fresh_ir=$(instructions KEYWARDEN_NOW=$fresh)
version=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$kw" --version 2>&1 >/dev/null | sed -n 's/.*Collected : //p')
python3 - "$version" "$none" "$first" "$again" "$fresh_ir" <<'PY'
import sys
version, none, first, again, fresh = map(int, sys.argv[1:])
print(f"instructions: keywarden --version {version:,}; post-checkout with no key registered {none:,}")
for label, n in [("a key due, first checkout of the day", first), ("a key due, already reminded today", again), ("21 keys registered, none due", fresh)]:
    print(f"instructions: post-checkout, {label}: {n:,} ({n - none:+,} against no key registered, {100 * (n - none) / none:+.1f}%)")
PY
