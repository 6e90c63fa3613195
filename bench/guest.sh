# SPDX-License-Identifier: GPL-2.0
# The guest half of scripts/bench (busybox sh, run by scripts/vmrun in /root).
#
#   sh guest.sh dv    dma_debug=off boot: fio on NVMe and TCP through two
#                     e1000e NICs without and with dmaverify, then the
#                     microbenchmarks on the hooked and
#                     the plain device, dmaverify variants, scaling, memory
#   sh guest.sh dbg   dma-debug boot (dmaverify NOT loaded): the same
#                     microbenchmarks and scaling on the plain device, fio
#   sh guest.sh swiotlb  swiotlb=force boot (dmaverify NOT loaded): the
#                     kernel's own bounce buffering, the streaming ops on
#                     the plain device (what bounce=1 is compared with)
#
# Knobs (environment): REPS, MS (timed loops per measurement, ms per loop),
# FIO_SECS, NET_MB (megabytes per transfer through the NICs), LEVELS (outstanding mappings for the scaling runs), ONLY=bounce
# (the dv boot measures only what the bounce rows need: the plain device,
# the hooked one by default and with bounce=1, and the per-byte references).
# Every result is one line starting with "DVB " (kernel log or stdout), which
# scripts/bench parses from the console.

MODE=${1:?usage: sh guest.sh dv|dbg}
REPS=${REPS:-9}
MS=${MS:-40}
FIO_SECS=${FIO_SECS:-10}
NET_MB=${NET_MB:-32}
LEVELS=${LEVELS:-"1000 10000 100000 1000000"}
OPS="map_to map_from sg16 coherent sync"
C=/sys/kernel/debug/dvbench/cmd
P=/sys/module/dmaverify/parameters
DV=/sys/kernel/debug/dmaverify
T0=$(date +%s)

say() { echo "DVB $*"; }
step() { echo "DVB-STEP [$(($(date +%s) - T0))s] $*"; }
die() { say "fatal $*"; exit 1; }
modprobe() { /usr/sbin/modprobe "$@"; }
# iproute2's, for network namespaces (busybox's applet has none).
ip() { /usr/sbin/ip "$@"; }
[ -x /usr/sbin/modprobe ] && echo /usr/sbin/modprobe > /proc/sys/kernel/modprobe

# cmd LINE: one benchmark command; a failure is reported, not fatal.
cmd() { echo "$*" > $C || say "error cmd=$(echo "$*" | tr ' ' '_')"; }
run() { cmd run reps=$REPS ms=$MS "$@"; }
param() { echo "$2" > $P/$1 || die "cannot set dmaverify $1=$2"; }

# --- NVMe and fio -------------------------------------------------------------

nvme_disk()
{
	local i
	for i in $(seq 1 100); do
		for b in /sys/block/nvme*n1; do
			[ -e "$b" ] && { basename "$b"; return 0; }
		done
		sleep 0.1
	done
	return 1
}

nvme_rebind()
{
	local d
	for d in $(ls /sys/bus/pci/drivers/nvme | grep :); do
		echo $d > /sys/bus/pci/drivers/nvme/unbind || die "unbind $d"
		echo $d > /sys/bus/pci/drivers/nvme/bind || die "bind $d"
	done
	disk=$(nvme_disk) || die "no NVMe disk after rebind"
}

# nvme_state: "hooked" if dmaverify verifies the NVMe controller now.
nvme_state()
{
	if [ -r $DV/stats ] && grep -q "driver nvme state attached" $DV/stats; then
		echo hooked
	else
		echo unhooked
	fi
}

fio_run()
{
	local tag=$1 state=${2:-$(nvme_state)} out
	case $tag/$state in
	dmaverify/hooked | sampled/hooked | unhooked/unhooked | dmadebug/dma-debug) ;;
	*) say "error fio tag=$tag but the NVMe controller is $state" ;;
	esac
	t0=$(dmesg | grep -c 'nvme.*timeout')
	# Pinned to CPU 0: steadier; and with single-threaded TCG, completions
	# were lost when fio migrated between CPUs (I/O timeouts).
	out=$(/usr/bin/fio --name=rr --filename=/dev/$disk --direct=1 \
		--ioengine=libaio --iodepth=16 --rw=randread --bs=4k \
		--cpus_allowed=0 --time_based --runtime=$FIO_SECS --norandommap \
		--randrepeat=0 --minimal 2>&1) || { say "fio-failed tag=$tag $(echo "$out" | tail -1)"; return 0; }
	t1=$(dmesg | grep -c 'nvme.*timeout')
	[ "$t1" = "$t0" ] || say "error fio tag=$tag: $((t1 - t0)) NVMe I/O timeouts during the run"
	echo "$out" | awk -F';' -v tag=$tag -v st=$state -v to=$((t1 - t0)) \
		'NF > 20 { printf "DVB fio tag=%s state=%s err=%s iops=%s kbps=%s clat_us=%s runtime_ms=%s timeouts=%s\n", tag, st, $5, $8, $7, $16, $9, to }'
}

# --- two e1000e NICs on one QEMU hub --------------------------------------------

# net_setup: the NICs' interfaces (PCI order), the second in the namespace
# "peer", addressed, links up, the peer answering.
net_setup()
{
	local pci nics= i
	for i in $(seq 1 200); do
		[ "$(ls /sys/bus/pci/drivers/e1000e 2>/dev/null | grep -c :)" -ge 2 ] && break
		sleep 0.1
	done
	for pci in $(ls /sys/bus/pci/drivers/e1000e 2>/dev/null | grep : | sort); do
		for i in $(seq 1 200); do
			[ -d /sys/bus/pci/devices/$pci/net ] && break
			sleep 0.1
		done
		nics="$nics $(ls /sys/bus/pci/devices/$pci/net 2>/dev/null | head -1)"
	done
	set -- $nics
	[ -n "${2:-}" ] || { say "error net: interfaces '$nics', need two"; return 1; }
	mkdir -p /run/netns
	ip netns add peer || return 1
	ip link set "$2" netns peer || return 1
	ip addr add 10.99.0.1/24 dev "$1"
	ip link set "$1" up
	ip -n peer addr add 10.99.0.2/24 dev "$2"
	ip -n peer link set lo up
	ip -n peer link set "$2" up
	for i in $(seq 1 100); do
		ping -c 1 -W 1 10.99.0.2 > /dev/null 2>&1 && return 0
		sleep 0.2
	done
	say "error net: 10.99.0.2 does not answer"
	return 1
}

# The namespace goes, and the interface in it comes back to the first one.
net_teardown()
{
	ip netns del peer 2>/dev/null
	sleep 1
}

e1000e_rebind()
{
	local d
	net_teardown
	for d in $(ls /sys/bus/pci/drivers/e1000e | grep :); do
		echo $d > /sys/bus/pci/drivers/e1000e/unbind || die "unbind $d"
		echo $d > /sys/bus/pci/drivers/e1000e/bind || die "bind $d"
	done
	net_setup
}

# net_state: "hooked" if dmaverify verifies both NICs now.
net_state()
{
	if [ -r $DV/stats ] && [ "$(grep -c 'driver e1000e state attached' $DV/stats)" -ge 2 ]; then
		echo hooked
	else
		echo unhooked
	fi
}

# Seconds since boot, to the hundredth (busybox date has no %N everywhere).
now() { cut -d' ' -f1 /proc/uptime; }

# net_run TAG: NET_MB megabytes to the peer and NET_MB back, each timed.
net_run()
{
	local tag=$1 state dir t0 t1 n rx
	state=$(net_state)
	case $tag/$state in
	dmaverify/hooked | sampled/hooked | unhooked/unhooked | dmadebug/unhooked) ;;
	*) say "error net tag=$tag but the NICs are $state" ;;
	esac
	[ -f /tmp/net.data ] || dd if=/dev/urandom of=/tmp/net.data bs=1M count=$NET_MB 2>/dev/null
	[ -p /tmp/hold ] || { mkfifo /tmp/hold; exec 3<> /tmp/hold; }
	for dir in to from; do
		rm -f /tmp/net.rx
		# The receiver's stdin is a FIFO nobody writes to: busybox nc
		# closes the connection when its own stdin ends.
		if [ $dir = to ]; then
			ip netns exec peer sh -c 'nc -l -p 5001 < /tmp/hold | wc -c > /tmp/net.rx' &
		else
			sh -c 'nc -l -p 5001 < /tmp/hold | wc -c > /tmp/net.rx' &
		fi
		rx=$!
		sleep 1
		t0=$(now)
		if [ $dir = to ]; then
			nc 10.99.0.2 5001 < /tmp/net.data > /dev/null
		else
			ip netns exec peer nc 10.99.0.1 5001 < /tmp/net.data > /dev/null
		fi
		wait $rx
		t1=$(now)
		n=$(cat /tmp/net.rx 2>/dev/null)
		if [ "$n" != $((NET_MB * 1048576)) ]; then
			say "error net tag=$tag $dir: received ${n:-nothing} of $((NET_MB * 1048576)) bytes"
			continue
		fi
		awk -v tag=$tag -v st=$state -v dir=$dir -v mb=$NET_MB -v t0=$t0 -v t1=$t1 \
			'BEGIN { s = t1 - t0; if (s < 0.01) s = 0.01
			printf "DVB net tag=%s state=%s dir=%s mb=%d secs=%.2f mbps=%.2f\n", tag, st, dir, mb, s, mb / s }'
	done
}

# net_phase: the transfers unhooked, under dmaverify (twice each,
# alternated) and in sampled mode; the NICs unhooked again after.
net_phase()
{
	modprobe e1000e || { say "note net: no e1000e module"; return 0; }
	net_setup || { say "error net: the NICs did not come up"; return 0; }
	step "network, e1000e unhooked"
	net_run unhooked
	param driver dvbench_hooked,e1000e
	e1000e_rebind
	step "network, e1000e under dmaverify: $(net_state)"
	net_run dmaverify
	param driver dvbench_hooked
	e1000e_rebind
	net_run unhooked
	param driver dvbench_hooked,e1000e
	e1000e_rebind
	net_run dmaverify
	if [ -e $P/sample_interval ]; then
		param sample_interval 100
		e1000e_rebind
		net_run sampled
		param sample_interval 0
	fi
	param driver dvbench_hooked
	e1000e_rebind
	net_teardown
}

# --- memory -------------------------------------------------------------------

# mem LABEL: the dmaverify_obj slab (needs slab_nomerge: otherwise the cache
# is an alias of another and not in /proc/slabinfo), the stack depot and the
# tracker's index buckets.
mem()
{
	local s d i
	s=$(awk '$1 == "dmaverify_obj" { print "objs=" $3 " objsize=" $4 " pagesperslab=" $6 " slabs=" $15 }' /proc/slabinfo)
	d=$(awk '/^pools:/ { p = $2 } /^persistent_bytes:/ { b = $2 } /^persistent_count:/ { c = $2 }
		END { print "depot_pools=" p " depot_bytes=" b " depot_stacks=" c }' \
		/sys/kernel/debug/stackdepot/stats 2>/dev/null)
	# The tracker's index buckets (they grow with the load), every device.
	i=$(awk '/^  index buckets/ { s += $3; n++ } END { if (n) print "index_buckets=" s }' \
		$DV/stats 2>/dev/null)
	say "mem label=$1 ${s:-objs=? slabs=?} ${d:-depot_bytes=?} ${i:-index_buckets=?}"
}

# --- the parts ------------------------------------------------------------------

# matrix TAG DEV [DEV...]: every op, 1 and 2 CPUs.  In the dv boot the
# hooked device also runs with stack_depth=1, interleaved.
matrix()
{
	local tag=$1 op cpus
	shift
	for op in $OPS; do
		for cpus in 1 2; do
			for dev in "$@"; do
				case $dev in
				plain) run op=$op dev=plain cpus=$cpus tag=$tag ;;
				hooked)
					run op=$op dev=hooked cpus=$cpus tag=sd16
					param stack_depth 1
					run op=$op dev=hooked cpus=$cpus tag=sd1
					param stack_depth 16 ;;
				esac
			done
		done
	done
}

# Where dmaverify's time goes: one CPU, one knob at a time.
variants()
{
	local op
	for op in $OPS; do
		[ $op = coherent ] || run op=$op dev=ops tag=opsfloor
		param enabled N
		run op=$op dev=hooked tag=disabled
		param enabled Y
		param stack_depth 1
		param checks none
		run op=$op dev=hooked tag=sd1-nochecks
		param checks all
		param stack_depth 16
		param stack_depth 0
		run op=$op dev=hooked tag=sd0
		param stack_depth 16
		if [ -e $P/object_stacks ]; then
			param object_stacks Y
			run op=$op dev=hooked tag=objstacks
			param object_stacks N
		fi
		if [ -e $P/free_stacks ]; then
			param free_stacks Y
			run op=$op dev=hooked tag=freestacks
			param free_stacks N
		fi
		if [ $op = coherent ]; then
			param redzone 0
			run op=$op dev=hooked tag=sd16-noredzone
			param redzone 1
		else
			bounce_variants $op
		fi
	done
	for op in unwind1 unwind16 depot16 slab80 irqsave $BYTE_REFS; do
		run op=$op dev=plain tag=ref
	done
}

# What the bounce rows need: bounce=1, and bounce=1 without the CPU-write
# check (checks=all,-csum), whose cost is the difference.
BYTE_REFS="memcpy4k memset4k memchr4k crc4k fp4k copyfp4k"
bounce_variants()
{
	param bounce 1
	run op=$1 dev=hooked tag=bounce
	param checks all,-csum
	run op=$1 dev=hooked tag=bounce-nocsum
	param checks all
	param bounce 0
}

# ONLY=bounce: the unhooked and default rows, the bounce variants, the
# references; then the pool's state.
bounce_only()
{
	local op
	for op in map_to map_from sg16 sync; do
		run op=$op dev=plain tag=base
		run op=$op dev=hooked tag=sd16
		bounce_variants $op
	done
	for op in $BYTE_REFS; do
		run op=$op dev=plain tag=ref
	done
}

# Sampled mode (sample_interval=100, the production value): the hooked
# device is attached again to take it; then every op, and map_to on 2 CPUs.
sampled()
{
	local op
	[ -e $P/sample_interval ] || return 0
	param sample_interval 100
	echo "rebind dvbench_hooked" > $DV/control || say "error rebind for sampled mode"
	grep -q "^device dvbench_hooked driver dvbench_hooked state attached mode sampled" $DV/stats ||
		say "error the hooked device is not in sampled mode"
	for op in $OPS; do
		run op=$op dev=hooked tag=sampled
	done
	run op=map_to dev=hooked cpus=2 tag=sampled
	say "sampled pool_kib=$(sed -n 's/^sample pool: .* memory \([0-9]*\) KiB.*/\1/p' $DV/stats)" \
		"stats=$(sed -n 's/^sampling: //p' $DV/stats | tr ' ' '_')"
	param sample_interval 0
	echo "rebind dvbench_hooked" > $DV/control || say "error rebind after sampled mode"
}

# scaling DEV: the same map+unmap with many mappings outstanding on DEV.
scaling()
{
	local dev=$1 n
	[ $dev = hooked ] && mem before
	for n in $LEVELS; do
		step "scaling $dev: holding $n mappings"
		cmd hold dev=$dev n=$n dir=from size=256
		[ $dev = hooked ] && [ $n = 100000 ] && mem held100k
		run op=map_to dev=$dev tag=scale
		run op=map_from dev=$dev tag=scale
	done
	cmd release dev=$dev
	[ $dev = hooked ] && mem released
	return 0
}

# observed TAG PARAMS: dmaverify again in observe mode (PARAMS), every op on
# the hooked device (tag TAG) and, since the probes see every device's
# calls, on the plain one too (TAG-plain).
observed()
{
	local tag=$1 op
	shift
	rmmod dmaverify_bench && rmmod dmaverify || die "cannot unload for $tag"
	modprobe dmaverify driver=dvbench_hooked mode=observe "$@" || die "modprobe dmaverify $*"
	modprobe dmaverify_bench || die "modprobe dmaverify_bench"
	grep -q "^device dvbench_hooked driver dvbench_hooked state attached mode observe" $DV/stats ||
		die "the hooked device is not observed"
	say "observe tag=$tag $(grep '^observer kind:' $DV/stats)"
	for op in $OPS; do
		run op=$op dev=hooked tag=$tag
		run op=$op dev=plain tag=$tag-plain
	done
	say "observe tag=$tag $(grep '^  observer:' $DV/stats)"
}

# The kernel switches to the TSC clocksource a few seconds after boot, with
# stop_machine(): let that happen before anything is timed.
cs=/sys/devices/system/clocksource/clocksource0/current_clocksource
for i in $(seq 1 150); do
	[ "$(cat $cs)" = tsc ] && break
	sleep 0.1
done
say "clocksource $(cat $cs)"

case $MODE in
dv)
	say "boot mode=dv kernel=$(uname -r) cpus=$(nproc) reps=$REPS ms=$MS fio_secs=$FIO_SECS cmdline=$(tr ' ' ',' < /proc/cmdline)"
	if [ "${ONLY:-}" = bounce ]; then
		modprobe dmaverify driver=dvbench_hooked || die "modprobe dmaverify"
		modprobe dmaverify_bench || die "modprobe dmaverify_bench"
		grep -q "^device dvbench_hooked driver dvbench_hooked state attached" $DV/stats ||
			die "the hooked device is not under dmaverify"
		step "bounce rows"
		bounce_only
		say "dmaverify violations=$(sed -n 's/^violations: //p' $DV/stats)"
		say "bouncepool $(grep -m1 '^  bounce pool' $DV/stats | tr -s ' ' | tr ' ' '_')"
		step "done"
		exit 0
	fi
	modprobe nvme || die "modprobe nvme"
	disk=$(nvme_disk) || die "no NVMe disk"
	step "fio, NVMe unhooked"
	fio_run unhooked
	modprobe dmaverify driver=dvbench_hooked,nvme || die "modprobe dmaverify"
	nvme_rebind
	step "fio, NVMe under dmaverify: $(nvme_state)"
	fio_run dmaverify
	param driver dvbench_hooked
	nvme_rebind
	fio_run unhooked
	param driver dvbench_hooked,nvme
	nvme_rebind
	fio_run dmaverify
	if [ -e $P/sample_interval ]; then
		# Sampled mode (the production value): the controller attached again.
		param sample_interval 100
		nvme_rebind
		fio_run sampled
		param sample_interval 0
	fi
	param driver dvbench_hooked
	nvme_rebind
	net_phase

	modprobe dmaverify_bench || die "modprobe dmaverify_bench"
	grep -q "^device dvbench_hooked driver dvbench_hooked state attached" $DV/stats ||
		die "the hooked device is not under dmaverify"
	grep -q "dvbench_plain" $DV/stats && die "the plain device is under dmaverify"
	step "microbenchmarks"
	matrix base plain hooked
	step "variants"
	variants
	step "sampled mode"
	sampled
	step "scaling"
	scaling hooked
	scaling plain
	v=$(sed -n 's/^violations: //p' $DV/stats)
	say "dmaverify violations=$v"
	step "observe mode"
	observed observe
	observed observe-kp observe_fprobes=0
	v=$(sed -n 's/^violations: //p' $DV/stats)
	say "dmaverify observe violations=$v"
	;;
dbg)
	say "boot mode=dbg kernel=$(uname -r) cpus=$(nproc) reps=$REPS ms=$MS fio_secs=$FIO_SECS cmdline=$(tr ' ' ',' < /proc/cmdline)"
	D=/sys/kernel/debug/dma-api
	[ "$(cat $D/disabled)" = N ] || die "dma-debug is disabled"
	grep -q '^dmaverify ' /proc/modules && die "dmaverify is loaded"
	modprobe dmaverify_bench || die "modprobe dmaverify_bench"
	step "microbenchmarks"
	matrix dmadebug plain
	step "scaling"
	scaling plain
	modprobe nvme || die "modprobe nvme"
	disk=$(nvme_disk) || die "no NVMe disk"
	step "fio, NVMe under dma-debug"
	fio_run dmadebug dma-debug
	fio_run dmadebug dma-debug
	if modprobe e1000e && net_setup; then
		step "network, e1000e under dma-debug"
		net_run dmadebug
		net_teardown
	fi
	say "dmadebug disabled=$(cat $D/disabled) errors=$(cat $D/error_count) min_free=$(cat $D/min_free_entries) total=$(cat $D/nr_total_entries)"
	;;
swiotlb)
	say "boot mode=swiotlb kernel=$(uname -r) cpus=$(nproc) reps=$REPS ms=$MS cmdline=$(tr ' ' ',' < /proc/cmdline)"
	grep -q swiotlb=force /proc/cmdline || die "swiotlb=force is not on the command line"
	grep -q '^dmaverify ' /proc/modules && die "dmaverify is loaded"
	modprobe dmaverify_bench || die "modprobe dmaverify_bench"
	step "microbenchmarks through swiotlb"
	for op in map_to map_from sg16 sync; do
		run op=$op dev=plain tag=swiotlb
	done
	S=/sys/kernel/debug/swiotlb
	# Proof that the maps went through the bounce buffers.
	say "swiotlb used_hiwater=$(cat $S/io_tlb_used_hiwater 2>/dev/null || echo '?') nslabs=$(cat $S/io_tlb_nslabs 2>/dev/null || echo '?')"
	;;
*)
	die "unknown mode $MODE"
	;;
esac
step "done"
