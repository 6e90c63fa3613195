#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# action=panic is the bug check: the report is printed, then the kernel
# panics with "dmaverify: DMA violation 0xE6/0x<code>".  Usage: tests/panic.sh KERNEL
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
kernel=${1:?usage: $0 KERNEL}
# The full console stays for a post-mortem, next to the system tests' logs.
logdir=${DMAVERIFY_TEST_LOGS:-${TMPDIR:-/tmp}/dmaverify-tests}
mkdir -p "$logdir"
log=$logdir/panic-$kernel.log
set +e
"$TOP/scripts/vmrun" --kernel "$kernel" --qemu '-device edu,dma_mask=0xffffffff' \
	--timeout 200 --log "$log" \
	-- 'modprobe dmaverify driver=edu_sample action=panic; modprobe edu_sample bug=double-unmap; echo "STILL RUNNING"' \
	> /dev/null 2>&1
rc=$?
set -e
fail=0
grep -aq 'BUG: dmaverify: double-unmap (0xE6/0x05)' "$log" && echo "ok   the report is printed" ||
	{ echo "FAIL no report"; fail=1; }
grep -aq 'Kernel panic - not syncing: dmaverify: DMA violation 0xE6/0x05' "$log" && echo "ok   then the kernel panics: 0xE6/0x05" ||
	{ echo "FAIL no panic"; fail=1; }
grep -aq 'STILL RUNNING' "$log" && { echo "FAIL the guest went on after the violation"; fail=1; }
[ "$rc" = 125 ] && echo "ok   vmrun reports the crash (status 125)" || { echo "FAIL vmrun status $rc"; fail=1; }
[ $fail = 0 ] && echo "PASS panic $kernel" || echo "FAIL panic $kernel"
exit $fail
