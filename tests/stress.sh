#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Robustness under load: dmaverify_stress maps, syncs and unmaps on three
# devices from every CPU, in process, softirq and hardirq context and with
# interrupts off, with and without bounce buffers, while debugfs is read and
# control commands are written in a loop and another device (edu) is bound
# and unbound over and over; one of the three devices is a buggy pair's
# (syncs racing unmaps: its sync-unmapped reports are expected, and the
# buffer it reuses after each unmap must never change).  Then: rmmod with
# mappings outstanding, PCI removal (sysfs) and hot-unplug (QEMU
# device_del) with mappings outstanding, a failing probe, (on kernels with
# fault injection) dmaverify's own allocations failing, and rmmod while
# dmaverify_stress maps from every context.  Any other report, oops or
# WARNING fails the run; counters must balance.  On test-debug (make
# stress, make check-all) KASAN, lockdep, kmemleak and debug objects watch.
#
# Usage: tests/stress.sh KERNEL [SECONDS_PER_PHASE [BIND_CYCLES]]
# kernels: test
# kernels, tier 2: test-debug
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
kernel=${1:?usage: $0 KERNEL [SECONDS [CYCLES]]}
secs=${2:-4}
cycles=${3:-50}

script='set +e
S='$secs' C='$cycles'
D=/sys/kernel/debug/dmaverify
# The debug kernel may turn lockdep off while it boots (its own early KASAN
# report under TCG taints it): then nothing here can be checked by lockdep.
LOCKDEP_BOOT=$(grep -c "debug_locks: *1" /proc/lockdep_stats 2>/dev/null)
BOOT_REPORT=$(dmesg | grep -m1 -E "BUG: KASAN|Disabling lock debugging")
EDU=0000:00:02.0
FAILED=0
fail() { echo "FAIL $*"; FAILED=1; }
ok() { echo "ok   $*"; }
balanced() {
	# Every kind on every stress device: outstanding 0; nothing untracked left.
	bad=$(awk "/^device dvstress/ {d=1; next} /^device/ {d=0} d && /outstanding [1-9]/" $D/stats)
	[ -z "$bad" ] && ok "$1: counters balance" || { fail "$1: unbalanced: $bad"; cat $D/stats; }
}
modprobe dmaverify driver=dvstress,edu_sample || fail "load"
modprobe edu_sample transfers=0 || fail "edu_sample"
rm -f /tmp/stop
( n=0; while [ ! -f /tmp/stop ]; do
	cat $D/stats $D/violations > /dev/null
	for d in $D/devices/*; do cat $d/objects $d/stacks > /dev/null 2>&1; done
	for c in scan "action log" "action warn" "checks all,-leak" "checks all" "multishot on" "multishot off" disable enable; do
		echo "$c" > $D/control || echo "control write failed: $c"
	done
	n=$((n + 1))
  done; echo "debugfs-loops=$n" ) &
( i=0; while [ $i -lt $C ]; do
	echo $EDU > /sys/bus/pci/drivers/edu_sample/unbind
	echo $EDU > /sys/bus/pci/drivers/edu_sample/bind
	i=$((i + 1))
  done; echo "bind-cycles=$i" ) &
cycpid=$!
# races=1: a buggy pair on one device besides, syncs racing unmaps (the
# sync-unmapped reports of racer_sync are expected, nothing else).
for b in 0 1; do
	echo $b > /sys/module/dmaverify/parameters/bounce
	modprobe dmaverify_stress seconds=$S races=1 || fail "stress bounce=$b"
	res=$(dmesg | grep "dmaverify_stress: done" | tail -1)
	echo "$res"
	case "$res" in *" errors=0") ;; *) fail "stress bounce=$b: data errors" ;; esac
	r=$(dmesg | grep "dmaverify_stress: races" | tail -1)
	echo "$r"
	case "$r" in
	*" maps=0 "* | *" syncs=0 "* | *" paused=0 "* | "") fail "stress bounce=$b: the racing pair did not run, or no sync was held: $r" ;;
	*" corrupted=0") ok "bounce=$b: syncs racing unmaps never wrote a reused buffer" ;;
	*) fail "bounce=$b: a sync racing an unmap wrote the reused buffer: $r" ;;
	esac
	echo enable > $D/control
	balanced "bounce=$b"
	rmmod dmaverify_stress
done
wait $cycpid
touch /tmp/stop
wait
[ -e /sys/bus/pci/drivers/edu_sample/$EDU ] && ok "edu bound after the cycles" || fail "edu not bound"

# rmmod with outstanding mappings: plain ones are left valid; bounced and
# redzoned ones (dmaverify memory) hold the module.
rmmod edu_sample
echo 0 > /sys/module/dmaverify/parameters/bounce
echo 0 > /sys/module/dmaverify/parameters/redzone
modprobe edu_sample bug=leak transfers=1 2>/dev/null
dmesg -c > /dev/null
if rmmod dmaverify; then ok "rmmod with plain mappings outstanding"; else fail "rmmod refused"; fi
grep -q "dmaverify" /proc/modules && fail "dmaverify still loaded"
rmmod edu_sample 2>/dev/null
modprobe dmaverify driver=edu_sample bounce=1 action=log
modprobe edu_sample bug=leak transfers=1
if rmmod dmaverify 2>/dev/null; then fail "rmmod with bounced mappings outstanding succeeded"; else ok "rmmod refused while bounce buffers are outstanding"; fi
rmmod edu_sample
if rmmod dmaverify; then ok "rmmod after unbind"; else fail "rmmod after unbind"; fi
dmesg -c | grep -c "BUG: dmaverify: leak" | sed "s/^/leak reports: /"

# PCI removal with mappings outstanding, then rescan.
modprobe dmaverify driver=edu_sample bounce=1 action=log
modprobe edu_sample bug=leak transfers=1
echo 1 > /sys/bus/pci/devices/$EDU/remove
[ -e /sys/bus/pci/devices/$EDU ] && fail "device not removed" || ok "device removed with mappings outstanding"
[ -e $D/devices/$EDU ] && fail "context left after removal: $(ls $D/devices)" || ok "context gone after removal"
echo 1 > /sys/bus/pci/rescan
sleep 1
[ -e /sys/bus/pci/drivers/edu_sample/$EDU ] && ok "rescan rebinds" || fail "no rebind after rescan"
rmmod edu_sample
# Devices bound before dmaverify loads: left alone, unless rebind=1.
rmmod dmaverify
modprobe edu_sample transfers=1
dmesg -c > /dev/null
modprobe dmaverify driver=edu_sample
dmesg | grep -q "verifying DMA of driver edu_sample" && fail "attached to a bound device without rebind" || ok "bound device left alone without rebind=1"
rmmod dmaverify
modprobe dmaverify driver=edu_sample rebind=1
dmesg | grep -q "verifying DMA of driver edu_sample" && ok "rebind=1 reprobes and attaches" || fail "rebind=1 did not attach"
rmmod edu_sample
# A failing probe: devres teardown, no report.
dmesg -c > /dev/null
modprobe edu_sample bug=no-such-bug 2>/dev/null
dmesg | grep -q "BUG: dmaverify" && fail "report after failed probe" || ok "failed probe: no report"
rmmod edu_sample 2>/dev/null
rmmod dmaverify || fail "final rmmod"

# dmaverify out of memory: never a false report, the untracked count says so.
if [ -d $D/fail_track ] || { modprobe dmaverify driver=dvstress && [ -d $D/fail_track ]; }; then
	grep -q dmaverify /proc/modules || modprobe dmaverify driver=dvstress
	echo 20 > $D/fail_track/probability; echo -1 > $D/fail_track/times
	echo 0 > $D/fail_track/verbose
	echo 20 > $D/fail_bounce/probability; echo -1 > $D/fail_bounce/times
	echo 0 > $D/fail_bounce/verbose
	echo 1 > /sys/module/dmaverify/parameters/bounce
	modprobe dmaverify_stress seconds=$S || fail "stress under fault injection"
	u=$(awk "/untracked/ {s += \$4} END {print s+0}" $D/stats)
	[ "$u" -gt 0 ] && ok "fault injection: $u objects untracked, no report" || fail "fault injection had no effect"
	bf=$(awk "/bounce failed/ {s += \$3} END {print s+0}" $D/stats)
	[ "$bf" -gt 0 ] && ok "fault injection: $bf maps not bounced, counted" || fail "failed bounce buffers were not counted"
	balanced "fault injection"
	rmmod dmaverify_stress
	rmmod dmaverify
else
	echo "skip fault injection: no CONFIG_FAULT_INJECTION_DEBUG_FS"
fi
# rmmod under load: dmaverify gives the devices their own ops back while
# dvstress maps on them from every CPU and context.  A call that read the
# ops just before must forward on the device; teardown must wait for the
# calls inside dmaverify before freeing their context (KASAN sees any use
# of it after).  Plain mappings only: bounced ones would hold the module.
rmmod dmaverify 2>/dev/null
modprobe dmaverify driver=dvstress bounce=0 redzone=0 action=log || fail "load for rmmod under load"
dmesg -c > /dev/null
modprobe dmaverify_stress seconds=$S &
sp=$!
i=0; while ! dmesg | grep -q "dmaverify_stress: start" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep $(( (S + 1) / 2 ))
if rmmod dmaverify; then ok "rmmod while dvstress maps from every context"; else fail "rmmod under load refused"; fi
wait $sp || fail "stress across rmmod"
res=$(dmesg | grep "dmaverify_stress: done" | tail -1)
echo "$res"
case "$res" in *" errors=0") ok "rmmod under load: no data error" ;; *) fail "rmmod under load: data errors" ;; esac
rmmod dmaverify_stress
# kmemleak (debug kernel): nothing of dmaverify may leak.
if [ -e /sys/kernel/debug/kmemleak ]; then
	sleep 6		# kmemleak ignores objects younger than 5 s
	echo scan > /sys/kernel/debug/kmemleak
	echo scan > /sys/kernel/debug/kmemleak
	# Leaks whose allocation stack is in dmaverify or its test modules.
	awk "/^unreferenced object/ {e = \$0; next} {e = e \"\\n\" \$0} /dmaverify|dvstress|edu_/ {print e; e = \"\"}" \
		/sys/kernel/debug/kmemleak > /tmp/leaks
	n=$(grep -c "backtrace" /tmp/leaks)
	[ "$n" = 0 ] && ok "kmemleak: no leak from dmaverify ($(grep -c "^unreferenced" /sys/kernel/debug/kmemleak) elsewhere)" ||
		{ fail "kmemleak: $n leaks"; head -40 /tmp/leaks; }
	# The others, for the record (from the kernel itself, e.g. PCI rescan).
	# The first frames of each, past those of the allocator.
	grep -A24 "^unreferenced" /sys/kernel/debug/kmemleak | grep -E "^unreferenced|^    \[<|^    [A-Za-z_.]+\+0x" |
		grep -vE "kmemleak_alloc|kmalloc|kmem_cache_alloc|slab_post_alloc|__do_kmalloc|kzalloc" |
		awk "/^unreferenced/ {print; n = 0; next} n++ < 4" | head -24 | sed "s/^/other leak: /"
fi
# Hot-unplug through QEMU (device_del, as a user would) of a device under
# dmaverify with mappings outstanding: its leaks are reported at release,
# its context goes, the other device stays verified.
EDU2=0000:01:00.0
if [ -r /proc/lockdep_stats ] && [ "$LOCKDEP_BOOT" = 0 ]; then
	echo "skip lockdep: off since the kernel booted ($BOOT_REPORT)"
elif [ -r /proc/lockdep_stats ]; then
	grep -q "debug_locks: *1" /proc/lockdep_stats && ok "lockdep: no report before the hot-unplug" ||
		fail "lockdep reported before the hot-unplug"
fi
rmmod edu_sample 2>/dev/null; rmmod dmaverify 2>/dev/null
modprobe dmaverify driver=edu_sample bounce=1 action=log
modprobe edu_sample bug=leak transfers=1
[ -d $D/devices/$EDU2 ] && [ -d $D/devices/$EDU ] || fail "hot-plug slot: both edu devices should be verified: $(ls $D/devices | tr "\n" " ")"
dmesg -c > /dev/null
echo "vmrun-host: device_del edu1"
i=0; while [ -e /sys/bus/pci/devices/$EDU2 ] && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
[ -e /sys/bus/pci/devices/$EDU2 ] && fail "device_del: $EDU2 still present after 60 s" || ok "device_del: $EDU2 unplugged with mappings outstanding"
[ -e $D/devices/$EDU2 ] && fail "context left after hot-unplug" || ok "context gone after hot-unplug"
n=$(dmesg | grep -c "BUG: dmaverify: leak")
[ "$n" -ge 1 ] && ok "hot-unplug: $n leak reports for the unplugged device" || fail "hot-unplug: no leak report"
[ -d $D/devices/$EDU ] && ok "the other device stays verified" || fail "the other device lost its context"
rmmod edu_sample
rmmod dmaverify || fail "rmmod after hot-unplug"
# The pciehp driver of 6.12 takes pci_rescan_remove_lock, then its
# reset_lock, when a slot powers off, and lockdep flags that: a report of
# pciehp alone, with no dmaverify frame.  Lockdep reports once per boot and
# this runs last; before it, lockdep was still on (checked above).
if dmesg | grep -q "possible circular locking dependency"; then
	dmesg | sed -n "/possible circular locking/,/<\/TASK>/p" > /tmp/lockdep
	grep -q "pciehp.* is trying to acquire lock" /tmp/lockdep && ! grep -q dmaverify /tmp/lockdep &&
		ok "lockdep: the one report is in pciehp (the kernel), no dmaverify frame" ||
		{ fail "lockdep report:"; cat /tmp/lockdep; }
fi

echo "RESULT failed=$FAILED"
'

# The full console stays for a post-mortem, next to the system tests' logs.
logdir=${DMAVERIFY_TEST_LOGS:-${TMPDIR:-/tmp}/dmaverify-tests}
mkdir -p "$logdir"
log=$logdir/stress-$kernel.log
# The second edu sits in a PCIe root port with native hot-plug (pciehp), so
# that the guest can ask for its removal.
if ! "$TOP/scripts/vmrun" --kernel "$kernel" --qemu '-device edu,dma_mask=0xffffffff' \
	--qemu '-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off' \
	--qemu '-device pcie-root-port,id=rp1,chassis=1 -device edu,bus=rp1,id=edu1,dma_mask=0xffffffff' \
	--allow 'BUG: dmaverify: leak' --allow 'BUG: dmaverify: sync-unmapped in racer_sync' \
	--allow 'kmemleak: [0-9]+ new suspected' \
	--allow 'possible circular locking dependency detected' --timeout $((secs * 6 + cycles * 2 + 600)) \
	--mem 1024 --smp 2 --log "$log" -- "$script" > /dev/null 2>&1; then
	grep -a -E '^(ok|FAIL|skip|debugfs-loops|bind-cycles|leak reports)|dmaverify_stress: done|BUG|WARNING|Oops|circular|KASAN|kmemleak' "$log" | head -40
	# A hang: what vmrun's watchdog dumped (blocked tasks, backtraces).
	grep -a -A60 'vmrun: the command still runs' "$log" | grep -a -E 'still runs|task:|^\[ *[0-9.]+\]  [a-z_]' | head -60 || true
	echo "FAIL stress $kernel: the VM run failed (console: $log)"
	exit 1
fi
grep -a -E '^(ok|FAIL|skip|debugfs-loops|bind-cycles|leak reports|other leak)|dmaverify_stress: (done|races)' "$log" | sed 's/^\[[ 0-9.]*\] //'
if grep -aq '^RESULT failed=0' "$log"; then
	echo "PASS stress $kernel"
else
	echo "FAIL stress $kernel"
	exit 1
fi
