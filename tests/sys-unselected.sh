#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sys-unselected.sh KERNEL: dmaverify selects e1000e only; an NVMe
# disk doing real I/O must be left alone: no attach line for nvme, no nvme
# device in the stats, no directory for it under devices/, and the e1000e
# counters do not move while only the disk works.  The e1000e NIC is there
# to show that the selection itself works.
. "$(dirname "$0")/lib.sh"

img=$(t_disk nvme)
cat > "$T_TMP/guest.sh" <<'GUEST'
. ./guest-lib.sh
step "kernel $(uname -r)"
dv_load e1000e
mods nvme e1000e
disk=$(find_disk 524288) || fail "no 256 MB disk appeared"
case $disk in nvme*) ;; *) fail "the 256 MB disk is $disk, not an NVMe namespace" ;; esac
dev=/dev/$disk
nvme=$(ls /sys/bus/pci/drivers/nvme | grep : | head -1)
nic=$(ls /sys/bus/pci/drivers/e1000e | grep : | head -1)
[ -n "$nvme" ] && [ -n "$nic" ] || fail "nvme ($nvme) or e1000e ($nic) not bound"
wait_for '[ -d /sys/bus/pci/devices/$nic/net ]' 20 || fail "no interface for $nic"
ifc=$(ls /sys/bus/pci/devices/$nic/net | head -1)

# The positive control: e1000e is verified; its rings are mapped at open.
[ "$(dv_attached e1000e)" -ge 1 ] || fail "e1000e was not attached"
[ -d $DV/devices/$nic ] || fail "no $DV/devices/$nic"
ip link set $ifc up || fail "ip link set $ifc up failed"
wait_for 'ip link show $ifc | grep -q LOWER_UP' 20 || fail "no link on $ifc"
sleep 1
ip link set $ifc down
step "e1000e on $nic ($ifc) verified, path $(dv_path e1000e), $(dv_ops) DMA operations"

unselected()
{
	[ "$(dv_attached nvme)" = 0 ] || fail "$1: dmaverify attached nvme: $(dmesg | grep 'driver nvme' | head -1)"
	! grep -q "driver nvme" $DV/stats || fail "$1: nvme is in the stats: $(grep 'driver nvme' $DV/stats)"
	! grep -q "^device $nvme " $DV/stats || fail "$1: $nvme is in the stats"
	[ ! -e $DV/devices/$nvme ] || fail "$1: $DV/devices/$nvme exists"
	[ "$(ls $DV/devices)" = "$nic" ] || fail "$1: $DV/devices lists $(ls $DV/devices | tr '\n' ' '), not only $nic"
	step "$1: nvme $nvme is not verified"
}

unselected "after probe"
before=$(dv_ops)
raw_check $dev 16 direct
fio_check $dev 4
fs_check $dev /mnt
umount /mnt
unselected "after I/O"
dv_check e1000e
[ "$OPS" = "$before" ] || fail "dmaverify counted $((OPS - before)) DMA operations while only nvme worked"
step "no DMA operation counted during the nvme I/O"
dv_unload e1000e
raw_check $dev 8 direct
NOTE="nvme not attached, its I/O not counted"
dv_pass
GUEST

t_vm --qemu "-drive file=$img,if=none,id=d0,format=raw -device nvme,drive=d0,serial=dv1" \
	--qemu "-netdev hubport,id=h0,hubid=0 -device e1000e,netdev=h0"
t_result
