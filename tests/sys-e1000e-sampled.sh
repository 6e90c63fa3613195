#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sys-e1000e-sampled.sh KERNEL: tests/sys-e1000e.sh in sampled mode
# (sample_interval=1: a sample at every timer tick, as many as the mode
# takes): the sampled mappings go through guarded slots, the rest is
# forwarded untracked; data must still verify, with zero violations (no
# release or sync of an untracked object may be reported), and the log
# must show that samples were taken.
# kernels: test
set -uo pipefail
export DV_PARAMS="sample_interval=1 ${DV_PARAMS:-}"
"$(dirname "$0")/sys-e1000e.sh" "$@" || exit
log=${DMAVERIFY_TEST_LOGS:-${TMPDIR:-/tmp}/dmaverify-tests}/sys-e1000e-$(echo $DV_PARAMS | tr -c "a-z0-9\n" -)-$1.log
line=$(grep -a "^sampling: interval 1 ms samples [1-9]" "$log" | tail -1 | tr -d '\r')
if [ -z "$line" ] || ! grep -qa "driver .* mode sampled" "$log"; then
	echo "FAIL sys-e1000e-sampled $1: no sample taken, or no device in sampled mode (log: $log)"
	exit 1
fi
echo "ok   sys-e1000e-sampled $1: $line"
