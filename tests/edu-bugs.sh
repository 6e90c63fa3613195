#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# End to end: the edu_sample driver commits each of its DMA bugs on QEMU's
# edu device (a real DMA engine) under dmaverify, and each bug must produce
# exactly the expected report, and correct use none.
#
# Usage: tests/edu-bugs.sh KERNEL [smmuv3]
#
# smmuv3 (arm64 kernels): the same on -M virt,iommu=smmuv3, the edu device
# behind the SMMU.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
kernel=${1:?usage: $0 KERNEL [smmuv3]}
variant=${2:-}
machine=()
case "$variant" in
"") ;;
smmuv3) machine=(--machine iommu=smmuv3) ;;
*) echo "usage: $0 KERNEL [smmuv3]"; exit 1 ;;
esac

# The probe does 3 round trips (6 maps) first; fail_every=7 fails the
# first map of the bug, and so do the kernel's fault-injection attributes
# (fail_map/FILE=VALUE is written to debugfs dmaverify/fail_map/FILE after
# the load) and a task's fail-nth (fail-nth=N: modprobe of the driver runs
# with N in /proc/self/fail-nth).  These need CONFIG_FAULT_INJECTION, which
# the test kernels have and Debian's do not: skipped there only.
# bug : dmaverify parameters : expected report slugs (a set; "-" for none)
cases=(
	"none::-"
	"double-unmap::double-unmap"
	"double-free::double-free"
	"leak::leak-map leak-coherent"
	"wrong-size::wrong-size"
	"wrong-direction::wrong-direction"
	"sync-after-unmap::sync-unmapped"
	"unchecked-error:fail_every=7:unchecked-map-error"
	"unchecked-error:fail_map/probability=100 fail_map/interval=7 fail_map/times=1:unchecked-map-error"
	"unchecked-error:fail-nth=7:unchecked-map-error"
	"use-after-release::use-after-release"
	"device-overrun:bounce=1:overrun-after"
	"write-after-unmap:bounce=1:write-after-unmap"
	"device-overrun::-"
	"write-to-device:bounce=1 bounce_dev_writes=1:device-wrong-direction"
	"write-to-device:bounce=1:-"
	"write-to-device::-"
	"virt-to-phys::-"
	# Observe mode (probes on the DMA API), with the bugs it can catch that
	# are harmless once they reach dma-direct (observed calls go through):
	# not double-free, nor the device-side ones, which need bounce buffers.
	"none:mode=observe:-"
	"double-unmap:mode=observe:double-unmap"
	"leak:mode=observe:leak-map leak-coherent"
	"wrong-size:mode=observe:wrong-size"
	"wrong-direction:mode=observe:wrong-direction"
	"sync-after-unmap:mode=observe:sync-unmapped"
	"use-after-release:mode=observe:use-after-release"
)

# arm64 has no observe mode: 6.12 builds fprobes only with
# DYNAMIC_FTRACE_WITH_REGS (arm64 has WITH_ARGS) and kprobes there are BRK
# traps, not ftrace-based, so dmaverify refuses them.  Its per-device
# dma_map_ops interposer works (Debian's arm64 kernels have CONFIG_XEN, 6.1
# CONFIG_DMA_OPS).  One observe case stays: it must refuse to attach, and the
# driver keep working unverified.
arm64=0
case "$kernel" in
*-arm64)
	arm64=1
	keep=()
	for c in "${cases[@]}"; do
		[[ $c == *mode=observe* ]] && [[ $c != none:* ]] && continue
		keep+=("$c")
	done
	cases=("${keep[@]}")
	;;
esac

# Kernels that clear a device's dma_ops when its driver unbinds
# (arch_teardown_dma_ops(): arm64 up to 6.9, Debian's arm64 6.1) remove
# dmaverify's interposer with them: a map after the unbind goes straight to
# dma-direct, unseen.  There use-after-release cannot be caught.
eval "$("$TOP/scripts/kernel" --env "$kernel")"
if grep -q '^CONFIG_ARCH_HAS_TEARDOWN_DMA_OPS=y' "$KDIR/.config"; then
	for i in "${!cases[@]}"; do
		[ "${cases[$i]}" = "use-after-release::use-after-release" ] &&
			cases[i]="use-after-release::-"
	done
fi

script='set +e
run() {
	n=$1; bug=$2; params=$3; mp=; fa=; nth=
	for p in $params; do
		case $p in
		fail_map/*) fa="$fa $p" ;;
		fail-nth=*) nth=${p#fail-nth=} ;;
		*) mp="$mp $p" ;;
		esac
	done
	modprobe dmaverify driver=edu_sample action=log $mp || { echo "CASE $n load-failed"; return; }
	D=/sys/kernel/debug/dmaverify
	if [ -n "$fa$nth" ] && [ ! -d $D/fail_map ]; then
		echo "CASE $n skipped: no fault injection"; rmmod dmaverify; return
	fi
	for p in $fa; do echo "${p#*=}" > "$D/${p%%=*}"; done
	# The trace event sees every violation too.
	T=/sys/kernel/tracing
	[ -d $T/events ] || mount -t tracefs tracefs $T 2>/dev/null
	echo 1 > $T/events/dmaverify/violation/enable 2>/dev/null
	echo > $T/trace 2>/dev/null
	dmesg -c > /dev/null
	# With failslab and fail_page_alloc (the debug kernel), every atomic
	# allocation of the task counts its fail-nth down too (exec, module
	# loading): leave those sites out, so that fail-nth counts DMA maps.
	if [ -n "$nth" ]; then
		F=/sys/kernel/debug
		[ -d $F/failslab ] && echo Y > $F/failslab/cache-filter
		[ -d $F/fail_page_alloc ] && echo 64 > $F/fail_page_alloc/min-order
	fi
	# fail-nth is per task and survives exec, not fork.
	sh -c "${nth:+echo $nth > /proc/self/fail-nth; }exec modprobe edu_sample bug=$bug transfers=3"
	injected=$(dmesg | grep -c "FAULT_INJECTION: forcing a failure")
	if [ "$bug" = use-after-release ]; then
		echo 0000:00:02.0 > /sys/bus/pci/drivers/edu_sample/unbind
		sleep 2
	fi
	# Unbound (the leak check) before it is unloaded: the events name
	# its functions (the events carry them resolved at the event).
	[ -e /sys/bus/pci/drivers/edu_sample/0000:00:02.0 ] &&
		echo 0000:00:02.0 > /sys/bus/pci/drivers/edu_sample/unbind
	found=$(dmesg | sed -n "s/.*BUG: dmaverify: \([a-z-]*\) .*/\1/p" | tr "\n" " ")
	rt=$(dmesg | grep -c "DMA round trips verified")
	tr=$(grep -c "violation: device=" $T/trace 2>/dev/null)
	# The events name the function of the report titles, addresses hashed.
	ts=$(sed -n "s/.*violation: device=.* site=\([A-Za-z0-9_]*\).*/\1/p" $T/trace 2>/dev/null | sort -u | xargs)
	tt=$(dmesg | sed -n "s/.*BUG: dmaverify: [a-z-]* in \([A-Za-z0-9_]*\).*/\1/p" | sort -u | xargs)
	ta=$(grep -c "violation: device=.* addr=0x" $T/trace 2>/dev/null)
	# The leak summary: one line per leaking call site.
	lsum=$(dmesg | grep -c "dmaverify:   [0-9]* leak-[a-z]* ([0-9]* bytes) from edu_")
	echo "CASE $n found=[$found] roundtrips=$rt trace=${tr:-0} sites=[$ts] titles=[$tt] rawaddr=${ta:-0} leaksites=$lsum injected=$injected"
	rmmod edu_sample
	rmmod dmaverify
}
'
n=0
for c in "${cases[@]}"; do
	IFS=: read -r bug params _ <<< "$c"
	script+="run $n $bug '$params'"$'\n'
	n=$((n + 1))
done

# The full console stays for a post-mortem, next to the system tests' logs.
logdir=${DMAVERIFY_TEST_LOGS:-${TMPDIR:-/tmp}/dmaverify-tests}
mkdir -p "$logdir"
log=$logdir/edu-bugs-$kernel${variant:+-$variant}.log
# The device sits at 00:02.0 on q35 and virt alike (the guest script names it).
"$TOP/scripts/vmrun" --kernel "$kernel" "${machine[@]}" --qemu '-device edu,addr=02.0,dma_mask=0xffffffff' \
	--allow 'BUG: dmaverify:' --timeout "${T_TIMEOUT:-300}" --log "$log" -- "$script" > /dev/null 2>&1 || {
	echo "FAIL edu-bugs $kernel${variant:+ $variant}: the VM run failed (console: $log)"; tail -40 "$log"; exit 1; }

fail=0
n=0
for c in "${cases[@]}"; do
	IFS=: read -r bug params want <<< "$c"
	line=$(grep -a "^CASE $n " "$log" | tr -d '\r' || true)
	if [[ $line == *skipped* && $kernel != test* ]]; then
		echo "skip $bug ($params): $kernel has no CONFIG_FAULT_INJECTION"
		n=$((n + 1))
		continue
	fi
	# A failure injected through the kernel's framework leaves its line.
	inj=$(sed -n 's/.*injected=\([0-9]*\).*/\1/p' <<< "$line")
	injok=1
	[[ $params == *fail_map/* || $params == *fail-nth=* ]] && [ "${inj:-0}" -lt 1 ] && injok=0
	# Compare sets: the order of reports and repeats do not matter.
	found=$(sed -n 's/.*found=\[\([^]]*\)\].*/\1/p' <<< "$line" | tr ' ' '\n' | sort -u | xargs)
	want=$(tr ' ' '\n' <<< "$want" | sort -u | xargs)
	rt=$(sed -n 's/.*roundtrips=\([0-9]*\).*/\1/p' <<< "$line")
	tr=$(sed -n 's/.*trace=\([0-9]*\).*/\1/p' <<< "$line")
	[ "$want" = - ] && want=
	sites=$(sed -n 's/.*sites=\[\([^]]*\)\].*/\1/p' <<< "$line")
	tfns=$(sed -n 's/.*titles=\[\([^]]*\)\].*/\1/p' <<< "$line")
	raw=$(sed -n 's/.*rawaddr=\([0-9]*\).*/\1/p' <<< "$line")
	lsites=$(sed -n 's/.*leaksites=\([0-9]*\).*/\1/p' <<< "$line")
	nleak=$(tr ' ' '\n' <<< "$want" | grep -c '^leak-' || true)
	# Every printed report has its trace event (more events than reports:
	# repeats are rate-limited in the log, not in the trace).
	nfound=$(wc -w <<< "$found")
	if [ -n "$line" ] && [ $injok = 1 ] && [ "$found" = "$want" ] && [ "${rt:-0}" -ge 1 ] &&
	   [ "${tr:-0}" -ge "$nfound" ] && { [ -n "$want" ] || [ "${tr:-0}" = 0 ]; } &&
	   [ "$sites" = "$tfns" ] && [ "${raw:-0}" = 0 ] && [ "${lsites:-0}" = "$nleak" ]; then
		echo "ok   $bug ${params:+($params) }-> ${want:-no report}"
	else
		echo "FAIL $bug ${params:+($params) }-> expected [${want}] got [${found}] (${line:-no result})"
		fail=1
	fi
	n=$((n + 1))
done
if [ $arm64 = 1 ]; then
	if grep -aq 'edu_sample 0000:00:02.0: dmaverify: cannot attach (-95)' "$log"; then
		echo "ok   mode=observe on arm64: dmaverify refuses to attach (no ftrace-based probes), the device works unverified"
	else
		echo "FAIL mode=observe on arm64: expected the refusal 'cannot attach (-95)'"
		fail=1
	fi
fi
# Every title parses as syzkaller and KernelCI parse KASAN/KFENCE/KCSAN
# titles: "BUG: TOOL: what in function", the function without offset, and
# names the driver's function that made the call.
re='^BUG: [A-Za-z0-9_-]+: [a-z0-9-]+ in [A-Za-z0-9_.]+$'
titles=$(tr -d '\r' < "$log" | sed -n 's/^\[ *[0-9.]*\] \(BUG: dmaverify: .*\)/\1/p')
n=$(grep -c . <<< "$titles" || true)
nbad=$(grep -cvE "$re" <<< "$titles" || true)
nedu=$(grep -cE ' in edu_[a-z_]+$' <<< "$titles" || true)
if [ "$n" -ge 10 ] && [ "$nbad" = 0 ] && [ "$nedu" = "$n" ]; then
	echo "ok   $n report titles match $re and name an edu_sample function"
else
	echo "FAIL report titles: $n, $nbad not matching $re, $nedu naming edu_sample's functions: $(grep -vE ' in edu_[a-z_]+$' <<< "$titles" | head -2 | tr '\n' ' ')"
	fail=1
fi
if [ $fail = 0 ]; then
	echo "PASS edu-bugs $kernel${variant:+ $variant} (mode: $(tr -d '\r' < "$log" | sed -n 's/.*edu_sample 0000:00:02.0: dmaverify: verifying DMA of driver edu_sample (mode: \(.*\))$/\1/p' | head -1))"
else
	echo "FAIL edu-bugs $kernel${variant:+ $variant}"
fi
exit $fail
