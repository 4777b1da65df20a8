#!/usr/bin/env bash
# Benchmarks `keywarden scan --history` against gitleaks and kingfisher on the same
# 30 000-commit repository, in one run, and a working-tree scan of 100 000 small files.
# Prints wall time and peak memory (medians of RUNS runs), the ratios, and how many of the
# planted keys each tool found.
#
# usage: benches/scan.sh [RUNS]        (default 3)
# env:   SHARED=../shared  BENCH_DIR=benches/out  PEERS=~/.cache/keywarden-peers
#        REPO=an existing repo built by make-history-repo.py (with REPO.planted.jsonl)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
shared=${SHARED:-$(realpath ../shared)}
out=$(realpath -m "${BENCH_DIR:-benches/out}")
peers=$(realpath -m "${PEERS:-${XDG_CACHE_HOME:-$HOME/.cache}/keywarden-peers}")
mkdir -p "$out"

[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; }
cargo build --profile bench-release -q
kw=$(realpath target/bench-release/keywarden)
bash "$shared/bench/setup-peers.sh" "$peers" >/dev/null
repo=$(realpath -m "${REPO:-$out/hist30k}")
if [ ! -d "$repo" ]; then
  echo "building the 30 000-commit reference repository (takes a few minutes)…"
  python3 "$shared/bench/make-history-repo.py" "$repo" --commits 30000 --files 6000 --plant 20
fi

# once NAME CMD… : runs CMD once in $repo, appends "wall_s rss_kb" to NAME.times.
once() {
  local name=$1
  shift
  (cd "$repo" && /usr/bin/time -f "%e %M" -o "$out/.time" "$@" >/dev/null 2>"$out/$name.stderr") || true
  tail -n 1 "$out/.time" >> "$out/$name.times"
}

echo "== history scan of $repo ($(git -C "$repo" rev-list --all | wc -l) commits), $runs rounds, tools interleaved"
rm -f "$out"/{keywarden,kingfisher,gitleaks}.times
for _ in $(seq "$runs"); do
  once keywarden "$kw" scan --history --format jsonl --output "$out/keywarden.jsonl"
  once kingfisher "$peers/bin/kingfisher" scan "$repo" --no-validate --no-update-check --format json --output "$out/kingfisher.json"
  once gitleaks "$peers/bin/gitleaks" git "$repo" --no-banner --report-format json --report-path "$out/gitleaks.json" --exit-code 0
done

echo "== working-tree scan of 100 000 small files"
tree=$out/tree100k
if [ ! -d "$tree" ]; then
  python3 - "$tree" <<'PY'
import os, random, sys
root = sys.argv[1]
rng = random.Random(5)
words = "import os config value return self data name user token path file list item".split()
for d in range(1000):
    sub = os.path.join(root, f"pkg{d:04}")
    os.makedirs(sub)
    for f in range(100):
        lines = [" ".join(rng.choice(words) for _ in range(8)) for _ in range(rng.randint(3, 30))]
        with open(os.path.join(sub, f"m{f:03}.py"), "w") as fh:
            fh.write("\n".join(lines) + "\n")
PY
fi
: > "$out/tree.times"
for _ in $(seq "$runs"); do
  (cd "$tree" && /usr/bin/time -f "%e %M" -o "$out/.time" "$kw" scan --format jsonl >/dev/null 2>&1) || true
  tail -n 1 "$out/.time" >> "$out/tree.times"
done

python3 - "$out" "$repo.planted.jsonl" <<'PY'
import hashlib, json, statistics, sys
out, planted_file = sys.argv[1], sys.argv[2]
def med(name):
    rows = [l.split() for l in open(f"{out}/{name}.times") if l.strip()]
    return statistics.median(float(r[0]) for r in rows), statistics.median(int(r[1]) for r in rows) / 1024
planted = [json.loads(l)["secret"] for l in open(planted_file)]
def found_text(name):
    try:
        return open(f"{out}/{name}").read()
    except OSError:
        return ""
kw_fps = {json.loads(l)["fingerprint"] for l in open(f"{out}/keywarden.jsonl") if l.strip()}
kw_found = sum("sha256:" + hashlib.sha256(s.encode()).hexdigest() in kw_fps for s in planted)
# Peers report full secrets (or, kingfisher, a prefix of them): count a planted key as
# found when its first 40 characters appear in the peer's report.
counts = {"keywarden": kw_found}
for name, report in (("kingfisher", "kingfisher.json"), ("gitleaks", "gitleaks.json")):
    text = found_text(report)
    counts[name] = sum(s[:40] in text for s in planted)
times = {n: med(n) for n in ("keywarden", "kingfisher", "gitleaks")}
kw_wall, kw_rss = times["keywarden"]
print(f"{'tool':<11} {'wall (s)':>9} {'peak RSS (MB)':>14} {'vs keywarden':>13} {'planted found':>14}")
for name, (wall, rss) in times.items():
    print(f"{name:<11} {wall:>9.2f} {rss:>14.0f} {wall / kw_wall:>12.1f}x {counts[name]:>8}/{len(planted)}")
tree_wall, tree_rss = med("tree")
print(f"working tree, 100 000 files: {tree_wall:.2f} s wall, {tree_rss:.0f} MB peak RSS")
PY
