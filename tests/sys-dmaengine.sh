#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sys-dmaengine.sh KERNEL: dmaengine channel rules (Windows' adapter
# channels).  QEMU's x86 machines have no dmaengine controller, so the
# software provider samples/dma_provider_sample.c (memcpy channels, a
# workqueue as the hardware) stands in.  samples/dma_client_sample.c copies
# buffers through one of its channels and breaks one rule per case; each
# case must produce exactly its report, naming a function of the client,
# and the correct client none, with a dump that lists its channel.  The
# kernel's dmatest client, where the kernel has it, must stay silent too.
#
# kernels: test debian-6.12 debian-6.1 debian-7
# kernels, tier 2: test-debug
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
kernel=${1:?usage: $0 KERNEL}

# bug : client driver name : dmaverify parameters : expected report slugs
# (a set; "-" for none)
cases=(
	"none:dma_client_sample::-"
	"use-after-release:dma_client_sample::dma-channel-use-after-release"
	"unmap-in-flight:dma_client_sample::dma-buffer-in-flight"
	"terminate-no-sync:dma_client_sample::terminate-without-synchronize"
	"double-submit:dma_client_sample::dma-descriptor-double-submit"
	"leak-mapping:dma_client_sample::leak-map"
	# The client unloaded before the provider reports its leak: the title
	# and the frames still name the client's function (resolved when the
	# client went), never what lives at that address now.
	"leak-mapping-unloaded:dma_client_sample::leak-map"
	# The provider's device observed through kprobes, not interposed.
	"none:dma_client_sample:mode=observe:-"
	"unmap-in-flight:dma_client_sample:mode=observe:dma-buffer-in-flight"
	"dmatest:::-"
	# dmaverify unloaded while the client holds its channel: the provider
	# gets its ops back, and the client copies again (rebound) without it.
	"unload-live:dma_client_sample::-"
	# The last two leave the provider loaded (its channel is held, or the
	# dmaengine core's count of its users is off).
	"leak-channel:dvc_renamed::dma-channel-leak"
	"double-release:dma_client_sample::dma-channel-double-release"
)

script='set +e
DV=/sys/kernel/debug/dmaverify
run() {
	n=$1; bug=$2; drv=$3; params=$4; mode=
	dmesg -c > /dev/null
	if [ "$bug" = dmatest ]; then
		if [ -z "$(find /lib/modules/$(uname -r) -name "dmatest.ko*")" ]; then
			echo "CASE $n skipped (no dmatest module)"
			return
		fi
		modprobe dmaverify driver=dmatest,dma_provider_sample action=log
		modprobe dma_provider_sample delay_ms=2
		mode=$(dmesg | sed -n "s/.*verifying DMA of driver dma_provider_sample (mode: \([a-z_]*\).*/\1/p" | tail -1)
		modprobe dmatest device=dma_provider_sample iterations=20 timeout=10000
		echo 1 > /sys/module/dmatest/parameters/run
		cat /sys/module/dmatest/parameters/wait > /dev/null
		cat $DV/devices/dma_provider_sample/objects > /tmp/dump
		ok=$(dmesg | grep -c "summary 20 tests, 0 failures")
		echo 0 > /sys/module/dmatest/parameters/run
		rmmod dmatest
	elif [ "$bug" = unload-live ]; then
		modprobe dmaverify driver=$drv,dma_provider_sample action=log
		modprobe dma_provider_sample
		mode=$(dmesg | sed -n "s/.*verifying DMA of driver dma_provider_sample (mode: \([a-z_]*\).*/\1/p" | tail -1)
		modprobe dma_client_sample driver=$drv
		cat $DV/devices/$drv/objects > /tmp/dump
		rmmod dmaverify
		echo $drv > /sys/bus/platform/drivers/$drv/unbind
		echo $drv > /sys/bus/platform/drivers/$drv/bind
		ok=$(dmesg | grep -c "DMA copies verified")
		# Unloaded for real: else the copies proved nothing.
		grep -q "^dmaverify " /proc/modules && ok=0
		rmmod dma_client_sample
	else
		modprobe dmaverify driver=$drv,dma_provider_sample action=log $params
		modprobe dma_provider_sample
		mode=$(dmesg | sed -n "s/.*verifying DMA of driver dma_provider_sample (mode: \([a-z_]*\).*/\1/p" | tail -1)
		modprobe dma_client_sample driver=$drv bug=${bug%-unloaded}
		ok=$(dmesg | grep -c "DMA copies verified")
		cat $DV/devices/$drv/objects > /tmp/dump
		# Unbound, not unloaded yet: reports at the unbind of the
		# provider name functions of the client.
		echo $drv > /sys/bus/platform/drivers/$drv/unbind
		# Unloaded: its text is gone when the provider reports.
		[ "$bug" = leak-mapping-unloaded ] && rmmod dma_client_sample
	fi
	sleep 1
	rmmod dma_provider_sample
	rmmod dma_client_sample 2> /dev/null
	found=$(dmesg | sed -n "s/.*BUG: dmaverify: \([a-z-]*\) in \([A-Za-z0-9_]*\).*/\1@\2/p" | tr "\n" " ")
	devs=$(dmesg | sed -n "s/.*\] device \([^,]*\), driver .*DRIVER_VERIFIER_DMA_VIOLATION.*/\1/p" | sort -u | tr "\n" ",")
	chan=$(grep -c "^dmaengine channel .* provider dma_provider_sample client ${drv:-dmatest} held" /tmp/dump)
	unl=$(dmesg | grep -c " dvc_[a-z_]*+0x[0-9a-f]*/0x[0-9a-f]* \[dma_client_sample\] (unloaded)$")
	echo "CASE $n found=[$found] ok=$ok chan=$chan mode=$mode devs=$devs unl=$unl"
	dmesg | grep -A30 "BUG: dmaverify" | head -40
	grep -q "^dmaverify " /proc/modules && rmmod dmaverify
}
'
n=0
for c in "${cases[@]}"; do
	IFS=: read -r bug drv params _ <<< "$c"
	script+="run $n $bug '$drv' '$params'"$'\n'
	n=$((n + 1))
done

logdir=${DMAVERIFY_TEST_LOGS:-${TMPDIR:-/tmp}/dmaverify-tests}
mkdir -p "$logdir"
log=$logdir/sys-dmaengine-$kernel.log
"$TOP/scripts/vmrun" --kernel "$kernel" \
	--allow 'BUG: dmaverify:' \
	--allow 'WARNING: .* dma_release_channel' \
	--allow 'WARNING: .* dma_async_device_channel_unregister' \
	--timeout "${T_TIMEOUT:-300}" --log "$log" -- "$script" > /dev/null 2>&1 || {
	echo "FAIL sys-dmaengine $kernel: the VM run failed (console: $log)"; tail -40 "$log"; exit 1; }

fail=0
n=0
for c in "${cases[@]}"; do
	IFS=: read -r bug drv params want <<< "$c"
	line=$(grep -a "^CASE $n " "$log" | tr -d '\r' || true)
	n=$((n + 1))
	if [[ $line == *skipped* ]]; then
		echo "skip $bug: ${line#CASE * }"
		continue
	fi
	pairs=$(sed -n 's/.*found=\[\(.*\)\].*/\1/p' <<< "$line" | tr ' ' '\n' | sort -u)
	found=$(sed 's/@.*//' <<< "$pairs" | sort -u | xargs)
	# Every report names the client's function that broke the rule, and
	# the client's device (a leaked mapping: the provider's too, at its
	# own unbind).
	others=$(grep -v '@dvc_' <<< "$pairs" | grep . || true)
	want=$(tr ' ' '\n' <<< "$want" | sort -u | xargs)
	[ "$want" = - ] && want=
	devs=$(sed -n 's/.* devs=\([^ ]*\).*/\1/p' <<< "$line")
	[[ ",$devs," == *",$drv,"* ]] || [ -z "$want" ] || others="no report on $drv (reports on: $devs)"
	ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<< "$line")
	chan=$(sed -n 's/.* chan=\([0-9]*\).*/\1/p' <<< "$line")
	# The copies succeed, except where the bug cancels them; the dump lists
	# the channel while the client holds it.
	# (dmatest takes every channel).
	need_chan=1 need_ok=1
	[ "$bug" = dmatest ] && need_chan=2
	[ "$bug" = unload-live ] && need_ok=2
	# The provider's device in the mode asked for.
	mode=$(sed -n 's/.* mode=\([a-z_]*\).*/\1/p' <<< "$line")
	need_mode=${params#mode=}
	[ -z "$params" ] && need_mode=$mode
	# The client unloaded first: its frames printed as resolved then.
	unl=$(sed -n 's/.* unl=\([0-9]*\).*/\1/p' <<< "$line")
	[ "$bug" != leak-mapping-unloaded ] || [ "${unl:-0}" -gt 0 ] ||
		others="no frame of the unloaded client as '[dma_client_sample] (unloaded)'"
	[ "$bug" = leak-mapping-unloaded ] || [ "${unl:-0}" = 0 ] ||
		others="a frame marked unloaded while the client was loaded"
	if [ -n "$line" ] && [ "$found" = "$want" ] && [ -z "$others" ] &&
	   [ "${ok:-0}" -ge $need_ok ] && [ "${chan:-0}" = $need_chan ] &&
	   [ "$mode" = "$need_mode" ]; then
		echo "ok   $bug${drv:+ (driver=$drv)}${params:+ $params} -> ${want:-no report} (titles [$(xargs <<< "$pairs")], provider mode ${mode:-not reloaded})"
	else
		echo "FAIL $bug -> expected [${want}] got [${found}], titles [$(xargs <<< "$pairs")] (${line:-no result})"
		fail=1
	fi
done
if [ $fail = 0 ]; then
	echo "PASS sys-dmaengine $kernel"
else
	echo "FAIL sys-dmaengine $kernel"
fi
exit $fail
