# Shared by the benchmark scripts in this directory (sourced, not run): where the benchmark
# data lives, which keywarden binaries are compared, whole-process timing, and the table of
# medians. Nothing here asserts a time; the scripts print figures.
#
# env: BENCH_DATA      data outside the project (default /work/bench-data): hist30k (the
#                      30 000-commit reference history), scratch directories, bare clones
#      KEYWARDEN       the keywarden binary to measure (default: build this checkout's
#                      bench-release binary — the release build with debug info — and use it)
#      KEYWARDEN_BASE  optional second keywarden binary, measured in the same run, round by
#                      round with the first, and printed beside it as "keywarden (base)"
#      PEERS           where ../shared/bench/setup-peers.sh installed the peer tools
#                      (default ~/.cache/keywarden-peers)

bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_data=$(realpath -m "${BENCH_DATA:-/work/bench-data}")
bench_history_repo=$bench_data/hist30k
bench_peers=$(realpath -m "${PEERS:-${XDG_CACHE_HOME:-$HOME/.cache}/keywarden-peers}")
bench_shared=$(realpath -m "${SHARED:-$bench_root/../shared}")

bench_die() {
  echo "$(basename "$0"): $*" >&2
  exit 2
}

bench_load() {
  echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

bench_need_time() {
  [ -x /usr/bin/time ] || bench_die "/usr/bin/time is missing: apt-get install -y time"
}

# Sets kw (KEYWARDEN, or this checkout's bench-release build) and kw_base (KEYWARDEN_BASE, or
# empty), and prints which files they are.
bench_keywarden_binaries() {
  if [ -n "${KEYWARDEN:-}" ]; then
    kw=$(realpath -m "$KEYWARDEN")
  else
    cargo build --profile bench-release --quiet --manifest-path "$bench_root/Cargo.toml"
    kw=$bench_root/target/bench-release/keywarden
  fi
  [ -x "$kw" ] || bench_die "KEYWARDEN=$kw is not an executable file"
  kw_base=
  if [ -n "${KEYWARDEN_BASE:-}" ]; then
    kw_base=$(realpath -m "$KEYWARDEN_BASE")
    [ -x "$kw_base" ] || bench_die "KEYWARDEN_BASE=$kw_base is not an executable file"
  fi
  echo "keywarden:        $kw (sha256 $(sha256sum "$kw" | cut -c1-12))"
  if [ -n "$kw_base" ]; then
    echo "keywarden (base): $kw_base (sha256 $(sha256sum "$kw_base" | cut -c1-12))"
  fi
}

# bench_keywarden_order ROUND : the keywardens to run in round ROUND (from 1): keywarden, and
# keywarden-base when there is one, swapped every other round so neither always goes first.
bench_keywarden_order() {
  if [ -z "$kw_base" ]; then
    echo keywarden
  elif [ $(($1 % 2)) = 1 ]; then
    echo keywarden keywarden-base
  else
    echo keywarden-base keywarden
  fi
}

# bench_keywarden_bin NAME : the binary measured as keywarden or keywarden-base.
bench_keywarden_bin() {
  if [ "$1" = keywarden ]; then echo "$kw"; else echo "$kw_base"; fi
}

# bench_time RESULT DIR OK_EXITS CMD… : runs CMD once in DIR as a whole process under
# /usr/bin/time; appends "wall_s peak_rss_kb exit_code user_s system_s" to RESULT.times
# (peak RSS of the process or of its largest child; CPU times include its children), keeps
# its stderr in RESULT.stderr, throws its stdout away. OK_EXITS lists the exit codes that
# mean success (e.g. "0 1" for a scan that exits 1 on findings); on any other, prints the
# end of its stderr and returns 1 (the figure is still recorded, with its exit code).
bench_time() {
  local result=$1 dir=$2 ok_exits=$3 code
  shift 3
  (cd "$dir" && /usr/bin/time -f "%e %M %x %U %S" -o "$result.time" "$@" >/dev/null 2>"$result.stderr") || true
  tail -n 1 "$result.time" >> "$result.times"
  code=$(tail -n 1 "$result.time" | cut -d' ' -f3)
  rm -f "$result.time"
  case " $ok_exits " in *" $code "*) return 0 ;; esac
  echo "$(basename "$result"): exit code $code (expected one of: $ok_exits); its stderr ends with:" >&2
  tail -n 5 "$result.stderr" >&2
  return 1
}

# bench_table DIR EXTRA_HEADER NAME=LABEL… : one row per NAME from DIR/NAME.times (medians of
# wall time, CPU time and peak RSS, the ratio of wall times to the first row, the runs, their
# exit codes), plus DIR/NAME.extra as a last column when it exists. When rows named
# keywarden and keywarden-base are there, a line follows with the ratios new/base of the
# medians, and of the wall time of each round (the rounds ran side by side, so their spread
# is the noise).
bench_table() {
  python3 - "$@" <<'PY'
import os, statistics, sys
out, extra_header, rows = sys.argv[1], sys.argv[2], [a.split("=", 1) for a in sys.argv[3:]]
def runs(name):
    path = os.path.join(out, name + ".times")
    lines = [l.split() for l in open(path) if l.strip()] if os.path.exists(path) else []
    return [(float(l[0]), int(l[1]) / 1024, l[2], float(l[3]) + float(l[4])) for l in lines]
data = {name: runs(name) for name, _ in rows}
def med(name, i):
    return statistics.median(r[i] for r in data[name])
present = [(n, l) for n, l in rows if data[n]]
ref = present[0][0]
width = max(len(l) for _, l in present)
print("(CPU: user + system time of the process and its children; under load it varies less than wall time)")
print(f"{'tool':<{width}} {'median wall':>12} {'CPU':>9} {'peak RSS':>10} {'vs ' + present[0][1]:>14} {'runs':>5}  exit  {extra_header}")
for name, label in present:
    extra_path = os.path.join(out, name + ".extra")
    extra = open(extra_path).read().strip() if os.path.exists(extra_path) else ""
    exits = ",".join(sorted({r[2] for r in data[name]}))
    print(f"{label:<{width}} {med(name, 0):>10.2f} s {med(name, 3):>7.2f} s {med(name, 1):>6.0f} MiB {med(name, 0) / med(ref, 0):>13.2f}x"
          f" {len(data[name]):>5}  {exits:<4}  {extra}")
for name, _ in rows:
    if not data[name]:
        print(f"({name}: no runs recorded)")
if data.get("keywarden") and data.get("keywarden-base"):
    per_round = " ".join(f"{a[0] / b[0]:.2f}" for a, b in zip(data["keywarden"], data["keywarden-base"]))
    print(f"keywarden new/base: wall {med('keywarden', 0) / med('keywarden-base', 0):.2f}x,"
          f" CPU {med('keywarden', 3) / med('keywarden-base', 3):.2f}x,"
          f" peak RSS {med('keywarden', 1) / med('keywarden-base', 1):.2f}x"
          f" (wall ratio per round: {per_round})")
PY
}
