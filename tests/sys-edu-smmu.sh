#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Device faults behind QEMU's SMMUv3 (arm64, -M virt,iommu=smmuv3,
# iommu.strict=1), what sys-edu-iommu.sh checks behind Intel's IOMMU.  The
# edu_sample driver's device-side bugs each make the SMMU fault (its
# "event 0x1N received" lines: the IOMMU stops the access), but arm-smmu-v3
# passes only stalled events on, never calling report_iommu_fault(): there
# is nothing for dmaverify to hook.  So dmaverify must say, when it attaches
# the device, that its faults are not verified, and report nothing it
# cannot see; the correct driver makes no fault; every round trip through
# the SMMU works under dmaverify's dma_map_ops (forwarding to the IOMMU's).
#
# Usage: tests/sys-edu-smmu.sh KERNEL
# kernels: test-arm64 debian-6.12-arm64 debian-6.1-arm64
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
kernel=${1:?usage: $0 KERNEL}

# bug : SMMU event ids the bug must draw (translation 0x10, permission 0x13)
cases=(
	"none:-"
	"write-after-unmap:0x10"
	"write-after-free:0x10"
	"virt-to-phys:0x10"
	"write-to-device:0x13"
)

script='set +e
run() {
	n=$1; bug=$2
	# arm-smmu-v3 logs at most 10 events in 5 s: a new window per case.
	[ $n = 0 ] || sleep 5
	modprobe dmaverify driver=edu_sample action=log free_stacks=1 || { echo "CASE $n load-failed"; return; }
	dmesg -c > /dev/null
	modprobe edu_sample bug=$bug transfers=3
	pci=$(ls /sys/bus/pci/drivers/edu_sample | grep ":" | head -1)
	sleep 2
	rmmod edu_sample
	found=$(dmesg | sed -n "s/.*BUG: dmaverify: \([a-z-]*\) .*/\1/p" | tr "\n" " ")
	rt=$(dmesg | grep -c "DMA round trips verified")
	ev=$(dmesg | sed -n "s/.*arm-smmu-v3 .*: event \(0x[0-9a-f]*\) received:.*/\1/p" | sort -u | tr "\n" " ")
	nv=$(dmesg | grep -c "dmaverify: device faults not verified: arm-smmu-v3 only logs")
	# 6.12: iommu-dma; 6.1: the SMMU devices own iommu_dma_ops (which
	# Debian 6.1 names by address only).
	ops=$(dmesg | grep "mode: dma_map_ops, forwarding to" | grep -vc "forwarding to dma-direct")
	echo "CASE $n found=[$found] roundtrips=$rt events=[$ev] notverified=$nv iommudma=$ops"
	rmmod dmaverify
}
'
n=0
for c in "${cases[@]}"; do
	IFS=: read -r bug _ <<< "$c"
	script+="run $n $bug"$'\n'
	n=$((n + 1))
done

logdir=${DMAVERIFY_TEST_LOGS:-${TMPDIR:-/tmp}/dmaverify-tests}
mkdir -p "$logdir"
log=$logdir/sys-edu-smmu-$kernel.log
"$TOP/scripts/vmrun" --kernel "$kernel" --machine iommu=smmuv3 \
	--qemu '-device edu,dma_mask=0xffffffff' --append 'iommu.strict=1' \
	--allow 'BUG: dmaverify:' --timeout 300 --log "$log" -- "$script" > /dev/null 2>&1 || {
	echo "FAIL sys-edu-smmu $kernel: the VM run failed (console: $log)"; tail -40 "$log"; exit 1; }

fail=0
n=0
for c in "${cases[@]}"; do
	IFS=: read -r bug want <<< "$c"
	line=$(grep -a "^CASE $n " "$log" | tr -d '\r' || true)
	ev=$(sed -n 's/.*events=\[\([^]]*\)\].*/\1/p' <<< "$line" | xargs)
	why=
	[ -n "$line" ] || why="no result"
	grep -q 'found=\[\]' <<< "$line" || why="$why; dmaverify reported what it cannot see"
	grep -q 'roundtrips=[1-9]' <<< "$line" || why="$why; the round trips failed"
	grep -q 'notverified=1' <<< "$line" || why="$why; no 'device faults not verified: arm-smmu-v3' line"
	grep -q 'iommudma=1' <<< "$line" || why="$why; the device is not on dma_map_ops over the IOMMU's ops"
	if [ "$want" = - ]; then
		[ -z "$ev" ] || why="$why; the correct driver made the SMMU fault ($ev)"
	else
		[[ " $ev " == *" $want "* ]] || why="$why; the SMMU logged no event $want (got [$ev])"
	fi
	if [ -z "$why" ]; then
		echo "ok   $bug -> SMMU events [${ev:-none}], no dmaverify report (not verifiable on arm-smmu-v3)"
	else
		echo "FAIL $bug: ${why#; } (${line:-no result})"
		fail=1
	fi
	n=$((n + 1))
done
if [ $fail = 0 ]; then
	echo "PASS sys-edu-smmu $kernel"
else
	echo "FAIL sys-edu-smmu $kernel"
fi
exit $fail
