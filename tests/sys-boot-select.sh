#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sys-boot-select.sh KERNEL: verification from a driver's first probe,
# without a rebind, as for a driver loaded at boot (Documentation,
# "Verifying from boot").  Two ways, each on a fresh load of nvme:
#
#  1. /etc/modprobe.d: "options dmaverify driver=nvme" and "softdep nvme
#     pre: dmaverify": `modprobe nvme` loads dmaverify first, with its
#     options;
#  2. the kernel command line (dmaverify.driver=nvme, booted with it) and
#     the softdep alone: modprobe passes the command line's options to
#     dmaverify.
#
# Each time the NVMe controller must be attached exactly once, before nvme
# probed it (its attach line comes before nvme's first line), with DMA
# counted, I/O verified and no violation.
# kernels: test debian-6.12 debian-7
. "$(dirname "$0")/lib.sh"

img=$(t_disk nvme)
cat > "$T_TMP/guest.sh" <<'GUEST'
. ./guest-lib.sh
step "kernel $(uname -r)"
grep -q 'dmaverify.driver=nvme' /proc/cmdline || fail "not booted with dmaverify.driver=nvme"

# first_probe WAY: nvme was probed under dmaverify, once, from the start.
first_probe()
{
	local pci disk attach first
	grep -q '^dmaverify ' /proc/modules || fail "$1: modprobe nvme did not load dmaverify (softdep)"
	[ "$(cat /sys/module/dmaverify/parameters/driver)" = nvme ] ||
		fail "$1: dmaverify's driver= is '$(cat /sys/module/dmaverify/parameters/driver)', not nvme"
	pci=$(ls /sys/bus/pci/drivers/nvme | grep ':' | head -1)
	[ -n "$pci" ] || fail "$1: no PCI device bound to nvme"
	[ "$(dv_attached nvme)" = 1 ] || fail "$1: $(dv_attached nvme) attach lines for nvme, wanted 1"
	attach=$(dmesg | grep -n "dmaverify: verifying DMA of driver nvme" | head -1 | cut -d: -f1)
	first=$(dmesg | grep -n "nvme $pci: \|nvme nvme[0-9]" | grep -v dmaverify | head -1 | cut -d: -f1)
	[ -n "$first" ] && [ "$attach" -lt "$first" ] ||
		fail "$1: dmaverify attached after nvme's first message (line $attach, nvme line ${first:-none})"
	disk=$(find_disk 524288) || fail "$1: no 256 MB disk appeared"
	raw_check /dev/$disk 8 direct
	dv_check nvme
	step "$1: nvme on $pci verified from its first probe, $OPS DMA operations"
}

# 1. Options and softdep in /etc/modprobe.d.
mkdir -p /etc/modprobe.d
printf 'options dmaverify driver=nvme\nsoftdep nvme pre: dmaverify\n' > /etc/modprobe.d/dmaverify.conf
dmesg -c > /dev/null
modprobe nvme || fail "modprobe nvme failed"
first_probe "modprobe.d options + softdep"
rmmod nvme || fail "rmmod nvme failed"
rmmod dmaverify || fail "rmmod dmaverify failed"

# 2. The kernel command line's dmaverify.driver=nvme, and the softdep.
echo 'softdep nvme pre: dmaverify' > /etc/modprobe.d/dmaverify.conf
dmesg -c > /dev/null
modprobe nvme || fail "modprobe nvme failed"
first_probe "dmaverify.driver=nvme on the kernel command line + softdep"
OPS=$(dv_ops)
PATHS=$(dv_path nvme)
dv_unload nvme
NOTE="modprobe.d options + softdep, and dmaverify.driver= on the command line"
dv_pass
GUEST

t_vm --append 'dmaverify.driver=nvme' --qemu "-drive file=$img,if=none,id=d0,format=raw -device nvme,drive=d0,serial=dv1"
t_result
