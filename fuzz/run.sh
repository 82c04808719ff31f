#!/usr/bin/env bash
# Fuzz the manifest reader for a bounded time (default 60 s): ./fuzz/run.sh [SECONDS]
#
# Builds the libFuzzer target the way `cargo fuzz run` does (sanitizer coverage + ASan) on the
# pinned stable toolchain, which RUSTC_BOOTSTRAP=1 lets use the -Z flags. Starts from the
# repository's manifests (examples, fixtures) as the seed corpus. Exits non-zero when the
# fuzzer finds a crash; the input is saved under fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"

export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Zsanitizer=address \
-Cdebug-assertions -Coverflow-checks"
target="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --release --target "$target" --bin manifest

corpus=corpus/manifest
mkdir -p "$corpus" artifacts/manifest
# Seed corpus: every manifest in the repository (copied once; the fuzzer adds its own).
for f in ../examples/seed/*.yaml ../crates/manifest/tests/fixtures/*/*.yaml; do
    cp -n "$f" "$corpus/$(basename "$f")"
done

./target/"$target"/release/manifest "$corpus" \
    -artifact_prefix=artifacts/manifest/ \
    -max_total_time="$seconds" \
    -max_len=8192 \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -print_final_stats=1
