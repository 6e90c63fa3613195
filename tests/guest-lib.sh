# SPDX-License-Identifier: GPL-2.0
# Guest side of the VM system tests: sourced by the guest script (busybox sh)
# that tests/lib.sh's t_vm runs in /root.  A test ends with dv_pass or fail,
# which print the "DVT-RESULT ..." line tests/lib.sh parses.

DV=/sys/kernel/debug/dmaverify
T0=$(date +%s)

step()
{
	echo "DVT: [$(($(date +%s) - T0))s] $*"
}

fail()
{
	echo "DVT: failure: $*"
	[ -r $DV/stats ] && cat $DV/stats
	dmesg | grep 'dmaverify' | tail -20
	echo "DVT-RESULT FAIL $*"
	exit 1
}

# The guest's busybox is built to prefer its own applets over $PATH, so the
# host programs vmrun copies in are called by their paths.
modprobe() { /usr/sbin/modprobe "$@"; }
rmmod() { /usr/sbin/rmmod "$@"; }
mke2fs() { /usr/sbin/mke2fs "$@"; }
ip() { /usr/sbin/ip "$@"; }
sha256sum() { /usr/bin/sha256sum "$@"; }

# kmod's modprobe for the kernel's own requests too (fs-ext4, crc32c, ...):
# busybox's cannot read the distribution kernels' compressed modules.
[ -x /usr/sbin/modprobe ] && echo /usr/sbin/modprobe > /proc/sys/kernel/modprobe

# Load modules; a built-in one is fine (kmod's modprobe returns 0).
mods()
{
	local m
	for m in "$@"; do
		modprobe "$m" || fail "modprobe $m failed"
	done
}

# dv_load DRIVER[,DRIVER...] [PARAM=VALUE...]: load dmaverify selecting
# those drivers.
dv_load()
{
	local drv=$1
	shift
	# Parameters for every load of this run (tests/lib.sh, DV_PARAMS);
	# those given here come last and win.
	# shellcheck disable=SC2046
	modprobe dmaverify driver="$drv" $(cat /root/dv-params 2>/dev/null) "$@" ||
		fail "modprobe dmaverify driver=$drv $* failed"
	[ -r $DV/stats ] || fail "no $DV/stats"
	grep -q "^drivers: .*${drv%%,*}" $DV/stats || fail "dmaverify does not list driver $drv: $(grep '^drivers:' $DV/stats)"
	step "dmaverify loaded: $(grep '^drivers:' $DV/stats)"
}

# dv_path DRIVER: the forwarding path(s) of DRIVER's attach lines, one a
# line; "observe" for a device observed through kprobes (mode=observe).
dv_path()
{
	dmesg | sed -n -e "s/.*dmaverify: verifying DMA of driver $1 (mode: [^,]*, forwarding to \([^)]*\)).*/\1/p" \
		-e "s/.*dmaverify: verifying DMA of driver $1 (mode: observe, \([a-z]*\) on.*/observe (\1)/p" | sort -u
}

# dv_attached DRIVER: number of attach lines of DRIVER.
dv_attached()
{
	dmesg | grep -c "dmaverify: verifying DMA of driver $1 (" || true
}

# Sum of "allocated" over every kind and device in the stats.
dv_ops()
{
	awk '{ for (i = 1; i < NF; i++) if ($i == "allocated") s += $(i + 1) } END { print s + 0 }' $DV/stats
}

dv_violations()
{
	sed -n 's/^violations: \([0-9]*\)$/\1/p' $DV/stats
}

# dv_check DRIVER: attached, DMA counted, no violation; sets OPS and PATHS.
dv_check()
{
	local n v
	n=$(dv_attached "$1")
	[ "$n" -gt 0 ] || fail "no dmaverify attach line for driver $1"
	PATHS=$(dv_path "$1" | tr '\n' ',' | sed 's/,$//')
	[ -n "$PATHS" ] || fail "cannot read the forwarding path of driver $1"
	grep -q "driver $1 state attached" $DV/stats || fail "no attached device of driver $1 in stats"
	OPS=$(dv_ops)
	v=$(dv_violations)
	step "dmaverify stats:"
	cat $DV/stats
	[ "$v" = 0 ] || fail "dmaverify counted $v violations"
	[ -z "$(cat $DV/violations 2>/dev/null)" ] || fail "dmaverify's violation log is not empty: $(head -3 $DV/violations)"
	[ "$OPS" -gt 0 ] || fail "dmaverify counted no DMA operation"
	# An observer on fprobes sees calls nested in interrupts: it must have
	# missed none (on kprobes, misses make a device degraded, not wrong).
	if grep -q '^observer kind: fprobes$' $DV/stats; then
		grep -q '^  degraded:' $DV/stats && fail "the observer (fprobes) is degraded: it missed DMA calls"
		grep '^  observer: ' $DV/stats | grep -qv '^  observer: missed 0 calls since load' &&
			fail "the observer (fprobes) missed DMA calls: $(grep '^  observer: ' $DV/stats | head -1)"
		step "observer (fprobes): 0 calls missed"
	fi
	kernel_errors
	step "driver $1: $n attach(es), path $PATHS, $OPS DMA operations, 0 violations"
}

# iommu_check DRIVER: with DV_IOMMU (tests/lib.sh), every device of DRIVER
# is translated by that IOMMU (a DMA domain, strict invalidation) and
# dmaverify listens to its faults.  Nothing without DV_IOMMU.
iommu_check()
{
	local want ops pci group gtype n=0
	want=$(cat /root/dv-iommu 2>/dev/null)
	[ -n "$want" ] || return 0
	case $want in
	intel) ops=intel_iommu_ops ;;
	amd) ops=amd_iommu_ops ;;
	*) fail "unknown IOMMU '$want'" ;;
	esac
	dmesg | grep -q 'iommu: DMA domain TLB invalidation policy: strict' ||
		fail "the IOMMU does not invalidate strictly: $(dmesg | grep 'TLB invalidation policy' | head -1)"
	for pci in $(ls /sys/bus/pci/drivers/$1 | grep :); do
		group=$(readlink /sys/bus/pci/devices/$pci/iommu_group) || fail "$pci has no IOMMU group"
		gtype=$(cat /sys/kernel/iommu_groups/${group##*/}/type 2>/dev/null)
		case $gtype in DMA*) ;; *) fail "the IOMMU group of $pci has type '$gtype', not DMA translation" ;; esac
		dmesg | grep -q "$pci: dmaverify: device faults verified (IOMMU $ops," ||
			fail "dmaverify does not verify $pci's device faults on $ops: $(dmesg | grep "$pci: dmaverify: device faults" | tail -1)"
		n=$((n + 1))
	done
	[ $n -gt 0 ] || fail "no device bound to $1"
	step "$n device(s) of $1 behind $want-iommu (group type DMA, strict invalidation), device faults verified"
	NOTE="${NOTE:+$NOTE; }$want-iommu, strict"
}

# dv_rebind DRIVER [BEFORE AFTER]: unbind every device of DRIVER (BEFORE
# runs first, to stop using them), check that dmaverify released those it
# verified with no report (the leak check runs at release), and bind them
# again (then AFTER): they are verified from then on.
# With VIA_RMMOD=1, dmaverify is unloaded while they are unbound.
dv_rebind()
{
	local drv=$1 before=${2:-:} after=${3:-:} devs d verified=
	devs=$(ls /sys/bus/pci/drivers/$drv | grep :)
	[ -n "$devs" ] || fail "no device bound to $drv"
	for d in $devs; do
		grep -q "^device $d driver $drv state attached" $DV/stats && verified="$verified $d"
	done
	$before
	for d in $devs; do
		echo $d > /sys/bus/pci/drivers/$drv/unbind || fail "unbinding $d from $drv failed"
	done
	for d in $verified; do
		grep -q "^device $d driver $drv state released" $DV/stats ||
			fail "$d not released after unbind: $(grep "^device $d" $DV/stats)"
	done
	[ "$(dv_violations)" = 0 ] || fail "dmaverify reported violations when $drv released its devices"
	kernel_errors
	step "unbound $drv from $(echo $devs)${verified:+: released, leak check silent}"
	if [ "${VIA_RMMOD:-0}" = 1 ]; then
		rmmod dmaverify 2> /tmp/rmmod.err ||
			fail "rmmod dmaverify failed with $drv unbound: $(cat /tmp/rmmod.err) (refcnt $(cat /sys/module/dmaverify/refcnt))"
	fi
	for d in $devs; do
		echo $d > /sys/bus/pci/drivers/$drv/bind || fail "binding $d to $drv failed"
	done
	$after
}

# dv_unload DRIVER [BEFORE AFTER]: rmmod dmaverify; the devices keep their
# drivers.  A verified device may hold buffers that dmaverify owns
# (redzoned coherent buffers), and then the module is in use: if so, the
# devices of DRIVER are unbound first and bound again after the unload
# (see dv_rebind).  Sets UNLOAD to "live" or "after unbind".
dv_unload()
{
	if rmmod dmaverify 2> /tmp/rmmod.err; then
		UNLOAD=live
	else
		grep -q 'in use' /tmp/rmmod.err || fail "rmmod dmaverify failed: $(cat /tmp/rmmod.err)"
		[ -n "${1:-}" ] || fail "rmmod dmaverify failed: module in use (refcnt $(cat /sys/module/dmaverify/refcnt))"
		step "rmmod dmaverify: in use (refcnt $(cat /sys/module/dmaverify/refcnt)) while $1 is bound; unbinding $1 first"
		VIA_RMMOD=1
		dv_rebind "$@"
		VIA_RMMOD=0
		UNLOAD="after unbind"
	fi
	[ -d $DV ] && fail "$DV still exists after rmmod"
	grep -q '^dmaverify ' /proc/modules && fail "dmaverify still loaded after rmmod"
	step "dmaverify unloaded ($UNLOAD)"
}

# The block device tests' BEFORE and AFTER: the ext4 on /mnt.
blk_before()
{
	umount /mnt || fail "umount /mnt failed"
}

disk_after()
{
	disk=$(find_disk 524288) || fail "the disk did not come back after bind"
	dev=/dev/$disk
	step "disk back as $dev"
}

blk_after()
{
	disk_after
	mount -t ext4 $dev /mnt || fail "mounting $dev after bind failed"
}

# Kernel messages of failed or misdirected DMA that vmrun does not look for:
# IOMMU faults, I/O errors and timeouts, NIC hangs, file system errors.
KERNEL_ERRORS='DMAR: \[DMA|DMAR: DRHD: handling fault|AMD-Vi: Event|fault addr|I/O error|critical medium error|I/O tag .* timeout|timeout, abort|timeout, reset|resetting controller|ata[0-9.]*: exception|failed command|timing out command|reset (high|super|full)[- ]speed USB device|EXT4-fs error|EXT4-fs warning|Detected Hardware Unit Hang|NETDEV WATCHDOG|transmit queue [0-9]* timed out|swiotlb buffer is full|dmaverify: cannot attach|dmaverify: reprobe failed'

# Except one: QEMU's NVMe model now and then loses a completion interrupt
# (seen with and without dmaverify; known upstream as "completion timeouts
# in QEMU hw/nvme").  The entry is in the completion queue, the driver finds
# it when the request times out ("timeout, completion polled"): data and DMA
# are fine, the run only waited io_timeout.  Counted, not failed.
kernel_errors()
{
	local e p
	e=$(dmesg | grep -E "$KERNEL_ERRORS" | grep -v 'timeout, completion polled' | head -5)
	[ -z "$e" ] || fail "kernel error messages: $(echo "$e" | head -1 | sed 's/^\[ *[0-9.]*\] //')"
	p=$(dmesg | grep -c 'timeout, completion polled')
	[ "$p" = 0 ] || NOTE="${NOTE:+$NOTE; }$p lost NVMe interrupt(s) (emulator), completions polled"
}

dv_pass()
{
	kernel_errors
	echo "DVT-RESULT PASS ops=$OPS path=$PATHS violations=0 | rmmod ${UNLOAD:-?}${NOTE:+; $NOTE}"
	exit 0
}

sha()
{
	sha256sum "$1" | cut -d' ' -f1
}

# same FILE1 FILE2 WHAT: fail unless both files have the same SHA-256.
same()
{
	local a b
	a=$(sha "$1")
	b=$(sha "$2")
	[ -n "$a" ] && [ "$a" = "$b" ] || fail "$3: checksum mismatch ($1 $a, $2 $b)"
	step "$3: sha256 ok ($a)"
}

# wait_for TEST-EXPRESSION SECONDS: poll until `test EXPR` holds.
wait_for()
{
	local i=0
	while ! eval "$1"; do
		i=$((i + 1))
		[ $i -le $(($2 * 5)) ] || return 1
		sleep 0.2
	done
}

# find_disk SECTORS: the name of the block device with this size
# (512-byte sectors), waiting up to 20 s for it to appear.
find_disk()
{
	local i=0 d
	while [ $i -lt 100 ]; do
		for d in /sys/block/*; do
			[ "$(cat "$d/size" 2>/dev/null)" = "$1" ] || continue
			[ -b "/dev/${d##*/}" ] || continue
			echo "${d##*/}"
			return 0
		done
		i=$((i + 1))
		sleep 0.2
	done
	return 1
}

# Random test data: make_data FILE MB
make_data()
{
	dd if=/dev/urandom of="$1" bs=1M count="$2" 2>/dev/null || fail "cannot create $1"
}

# raw_check DEV MB [direct]: write random data to DEV, read it back, compare.
raw_check()
{
	local dev=$1 mb=$2 iflag= oflag=
	if [ "${3:-}" = direct ]; then
		iflag=iflag=direct
		oflag=oflag=direct
	fi
	make_data /tmp/raw.data "$mb"
	dd if=/tmp/raw.data of="$dev" bs=1M $oflag conv=fsync 2>/dev/null || fail "dd to $dev failed"
	echo 3 > /proc/sys/vm/drop_caches
	dd if="$dev" of=/tmp/raw.back bs=1M count="$mb" $iflag 2>/dev/null || fail "dd from $dev failed"
	same /tmp/raw.data /tmp/raw.back "raw $mb MB ${3:-buffered} write/read of $dev"
	rm -f /tmp/raw.back
}

# fs_check DEV MNT: mkfs.ext4, write files, sync, drop caches, read back.
fs_check()
{
	local dev=$1 mnt=$2 i
	mke2fs -t ext4 -F -q "$dev" || fail "mke2fs on $dev failed"
	mkdir -p "$mnt"
	mount -t ext4 "$dev" "$mnt" || fail "mount $dev failed"
	mkdir -p /tmp/fs
	for i in 1 2 3 4; do
		make_data /tmp/fs/f$i $((i * 2))
		cp /tmp/fs/f$i "$mnt/f$i" || fail "writing $mnt/f$i failed"
	done
	# Many small files: more, smaller DMA operations.
	mkdir -p "$mnt/small" /tmp/fs/small
	for i in $(seq 1 64); do
		dd if=/dev/urandom of=/tmp/fs/small/s$i bs=1k count=$((i % 13 + 1)) 2>/dev/null
	done
	cp /tmp/fs/small/* "$mnt/small/" || fail "writing small files failed"
	sync
	echo 3 > /proc/sys/vm/drop_caches
	fs_verify "$mnt" "ext4 on $dev"
}

# fs_verify MNT WHAT: compare every file written by fs_check.
fs_verify()
{
	local mnt=$1 i
	(cd /tmp/fs && find . -type f | sort | xargs /usr/bin/sha256sum) > /tmp/fs.sum
	(cd "$mnt" && sha256sum -c /tmp/fs.sum > /tmp/fs.check 2>&1) ||
		fail "$2: files differ: $(grep -v ': OK$' /tmp/fs.check | head -3)"
	step "$2: $(wc -l < /tmp/fs.sum) files read back, sha256 ok"
}

# fio_check DEV SECONDS: random read/write, O_DIRECT, every block verified,
# FIO_DEPTH (8) requests in flight.
fio_check()
{
	local dev=$1 secs=$2 engine=libaio depth=${FIO_DEPTH:-8}
	fio --version > /dev/null 2>&1 || fail "fio does not run in the guest"
	fio --enghelp 2>/dev/null | grep -qw libaio || engine=psync
	fio --name=dmaverify --filename="$dev" --direct=1 --ioengine=$engine \
		--iodepth=$depth --rw=randrw --bsrange=512-128k --size=32M \
		--verify=crc32c --verify_fatal=1 --verify_backlog=64 \
		--time_based --runtime="$secs" --eta=never --output=/tmp/fio.out ||
		{ cat /tmp/fio.out; fail "fio $engine on $dev failed (data verification?)"; }
	grep -q 'err= 0' /tmp/fio.out || { cat /tmp/fio.out; fail "fio on $dev reported errors"; }
	step "fio $engine randrw iodepth=$depth verify=crc32c ${secs}s on $dev: ok ($(grep -E '^ *(READ|WRITE):' /tmp/fio.out | sed 's/,.*io=/ io=/;s/ (.*//;s/^ *//' | tr '\n' ' '))"
}
