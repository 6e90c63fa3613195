#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Indirect DMA (dmaverify/indirect.c): USB class drivers verified through
# their host controller.  One QEMU xHCI controller with three devices:
#   A  a usb-storage disk (256 MB), driver usb-storage: selected
#   B  a usb-uas disk (128 MB), driver uas: not selected, same controller
#   C  a usb-storage device (64 MB) given to samples/usb_dma_sample.c
# an EHCI controller with D, a usb-storage disk (32 MB), a UHCI one with E
# (24 MB) and an OHCI one with F (40 MB): selected too.
# dmaverify driver=usb-storage,usb_dma_sample.  Data is written to A and B
# and read back: zero reports, A's URBs tracked under usb-storage (debugfs
# names "usb-storage on 1-1:1.0 ... through xhci_hcd"), nothing of B's.  The
# cost on B is printed (dd time with and without dmaverify, side by side).
# Then the sample's planted bugs, one load each, must give the right code,
# attributed to usb_dma_sample (not to xhci_hcd), the title naming the
# sample's function; the correct sample none.  Last, driver=uas alone: B
# rebound, data read back, unbound: zero reports.
#
# Usage: tests/sys-usb-indirect.sh KERNEL
# kernels: test debian-6.12 debian-6.1 debian-7
# kernels, tier 2: test-debug
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
kernel=${1:?usage: $0 KERNEL}

# bug : expected report slug ("-" for none) : function the title names
cases=(
	"none:-:"
	"leak-coherent:leak-coherent:sample_probe"
	"double-free:double-free:bug_double_free"
	"submit-unmapped:submit-unmapped:send_dma"
)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dmaverify-usb-indirect.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
truncate -s 256M "$tmp/a.img"
truncate -s 128M "$tmp/b.img"
truncate -s 64M "$tmp/c.img"
truncate -s 32M "$tmp/d.img"
truncate -s 24M "$tmp/e.img"
truncate -s 40M "$tmp/f.img"

cat > "$tmp/guest.sh" <<'GUEST'
. ./guest-lib.sh
set +e
disk_of() { find_disk "$1" || fail "no disk of $1 sectors"; }
intf_of() { readlink -f /sys/block/$1 | sed -n 's|.*/\([0-9]*-[0-9.]*:[0-9]*\.[0-9]*\)/host.*|\1|p'; }
ms() { cut -d' ' -f1 /proc/uptime | tr -d .; }
cost() {
	local t0 t1
	t0=$(ms)
	dd if=/dev/$1 of=/dev/null bs=64k count=256 iflag=direct 2>/dev/null
	dd if=/tmp/cost.data of=/dev/$1 bs=64k count=256 oflag=direct 2>/dev/null
	t1=$(ms)
	echo $(((t1 - t0) * 10))
}
# The faster of two runs (TCG timings are noisy).
cost2() {
	local x y
	x=$(cost $1)
	y=$(cost $1)
	[ "$x" -lt "$y" ] && echo "$x" || echo "$y"
}
mods xhci_pci ehci_pci uhci_hcd ohci_pci sd_mod
modprobe dmaverify driver=usb-storage,usb_dma_sample action=log free_stacks=1 ||
	fail "modprobe dmaverify failed"
mods uas usb_storage
a=$(disk_of 524288); b=$(disk_of 262144); c=$(disk_of 131072); d=$(disk_of 65536)
e=$(disk_of 49152); f=$(disk_of 81920)
ia=$(intf_of $a); ib=$(intf_of $b); ic=$(intf_of $c); id=$(intf_of $d)
ie=$(intf_of $e); if_=$(intf_of $f)
step "A=$a on $ia ($(basename $(readlink /sys/bus/usb/devices/$ia/driver))) B=$b on $ib ($(basename $(readlink /sys/bus/usb/devices/$ib/driver))) C=$c on $ic"
[ "$(basename $(readlink /sys/bus/usb/devices/$ib/driver))" = uas ] || fail "B is not driven by uas"
raw_check /dev/$a 16
raw_check /dev/$a 8 direct
raw_check /dev/$b 16
raw_check /dev/$d 8
raw_check /dev/$e 2
raw_check /dev/$f 2 direct
cat $DV/stats
grep -q "^device $ie driver usb-storage state attached mode ops through uhci_hcd " $DV/stats ||
	fail "stats: no usb-storage on $ie through uhci_hcd"
grep -q "^device $if_ driver usb-storage state attached mode ops through ohci-pci " $DV/stats ||
	fail "stats: no usb-storage on $if_ through ohci-pci"
for i in $id $ie $if_; do
	n=$(sed -n "/^device $i /,/^device /p" $DV/stats | grep -E "streaming maps|scatter" | sed -n 's/.*allocated \([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
	[ "$n" -gt 0 ] || fail "no URB buffer of usb-storage on $i tracked"
done
grep -q "^device $id driver usb-storage state attached mode ops through ehci-pci " $DV/stats ||
	fail "stats: no usb-storage on $id through ehci-pci"
grep -q "^device $ia driver usb-storage state attached mode ops through xhci_hcd " $DV/stats ||
	fail "stats: no usb-storage on $ia through xhci_hcd"
grep -q "^device $ib " $DV/stats && fail "stats: the uas disk $ib is tracked"
grep -q "mode port" $DV/stats || fail "stats: no port"
maps=$(sed -n "/^device $ia /,/^device /p" $DV/stats | sed -n 's/.*scatter\/gather lists *allocated \([0-9]*\).*/\1/p' | head -1)
[ "${maps:-0}" -gt 0 ] || fail "no scatter/gather list of usb-storage tracked"
head -2 $DV/devices/$ia/objects
grep -q "^# device $ia driver usb-storage: [0-9]* outstanding objects, DMA through xhci_hcd " $DV/devices/$ia/objects ||
	fail "devices/$ia/objects does not name the port"
dmaverify query $ia > /tmp/q 2>&1
cat /tmp/q
grep -q "^device $ia  driver usb-storage  attached  mode ops  DMA through xhci_hcd " /tmp/q ||
	fail "dmaverify query $ia does not show the relation"
v=$(sed -n 's/^violations: //p' $DV/stats)
[ "$v" = 0 ] || fail "violations on correct drivers: $v"
dmesg | grep "dmaverify" | grep -v "BUG" | head -20
make_data /tmp/cost.data 16
on=$(cost2 $b)
echo "DISKS-OK sg=$maps"
# The sample's device: usb-storage lets it go.
echo -n $ic > /sys/bus/usb/drivers/usb-storage/unbind
v=$(sed -n 's/^violations: //p' $DV/stats)
[ "$v" = 0 ] || fail "violations when usb-storage left $ic: $v"
grep -q "^device $ic " $DV/stats && fail "stats: $ic still listed after usb-storage left it"
n=0
for bug in $BUGS; do
	dmesg -c > /dev/null
	echo "CASE-BEGIN $n"
	modprobe usb_dma_sample bug=$bug
	sleep 1
	bound=$(basename $(readlink /sys/bus/usb/devices/$ic/driver 2>/dev/null) 2>/dev/null)
	rmmod usb_dma_sample
	dmesg
	found=$(dmesg | sed -n "s/.*BUG: dmaverify: \([a-z-]*\) .*/\1/p" | tr "\n" " ")
	echo "CASE $n found=[$found] bound=$bound"
	n=$((n + 1))
done
rmmod dmaverify
off=$(cost2 $b)
# uas selected: B's driver rebound under verification, data read back,
# unbound (leak check), zero reports.
modprobe dmaverify driver=uas action=log || fail "modprobe dmaverify driver=uas failed"
echo -n $ib > /sys/bus/usb/drivers/uas/unbind
echo -n $ib > /sys/bus/usb/drivers/uas/bind
b=$(disk_of 262144)
raw_check /dev/$b 8 direct
raw_check /dev/$b 8
grep -q "^device $ib driver uas state attached mode ops through xhci_hcd " $DV/stats ||
	fail "stats: no uas on $ib through xhci_hcd"
grep -q "^device $ia " $DV/stats && fail "stats: usb-storage's $ia is tracked with driver=uas"
n=$(sed -n "/^device $ib /,/^device /p" $DV/stats | grep -E "streaming maps|scatter" | sed -n 's/.*allocated \([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
[ "$n" -gt 0 ] || fail "no URB buffer of uas tracked"
echo -n $ib > /sys/bus/usb/drivers/uas/unbind
v=$(sed -n 's/^violations: //p' $DV/stats)
[ "$v" = 0 ] || fail "uas: $v violations"
echo "UAS-OK maps=$n"
echo -n $ib > /sys/bus/usb/drivers/uas/bind
rmmod dmaverify
echo "COST unselected uas disk, 16 MB read+write direct: ${on} ms with dmaverify, ${off} ms without"
raw_check /dev/$a 8
echo "DVT-RESULT PASS"
GUEST

bugs=
for c in "${cases[@]}"; do
	bugs+="${c%%:*} "
done
echo "BUGS='$bugs'" > "$tmp/bugs"
cat "$tmp/bugs" "$tmp/guest.sh" > "$tmp/g.sh" && mv "$tmp/g.sh" "$tmp/guest.sh"

logdir=${DMAVERIFY_TEST_LOGS:-${TMPDIR:-/tmp}/dmaverify-tests}
mkdir -p "$logdir"
log=$logdir/sys-usb-indirect-$kernel.log
"$TOP/scripts/vmrun" --kernel "$kernel" \
	--qemu "-device qemu-xhci,id=xhci \
-drive file=$tmp/a.img,if=none,id=ua,format=raw -device usb-storage,bus=xhci.0,drive=ua \
-drive file=$tmp/b.img,if=none,id=ub,format=raw -device usb-uas,id=uas,bus=xhci.0 \
-device scsi-hd,bus=uas.0,scsi-id=0,lun=0,drive=ub \
-drive file=$tmp/c.img,if=none,id=uc,format=raw -device usb-storage,bus=xhci.0,drive=uc \
-device usb-ehci,id=ehci \
-drive file=$tmp/d.img,if=none,id=ud,format=raw -device usb-storage,bus=ehci.0,drive=ud \
-device piix3-usb-uhci,id=uhci \
-drive file=$tmp/e.img,if=none,id=ue,format=raw -device usb-storage,bus=uhci.0,drive=ue \
-device pci-ohci,id=ohci \
-drive file=$tmp/f.img,if=none,id=uf,format=raw -device usb-storage,bus=ohci.0,drive=uf" \
	--append 'modprobe.blacklist=usb_storage,uas' \
	--file "$TOP/tests/guest-lib.sh" --file "$tmp/guest.sh" \
	--allow 'BUG: dmaverify:' --timeout "${T_TIMEOUT:-300}" --log "$log" -- sh guest.sh > /dev/null 2>&1 || {
	echo "FAIL sys-usb-indirect $kernel: the VM run failed (console: $log)"
	tr -d '\r' < "$log" | grep -a 'DVT' | tail -5
	exit 1
}
con=$(tr -d '\r' < "$log" | sed 's/^\[ *[0-9.]*\] \{0,1\}//')

fail=0
grep -aq '^DISKS-OK' <<< "$con" || { echo "FAIL disks: $(grep -a 'DVT' <<< "$con" | tail -2)"; fail=1; }
[ $fail = 0 ] && echo "ok   usb-storage (selected) and uas (not) on one xHCI, usb-storage on EHCI, UHCI and OHCI: data read back, 0 reports, $(grep -a '^DISKS-OK' <<< "$con" | cut -d' ' -f2) lists tracked for usb-storage"
n=0
for c in "${cases[@]}"; do
	IFS=: read -r bug want fn <<< "$c"
	line=$(grep -a "^CASE $n " <<< "$con" || true)
	block=$(sed -n "/^CASE-BEGIN $n\$/,/^CASE $n /p" <<< "$con")
	found=$(sed -n 's/.*found=\[\(.*\)\].*/\1/p' <<< "$line" | tr ' ' '\n' | sort -u | xargs)
	[ "$want" = - ] && want=
	why=
	[ -n "$line" ] || why="no result"
	grep -q 'bound=usb_dma_sample' <<< "$line" || why="$why; the sample did not bind"
	[ "$found" = "$want" ] || why="$why; expected [$want], got [$found]"
	if [ -n "$want" ]; then
		grep -aq "BUG: dmaverify: $want in $fn" <<< "$block" ||
			why="$why; no title 'BUG: dmaverify: $want in $fn'"
		grep -aqE "driver usb_dma_sample on [0-9.-]+:1\.0, DMA through xhci_hcd [0-9a-f:.]+: DRIVER_VERIFIER_DMA_VIOLATION" <<< "$block" ||
			why="$why; the report does not name usb_dma_sample through xhci_hcd"
	fi
	if [ -z "$why" ]; then
		echo "ok   $bug -> ${want:-no report}"
	else
		echo "FAIL $bug: ${why#; } (${line:-no result})"
		fail=1
	fi
	n=$((n + 1))
done
if grep -aq '^UAS-OK' <<< "$con"; then
	echo "ok   uas selected: data read back, $(grep -a '^UAS-OK' <<< "$con" | sed 's/.*maps=//') URB buffers tracked, unbound with 0 reports"
else
	echo "FAIL uas selected: $(grep -a 'DVT' <<< "$con" | tail -1)"
	fail=1
fi
grep -a '^COST' <<< "$con" || true
grep -aq 'DVT-RESULT PASS' <<< "$con" || { echo "FAIL: $(grep -a 'DVT-RESULT' <<< "$con" | tail -1)"; fail=1; }
if [ $fail = 0 ]; then
	echo "PASS sys-usb-indirect $kernel"
else
	echo "FAIL sys-usb-indirect $kernel (console: $log)"
fi
exit $fail
