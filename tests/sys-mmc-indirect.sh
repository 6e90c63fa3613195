#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Indirect DMA through an SD host (dmaverify/mmc.c, whole.c):
# dmaverify driver=mmc_block.  QEMU gives an sdhci-pci host with a 64 MB SD
# card (QEMU wants a power of 2).  mmc_block's driver, mmcblk, binds the
# card, then dmaverify is loaded with rebind=1: the card is reprobed and
# verified through sdhci-pci (stats, dmesg, dmaverify query naming both).
# Data is written and read back (buffered and O_DIRECT), the driver is
# unbound (leak check) and bound again, and dmaverify is unloaded: zero
# reports.
# mmc_block never calls the DMA API (sdhci maps for it): no bug of its can
# be planted.  samples/mmc_dma_sample.c, a card driver, takes the card:
# correct, no report; bug=leak-map (a mapping of its own on the host's
# device, never unmapped), one leak-map report attributed to it.
#
# Usage: tests/sys-mmc-indirect.sh KERNEL
# kernels: test debian-6.12 debian-6.1 debian-7
. "$(dirname "$0")/lib.sh"

sd=$(t_disk sd 64M)
cat > "$T_TMP/guest.sh" <<'GUEST'
. ./guest-lib.sh
step "kernel $(uname -r)"
# mmcblk binds the card first: dmaverify's rebind=1 reprobes it.
mods sdhci_pci mmc_block
d=$(find_disk 131072) || fail "no 64 MB SD card (mmcblk)"
dv_load mmc_block rebind=1
dmesg | grep -q "mmcblk mmc0:[0-9a-f]*: dmaverify: rebinding driver mmcblk" || fail "rebind=1 did not rebind mmcblk"
d=$(find_disk 131072) || fail "no SD card after rebind=1"
case $d in mmcblk*) ;; *) fail "the 64 MB disk is $d, not an mmcblk" ;; esac
card=$(basename $(readlink -f /sys/block/$d/device))
host=$(basename $(readlink -f /sys/block/$d/device/../../..))
step "$d on card $card, host $host"
dmesg | grep -q "$card: dmaverify: verifying DMA of driver mmcblk on $card, DMA through sdhci-pci $host " ||
	fail "dmesg does not say that mmcblk on $card is verified through sdhci-pci $host"
raw_check /dev/$d 16
raw_check /dev/$d 8 direct
cat $DV/stats
grep -q "^device $card driver mmcblk state attached mode ops through sdhci-pci $host" $DV/stats ||
	fail "stats: no mmcblk on $card through sdhci-pci $host"
grep -q "^selected mmc_block devices 1 .* as mmc-driver" $DV/stats || fail "stats: mmc_block is not selected as mmc-driver"
dmaverify query > /tmp/q 2>&1
grep -q "^  mmc_block: 1 device (ops 1, observe 0); an MMC/SD card driver, verified through its host controller$" /tmp/q ||
	fail "dmaverify query: mmc_block is not shown as an MMC/SD card driver: $(grep mmc_block /tmp/q)"
dmaverify query $card > /tmp/q 2>&1
grep -q "^device $card  driver mmcblk  attached  mode ops  DMA through sdhci-pci $host" /tmp/q ||
	fail "dmaverify query $card does not show the relation: $(head -1 /tmp/q)"
sg=$(sed -n "/^device $card /,/^device /p" $DV/stats | grep -E "streaming maps|scatter" | sed -n 's/.*allocated \([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
[ "${sg:-0}" -gt 0 ] || fail "no request of mmcblk tracked"
echo -n $card > /sys/bus/mmc/drivers/mmcblk/unbind
grep -q "^device $card " $DV/stats && fail "stats: $card still listed after mmcblk unbound"
echo -n $card > /sys/bus/mmc/drivers/mmcblk/bind
d=$(find_disk 131072) || fail "the card did not come back after rebinding"
raw_check /dev/$d 8
v=$(sed -n 's/^violations: //p' $DV/stats)
[ "$v" = 0 ] || fail "dmaverify counted $v violations"
echo -n $card > /sys/bus/mmc/drivers/mmcblk/unbind
rmmod dmaverify || fail "rmmod dmaverify failed"
echo -n $card > /sys/bus/mmc/drivers/mmcblk/bind
d=$(find_disk 131072) || fail "the card did not come back after rmmod"
raw_check /dev/$d 8
kernel_errors
# samples/mmc_dma_sample.c on the card (mmcblk lets it go): correct, no
# report; bug=leak-map, one leak-map report at its unbind, titled with the
# sample's sample_map(), naming mmc_dma_sample through sdhci-pci (checked
# in dmesg: the planted bug's report stays out of the console).
dv_load mmc_dma_sample action=log
echo -n $card > /sys/bus/mmc/drivers/mmcblk/unbind
modprobe mmc_dma_sample || fail "modprobe mmc_dma_sample failed"
dmesg | grep -q "mmc_dma_sample $card: read block 0: 0; bug=none" || fail "the sample could not read the card"
grep -q "^device $card driver mmc_dma_sample state attached mode ops through sdhci-pci $host" $DV/stats ||
	fail "stats: no mmc_dma_sample on $card through sdhci-pci"
rmmod mmc_dma_sample
v=$(sed -n 's/^violations: //p' $DV/stats)
[ "$v" = 0 ] || fail "the correct sample gave $v violations"
dmesg -n 1
dmesg -c > /dev/null
modprobe mmc_dma_sample bug=leak-map
rmmod mmc_dma_sample
dmesg -n 7
dmesg -c > /tmp/leak.log
found=$(sed -n "s/.*BUG: dmaverify: \([a-z-]*\) in \([a-z_]*\).*/\1:\2/p" /tmp/leak.log | sort -u | xargs)
step "bug=leak-map: reports [$found]"
[ "$found" = leak-map:sample_map ] || fail "bug=leak-map: expected [leak-map:sample_map], got [$found]"
grep -q "driver mmc_dma_sample on $card, DMA through sdhci-pci $host: DRIVER_VERIFIER_DMA_VIOLATION (0xE6), parameter 1 0x09" /tmp/leak.log ||
	fail "the leak report does not name mmc_dma_sample through sdhci-pci"
grep -A1 "created at" /tmp/leak.log | grep -q "sample_map" || fail "the leak's creating stack does not name sample_map"
v=$(sed -n 's/^violations: //p' $DV/stats)
[ "$v" = 1 ] || fail "dmaverify counted $v violations, 1 expected (the sample's leak)"
rmmod dmaverify || fail "rmmod dmaverify failed"
echo -n $card > /sys/bus/mmc/drivers/mmcblk/bind
d=$(find_disk 131072) || fail "the card did not come back after the sample"
raw_check /dev/$d 4
kernel_errors
echo "DVT-RESULT PASS ops=$sg path=sdhci-pci violations=0 | mmcblk on $card through sdhci-pci $host: $sg maps; sample bug=leak-map: leak-map in sample_map"
GUEST

t_vm --qemu "-device sdhci-pci -drive file=$sd,if=none,id=sd0,format=raw -device sd-card,drive=sd0"
t_result
