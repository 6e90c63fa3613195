#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The IOVA API (6.17+) seen by the observer, behind QEMU's Intel IOMMU: the
# edu_sample driver links a buffer with dma_iova_link() and never unlinks it
# (bug=iova-leak): observe mode must report the leaked link at unbind,
# titled with the function that linked it; a dma_iova_sync() outside its
# links (bug=iova-sync-unlinked) and a dma_iova_destroy() shorter than its
# links (bug=iova-destroy-short) are reported when they happen; the correct
# driver gets no report.  In ops mode the device is interposed, the IOVA API is not
# available to it (dma_iova_try_alloc() fails) and the driver says so.
#
# Usage: tests/sys-edu-iova.sh KERNEL
# kernels: debian-7
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
kernel=${1:?usage: $0 KERNEL}

# mode : bug : expected "slug in function" ("-" for no report); the function
# is the sample's, or edu_probe where the compiler inlined it there.
cases=(
	"observe:none:-"
	"observe:iova-leak:leak-map in edu_*"
	"observe:iova-sync-unlinked:sync-unmapped in edu_*"
	"ops:iova-leak:-"
	# Last: it leaves a stale IOMMU mapping behind (the bug).
	"observe:iova-destroy-short:leak-map in edu_*"
)

script='set +e
run() {
	n=$1; mode=$2; bug=$3
	modprobe dmaverify driver=edu_sample action=log mode=$mode || { echo "CASE $n load-failed"; return; }
	dmesg -c > /dev/null
	modprobe edu_sample bug=$bug transfers=3
	pci=$(ls /sys/bus/pci/drivers/edu_sample | grep ":" | head -1)
	links=$(sed -n "s/^  streaming maps *allocated \([0-9]*\) .*/\1/p" /sys/kernel/debug/dmaverify/stats | head -1)
	echo $pci > /sys/bus/pci/drivers/edu_sample/unbind
	rmmod edu_sample
	found=$(dmesg | sed -n "s/.*BUG: dmaverify: \([a-z-]*\) in \([A-Za-z0-9_]*\).*/\1 in \2/p" | head -1)
	rt=$(dmesg | grep -c "DMA round trips verified")
	noiova=$(dmesg | grep -c "no IOVA API")
	echo "CASE $n found=[${found:--}] roundtrips=$rt maps=$links noiova=$noiova"
	rmmod dmaverify
}
'
n=0
for c in "${cases[@]}"; do
	IFS=: read -r mode bug _ <<< "$c"
	script+="run $n $mode $bug"$'\n'
	n=$((n + 1))
done

logdir=${DMAVERIFY_TEST_LOGS:-${TMPDIR:-/tmp}/dmaverify-tests}
mkdir -p "$logdir"
log=$logdir/sys-edu-iova-$kernel.log
"$TOP/scripts/vmrun" --kernel "$kernel" \
	--qemu '-device intel-iommu,intremap=off -device edu,dma_mask=0xffffffff' \
	--append 'intel_iommu=on iommu.strict=1' \
	--allow 'BUG: dmaverify:' --timeout 300 --log "$log" -- "$script" > /dev/null 2>&1 || {
	echo "FAIL sys-edu-iova $kernel: the VM run failed (console: $log)"; tail -30 "$log"; exit 1; }

fail=0
n=0
for c in "${cases[@]}"; do
	IFS=: read -r mode bug want <<< "$c"
	line=$(grep -a "^CASE $n " "$log" | tr -d '\r' || true)
	found=$(sed -n 's/.*found=\[\([^]]*\)\].*/\1/p' <<< "$line")
	rt=$(sed -n 's/.*roundtrips=\([0-9]*\).*/\1/p' <<< "$line")
	noiova=$(sed -n 's/.*noiova=\([0-9]*\).*/\1/p' <<< "$line")
	# In ops mode the driver must have been refused the IOVA API (else the
	# silence would prove nothing); in observe mode it must have used it.
	if [ "$mode" = ops ]; then want_noiova=1; else want_noiova=0; fi
	# shellcheck disable=SC2053
	if [ -n "$line" ] && [[ $found == $want ]] && [ "${rt:-0}" = 1 ] &&
	   { [ "$bug" = none ] || [ "${noiova:-x}" = "$want_noiova" ]; }; then
		[ "$want" = - ] && want="no report"
		echo "ok   $bug (mode=$mode) -> $want"
	else
		echo "FAIL $bug (mode=$mode) -> expected [$want] got [${found}] (${line:-no result})"
		fail=1
	fi
	n=$((n + 1))
done
if [ $fail = 0 ]; then
	echo "PASS sys-edu-iova $kernel"
else
	echo "FAIL sys-edu-iova $kernel (console: $log)"
fi
exit $fail
