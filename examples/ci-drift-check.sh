#!/usr/bin/env bash
# A CI job step: fail when a new model's predictions drift from the reference
# model's, or when its log loss or accuracy against the labels gets worse.
#
#   examples/ci-drift-check.sh REFERENCE.csv CANDIDATE.csv LABELS.csv
#
# Every check runs and reports; the step fails (exit 1) if any gate broke, and
# exits 2 at once on unreadable or invalid input.
set -uo pipefail

reference=${1:-examples/model_a.csv}
candidate=${2:-examples/model_b.csv}
labels=${3:-examples/labels.csv}
status=0

check() {
    "$@"
    local code=$?
    if [ "$code" -eq 2 ]; then exit 2; fi      # bad input: nothing to judge
    if [ "$code" -ne 0 ]; then status=1; fi   # a gate broke: keep going, fail at the end
}

echo "drift of $candidate from $reference (mean KL, nats):"
check xent compare "$reference" "$candidate" --value \
    --fail-above kl=0.01 --fail-above js=0.002 --fail-below top1_agreement=0.95

echo "log loss of $candidate against $labels (nats):"
check xent loss "$candidate" --target "$labels" --value \
    --fail-above 0.35 --fail-below accuracy=0.9

exit "$status"
