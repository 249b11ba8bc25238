#!/usr/bin/env bash
# Builds the libFuzzer harnesses with ASan and fuzzer coverage, then runs each for a bounded time.
#
#   Fuzz/run.sh [Harness ...]        (default: all; names as in Fuzz/<Name>/)
#
# Environment: FUZZ_SECONDS per harness (60), FUZZ_SCRATCH build folder (.build-fuzz-asan),
# FUZZ_ARGS extra libFuzzer options. Each harness starts from its committed seeds in
# Fuzz/Corpus/<Name>/ and grows a working copy under the build folder, so the committed corpus
# only changes by hand. A crash, leak, timeout or out-of-memory input is saved under
# $FUZZ_SCRATCH/artifacts/<Name>/ and makes the script fail after the remaining harnesses ran.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
scratch=${FUZZ_SCRATCH:-.build-fuzz-asan}
all=(Safetensors ShardIndex TorchCheckpoint Configs TokenizerJSON SentencePiece PNG JPEG Conversation ImagePrompt GGUF)
if [ $# -gt 0 ]; then harnesses=("$@"); else harnesses=("${all[@]}"); fi

# The system's gold linker aborts on libFuzzer's objects ("internal error in format_file_lineno");
# the toolchain's lld links them, through a toolset file.
swift_bin=$(dirname "$(readlink -f "$(command -v swift)")")
lld="$swift_bin/ld.lld"
[ -x "$lld" ] || lld=$(command -v ld.lld)
mkdir -p "$scratch"
toolset="$(cd "$scratch" && pwd)/lld-toolset.json"
printf '{"schemaVersion": "1.0", "linker": {"path": "%s"}}\n' "$lld" > "$toolset"
flags=(-c release --scratch-path "$scratch" --toolset "$toolset" -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING)

export LSAN_OPTIONS="suppressions=$PWD/Fuzz/lsan-suppressions.txt:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
start=$(date +%s)
for name in "${harnesses[@]}"; do
  swift build "${flags[@]}" --product "Fuzz$name" 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
  [ -x "$(swift build "${flags[@]}" --show-bin-path)/Fuzz$name" ] || { echo "fuzz: building Fuzz$name failed" >&2; exit 1; }
done
bin=$(swift build "${flags[@]}" --show-bin-path)
echo "fuzz: built ${#harnesses[@]} harnesses in $(( $(date +%s) - start ))s"

failed=()
for name in "${harnesses[@]}"; do
  work="$scratch/corpus/$name" artifacts="$scratch/artifacts/$name"
  mkdir -p "$work" "$artifacts"
  log="$scratch/fuzz-$name.log"
  # Tokenising a long prompt under ASan takes ~0.1 s; shorter inputs keep the harness productive.
  limit=""
  [ "$name" = Conversation ] && limit="-max_len=1024"
  # -timeout: one input taking longer is a hang; -rss_limit_mb: a small input must not balloon.
  # shellcheck disable=SC2086
  if "$bin/Fuzz$name" "$work" "Fuzz/Corpus/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$artifacts/" $limit ${FUZZ_ARGS:-} >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    took=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || echo "$seconds")
    echo "fuzz: $name: $runs executions in ${took}s, no failure"
  elif timeout_input=$(grep -o "Test unit written to .*timeout-[0-9a-f]*" "$log" | sed 's/^Test unit written to //') \
       && [ -n "$timeout_input" ] && "$bin/Fuzz$name" -timeout=10 -runs=3 "$timeout_input" >"$log.replay" 2>&1; then
    # libFuzzer's timeout is wall-clock time: a campaign stopped with SIGSTOP (e.g. while another
    # job times something) reports the input it was running. One that replays within the limit
    # is not a hang; the campaign ended early, so the count is short.
    runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    echo "fuzz: $name: ~$runs executions, then a timeout that does not reproduce (process paused?); replay in $log.replay" >&2
  else
    echo "fuzz: $name FAILED; log $log, inputs in $artifacts/" >&2
    grep -E 'ERROR|==[0-9]+==|Fatal error|SUMMARY|Test unit written' "$log" | head -20 >&2 || true
    failed+=("$name")
  fi
done
echo "fuzz: $(( ${#harnesses[@]} - ${#failed[@]} )) passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: failures in ${failed[*]}" >&2; exit 1; }
