#!/usr/bin/env bash
# Benchmarks `keywarden scan --history` against betterleaks, kingfisher and gitleaks in one
# run: on the 30 000-commit reference repository (how many of its planted keys each tool
# finds), on bare clones of real public repositories given in REAL_REPOS (time, memory and
# each tool's own count of findings: they have no planted list), and a working-tree scan of
# 100 000 small files. The tools run interleaved, round by round, each timed as a whole
# process; prints medians of wall time, CPU time and peak RSS and the ratios. Asserts nothing.
#
# usage: benches/scan.sh [RUNS]        (default 3 rounds)
# env:   REPO        the reference repository (default $BENCH_DATA/hist30k, with
#                    REPO.planted.jsonl; built by make-history-repo.py when absent)
#        REAL_REPOS  space-separated paths of bare clones kept outside the project, e.g.
#                    "$BENCH_DATA/cargo.git $BENCH_DATA/git.git"; absent ones are skipped
#                    with a note
#        REAL_RUNS   rounds on each real repository (default RUNS)
#        TOOLS       the peers to run (default "betterleaks kingfisher gitleaks"; empty: none)
#        BENCH_DIR   reports and timings (default $BENCH_DATA/scan-bench)
#        KEYWARDEN, KEYWARDEN_BASE, BENCH_DATA, PEERS: see benches/lib.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
runs=${1:-3}
real_runs=${REAL_RUNS:-$runs}
tools=${TOOLS-betterleaks kingfisher gitleaks}
out=$(realpath -m "${BENCH_DIR:-$bench_data/scan-bench}")
repo=$(realpath -m "${REPO:-$bench_history_repo}")
mkdir -p "$out"

bench_need_time
bench_keywarden_binaries
bash "$bench_shared/bench/setup-peers.sh" "$bench_peers" >/dev/null
for tool in $tools; do
  [ -x "$bench_peers/bin/$tool" ] || bench_die "no peer named $tool in $bench_peers/bin"
done
if [ ! -d "$repo" ]; then
  echo "building the 30 000-commit reference repository (takes a few minutes)…"
  python3 "$bench_shared/bench/make-history-repo.py" "$repo" --commits 30000 --files 6000 --plant 20
fi
[ -f "$repo.planted.jsonl" ] || bench_die "$repo.planted.jsonl is missing (make-history-repo.py --plant)"

# scan_once DIR NAME REPO : one history scan of REPO by tool NAME (keywarden, keywarden-base
# or a peer), its report written to DIR/NAME.report. A failure is reported and recorded
# with its exit code; the other tools still run.
scan_once() {
  local dir=$1 name=$2 target=$3 peer=$bench_peers/bin/$2
  rm -f "$dir/$name.report"
  case $name in
    keywarden | keywarden-base)
      bench_time "$dir/$name" "$target" "0 1" "$(bench_keywarden_bin "$name")" scan --history --format jsonl --output "$dir/$name.report" ;;
    betterleaks)
      bench_time "$dir/$name" "$target" 0 "$peer" git "$target" --no-banner -o "$dir/$name.report.json" --exit-code=0 &&
        mv "$dir/$name.report.json" "$dir/$name.report" ;;
    kingfisher) # exit 200 means findings
      bench_time "$dir/$name" "$target" "0 200" "$peer" scan "$target" --no-validate --no-update-check --format json --output "$dir/$name.report" ;;
    gitleaks)
      bench_time "$dir/$name" "$target" 0 "$peer" git "$target" --no-banner --report-format json --report-path "$dir/$name.report" --exit-code 0 ;;
  esac || true
}

# The tools; every round runs them in this order, but for keywarden and its base, which
# swap places every other round (bench_keywarden_order).
names=(keywarden ${kw_base:+keywarden-base} $tools)

# history_bench DIR REPO ROUNDS : every tool once per round on REPO.
history_bench() {
  local dir=$1 target=$2 rounds=$3 name
  mkdir -p "$dir"
  for name in "${names[@]}"; do rm -f "$dir/$name.times" "$dir/$name.extra"; done
  echo
  echo "== history scan of $target ($(git -C "$target" rev-list --all --count) commits), $rounds rounds, tools interleaved"
  bench_load
  # Read the packs once beforehand, so the first tool does not pay for a cold page cache alone.
  cat "$(git -C "$target" rev-parse --path-format=absolute --git-path objects)"/pack/*.pack >/dev/null 2>&1 || true
  local round
  for round in $(seq "$rounds"); do
    for name in $(bench_keywarden_order "$round") $tools; do scan_once "$dir" "$name" "$target"; done
  done
}

# table_rows : NAME=LABEL arguments for bench_table, in the order the tools ran.
table_rows() {
  local name
  for name in "${names[@]}"; do
    case $name in
      keywarden) echo "keywarden=keywarden" ;;
      keywarden-base) echo "keywarden-base=keywarden (base)" ;;
      *) echo "$name=$name $("$bench_peers/bin/$name" --version 2>&1 | grep -o '[0-9][0-9.]*[-a-z0-9.]*' | head -1)" ;;
    esac
  done
}

# count_findings DIR [PLANTED_FILE] : writes DIR/NAME.extra for every tool that left a
# report: with a planted list, how many planted keys it found; without, its own count of
# findings (keywarden: JSONL lines and distinct keys; betterleaks, kingfisher: the report's
# findings list; gitleaks: the report's array).
count_findings() {
  python3 - "$1" "${2:-}" "${names[@]}" <<'PY'
import hashlib, json, os, sys
out, planted_file, names = sys.argv[1], sys.argv[2], sys.argv[3:]
planted = [json.loads(l)["secret"] for l in open(planted_file)] if planted_file else None
for name in names:
    path = os.path.join(out, name + ".report")
    if not os.path.exists(path):
        continue
    text = open(path, errors="replace").read()
    if name.startswith("keywarden"):
        findings = [json.loads(l) for l in text.splitlines() if l.strip()]
        fingerprints = {f["fingerprint"] for f in findings}
        if planted is not None:
            found = sum("sha256:" + hashlib.sha256(s.encode()).hexdigest() in fingerprints for s in planted)
        else:
            summary = f"{len(findings)} ({len(fingerprints)} distinct keys)"
    else:
        report = json.loads(text) if text.strip() else []
        findings = report["findings"] if isinstance(report, dict) else report
        # Peers report full secrets (kingfisher a snippet around them): a planted key
        # counts as found when its first 40 characters appear in the report.
        if planted is not None:
            found = sum(s[:40] in text for s in planted)
        else:
            summary = str(len(findings))
    if planted is not None:
        summary = f"{found}/{len(planted)}"
    open(os.path.join(out, name + ".extra"), "w").write(summary + "\n")
PY
}

history_bench "$out/hist30k" "$repo" "$runs"
count_findings "$out/hist30k" "$repo.planted.jsonl"
mapfile -t rows < <(table_rows)
bench_table "$out/hist30k" "planted keys found" "${rows[@]}"

for real in ${REAL_REPOS:-}; do
  real=$(realpath -m "$real")
  case "$(git -C "$real" rev-parse --absolute-git-dir 2>/dev/null)" in
    "$real" | "$real/.git") ;;
    *) echo; echo "note: $real is absent or not the top directory of a git repository: skipped"; continue ;;
  esac
  dir=$out/$(basename "$real" .git)
  history_bench "$dir" "$real" "$real_runs"
  count_findings "$dir"
  mapfile -t rows < <(table_rows)
  bench_table "$dir" "findings (each tool's own count)" "${rows[@]}"
done

echo
echo "== working-tree scan of 100 000 small files"
tree=$bench_data/tree100k
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
bench_load
rm -f "$out"/tree/*.times
mkdir -p "$out/tree"
(cd "$tree" && "$kw" scan --format jsonl >/dev/null) || true # untimed: warms the page cache
for round in $(seq "$runs"); do
  for name in $(bench_keywarden_order "$round"); do
    bench_time "$out/tree/$name" "$tree" "0 1" "$(bench_keywarden_bin "$name")" scan --format jsonl || true
  done
done
bench_table "$out/tree" "" keywarden=keywarden ${kw_base:+"keywarden-base=keywarden (base)"}
echo
bench_load
