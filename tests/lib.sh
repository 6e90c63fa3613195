# SPDX-License-Identifier: GPL-2.0
# Host side of the VM system tests (sourced by tests/sys-*.sh, not run).
#
# A test writes its guest part to "$T_TMP/guest.sh" and calls t_vm, which
# boots the kernel named by $1 with scripts/vmrun, sources tests/guest-lib.sh
# in the guest, and then t_result checks the outcome and prints the one-line
# summary.  The full console is kept in $T_LOGDIR/NAME-KERNEL.log.

set -euo pipefail

T_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T_NAME=$(basename "$0" .sh)
T_KERNEL=${1:-}
T_LOGDIR=${DMAVERIFY_TEST_LOGS:-${TMPDIR:-/tmp}/dmaverify-tests}
T_LOG="$T_LOGDIR/$T_NAME${DV_PARAMS:+-$(echo $DV_PARAMS | tr -c "a-z0-9\n" -)}-${T_KERNEL:-none}.log"

t_fail()
{
	echo "FAIL $T_NAME ${T_KERNEL:-?}: $*"
	t_environment
	exit 1
}

# Symptoms of the environment (the emulator, the host's load) that a failed
# test may show: each with the number of times it appeared while dmaverify
# was loaded and while it was not, in the same boot.  Seen without
# dmaverify too, the symptom is the environment's; seen only with it, it
# may be dmaverify's.  Either way the test has failed: nothing is retried.
T_SYMPTOMS=(
	'NVMe I/O timeout|I/O tag [0-9]+ .*timeout'
	'NVMe controller reset|resetting controller|reset controller'
	'oops on a stale breakpoint (text patching)|Oops: int3'
	'RCU stall|rcu: INFO: .* detected stalls'
	'soft lockup|soft lockup - CPU'
	'hung task|blocked for more than [0-9]+ seconds'
)

t_environment()
{
	[ -s "${T_LOG:-}" ] || return 0
	local entry name re counts
	for entry in "${T_SYMPTOMS[@]}"; do
		name=${entry%%|*}
		re=${entry#*|}
		# awk: "dmaverify: loaded" and "dmaverify: unloaded" delimit the
		# time the module was in the kernel.
		counts=$(tr -d '\r' < "$T_LOG" | awk -v re="$re" '
			/dmaverify: loaded: / { on = 1 }
			/dmaverify: unloaded/ { on = 0 }
			$0 ~ re { if (on) w++; else wo++ }
			END { printf "%d %d", w, wo }')
		set -- $counts
		[ "$1" = 0 ] && [ "$2" = 0 ] && continue
		if [ "$2" != 0 ]; then
			echo "  environment: $name: $1 with dmaverify loaded, $2 without it in this boot (the emulator or host, not dmaverify)"
		else
			echo "  environment: $name: $1 with dmaverify loaded, none without it in this boot"
		fi
	done
}

case "$T_KERNEL" in
test | test-debug | test-noops | debian-6.1 | debian-6.12 | debian-7) ;;
test-arm64 | debian-6.1-arm64 | debian-6.12-arm64) ;;
*) t_fail "usage: $0 KERNEL (test, test-noops, debian-6.1, debian-6.12, debian-7, test-arm64, debian-6.1-arm64, debian-6.12-arm64)" ;;
esac

T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/dmaverify-$T_NAME.XXXXXX")
trap 'rm -rf "$T_TMP"' EXIT
mkdir -p "$T_LOGDIR"

# A sparse raw disk image in the temporary directory (removed at exit).
t_disk()
{
	local img="$T_TMP/$1.img"
	truncate -s "${2:-256M}" "$img"
	echo "$img"
}

# DV_IOMMU=intel or amd: the devices behind that QEMU IOMMU, with strict
# invalidation (iommu.strict=1: an unmapped IOVA faults at once).  It must
# come before the devices it translates on QEMU's command line: t_vm puts
# it first.  amd-iommu needs pt=off (with pt=on, QEMU's default, emulated
# devices' DMA bypasses the translation); amd_iommu=on is no option (the
# driver starts when ACPI's IVRS table is there).  The guest checks the
# devices' IOMMU groups with iommu_check (guest-lib.sh).
T_IOMMU_ARGS=()
case "${DV_IOMMU:-}" in
"") ;;
intel) T_IOMMU_ARGS=(--qemu "-device intel-iommu,intremap=off" --append "intel_iommu=on iommu.strict=1") ;;
amd) T_IOMMU_ARGS=(--qemu "-device amd-iommu,intremap=off,pt=off" --append "iommu.strict=1") ;;
*) t_fail "DV_IOMMU must be intel or amd, not '$DV_IOMMU'" ;;
esac

# t_vm [vmrun options...]: run $T_TMP/guest.sh in a VM; sets T_RC.
t_vm()
{
	[ -f "$T_TMP/guest.sh" ] || t_fail "internal: no guest script"
	echo "$T_NAME $T_KERNEL: booting the VM (console: $T_LOG)" >&2
	set +e
	# DV_PARAMS (e.g. "bounce=1") is added to every dmaverify load.
	echo "${DV_PARAMS:-}" > "$T_TMP/dv-params"
	echo "${DV_IOMMU:-}" > "$T_TMP/dv-iommu"
	"$T_TOP/scripts/vmrun" --kernel "$T_KERNEL" --timeout "${T_TIMEOUT:-200}" \
		--log "$T_LOG" --file "$T_TOP/tests/guest-lib.sh" --file "$T_TMP/dv-params" \
		--file "$T_TMP/dv-iommu" --file "$T_TMP/guest.sh" "${T_IOMMU_ARGS[@]}" "$@" \
		-- sh guest.sh > "$T_LOG.out" 2>&1
	T_RC=$?
	set -e
	# vmrun's console copy is written only when QEMU ran at all.
	if [ ! -s "$T_LOG" ] || [ "$T_RC" = 124 ]; then
		cp "$T_LOG.out" "$T_LOG"
	fi
	rm -f "$T_LOG.out"
	[ "${VERBOSE:-0}" = 1 ] && cat "$T_LOG" >&2
	return 0
}

# Lines of the console, without the serial line's carriage returns.
t_console()
{
	tr -d '\r' < "$T_LOG"
}

# Check the VM's outcome; on success print the PASS line with the guest's
# own summary (ops=N path=P violations=V) and exit 0.
t_result()
{
	local res bad
	res=$(t_console | grep -a '^DVT-RESULT ' | tail -1 || true)
	# From the command's start on (as vmrun: the kernel's own boot is not
	# the test's business).
	bad=$(t_console | sed -n '/vmrun: guest up/,$p' |
		grep -aE 'Oops|Kernel panic|BUG: |WARNING: |general protection|UBSAN:|KASAN|^qemu-system-(x86_64|aarch64): ' |
		grep -avE '^qemu-system-(x86_64|aarch64): warning: ' | head -3 || true)
	# Not grep -q: with pipefail, tr would die of SIGPIPE on a long log and
	# the test would fail at random.
	if ! t_console | grep -a 'vmrun: guest up' > /dev/null; then
		[ "$T_RC" = 124 ] && t_fail "timeout after ${T_TIMEOUT:-200}s before the guest came up (console: $T_LOG)"
		t_fail "vmrun failed before the guest ran (status $T_RC): $(t_console | grep -av '^ *$' | grep -aE 'error|Error|E: ' | head -1) (log: $T_LOG)"
	fi
	case "$T_RC" in
	0) ;;
	124) t_fail "timeout after ${T_TIMEOUT:-200}s${res:+ (last result: $res)} (console: $T_LOG)" ;;
	125)
		if [ -n "$bad" ]; then
			t_fail "kernel reported: $(echo "$bad" | head -1) (console: $T_LOG)"
		fi
		t_fail "the guest crashed or did not boot (vmrun status 125; console: $T_LOG)"
		;;
	*)
		[ -n "$res" ] && t_fail "${res#DVT-RESULT FAIL } (console: $T_LOG)"
		t_fail "vmrun exited with $T_RC (console: $T_LOG)"
		;;
	esac
	[ -n "$bad" ] && t_fail "kernel reported: $(echo "$bad" | head -1) (console: $T_LOG)"
	case "$res" in
	"DVT-RESULT PASS "*) ;;
	"") t_fail "the guest printed no result (console: $T_LOG)" ;;
	*) t_fail "${res#DVT-RESULT FAIL } (console: $T_LOG)" ;;
	esac
	local ops path viol note
	ops=$(sed -n 's/.* ops=\([0-9]*\).*/\1/p' <<< "$res")
	path=$(sed -n 's/.* path=\([^ ]*\).*/\1/p' <<< "$res")
	viol=$(sed -n 's/.* violations=\([0-9]*\).*/\1/p' <<< "$res")
	[ "$viol" = 0 ] || t_fail "violations=$viol (console: $T_LOG)"
	note=$(sed -n 's/^[^|]*| \(.*\)$/\1/p' <<< "$res")
	# The debug kernel: a report of its own while booting turns lockdep off.
	if t_console | grep -a 'Disabling lock debugging' > /dev/null; then
		note="${note:+$note; }lockdep off: the kernel disabled it while booting"
	fi
	echo "PASS $T_NAME${DV_PARAMS:+ (${DV_PARAMS% })} $T_KERNEL: dmaverify saw ${ops:-?} DMA operations, path ${path:-?}, 0 violations${note:+ ($note)}"
	exit 0
}
