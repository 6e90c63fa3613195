#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Bad input: random, oversized, empty and binary writes to debugfs control
# and to every writable module parameter, from two writers at once, and
# malformed parameters at load.  Each must be refused (EINVAL or a failed
# load) and leave the state unchanged; nothing may crash.
#
# Usage: tests/fuzz.sh KERNEL [ROUNDS]
# kernels: test
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
kernel=${1:?usage: $0 KERNEL [ROUNDS]}
rounds=${2:-300}

script='set +e
R='$rounds'
D=/sys/kernel/debug/dmaverify
P=/sys/module/dmaverify/parameters
FAILED=0
fail() { echo "FAIL $*"; FAILED=1; }
state() { cat $P/driver $P/action $P/checks $P/max_objects $P/stack_depth $P/leak_report_max $P/fail_every $P/enabled $P/multishot; head -5 $D/stats; }
# Malformed parameters at load: every one must fail the load, with a message.
n=0
for p in "driver=a,,b" "driver=," "driver=x y" "driver=$(printf %040d 0)" "action=bogus" "action=" \
	"checks=nope" "checks=" "checks=all,,x" "stack_depth=99" "stack_depth=-1" "hash_bits=3" \
	"hash_bits=21" "max_objects=0" "max_objects=abc" "leak_report_max=1000001" "fail_every=-5"; do
	if modprobe dmaverify "$p" 2>/dev/null; then fail "load accepted $p"; rmmod dmaverify; fi
	grep -q "^dmaverify " /proc/modules && { fail "loaded after $p"; rmmod dmaverify; }
	n=$((n + 1))
done
echo "bad-load-params=$n"
dmesg | grep -c "dmaverify: .*=:" | sed "s/^/load-error-messages=/"
modprobe dmaverify driver=edu_sample action=log || fail "good load"
before=$(state)
writer() {
	i=0
	while [ $i -lt $R ]; do
		# A random tail after a byte no valid input starts with.
		len=$(( $(od -An -N2 -tu2 /dev/urandom) % 300 ))
		{ printf "\001"; head -c $len /dev/urandom; } > /tmp/fz.$1
		for f in $D/control $P/driver $P/action $P/checks $P/max_objects $P/stack_depth $P/leak_report_max $P/fail_every; do
			cat /tmp/fz.$1 > $f 2>/dev/null && echo "ACCEPTED $f len=$len: $(od -An -c /tmp/fz.$1 | head -2 | tr -s " ")"
		done
		echo "" > $D/control 2>/dev/null && echo "ACCEPTED empty-line control write"
		printf "enable\0garbage" > $D/control 2>/dev/null && echo "ACCEPTED binary control write"
		head -c 4096 /dev/zero | tr "\0" a > $D/control 2>/dev/null && echo "ACCEPTED oversized control write"
		i=$((i + 1))
	done
}
writer 1 > /tmp/w1 & writer 2 > /tmp/w2 &
wait
acc=$(cat /tmp/w1 /tmp/w2 | grep -c ACCEPTED)
cat /tmp/w1 /tmp/w2 | grep ACCEPTED | grep -v empty | head -8
after=$(state)
[ "$before" = "$after" ] && echo "ok   state unchanged after $((R * 2)) rounds x 11 writes" || { fail "state changed"; echo "$before"; echo "---"; echo "$after"; }
[ "$acc" = 0 ] || fail "$acc random writes accepted"
echo "enable" > $D/control || fail "a good command after the fuzz"
modprobe edu_sample bug=double-unmap transfers=1
dmesg | grep -q "BUG: dmaverify: double-unmap" && echo "ok   still reporting after the fuzz" || fail "no report after the fuzz"
rmmod edu_sample; rmmod dmaverify || fail "rmmod"
echo "RESULT failed=$FAILED"
'
# The full console stays for a post-mortem, next to the system tests' logs.
logdir=${DMAVERIFY_TEST_LOGS:-${TMPDIR:-/tmp}/dmaverify-tests}
mkdir -p "$logdir"
log=$logdir/fuzz-$kernel.log
if ! "$TOP/scripts/vmrun" --kernel "$kernel" --qemu '-device edu,dma_mask=0xffffffff' \
	--allow 'BUG: dmaverify: double-unmap' --timeout $((rounds * 2 + 240)) --log "$log" \
	-- "$script" > /dev/null 2>&1; then
	grep -a -E '^(ok|FAIL|ACCEPTED|bad-load|load-error)|BUG|WARNING|Oops' "$log" | head -30
	echo "FAIL fuzz $kernel: the VM run failed (console: $log)"
	exit 1
fi
grep -a -E '^(ok|FAIL|ACCEPTED|bad-load|load-error)' "$log"
grep -a -A12 '^FAIL state' "$log" || true
if grep -aq '^RESULT failed=0' "$log"; then
	echo "PASS fuzz $kernel: $((rounds * 2 * 11)) random writes refused"
else
	echo "FAIL fuzz $kernel"
	exit 1
fi
