#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Indirect DMA through a virtio transport (dmaverify/virtio.c):
# dmaverify driver=virtio_blk,virtio_net.  QEMU gives a virtio-blk disk with
# iommu_platform=on (256 MB: the DMA API is used, its DMA is verified through
# virtio-pci), one without (128 MB: it bypasses the DMA API, dmesg must say
# so), a virtio-scsi HBA with iommu_platform=on and a 96 MB disk on it, and a
# virtio-net NIC with iommu_platform=on, brought up and down.  Data is
# written and read back; the disk's driver is unbound (leak check) and
# bound again; zero reports, but for virtio_scsi's own leak of its event
# buffers at unbind (upstream: it deletes its event queue with them mapped).  Then samples/virtio_dma_sample.c on a
# virtio-rng device: correct, no report; bug=leak-map, one leak-map report
# titled with the sample's sample_fill(), naming virtio_dma_sample through
# virtio-pci (checked in the guest's dmesg: the console shows the kernel's
# errors only while the correct drivers run).
#
# Usage: tests/sys-virtio-indirect.sh KERNEL
# kernels: test debian-6.12 debian-6.1 debian-7
. "$(dirname "$0")/lib.sh"

a=$(t_disk vblk-a 256M)
b=$(t_disk vblk-b 128M)
c=$(t_disk vscsi-c 96M)
cat > "$T_TMP/guest.sh" <<'GUEST'
. ./guest-lib.sh
vdev_of() { readlink -f /sys/block/$1 | sed -n 's|.*/\(virtio[0-9]*\)/block/.*|\1|p'; }
step "kernel $(uname -r)"
dv_load virtio_blk,virtio_net,virtio_scsi,virtio_dma_sample
# virtio_pci is built in on some kernels (Debian 7.x) without modules.builtin here.
modprobe virtio_pci 2> /dev/null || true
mods virtio_blk virtio_net virtio_scsi sd_mod
a=$(find_disk 524288) || fail "no 256 MB virtio disk"
b=$(find_disk 262144) || fail "no 128 MB virtio disk"
c=$(find_disk 196608) || fail "no 96 MB disk on virtio-scsi"
vc=$(readlink -f /sys/block/$c | sed -n 's|.*/\(virtio[0-9]*\)/host.*|\1|p')
va=$(vdev_of $a); vb=$(vdev_of $b)
step "A=$a on $va (iommu_platform=on), B=$b on $vb (off)"
raw_check /dev/$a 16
raw_check /dev/$a 8 direct
raw_check /dev/$b 8
raw_check /dev/$c 8
raw_check /dev/$c 4 direct
cat $DV/stats
grep -q "^device $vc driver virtio_scsi state attached mode ops through virtio-pci " $DV/stats ||
	fail "stats: no virtio_scsi on $vc through virtio-pci"
scsi=$(sed -n "/^device $vc /,/^device /p" $DV/stats | grep -E "streaming maps|scatter" | sed -n 's/.*allocated \([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
[ "$scsi" -gt 0 ] || fail "no buffer of virtio_scsi tracked"
grep -q "^device $va driver virtio_blk state attached mode ops through virtio-pci " $DV/stats ||
	fail "stats: no virtio_blk on $va through virtio-pci"
grep -q "^device $vb " $DV/stats && fail "stats: $vb (no DMA API) is listed"
dmesg | grep -q "$vb: dmaverify: driver virtio_blk: the device bypasses the DMA API" ||
	fail "dmesg does not say that $vb bypasses the DMA API"
sg=$(sed -n "/^device $va /,/^device /p" $DV/stats | grep -E "streaming maps|scatter" | sed -n 's/.*allocated \([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
co=$(sed -n "/^device $va /,/^device /p" $DV/stats | sed -n 's/.*coherent buffers *allocated \([0-9]*\).*/\1/p' | head -1)
[ "${sg:-0}" -gt 0 ] || fail "no buffer of virtio_blk tracked"
[ "${co:-0}" -gt 0 ] || fail "no vring of virtio_blk tracked"
for n in /sys/class/net/*; do
	[ "$(basename $(readlink $n/device/driver 2>/dev/null) 2>/dev/null)" = virtio_net ] || continue
	nic=${n##*/}
	ip link set $nic up
	sleep 1
	ip link set $nic down
done
[ -n "${nic:-}" ] || fail "no virtio_net NIC"
vn=$(basename $(readlink -f /sys/class/net/$nic/device))
grep -q "^device $vn driver virtio_net state attached mode ops through virtio-pci " $DV/stats ||
	fail "stats: no virtio_net on $vn through virtio-pci"
maps=$(sed -n "/^device $vn /,/^device /p" $DV/stats | grep -E "streaming maps|scatter" | sed -n 's/.*allocated \([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
[ "$maps" -gt 0 ] || fail "no buffer of virtio_net tracked"
echo -n $va > /sys/bus/virtio/drivers/virtio_blk/unbind
echo -n $va > /sys/bus/virtio/drivers/virtio_blk/bind
a=$(find_disk 524288) || fail "the disk did not come back after rebinding"
raw_check /dev/$a 8
modprobe virtio_dma_sample || fail "modprobe virtio_dma_sample failed"
rmmod virtio_dma_sample
v=$(sed -n 's/^violations: //p' $DV/stats)
[ "$v" = 0 ] || fail "the correct sample gave $v violations"
dmesg | grep -q "virtio_dma_sample virtio[0-9]*: two reads of 64 random bytes: 0" || fail "the sample could not read the device"
kernel_errors
# The planted bug's report stays out of the console (dmesg has it).
dmesg -n 1
dmesg -c > /dev/null
modprobe virtio_dma_sample bug=leak-map
rmmod virtio_dma_sample
dmesg -n 7
dmesg -c > /tmp/leak.log
found=$(sed -n "s/.*BUG: dmaverify: \([a-z-]*\) in \([a-z_]*\).*/\1:\2/p" /tmp/leak.log | sort -u | xargs)
step "bug=leak-map: reports [$found]"
[ "$found" = leak-map:sample_fill ] || fail "bug=leak-map: expected [leak-map:sample_fill], got [$found]"
grep -qE "driver virtio_dma_sample on virtio[0-9]+, DMA through virtio-pci [0-9a-f:.]+: DRIVER_VERIFIER_DMA_VIOLATION \(0xE6\), parameter 1 0x09" /tmp/leak.log ||
	fail "the leak report does not name virtio_dma_sample through virtio-pci"
grep -A1 "created at" /tmp/leak.log | grep -q "sample_fill" || fail "the leak's creating stack does not name sample_fill"
# Redzoned rings hold dmaverify: the drivers go first (leak checks).
echo -n $va > /sys/bus/virtio/drivers/virtio_blk/unbind
echo -n $vn > /sys/bus/virtio/drivers/virtio_net/unbind
# virtio_scsi leaves its event buffers mapped at remove (it deletes the
# event queue without detaching them): a real leak, reported.
dmesg -n 1
echo -n $vc > /sys/bus/virtio/drivers/virtio_scsi/unbind
dmesg -n 7
dmesg -c > /tmp/scsi.log
found=$(sed -n "s/.*BUG: dmaverify: \([a-z-]*\) in \([a-z_]*\).*/\1:\2/p" /tmp/scsi.log | sort -u | xargs)
step "virtio_scsi unbound: reports [$found]"
[ "$found" = leak-map:virtscsi_kick_event ] || fail "virtio_scsi's unbind: expected [leak-map:virtscsi_kick_event], got [$found]"
grep -q "driver virtio_scsi on $vc, DMA through virtio-pci [0-9a-f:.]*: DRIVER_VERIFIER_DMA_VIOLATION (0xE6), parameter 1 0x09" /tmp/scsi.log ||
	fail "the leak report does not name virtio_scsi through virtio-pci"
ev=$(sed -n 's/.* \([0-9]*\) DMA objects outstanding at release of driver virtio_scsi.*/\1/p' /tmp/scsi.log)
v=$(sed -n 's/^violations: //p' $DV/stats)
[ "$v" = $((1 + ${ev:-0})) ] || fail "dmaverify counted $v violations, $((1 + ${ev:-0})) expected (the sample's leak, virtio_scsi's $ev event buffers)"
rmmod dmaverify || fail "rmmod dmaverify failed"
echo -n $va > /sys/bus/virtio/drivers/virtio_blk/bind
echo -n $vn > /sys/bus/virtio/drivers/virtio_net/bind
echo -n $vc > /sys/bus/virtio/drivers/virtio_scsi/bind
c=$(find_disk 196608) || fail "the virtio-scsi disk did not come back after rmmod"
raw_check /dev/$c 4
a=$(find_disk 524288) || fail "the disk did not come back after rmmod"
raw_check /dev/$a 8
kernel_errors
echo "DVT-RESULT PASS ops=$sg path=virtio-pci violations=0 | virtio_blk: $sg maps, $co coherent; virtio_scsi: $scsi maps; virtio_net on $nic: $maps maps; $vb bypasses the DMA API; sample bug=leak-map: leak-map in sample_fill; virtio_scsi's unbind: leak-map of $ev event buffers in virtscsi_kick_event"
GUEST

t_vm --qemu "-drive file=$a,if=none,id=va,format=raw -device virtio-blk-pci,drive=va,disable-legacy=on,iommu_platform=on \
-drive file=$b,if=none,id=vb,format=raw -device virtio-blk-pci,drive=vb \
-netdev hubport,id=h0,hubid=0 -device virtio-net-pci,netdev=h0,disable-legacy=on,iommu_platform=on \
-device virtio-scsi-pci,id=vs,disable-legacy=on,iommu_platform=on \
-drive file=$c,if=none,id=vc,format=raw -device scsi-hd,bus=vs.0,drive=vc \
-device virtio-rng-pci,disable-legacy=on,iommu_platform=on" --append modprobe.blacklist=virtio_rng
t_result
