#!/usr/bin/env bash
# The concurrent core under ThreadSanitizer: fills and their state machine, the engine, single-flight,
# the hash lane and verified writes, the file-region handler, and the hostile-upstream
# and upstream-fault suites that drive real fills over loopback, and the hits answered on
# the event loop (MemoryHits). Tests/run.sh runs it.
#   Tests/tsan.sh              build (once, in .build-tsan) and run
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null || { [ -x /opt/swift/usr/bin/swift ] && export PATH="$PATH:/opt/swift/usr/bin"; }
scratch=.build-tsan
swift build --build-tests --sanitize=thread --scratch-path "$scratch"
# halt_on_error: the first race fails the run, with both stacks printed.
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}" \
  swift test --skip-build --sanitize=thread --scratch-path "$scratch" \
  --filter "BlobFillStateMachineTests|SingleFlightTests|BlobStoreTests|HashLane|FileRegionHandlerTests|ReconcilerTests|MirrorEngineTests|CompositionTests|ContentStoreConformanceTests|BackgroundWorkTests|RegistryClientTests|Hostile|UpstreamFaults|BlobHost|ReferrersTests|TagListAndDeletion|MemoryHits|CacheIndexTests"
