#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sys-nvme-iommu.sh KERNEL: the NVMe disk behind QEMU's Intel IOMMU
# (intel_iommu=on iommu.strict=1, DMA translated; DV_IOMMU=amd: its AMD
# IOMMU, see tests/sys-nvme-amd-iommu.sh).  dmaverify must forward to
# iommu-dma (6.12+: "iommu-dma"; before: the IOMMU's dma_map_ops, e.g.
# iommu_dma_ops) and listen to the IOMMU's faults.  Raw O_DIRECT write/read
# back, fio with crc32c verification, then rmmod dmaverify and the disk must
# still work.  An IOMMU fault fails the run (guest-lib.sh's kernel_errors).
DV_IOMMU=${DV_IOMMU:-intel}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

img=$(t_disk nvme)
cat > "$T_TMP/guest.sh" <<'GUEST'
. ./guest-lib.sh
step "kernel $(uname -r), $(cat /proc/cmdline)"
[ -n "$(ls /sys/class/iommu 2>/dev/null)" ] || fail "no IOMMU registered (/sys/class/iommu is empty)"
dv_load nvme
mods nvme
disk=$(find_disk 524288) || fail "no 256 MB disk appeared"
case $disk in nvme*) ;; *) fail "the 256 MB disk is $disk, not an NVMe namespace" ;; esac
dev=/dev/$disk
pci=$(ls /sys/bus/pci/drivers/nvme | grep ':' | head -1)
[ -n "$pci" ] || fail "no PCI device bound to nvme"
step "disk $dev on $pci, path $(dv_path nvme)"
iommu_check nvme
# Since 6.12 the core calls iommu-dma directly (dev->dma_iommu); before,
# through the IOMMU's dma_map_ops (iommu_dma_ops).
rel=$(uname -r)
major=${rel%%.*}
minor=${rel#*.}
minor=${minor%%[!0-9]*}
if [ "$major" -gt 6 ] || { [ "$major" = 6 ] && [ "$minor" -ge 12 ]; }; then
	want=iommu-dma
else
	want=iommu_dma_ops
fi
# Observed (tests/sys-nvme-iommu-observe.sh): nothing is forwarded; since
# 6.17 the block layer maps nvme's requests through the IOVA API
# (dma_iova_link()), which the observer must see.
case "$(dv_path nvme)" in
observe*) want="$(dv_path nvme)" ;;
esac
[ "$(dv_path nvme)" = "$want" ] ||
	fail "dmaverify forwards nvme to '$(dv_path nvme)', not to $want"

raw_check $dev 8 direct
fio_check $dev 5
dv_check nvme
case "$want" in
observe*)
	# dma_iova_link()s count as streaming maps: the I/O must show.
	maps=$(sed -n 's/^  streaming maps *allocated \([0-9]*\) .*/\1/p' $DV/stats | head -1)
	[ "${maps:-0}" -ge 1000 ] || fail "only ${maps:-0} streaming maps (or IOVA links) counted for nvme's I/O"
	step "nvme's I/O: $maps streaming maps or IOVA links counted"
	;;
esac
dv_unload nvme : disk_after
raw_check $dev 8 direct
fio_check $dev 2
dv_pass
GUEST

t_vm --qemu "-drive file=$img,if=none,id=d0,format=raw -device nvme,drive=d0,serial=dv1"
t_result
