#!/usr/bin/env bash
# Fuzzes every parser of hostile input with libFuzzer (see Docs/security.md).
#   Tests/fuzz.sh                  every target for 15 s each (what Tests/run.sh runs)
#   Tests/fuzz.sh --seconds 3600   every target for an hour each
#   Tests/fuzz.sh --seconds 600 manifest config    chosen targets
# Corpus: Tests/Fuzz/corpus/<target>/ (committed; new inputs found go to a scratch copy
# unless --grow is given). A crash is written to Tests/Fuzz/crashes/<target>/ and fails
# the run; add it to Tests/Fuzz/regressions/<target>/ so the unit tests replay it.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null || { [ -x /opt/swift/usr/bin/swift ] && export PATH="$PATH:/opt/swift/usr/bin"; }

seconds=15
grow=0
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --grow) grow=1; shift ;;
    *) targets+=("$1"); shift ;;
  esac
done

scratch=.build-fuzz
# libFuzzer, not Swift's backtracer, must handle a crash: it saves the input.
export SWIFT_BACKTRACE=enable=no
swift build -c release --product strata-fuzz --scratch-path "$scratch" \
  -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library -Xswiftc -DFUZZING -Xswiftc -use-ld=lld >/dev/null
binary="$scratch/release/strata-fuzz"
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(ls Tests/Fuzz/corpus)
fi

status=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%-18s %12s %12s %8s %s\n' target runs exec/s corpus result
for target in "${targets[@]}"; do
  corpus="Tests/Fuzz/corpus/$target"
  mkdir -p "$corpus" "Tests/Fuzz/crashes/$target"
  run="$corpus"
  if ((grow == 0)); then run="$work/$target"; mkdir -p "$run"; cp -r "$corpus/." "$run/"; fi
  log="$work/$target.log"
  seeds=()
  [ -d "Tests/Fuzz/regressions/$target" ] && seeds+=("Tests/Fuzz/regressions/$target")
  if "$binary" "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -artifact_prefix="Tests/Fuzz/crashes/$target/" -print_final_stats=1 "$run" "${seeds[@]}" >"$log" 2>&1; then
    result=ok
  else
    result="CRASH (see Tests/Fuzz/crashes/$target/)"
    status=1
    tail -30 "$log" >&2
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  size=$(ls "$run" | wc -l)
  printf '%-18s %12s %12s %8s %s\n' "$target" "$runs" "$rate" "$size" "$result"
done
exit $status
