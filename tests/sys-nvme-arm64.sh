#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sys-nvme-arm64.sh KERNEL: sys-nvme.sh for arm64 guests (-M virt).
# QEMU's NVMe controller driven by the nvme driver under dmaverify: raw
# O_DIRECT write/read back, four O_DIRECT dd streams at once (block sizes
# 4k to 512k, each region read back and compared: arm64's guest has no
# fio), ext4 with files read back after dropping the caches, an
# unbind/rebind cycle (the leak check must stay silent), rmmod dmaverify,
# and the disk must still work.  Without an IOMMU the path is dma-direct.
# tests/sys-nvme-smmu.sh runs this behind the SMMUv3 (-M virt,iommu=smmuv3).
#
# kernels: test-arm64 debian-6.12-arm64 debian-6.1-arm64
. "$(dirname "$0")/lib.sh"

img=$(t_disk nvme)
cat > "$T_TMP/guest.sh" <<'GUEST'
. ./guest-lib.sh
step "kernel $(uname -r) $(uname -m)"

# dd_load DEV: four O_DIRECT dd streams at once, each on its own 4 MB
# region with its own block size, then each region read back and compared.
dd_load()
{
	local dev=$1 i bs off pids=
	i=0
	for bs in 4096 16384 65536 524288; do
		make_data /tmp/load$i 4
		off=$(((64 + i * 4) * 1048576))
		dd if=/tmp/load$i of=$dev bs=$bs seek=$off oflag=direct,seek_bytes 2>/dev/null &
		pids="$pids $!"
		i=$((i + 1))
	done
	for p in $pids; do wait $p || fail "a dd stream to $dev failed"; done
	echo 3 > /proc/sys/vm/drop_caches
	i=0
	pids=
	# Read back with other block sizes than written.
	for bs in 524288 65536 16384 4096; do
		off=$(((64 + i * 4) * 1048576))
		dd if=$dev of=/tmp/back$i bs=$bs skip=$off count=$((4194304 / bs)) \
			iflag=direct,skip_bytes 2>/dev/null &
		pids="$pids $!"
		i=$((i + 1))
	done
	for p in $pids; do wait $p || fail "a dd stream from $dev failed"; done
	i=0
	for bs in 4096 16384 65536 524288; do
		same /tmp/load$i /tmp/back$i "dd stream $i ($bs-byte writes, concurrent)"
		rm -f /tmp/load$i /tmp/back$i
		i=$((i + 1))
	done
}

dv_load nvme
mods nvme
disk=$(find_disk 524288) || fail "no 256 MB disk appeared"
case $disk in nvme*) ;; *) fail "the 256 MB disk is $disk, not an NVMe namespace" ;; esac
dev=/dev/$disk
pci=$(ls /sys/bus/pci/drivers/nvme | grep ':' | head -1)
[ -n "$pci" ] || fail "no PCI device bound to nvme"
[ -d $DV/devices/$pci ] || fail "no $DV/devices/$pci"
path=$(dv_path nvme)
step "disk $dev on $pci: $path"
if [ -d /sys/class/iommu ] && [ -n "$(ls /sys/class/iommu)" ]; then
	[ "$path" != dma-direct ] || fail "behind the SMMU, yet forwarding to dma-direct"
	dmesg | grep -q 'device faults not verified: arm-smmu-v3' ||
		fail "no 'device faults not verified: arm-smmu-v3' line"
else
	[ "$path" = dma-direct ] || fail "no IOMMU, yet forwarding to $path"
fi

raw_check $dev 16 direct
dd_load $dev
fs_check $dev /mnt
dv_check nvme
ops1=$OPS

# Unbind and bind again: the leak check runs at release and must be silent;
# the rebound device is verified again.
dv_rebind nvme blk_before blk_after
[ "$(dv_attached nvme)" -ge 2 ] || fail "the rebound device was not attached again"
fs_verify /mnt "ext4 after rebind"
dv_check nvme
OPS=$((ops1 + OPS))
dv_unload nvme blk_before blk_after
echo 3 > /proc/sys/vm/drop_caches
fs_verify /mnt "ext4 after rmmod"
umount /mnt || fail "umount failed"
raw_check $dev 8 direct
dd_load $dev
dv_pass
GUEST

t_vm ${NVME_MACHINE:+--machine "$NVME_MACHINE"} --append "${NVME_APPEND:-}" \
	--qemu "-drive file=$img,if=none,id=d0,format=raw -device nvme,drive=d0,serial=dv1"
t_result
