#!/usr/bin/env bash
# Run fuzz campaigns, one target after another on one core, and print their numbers.
#
#   fuzz/run.sh SECONDS [TARGET...]    # all targets when none is named
#
# Corpora grow in fuzz/corpus/TARGET (seeded from our fixtures by seed.py), findings land in
# fuzz/artifacts/TARGET, each target's libFuzzer output in fuzz/logs/TARGET.log ($FUZZ_LOGS to
# put the logs elsewhere, as smoke.sh does). Exits 1 when
# a target found a crash, a panic (caught ones included), a timeout or an out-of-memory.
# Without the nightly toolchain or cargo-fuzz it says so and exits 0: fuzzing is optional.
set -euo pipefail
cd "$(dirname "$0")"

secs=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(feed text query config url cron stories opml)

logs=${FUZZ_LOGS:-logs}

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: skipped, no nightly toolchain (rustup toolchain install nightly)"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: skipped, cargo-fuzz is not installed (cargo install cargo-fuzz)"
    exit 0
fi

# Per target: dictionary and the largest input worth trying.
dict() { case $1 in feed | stories) echo feed ;; text) echo text ;; query) echo query ;;
    config) echo config ;; url) echo url ;; cron) echo cron ;; opml) echo opml ;; esac; }
max_len() { case $1 in feed | text | stories | opml) echo 16384 ;; config) echo 8192 ;; *) echo 4096 ;; esac; }

python3 seed.py "${targets[@]}" >/dev/null
# No sanitizer: the targets reach only safe Rust (sqlite and the TLS stack are linked, never
# called), where AddressSanitizer would cost half the executions for nothing.
cargo +nightly fuzz build -s none 2>&1 | tail -1
mkdir -p "$logs"
failed=0
printf '%-8s %6s %11s %7s %6s %7s %16s  %s\n' target secs executions exec/s cov features corpus result
for t in "${targets[@]}"; do
    mkdir -p "artifacts/$t"
    log="$logs/$t.log"
    status=0
    cargo +nightly fuzz run -s none "$t" "corpus/$t" -- \
        -dict="dict/$(dict "$t").dict" -max_len="$(max_len "$t")" \
        -max_total_time="$secs" -timeout=5 -rss_limit_mb=1024 -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1 || true)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$last")
    result=ok
    if [ "$status" -ne 0 ]; then
        result="FOUND (exit $status): $(grep -m1 -E 'panicked at|ERROR: libFuzzer|SUMMARY' "$log" || true); see $log"
        failed=1
    fi
    printf '%-8s %6s %11s %7s %6s %7s %16s  %s\n' "$t" "$secs" "${execs:-?}" "${rate:-?}" \
        "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
done
exit $failed
