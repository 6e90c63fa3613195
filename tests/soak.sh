#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/soak.sh KERNEL [SECONDS]: a real workload soak.  nvme (fio random
# read/write with crc32c verification), two e1000e NICs joined by a QEMU hub
# (nc transfers between two network namespaces, checked by sha256) and
# xhci + usb-storage (dd write/read back, checked) run at once under
# dmaverify for SECONDS (default 600).  Zero reports, data verified; prints
# the DMA operations verified, the peak of outstanding objects and the
# tracker's memory.  Run by make stress on the debug kernel.
# kernels: (make stress only)
. "$(dirname "$0")/lib.sh"
secs=${2:-600}
nvme=$(t_disk nvme)
usb=$(t_disk usb 64M)
cat > "$T_TMP/guest.sh" <<GUEST
S=$secs
GUEST
cat >> "$T_TMP/guest.sh" <<'GUEST'
. ./guest-lib.sh
step "kernel $(uname -r), soak for $S s"
dv_load nvme,e1000e,xhci_hcd
mods nvme e1000e xhci_pci usb_storage
nv=$(find_disk 524288) || fail "no NVMe disk"
ud=$(find_disk 131072) || fail "no USB disk"
step "nvme /dev/$nv, usb /dev/$ud"
wait_for '[ $(ls /sys/bus/pci/drivers/e1000e | grep -c :) -ge 2 ]' 20 || fail "two NICs did not bind"
set -- $(for p in $(ls /sys/bus/pci/drivers/e1000e | grep : | sort); do ls /sys/bus/pci/devices/$p/net; done)
mkdir -p /run/netns
ip netns add peer && ip link set $2 netns peer || fail "netns"
ip addr add 10.99.0.1/24 dev $1; ip link set $1 up
ip -n peer addr add 10.99.0.2/24 dev $2; ip -n peer link set lo up; ip -n peer link set $2 up
wait_for 'ping -c 1 -W 1 10.99.0.2 > /dev/null 2>&1' 30 || fail "no network"
end=$(( $(date +%s) + S ))

# nvme: fio, verified, time-based.
fio --name=soak --filename=/dev/$nv --direct=1 --ioengine=libaio --iodepth=16 \
	--rw=randrw --bs=4k --size=64M --time_based --runtime=$S --verify=crc32c \
	--verify_fatal=1 --output=/tmp/fio.out > /dev/null 2>&1 &
fiopid=$!
# e1000e: transfers until the end, each checked.
( n=0; mkfifo /tmp/hold; exec 3<> /tmp/hold; make_data /tmp/tx 2
  while [ $(date +%s) -lt $end ]; do
	ip netns exec peer nc -l -p 5001 < /tmp/hold > /tmp/rx &
	r=$!
	# The listener may take a while to come up (debug kernel): retry.
	t=0; until sleep 0.5; nc 10.99.0.2 5001 < /tmp/tx > /dev/null; do
		t=$((t + 1)); [ $t -lt 20 ] || { kill $r; echo "NET-FAIL: no listener"; break 2; }
	done
	wait $r
	[ "$(sha /tmp/rx)" = "$(sha /tmp/tx)" ] || { echo "NET-FAIL after $n transfers"; break; }
	n=$((n + 1))
  done; echo "NET transfers=$n" ) > /tmp/net.out 2>&1 &
netpid=$!
# usb-storage: write, drop caches, read back, compare.
( n=0; make_data /tmp/u 4
  while [ $(date +%s) -lt $end ]; do
	dd if=/tmp/u of=/dev/$ud bs=1M conv=fsync 2>/dev/null
	echo 3 > /proc/sys/vm/drop_caches
	dd if=/dev/$ud of=/tmp/ur bs=1M count=4 2>/dev/null
	[ "$(sha /tmp/ur)" = "$(sha /tmp/u)" ] || { echo "USB-FAIL after $n rounds"; break; }
	n=$((n + 1))
  done; echo "USB rounds=$n" ) > /tmp/usb.out 2>&1 &
usbpid=$!
peak=0
while [ $(date +%s) -lt $end ]; do
	sleep 10
	t=$(awk '/^ +tracked/ {s += $2} END {print s + 0}' $DV/stats)
	[ "$t" -gt "$peak" ] && peak=$t
done
wait $fiopid || { cat /tmp/fio.out; fail "fio failed or did not verify"; }
wait $netpid; wait $usbpid
cat /tmp/net.out /tmp/usb.out
grep -q NET-FAIL /tmp/net.out && fail "network data differed"
grep -q USB-FAIL /tmp/usb.out && fail "usb data differed"
grep -q "err= 0" /tmp/fio.out || fail "fio reported errors"
obj=$(awk '$1 == "dmaverify_obj" {print $2 * $4}' /proc/slabinfo 2>/dev/null)
step "fio: $(grep -E '^ +(read|write):' /tmp/fio.out | tr -s ' ' | tr '\n' ';')"
step "peak tracked objects $peak; tracker entries now ${obj:-?} bytes"
dv_check nvme
PATHS=$(dv_path nvme | head -1)
UNLOAD="not attempted"
NOTE="soak $S s, peak tracked objects $peak, tracker entries ${obj:-?} bytes"
dv_pass
GUEST
T_TIMEOUT=$((secs + 400))
# A long soak on a busy host: an NVMe request may wait, give it 2 minutes.
t_vm --mem 1024 --append nvme_core.io_timeout=120 \
	--qemu "-drive file=$nvme,if=none,id=d0,format=raw -device nvme,drive=d0,serial=soak" \
	--qemu '-netdev hubport,id=h0,hubid=0 -device e1000e,netdev=h0 -netdev hubport,id=h1,hubid=0 -device e1000e,netdev=h1' \
	--qemu "-device qemu-xhci,id=xhci -drive file=$usb,if=none,id=u0,format=raw -device usb-storage,bus=xhci.0,drive=u0"
t_result
