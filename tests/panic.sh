#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The bug check and the kernel's panic settings, three boots on QEMU's edu
# device with edu_sample's DMA bugs:
#   action=panic     the report is printed, then the kernel panics with
#                    "dmaverify: DMA violation 0xE6/0x<code>/0x<sub> (<slug>)"
#   panic_on_warn=1  action=warn (the default) panics after the report, as
#                    KASAN and KFENCE do ("dmaverify: panic_on_warn set")
#   warn_limit=N     each printed report counts in /sys/kernel/warn_count;
#                    the report that reaches the limit panics, the one
#                    before does not
# Usage: tests/panic.sh KERNEL
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
kernel=${1:?usage: $0 KERNEL}
# The full console stays for a post-mortem, next to the system tests' logs.
logdir=${DMAVERIFY_TEST_LOGS:-${TMPDIR:-/tmp}/dmaverify-tests}
mkdir -p "$logdir"
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

# boot NAME COMMAND: run COMMAND in a VM, console in $log, status in $rc.
boot()
{
	log=$logdir/panic-$1-$kernel.log
	set +e
	"$TOP/scripts/vmrun" --kernel "$kernel" --qemu '-device edu,dma_mask=0xffffffff' \
		--timeout 200 --log "$log" -- "$2" > "$log.vmrun" 2>&1
	rc=$?
	set -e
	# 125: the crash every case ends with; anything else is worth seeing.
	if [ "$rc" != 125 ]; then
		echo "  $1: vmrun exited $rc: $(tail -3 "$log.vmrun" | tr '\n' ' ')"
	fi
}

# expect WHAT STRING: the console has STRING (a fixed string).
expect()
{
	if grep -aqF "$2" "$log"; then
		ok "$1"
	else
		bad "$1: no '$2' (console: $log)"
	fi
}

# unexpected WHAT STRING: the console does not have STRING.
unexpected()
{
	if grep -aqF "$2" "$log"; then
		bad "$1"
	fi
	return 0
}

# 1. action=panic: the bug check.
# shellcheck disable=SC2016 # the guest's shell expands
boot action 'modprobe dmaverify driver=edu_sample action=panic
modprobe edu_sample bug=double-unmap; echo "STILL RUNNING"'
expect "action=panic: the report is printed" 'BUG: dmaverify: double-unmap in edu_'
expect "action=panic: then the kernel panics with the code" \
	'Kernel panic - not syncing: dmaverify: DMA violation 0xE6/0x05/0x00 (double-unmap)'
unexpected "action=panic: the guest went on after the violation" 'STILL RUNNING'
if [ "$rc" = 125 ]; then
	ok "action=panic: vmrun reports the crash (status 125)"
else
	bad "action=panic: vmrun status $rc"
fi

# 2. panic_on_warn=1 with action=warn.
boot panic-on-warn 'echo 1 > /proc/sys/kernel/panic_on_warn
modprobe dmaverify driver=edu_sample action=warn
modprobe edu_sample bug=double-unmap; echo "STILL RUNNING"'
expect "panic_on_warn: the report is printed" 'BUG: dmaverify: double-unmap in edu_'
expect "panic_on_warn: action=warn panics after the report" \
	'Kernel panic - not syncing: dmaverify: panic_on_warn set'
unexpected "panic_on_warn: the guest went on after the violation" 'STILL RUNNING'

# 3. warn_limit: the first report counts, the second reaches the limit.
# shellcheck disable=SC2016 # the guest's shell expands
boot warn-limit 'n=$(cat /sys/kernel/warn_count)
echo $((n + 2)) > /proc/sys/kernel/warn_limit
modprobe dmaverify driver=edu_sample action=warn
modprobe edu_sample bug=double-unmap transfers=1
echo "WARN COUNT $n -> $(cat /sys/kernel/warn_count)"
rmmod edu_sample
modprobe edu_sample bug=wrong-size transfers=1; echo "STILL RUNNING"'
counts=$(tr -d '\r' < "$log" | sed -n 's/.*WARN COUNT \([0-9]*\) -> \([0-9]*\).*/\1 \2/p' | tail -1)
if [ -z "$counts" ]; then
	bad "warn_limit: the guest did not go on after the first report (console: $log)"
elif [ "$(( ${counts#* } - ${counts% *} ))" = 1 ]; then
	ok "warn_limit: one report counts one warning (warn_count ${counts% *} -> ${counts#* }) and does not panic"
else
	bad "warn_limit: warn_count went ${counts% *} -> ${counts#* } after one report"
fi
expect "warn_limit: the second report is printed" 'BUG: dmaverify: wrong-size in edu_'
expect "warn_limit: the report that reaches kernel.warn_limit panics" \
	'Kernel panic - not syncing: dmaverify: system warned too often (kernel.warn_limit is'
unexpected "warn_limit: the guest went on after reaching the limit" 'STILL RUNNING'

[ $fail = 0 ] && echo "PASS panic $kernel" || echo "FAIL panic $kernel"
exit $fail
