#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Sampled mode (sample_interval) on QEMU's edu device, end to end:
#  1. sample_interval=1: the edu_sample driver's device overrun and device
#     write after unmap are caught on a sampled mapping within a bounded
#     number of loads of the driver (each load makes the buggy map once),
#     as are a double unmap and a wrong-size unmap of a sampled mapping, and
#     correct use stays silent;
#  2. sample_interval=100 (the documented production value), a statistical
#     run: loads of a driver doing 4 correct round trips then the overrun,
#     at random moments: the overrun is caught within the bound, and the
#     sample, hit and pool counters in debugfs and `dmaverify query --json`
#     agree with what happened;
#  3. the pool resized and sampling switched off at run time; and switched
#     on at run time after a load in full verification (the pool is made
#     then, and the device attached next is sampled).
#
# Usage: tests/edu-sampled.sh KERNEL
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
kernel=${1:?usage: $0 KERNEL}

script='set +e
DV=/sys/kernel/debug/dmaverify
P=/sys/module/dmaverify/parameters
# loads BUG TRANSFERS MAX SLEEP: load edu_sample until a report, at most MAX
# times; prints the number of loads and the report slugs.
loads() {
	bug=$1; tr=$2; max=$3; slp=$4; i=0
	dmesg -c > /dev/null
	while [ $i -lt $max ]; do
		i=$((i + 1))
		[ "$slp" = 0 ] || sleep 0.$(( (RANDOM % 9) + 1 ))
		modprobe edu_sample bug=$bug transfers=$tr
		rmmod edu_sample
		# The quarantine is checked at eviction, scan and release.
		echo scan > $DV/control 2>/dev/null
		dmesg | grep -q "BUG: dmaverify:" && break
	done
	found=$(dmesg | sed -n "s/.*BUG: dmaverify: \([a-z-]*\) .*/\1/p" | sort -u | tr "\n" " ")
	echo "LOADS $bug $i found=[$found]"
}
modprobe dmaverify driver=edu_sample action=log sample_interval=1 || echo "LOAD-FAILED"
grep -q "^device .* mode sampled" $DV/stats || { modprobe edu_sample transfers=1; rmmod edu_sample; }
loads none 3 5 0
loads device-overrun 0 5 0
loads write-after-unmap 0 5 0
loads double-unmap 0 5 0
loads wrong-size 0 5 0
grep -q "^sampling: interval 1 ms samples [1-9]" $DV/stats && echo "STATS1 ok" || { echo "STATS1 bad"; cat $DV/stats; }
# Run-time: resize the pool, switch sampling off.
echo 16 > $P/sample_slots
grep -q "^sample pool: slots 16 (target 16)" $DV/stats && echo "RESIZE ok" || { echo "RESIZE bad"; grep "^sample" $DV/stats; }
echo 0 > $P/sample_interval
sleep 0.2
s0=$(sed -n "s/^sampling: .* samples \([0-9]*\) .*/\1/p" $DV/stats)
modprobe edu_sample transfers=8; rmmod edu_sample
s1=$(sed -n "s/^sampling: .* samples \([0-9]*\) .*/\1/p" $DV/stats)
[ "$s0" = "$s1" ] && echo "OFF ok $s0" || echo "OFF bad $s0 $s1"
rmmod dmaverify

modprobe dmaverify driver=edu_sample action=log sample_interval=100 sample_slots=8 || echo "LOAD-FAILED"
loads device-overrun 4 150 1
grep "^sampl" $DV/stats
dmaverify query --json > /tmp/q.json 2>&1
hits=$(sed -n "s/^sampling: .* hits \([0-9]*\)$/\1/p" $DV/stats)
grep -q "\"hits\":$hits," /tmp/q.json && grep -q "\"memory_kib\":" /tmp/q.json &&
	grep -q "\"mode\":\"sampled\"" /tmp/q.json && echo "JSON ok hits=$hits" || { echo "JSON bad"; cat /tmp/q.json; }
dmaverify query | grep -q "^sampling: interval 100 ms" && echo "CLI ok" || echo "CLI bad"
rmmod dmaverify

modprobe dmaverify driver=edu_sample action=log || echo "LOAD-FAILED"
modprobe edu_sample transfers=1
m0=$(sed -n "s/^device .* mode \([a-z]*\)$/\1/p" $DV/stats)
rmmod edu_sample
echo 1 > $P/sample_interval
loads device-overrun 0 5 0
m1=$(sed -n "s/^device .* mode \([a-z]*\)$/\1/p" $DV/stats | tail -1)
grep -q "^sample pool: slots 64 " $DV/stats && [ "$m0/$m1" = ops/sampled ] &&
	echo "RUNTIME ok $m0/$m1" || { echo "RUNTIME bad $m0/$m1"; grep "^sampl" $DV/stats; }
rmmod dmaverify
'
logdir=${DMAVERIFY_TEST_LOGS:-${TMPDIR:-/tmp}/dmaverify-tests}
mkdir -p "$logdir"
log=$logdir/edu-sampled-$kernel.log
"$TOP/scripts/vmrun" --kernel "$kernel" --qemu '-device edu,dma_mask=0xffffffff' \
	--allow 'BUG: dmaverify:' --timeout 400 --log "$log" -- "$script" > /dev/null 2>&1 || {
	echo "FAIL edu-sampled $kernel: the VM run failed (console: $log)"; tail -40 "$log"; exit 1; }

fail=0
line() { grep -a "^$1" "$log" | tr -d '\r' | head -1; }
expect() {	# PREFIX BUG MAXLOADS WANT
	local l n f
	l=$(line "LOADS $1 ")
	n=$(sed -n 's/^LOADS [a-z-]* \([0-9]*\) .*/\1/p' <<< "$l")
	f=$(sed -n 's/.*found=\[\(.*\)\].*/\1/p' <<< "$l" | xargs)
	if [ -n "$l" ] && [ "$f" = "$3" ] && { [ -z "$3" ] || [ "${n:-99}" -le "$2" ]; }; then
		echo "ok   $1: ${3:-no report} after $n load(s) (bound $2)"
	else
		echo "FAIL $1: expected [$3] within $2 loads, got: ${l:-no result}"
		fail=1
	fi
}
grep -qa "LOAD-FAILED" "$log" && { echo "FAIL edu-sampled $kernel: modprobe dmaverify failed"; exit 1; }
expect none 5 ""
expect device-overrun 5 overrun-after
expect write-after-unmap 5 write-after-unmap
expect double-unmap 5 double-unmap
expect wrong-size 5 wrong-size
for k in STATS1 RESIZE OFF JSON CLI RUNTIME; do
	l=$(line "$k ")
	case $l in
	*" ok"*) echo "ok   $l" ;;
	*) echo "FAIL $k: ${l:-no result}"; fail=1 ;;
	esac
done
# The statistical run: reported with its figures, bounded.
l=$(grep -a "^LOADS device-overrun " "$log" | tr -d '\r' | sed -n 2p)
n=$(sed -n 's/^LOADS [a-z-]* \([0-9]*\) .*/\1/p' <<< "$l")
case $l in
*overrun-after*) echo "ok   sample_interval=100: overrun caught after $n loads of 9 maps each (bound 150); $(grep -a '^sampling:' "$log" | tail -1 | tr -d '\r')" ;;
*) echo "FAIL sample_interval=100: overrun not caught within 150 loads: $l"; fail=1 ;;
esac
# Switched on at run time: the device attached next is sampled, its bug caught.
l=$(grep -a "^LOADS device-overrun " "$log" | tr -d '\r' | sed -n 3p)
case $l in
*overrun-after*) echo "ok   sampling switched on at run time: overrun caught ($l)" ;;
*) echo "FAIL sampling switched on at run time: ${l:-no result}"; fail=1 ;;
esac
if [ $fail = 0 ]; then
	echo "PASS edu-sampled $kernel"
else
	echo "FAIL edu-sampled $kernel"
fi
exit $fail
