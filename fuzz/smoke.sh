#!/usr/bin/env bash
# The smoke run: every fuzz target for a few seconds (SECONDS each, 12 by default: about two
# minutes for the eight once the targets are built). Not a campaign: it shows the targets
# build and that no seed or quick mutation of one crashes. fuzz/README.md says when to run it.
#
#   fuzz/smoke.sh [SECONDS]
#
# Logs go to fuzz/logs/smoke/, so a campaign's logs are kept. Skipped with a message (exit 0)
# without the nightly toolchain or cargo-fuzz; exits 1 on a finding (see run.sh).
set -euo pipefail
cd "$(dirname "$0")"
FUZZ_LOGS=logs/smoke exec ./run.sh "${1:-12}" feed text query config url cron stories opml
