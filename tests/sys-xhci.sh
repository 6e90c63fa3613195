#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sys-xhci.sh KERNEL: a USB mass-storage disk on QEMU's xHCI
# controller.  usb-storage does its DMA through the host controller, so the
# verified driver is xhci_hcd (the xhci-pci driver's name).  Raw write/read
# back, fio with crc32c verification, ext4 with files read back after
# dropping the caches; then rmmod dmaverify and the disk must still work.
. "$(dirname "$0")/lib.sh"

img=$(t_disk usb)
cat > "$T_TMP/guest.sh" <<'GUEST'
. ./guest-lib.sh
step "kernel $(uname -r)"
dv_load xhci_hcd
mods xhci_pci sd_mod usb_storage
disk=$(find_disk 524288) || fail "no 256 MB disk appeared within 20 s"
case $disk in sd*) ;; *) fail "the 256 MB disk is $disk, not a SCSI disk" ;; esac
dev=/dev/$disk
readlink -f /sys/block/$disk | grep -q /usb || fail "$dev is not a USB disk: $(readlink -f /sys/block/$disk)"
pci=$(ls /sys/bus/pci/drivers/xhci_hcd | grep : | head -1)
[ -n "$pci" ] || fail "no PCI device bound to xhci_hcd"
[ -d $DV/devices/$pci ] || fail "no $DV/devices/$pci"
step "disk $dev behind $pci, path $(dv_path xhci_hcd)"

raw_check $dev 16
raw_check $dev 8 direct
fio_check $dev 5
fs_check $dev /mnt
dv_check xhci_hcd
dv_unload xhci_hcd blk_before blk_after
echo 3 > /proc/sys/vm/drop_caches
fs_verify /mnt "ext4 after rmmod"
make_data /tmp/fs/after 4
cp /tmp/fs/after /mnt/after && sync && echo 3 > /proc/sys/vm/drop_caches
same /tmp/fs/after /mnt/after "new file after rmmod"
umount /mnt || fail "umount failed"
raw_check $dev 8
dv_pass
GUEST

t_vm --qemu "-device qemu-xhci,id=xhci -drive file=$img,if=none,id=u0,format=raw -device usb-storage,bus=xhci.0,drive=u0"
t_result
