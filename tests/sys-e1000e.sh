#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sys-e1000e.sh KERNEL: two QEMU e1000e NICs on one QEMU hub (no host
# network at all), both driven by e1000e under dmaverify.  The second NIC
# goes into a network namespace, so traffic between 10.99.0.1 and 10.99.0.2
# really crosses both NICs' DMA rings.  Pings (small and fragmented), then a
# few MB each way with busybox nc, checked by sha256; then rmmod dmaverify
# and the same again.  DV_IOMMU=intel or amd: the NICs behind that IOMMU
# (tests/lib.sh).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cat > "$T_TMP/guest.sh" <<'GUEST'
. ./guest-lib.sh
step "kernel $(uname -r)"
busybox --list | grep -qx nc || fail "busybox has no nc"
dv_load e1000e
mods e1000e
mkdir -p /run/netns

# Find the two NICs' interfaces (in PCI order), put the second into the
# namespace "peer", address both and wait for the links.
net_setup()
{
	local pci nics=
	wait_for '[ $(ls /sys/bus/pci/drivers/e1000e | grep -c :) -ge 2 ]' 20 ||
		fail "two NICs did not bind to e1000e"
	for pci in $(ls /sys/bus/pci/drivers/e1000e | grep : | sort); do
		wait_for '[ -d /sys/bus/pci/devices/$pci/net ]' 20 || fail "no interface for $pci"
		nics="$nics $(ls /sys/bus/pci/devices/$pci/net | head -1)"
	done
	set -- $nics
	if0=$1 if1=$2
	[ -n "$if1" ] || fail "found interfaces '$nics', need two"
	ip netns add peer || fail "ip netns add failed"
	ip link set $if1 netns peer || fail "cannot move $if1 into the namespace"
	ip addr add 10.99.0.1/24 dev $if0
	ip link set $if0 up
	ip -n peer addr add 10.99.0.2/24 dev $if1
	ip -n peer link set lo up
	ip -n peer link set $if1 up
	wait_for 'ip link show $if0 | grep -q LOWER_UP && ip -n peer link show $if1 | grep -q LOWER_UP' 20 ||
		fail "no link: $(ip link show $if0 | head -1); $(ip -n peer link show $if1 | head -1)"
	step "$if0 10.99.0.1 and $if1 10.99.0.2 (namespace peer): links up"
}

net_teardown()
{
	ip netns del peer || fail "ip netns del failed"
}

net_setup
for pci in $(ls /sys/bus/pci/drivers/e1000e | grep :); do
	[ -d $DV/devices/$pci ] || fail "no $DV/devices/$pci"
done
step "path $(dv_path e1000e)"
# With DV_IOMMU (sys-e1000e-iommu.sh, sys-e1000e-amd-iommu.sh): both NICs
# behind that IOMMU.
iommu_check e1000e

# net_check TAG MB: pings and a transfer each way.
net_check()
{
	wait_for 'ping -c 1 -W 1 10.99.0.2 > /dev/null 2>&1' 20 || fail "$1: 10.99.0.2 does not answer"
	ping -c 5 -i 0.2 -W 2 10.99.0.2 > /tmp/ping.out 2>&1 || { cat /tmp/ping.out; fail "$1: ping lost packets"; }
	ping -c 3 -i 0.2 -W 2 -s 6000 10.99.0.2 > /tmp/ping.out 2>&1 || { cat /tmp/ping.out; fail "$1: fragmented ping failed"; }
	ip netns exec peer ping -c 3 -i 0.2 -W 2 -s 1400 10.99.0.1 > /tmp/ping.out 2>&1 || { cat /tmp/ping.out; fail "$1: ping from the namespace failed"; }
	step "$1: pings ok"
	make_data /tmp/tx.a $2
	make_data /tmp/tx.b $2
	rm -f /tmp/rx.a /tmp/rx.b
	# The receivers' stdin is a FIFO nobody writes to: busybox nc closes
	# the connection as soon as its own stdin reaches its end.
	ip netns exec peer nc -l -p 5001 < /tmp/hold > /tmp/rx.a &
	rxa=$!
	nc -l -p 5002 < /tmp/hold > /tmp/rx.b &
	rxb=$!
	sleep 1
	nc 10.99.0.2 5001 < /tmp/tx.a > /dev/null || fail "$1: sending to 10.99.0.2 failed"
	ip netns exec peer nc 10.99.0.1 5002 < /tmp/tx.b > /dev/null || fail "$1: sending from the namespace failed"
	wait $rxa
	wait $rxb
	a=$(ip netns exec peer /usr/bin/sha256sum /tmp/rx.a | cut -d' ' -f1)
	[ "$a" = "$(sha /tmp/tx.a)" ] || fail "$1: data received in the namespace differs ($(wc -c < /tmp/rx.a) bytes)"
	same /tmp/tx.b /tmp/rx.b "$1: $2 MB to 10.99.0.2 and $2 MB back"
}

mkfifo /tmp/hold
exec 3<> /tmp/hold
net_check "under dmaverify" 8
dv_check e1000e
[ "$(dv_attached e1000e)" -ge 2 ] || fail "not both NICs were attached"
dv_unload e1000e net_teardown net_setup
net_check "after rmmod" 2
dv_pass
GUEST

t_vm --qemu "-netdev hubport,id=h0,hubid=0 -device e1000e,netdev=h0 -netdev hubport,id=h1,hubid=0 -device e1000e,netdev=h1"
t_result
