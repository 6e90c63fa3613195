#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sys-ahci.sh KERNEL: a SATA disk on a QEMU AHCI controller, driven by
# ahci under dmaverify (q35's own ICH9 AHCI at 00:1f.2 is verified too).
# Raw write/read back, fio with crc32c verification, ext4 with files read
# back after dropping the caches; then rmmod dmaverify and the disk must
# still work.
. "$(dirname "$0")/lib.sh"

img=$(t_disk sata)
cat > "$T_TMP/guest.sh" <<'GUEST'
. ./guest-lib.sh
step "kernel $(uname -r)"
dv_load ahci
mods ahci sd_mod
disk=$(find_disk 524288) || fail "no 256 MB disk appeared"
case $disk in sd*) ;; *) fail "the 256 MB disk is $disk, not a SCSI disk" ;; esac
dev=/dev/$disk
step "disk $dev at $(readlink -f /sys/block/$disk | cut -d/ -f4-6), path $(dv_path ahci)"
for pci in $(ls /sys/bus/pci/drivers/ahci | grep :); do
	[ -d $DV/devices/$pci ] || fail "no $DV/devices/$pci"
done

raw_check $dev 16
raw_check $dev 8 direct
fio_check $dev 6
fs_check $dev /mnt
dv_check ahci
dv_unload ahci blk_before blk_after
echo 3 > /proc/sys/vm/drop_caches
fs_verify /mnt "ext4 after rmmod"
make_data /tmp/fs/after 4
cp /tmp/fs/after /mnt/after && sync && echo 3 > /proc/sys/vm/drop_caches
same /tmp/fs/after /mnt/after "new file after rmmod"
umount /mnt || fail "umount failed"
raw_check $dev 8
dv_pass
GUEST

t_vm --qemu "-drive file=$img,if=none,id=a0,format=raw -device ahci,id=ahci -device ide-hd,drive=a0,bus=ahci.0"
t_result
