#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sys-nvme.sh KERNEL: QEMU's NVMe controller driven by the nvme driver
# under dmaverify.  Raw O_DIRECT write/read back, fio random read/write with
# crc32c verification, ext4 with files read back after dropping the caches,
# an unbind/rebind cycle (the leak check must stay silent), rmmod dmaverify
# (after unbinding nvme if dmaverify's redzoned buffers hold it), and the
# disk must still work; then again with dmaverify unloaded under fio load.
# kernels: test debian-6.12 debian-6.1 debian-7
# kernels, tier 2: test-debug
. "$(dirname "$0")/lib.sh"

img=$(t_disk nvme)
cat > "$T_TMP/guest.sh" <<'GUEST'
. ./guest-lib.sh
step "kernel $(uname -r)"
dv_load nvme
mods nvme
disk=$(find_disk 524288) || fail "no 256 MB disk appeared"
case $disk in nvme*) ;; *) fail "the 256 MB disk is $disk, not an NVMe namespace" ;; esac
dev=/dev/$disk
pci=$(ls /sys/bus/pci/drivers/nvme | grep ':' | head -1)
[ -n "$pci" ] || fail "no PCI device bound to nvme"
[ -d $DV/devices/$pci ] || fail "no $DV/devices/$pci"
step "disk $dev on $pci: $(dv_path nvme)"

raw_check $dev 16 direct
fio_check $dev 8
# Observe mode: a sustained load, 32 requests in flight, during which
# completion interrupts land in the middle of submissions' probes; dv_check
# then requires that an observer on fprobes missed nothing.
grep -q ' mode observe$' $DV/stats && FIO_DEPTH=32 fio_check $dev 60
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
unload1=$UNLOAD
echo 3 > /proc/sys/vm/drop_caches
fs_verify /mnt "ext4 after rmmod"
make_data /tmp/fs/after 4
cp /tmp/fs/after /mnt/after && sync && echo 3 > /proc/sys/vm/drop_caches
same /tmp/fs/after /mnt/after "new file after rmmod"

# Unload dmaverify while fio (O_DIRECT, verified) runs on a file of the
# mounted file system: requests mapped through dmaverify complete after it
# is gone.  Without redzones, bounce buffers or sampled slots (which
# dmaverify owns), nothing holds it.
params=
/usr/sbin/modinfo -F parm dmaverify | grep -q '^redzone:' && params="redzone=0 bounce=0"
/usr/sbin/modinfo -F parm dmaverify | grep -q '^sample_interval:' && params="$params sample_interval=0"
dv_load nvme $params
dv_rebind nvme blk_before blk_after
[ "$(dv_attached nvme)" -ge 3 ] || fail "the rebound device was not attached again"
fio --name=bg --filename=/mnt/bg --direct=1 --ioengine=libaio --iodepth=8 \
	--rw=randrw --bsrange=4k-64k --size=8M --verify=crc32c --verify_fatal=1 \
	--verify_backlog=16 --time_based --runtime=6 --eta=never \
	--output=/tmp/bg.out > /dev/null 2>&1 &
fiopid=$!
sleep 3
ops2=$(dv_ops)
[ "$ops2" -gt 0 ] || fail "dmaverify counted no DMA operation under fio"
[ "$(dv_violations)" = 0 ] || fail "dmaverify counted violations under fio"
dv_unload
[ "$UNLOAD" = live ] || fail "internal: unload was not live"
OPS=$((OPS + ops2))
wait $fiopid || { cat /tmp/bg.out; fail "fio running across rmmod dmaverify failed"; }
step "fio across rmmod ($ops2 DMA operations before it): ok"
echo 3 > /proc/sys/vm/drop_caches
fs_verify /mnt "ext4 after rmmod"
umount /mnt || fail "umount failed"
raw_check $dev 8 direct
UNLOAD="$unload1; live under fio${params:+ with $params}"
dv_pass
GUEST

t_vm --qemu "-drive file=$img,if=none,id=d0,format=raw -device nvme,drive=d0,serial=dv1"
t_result
