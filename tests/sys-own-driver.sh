#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The README's own-driver example, run: scripts/run-driver builds an
# out-of-tree driver (a copy of samples/edu_sample.c renamed mydrv, with its
# own Kbuild) against the kernel, boots it with QEMU's edu device under
# dmaverify, runs the script and exits 0 when nothing was reported; with a
# DMA bug it exits 3 and prints the report.  The second run also loads a
# module of the distribution kernel the project's tests never use
# (snd-hda-intel, with its nine dependencies) through --kmod.
#
# Usage: tests/sys-own-driver.sh KERNEL
# kernels: debian-6.12
# Tier 1 (two boots of Debian's 6.12, about a minute).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
kernel=${1:?usage: $0 KERNEL}
logdir=${DMAVERIFY_TEST_LOGS:-${TMPDIR:-/tmp}/dmaverify-tests}
mkdir -p "$logdir"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dmaverify-own.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# "Your" driver: its source and Kbuild in a directory of its own.
mkdir "$tmp/mydrv"
sed 's/\.name = "edu_sample"/.name = "mydrv"/' "$TOP/samples/edu_sample.c" > "$tmp/mydrv/mydrv.c"
grep -q '\.name = "mydrv"' "$tmp/mydrv/mydrv.c" || { echo "FAIL sys-own-driver $kernel: cannot rename the sample's driver"; exit 1; }
echo 'obj-m := mydrv.o' > "$tmp/mydrv/Kbuild"
# The sample includes the project's probe of the kernel's API (the IOVA
# calls); a driver of your own would not.
make -s -C "$TOP" KERNEL="$kernel" modules >&2
cp "$TOP/build/$kernel/dmaverify/compat-autoconf.h" "$tmp/mydrv/"
cd "$TOP"
fail=0

# The README's example, with the kernel and the path filled in.
example=$(sed -n '/^    scripts\/run-driver --kernel/,/^ *-- /p' README)
[ -n "$example" ] || { echo "FAIL sys-own-driver $kernel: no run-driver example in the README"; exit 1; }
cmd=$(sed 's/\\$//' <<< "$example" | tr '\n' ' ' |
	sed "s|--kernel debian-6.12|--kernel $kernel|; s|path/to/mydrv|$tmp/mydrv|")
set +e
cmd=${cmd/ -- / --log '$logdir/sys-own-driver-$kernel-1.log' -- }
eval "$cmd" > "$tmp/out1" 2>&1
rc=$?
set -e
if [ $rc = 0 ] && grep -q "run-driver: PASSED, no dmaverify report" "$tmp/out1" &&
   grep -q "verifying DMA of driver mydrv" "$tmp/out1"; then
	echo "ok   the README's example: mydrv built, verified in the VM, exit 0"
else
	echo "FAIL the README's example: exit $rc ($(grep -a 'run-driver\|vmrun' "$tmp/out1" | tail -3 | tr '\n' ' '))"
	fail=1
fi

# A bug: exit 3 and the report; a stock module of the kernel loads.
set +e
scripts/run-driver --kernel "$kernel" --src "$tmp/mydrv" --qemu '-device edu,dma_mask=0xffffffff' \
	--kmod snd-hda-intel --log "$logdir/sys-own-driver-$kernel-2.log" \
	-- 'modprobe snd-hda-intel && grep -q "^snd_hda_intel " /proc/modules && modprobe mydrv bug=double-unmap && rmmod mydrv' \
	> "$tmp/out2" 2>&1
rc=$?
set -e
if [ $rc = 3 ] && grep -q "run-driver: FAILED, dmaverify reported" "$tmp/out2" &&
   grep -q "^BUG: dmaverify: double-unmap in edu_probe" "$tmp/out2"; then
	echo "ok   a DMA bug in mydrv: exit 3, the report printed whole"
else
	echo "FAIL a DMA bug in mydrv: exit $rc, not 3 ($(grep -a 'run-driver\|vmrun\|modprobe' "$tmp/out2" | tail -3 | tr '\n' ' '))"
	fail=1
fi
# The violation log names the call site as it was when logged: mydrv is
# unloaded since, and its text reused (it once named snd_hda_intel's init).
if grep -q "slug=double-unmap .* site=edu_probe+0x[0-9a-f]*/0x[0-9a-f]* \[mydrv\] shown=1" "$tmp/out2"; then
	echo "ok   the violation log's site is edu_probe [mydrv], resolved before mydrv was unloaded"
else
	echo "FAIL the violation log's site: $(grep -a 'slug=double-unmap' "$tmp/out2" | head -1)"
	fail=1
fi
# The script runs on only if snd_hda_intel loaded: the report proves it.
if grep -q "^BUG: dmaverify: double-unmap in edu_probe" "$tmp/out2"; then
	echo "ok   --kmod snd-hda-intel: the stock module and its dependencies load in the guest"
else
	echo "FAIL --kmod snd-hda-intel did not load"
	fail=1
fi
if [ $fail = 0 ]; then
	echo "PASS sys-own-driver $kernel"
else
	echo "FAIL sys-own-driver $kernel"
fi
exit $fail
