#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The user interfaces, in one VM with QEMU's edu device: every debugfs
# control command with good input (and its effect in the stats), bad input
# (-EINVAL, nothing changed), module parameter validation, parameter
# descriptions, every scripts/dmaverify subcommand (and its exit codes on
# wrong usage), enable/disable consistency under DMA, and the permissions of
# the debugfs files; the CLI's query --json, set, reset --all, load --ko,
# explain (from the checkout here, installed in the guest), watch, gate
# (exit 3 after a planted bug) and --version; selection by driver or
# module name (xhci-pci for xhci_hcd, on QEMU's xHCI), with the dmesg lines
# for a misspelt name and a driver on a bus dmaverify does not watch.  The JSON the guest prints is
# checked with python3 -m json.tool (or jq) here.
#
# Usage: tests/cli-debugfs.sh KERNEL
# kernels: test debian-6.12
# Prints "ok ..." or "FAIL ..." per check, then "PASS cli-debugfs KERNEL" or
# "FAIL cli-debugfs KERNEL".  The guest console is kept in
# ${DMAVERIFY_TEST_LOGS:-/tmp/dmaverify-tests}/cli-debugfs-KERNEL.log.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
kernel=${1:?usage: $0 KERNEL}

[ -x "$TOP/scripts/dmaverify" ] || { echo "FAIL cli-debugfs $kernel: scripts/dmaverify is not executable"; exit 1; }

logdir=${DMAVERIFY_TEST_LOGS:-${TMPDIR:-/tmp}/dmaverify-tests}
mkdir -p "$logdir"
log="$logdir/cli-debugfs-$kernel.log"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dmaverify-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# dvwrite FILE: one write(2) of all of stdin (possibly empty) to FILE;
# prints "wrote N" or the errno's name.  The shell cannot make an empty
# write, and its printf may split or hide errors.
cat > "$tmp/dvwrite.c" <<'EOF'
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char buf[4096];
	size_t n = 0;
	ssize_t r;
	int fd;

	if (argc != 2)
		return 2;
	while (n < sizeof(buf) && (r = read(0, buf + n, sizeof(buf) - n)) > 0)
		n += r;
	fd = open(argv[1], O_WRONLY);
	if (fd < 0) {
		printf("open: %s\n", strerror(errno));
		return 2;
	}
	r = write(fd, buf, n);
	if (r < 0) {
		int e = errno;

		printf("%s\n", e == EINVAL ? "EINVAL" : e == ENOENT ? "ENOENT" :
		       e == ENOSPC ? "ENOSPC" : e == EACCES ? "EACCES" :
		       e == EPERM ? "EPERM" : e == EFAULT ? "EFAULT" : strerror(e));
		return 1;
	}
	printf("wrote %zd\n", r);
	return 0;
}
EOF
gcc -static -O2 -o "$tmp/dvwrite" "$tmp/dvwrite.c" ||
	{ echo "FAIL cli-debugfs $kernel: cannot build the write helper"; exit 1; }

# Host checks of the commands that need no module: --version, explain from
# the checkout and from a copy installed elsewhere.
hostres=''
hok() { hostres+="ok   host: $*"$'\n'; }
hbad() { hostres+="FAIL host: $*"$'\n'; }
# h EXPECTED-STATUS DESCRIPTION COMMAND...: output in $tmp/o.
h()
{
	local want=$1 d=$2 rc=0
	shift 2
	"$@" > "$tmp/o" 2>&1 || rc=$?
	if [ "$rc" = "$want" ]; then hok "$d: exit $rc"; else hbad "$d: exit $rc, not $want: $(head -c 300 "$tmp/o" | tr '\n' '|')"; fi
}
cli=$TOP/scripts/dmaverify
h 0 "dmaverify --version" "$cli" --version
grep -qx "dmaverify $(head -1 "$TOP/VERSION")" "$tmp/o" && hok "--version prints VERSION ($(cat "$tmp/o"))" || hbad "--version says '$(cat "$tmp/o")'"
h 0 "dmaverify explain double-unmap (checkout)" "$cli" explain double-unmap
grep -q "unmapped twice" "$tmp/o" && grep -q "^double-unmap: bug check 0xE6, parameter 1 0x05" "$tmp/o" &&
	hok "explain double-unmap: its paragraph" || hbad "explain double-unmap: $(head -3 "$tmp/o")"
h 0 "dmaverify explain 0x0F (a code of three rules)" "$cli" explain 0x0F
[ "$(grep -c '^[a-z-]*: bug check 0xE6, parameter 1 0x0f' "$tmp/o")" = 3 ] && hok "explain 0x0F: overrun-before, overrun-after, write-after-unmap" || hbad "explain 0x0F: $(grep -c 'bug check' "$tmp/o") rules"
h 0 "dmaverify explain 0xE6/0x0f/0x05" "$cli" explain 0xE6/0x0f/0x05
[ "$(grep -c 'bug check' "$tmp/o")" = 1 ] && grep -q '^overrun-after:' "$tmp/o" && hok "explain 0xE6/0x0f/0x05: overrun-after only" || hbad "explain 0xE6/0x0f/0x05: $(head -2 "$tmp/o")"
h 2 "dmaverify explain no-such-rule" "$cli" explain no-such-rule
h 2 "dmaverify explain (no argument)" "$cli" explain
h 0 "dmaverify explain --list" "$cli" explain --list
n=$(grep -c '^0x' "$tmp/o")
nrules=$(grep -c '^[a-z0-9-]*:$' "$TOP/Documentation/dmaverify-codes.txt")
[ "$n" = "$nrules" ] && hok "explain --list: $n rules, as many as documented" || hbad "explain --list: $n rules, $nrules documented"
undoc=''
for slug in $(awk '/^0x/ { print $3 }' "$tmp/o"); do
	"$cli" explain "$slug" 2>&1 | grep -q "not documented" && undoc="$undoc $slug"
done
[ -z "$undoc" ] && hok "explain: every rule has its paragraph" || hbad "explain: undocumented:$undoc"
# Installed elsewhere: no docs next to it, then DMAVERIFY_DOC, then a prefix.
mkdir -p "$tmp/inst/bin" "$tmp/inst/share/doc/dmaverify"
cp "$cli" "$tmp/inst/bin/dmaverify"
h 1 "an installed copy without docs: explain fails" env DMAVERIFY_DOC= "$tmp/inst/bin/dmaverify" explain leak-map
grep -q "cannot find dmaverify-codes.txt" "$tmp/o" && hok "explain without docs says where it looked" || hbad "explain without docs: $(cat "$tmp/o")"
h 0 "an installed copy: --version without VERSION file (built-in)" "$tmp/inst/bin/dmaverify" --version
cp "$TOP/Documentation/dmaverify-codes.txt" "$tmp/inst/share/doc/dmaverify/"
h 0 "an installed copy: explain from PREFIX/share/doc/dmaverify" "$tmp/inst/bin/dmaverify" explain leak-map
grep -q "^leak-map:" "$tmp/o" && hok "explain leak-map from the installed docs" || hbad "explain leak-map installed: $(head -2 "$tmp/o")"
ln -s "$tmp/inst/bin/dmaverify" "$tmp/dv-link"
h 0 "a symbolic link to the installed copy: explain" "$tmp/dv-link" explain leak-map
h 0 "dmaverify help" "$cli" help
grep -q "^  3  gate: violations were recorded" "$tmp/o" && hok "help documents exit status 3" || hbad "help: no exit status 3"

cat > "$tmp/cli.sh" <<'GUEST'
set +e
DV=/sys/kernel/debug/dmaverify
P=/sys/module/dmaverify/parameters
R=/tmp/results
: > $R
# busybox prefers its applets: the kernel's kmod tools by path.
modprobe() { /usr/sbin/modprobe "$@"; }
rmmod() { /usr/sbin/rmmod "$@"; }
modinfo() { /usr/sbin/modinfo "$@"; }

ok() { echo "ok   $*" | tee -a $R; }
bad() { echo "FAIL $*" | tee -a $R; }
# t DESCRIPTION COMMAND...: ok if COMMAND succeeds.
t() { d=$1; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }
field() { sed -n "s/^$1: //p" $DV/stats; }
loaded() { [ -d /sys/module/dmaverify ]; }
# ctl CMD: one write to control; prints "wrote N" or the errno name.
ctl() { printf '%s\n' "$1" | ./dvwrite $DV/control; }
# wrote CMD: the write of CMD succeeded, whole.
wrote() { [ "$(ctl "$1")" = "wrote $((${#1} + 1))" ]; }
# The settings a bad command must not change.
snap() { head -4 $DV/stats; cat $P/multishot $P/enabled; }
# Objects outstanding in edu's stats, all kinds; untracked ones outstanding.
outstanding() { awk -v dev="$EDU" '$1 == "device" { c = ($2 == dev); next } c && / allocated / { for (i = 1; i < NF; i++) if ($i == "outstanding") s += $(i + 1) } END { print s + 0 }' $DV/stats; }
untracked_out() { sed -n "s/^  tracked .*(outstanding \([0-9]*\))$/\1/p" $DV/stats; }
attached() { grep -q "^device $EDU driver edu_sample state attached" $DV/stats; }
nattach() { dmesg | grep -c "dmaverify: verifying DMA of driver edu_sample"; }
violations() { field violations; }
# json NAME TEXT: TEXT's lines on the console for the host's JSON check
# (console messages held back meanwhile).
json()
{
	lvl=$(cut -f1 /proc/sys/kernel/printk)
	echo 1 > /proc/sys/kernel/printk
	printf '%s\n' "$2" | sed "s/^/JSON-$1: /"
	echo "$lvl" > /proc/sys/kernel/printk
}
# cli EXPECTED-STATUS ARGS...: run scripts/dmaverify; output in /tmp/o, /tmp/e.
cli()
{
	want=$1
	shift
	dmaverify "$@" > /tmp/o 2> /tmp/e
	rc=$?
	if [ "$rc" = "$want" ]; then
		return 0
	fi
	echo "  dmaverify $* exited $rc, not $want; stdout: $(head -c 300 /tmp/o | tr '\n' '|') stderr: $(head -c 300 /tmp/e | tr '\n' '|')"
	return 1
}

# The edu device.
EDU=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor)" = 0x1234 ] && [ "$(cat $d/device)" = 0x11e8 ] && EDU=${d##*/}
done
[ -n "$EDU" ] && ok "edu device at $EDU" || bad "no edu device"
[ -x /usr/bin/dmaverify ] && ok "scripts/dmaverify installed as /usr/bin/dmaverify" || bad "no /usr/bin/dmaverify"

echo "=== (d) parameter descriptions"
modinfo -p dmaverify > /tmp/params 2>&1
np=$(wc -l < /tmp/params)
nodesc=$(awk '{
	i = index($0, ":"); name = substr($0, 1, i - 1); d = substr($0, i + 1)
	sub(/ *\((bool|invbool|int|uint|long|ulong|short|ushort|byte|charp|string|hexint|ullong)\)$/, "", d)
	gsub(/[ \t]/, "", d)
	if (i < 2 || d == "") print name
}' /tmp/params | tr '\n' ' ')
[ "$np" -ge 10 ] && [ -z "$nodesc" ] && ok "modinfo -p: $np parameters, each with a description" ||
	bad "modinfo -p: $np parameters, without description: [$nodesc]: $(head -3 /tmp/params)"

echo "=== (c) module parameter validation"
badload()
{
	if modprobe dmaverify "$@" > /tmp/mp.out 2>&1; then
		bad "modprobe dmaverify $* succeeded"
		rmmod dmaverify
	elif loaded; then
		bad "modprobe dmaverify $* failed but the module is loaded"
		rmmod dmaverify
	else
		ok "modprobe dmaverify $* refused ($(dmesg | grep 'dmaverify: ' | tail -2 | head -1 | sed 's/^\[[ 0-9.]*\] //'))"
	fi
}
badload driver=bad,,list
badload driver=edu_sample,
badload driver=a/b
badload driver=this_driver_name_is_far_too_long_for_dmaverify
badload driver=a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q
badload driver=edu_sample,edu_sample
badload "driver=edu$(printf '\377')"
badload action=bogus
badload checks=nope
badload checks=
badload checks=all,-nope
badload stack_depth=99
badload hash_bits=3
badload hash_bits=21
badload max_objects=0
badload enabled=maybe
if modprobe dmaverify driver=edu_sample,nvme action=log checks=all,-leak stack_depth=32 hash_bits=8 > /tmp/mp.out 2>&1; then
	v="$(cat $P/driver),$(cat $P/action),$(cat $P/stack_depth),$(cat $P/hash_bits),$(tr "," "\n" < $P/checks | grep -c "^leak-")"
	[ "$v" = "edu_sample,nvme,log,32,8,0" ] && ok "modprobe with valid extreme parameters: read back $v" ||
		bad "valid parameters read back as $v"
	# A parameter written at run time is validated too.
	echo 99 > $P/stack_depth 2>/dev/null && bad "stack_depth=99 accepted at run time" ||
		ok "writing stack_depth=99 at run time refused"
	echo bogus > $P/action 2>/dev/null && bad "action=bogus accepted at run time" ||
		ok "writing action=bogus at run time refused"
	[ "$(cat $P/action),$(cat $P/stack_depth)" = "log,32" ] && ok "refused run-time writes changed nothing" ||
		bad "refused run-time writes changed: $(cat $P/action),$(cat $P/stack_depth)"
	rmmod dmaverify || bad "rmmod dmaverify failed"
else
	bad "modprobe dmaverify with valid parameters failed: $(cat /tmp/mp.out)"
fi
# Every parameter in sysfs has a description (module_param_cb without
# MODULE_PARM_DESC is invisible to modinfo).
modprobe dmaverify && {
	missing=
	for f in $P/*; do
		grep -q "^${f##*/}:" /tmp/params || missing="$missing ${f##*/}"
	done
	[ -z "$missing" ] && ok "every parameter in $P is described by modinfo" ||
		bad "parameters without modinfo description:$missing"
	rmmod dmaverify
}

echo "=== (e) CLI without the module"
t "dmaverify query without the module: exit 1" cli 1 query
t "dmaverify unload without the module: exit 1" cli 1 unload
t "dmaverify violations without the module: exit 1" cli 1 violations
t "dmaverify load --driver bad,,list: exit 1" cli 1 load --driver bad,,list
grep -q "not a driver name" /tmp/e && ok "load with a bad list shows the kernel's reason" ||
	bad "load with a bad list: no reason: $(cat /tmp/e)"
t "dmaverify load --frob: exit 2" cli 2 load --frob
t "dmaverify set stack_depth 8 without the module: exit 1" cli 1 set stack_depth 8
t "dmaverify gate without the module: exit 1" cli 1 gate
t "dmaverify watch without the module: exit 1" cli 1 watch --count 1
t "dmaverify reset --all without the module: exit 1" cli 1 reset --all
t "dmaverify query --json without the module: exit 1" cli 1 query --json
t "dmaverify --version: exit 0" eval 'cli 0 --version && grep -q "^dmaverify [0-9]" /tmp/o'
t "dmaverify explain without installed docs: exit 1, says where it looked" \
	eval 'cli 1 explain double-unmap && grep -q "/usr/share/doc/dmaverify" /tmp/e'
mkdir -p /usr/share/doc/dmaverify && cp dmaverify-codes.txt /usr/share/doc/dmaverify/
t "dmaverify explain double-unmap with /usr/share/doc/dmaverify: exit 0, its paragraph" \
	eval 'cli 0 explain double-unmap && grep -q "unmapped twice" /tmp/o'
t "dmaverify explain 0x05: the same rule" eval 'cli 0 explain 0x05 && grep -q "^double-unmap:" /tmp/o'
t "dmaverify explain bogus: exit 2" cli 2 explain bogus
KO=/lib/modules/$(uname -r)/extra/dmaverify.ko
t "dmaverify load --ko (no value): exit 2" cli 2 load --ko
t "dmaverify load --ko /nonexistent.ko: exit 1" cli 1 load --ko /nonexistent.ko
loaded && { bad "a failed load --ko left the module loaded"; rmmod dmaverify; }
if cli 0 load --ko $KO --driver edu_sample --param stack_depth=8 --action log; then
	t "dmaverify load --ko $KO: insmod'ed with the options as parameters" \
		eval '[ "$(cat $P/driver)/$(cat $P/stack_depth)/$(cat $P/action)" = edu_sample/8/log ] && grep -q "loaded $KO" /tmp/e'
	t "dmaverify load --ko when loaded: exit 1" cli 1 load --ko $KO
	t "dmaverify unload after load --ko: exit 0" cli 0 unload
else
	bad "dmaverify load --ko $KO failed"
fi
t "dmaverify load --driver (no value): exit 2" cli 2 load --driver
loaded && { bad "a failed load left the module loaded"; rmmod dmaverify; }
if cli 0 load --driver edu_sample --bounce --checks all,-leak --action warn; then
	v="$(cat $P/driver) $(cat $P/bounce) $(cat $P/action) $(field checks | grep -c leak)"
	[ "$v" = "edu_sample Y warn 0" ] && ok "dmaverify load --bounce --checks --action: $v" || bad "load --bounce ...: parameters $v"
	t "dmaverify unload: exit 0" cli 0 unload
	t "dmaverify unload: module gone" eval '! loaded'
else
	bad "dmaverify load --driver edu_sample --bounce ... failed"
fi
t "dmaverify load --driver=edu_sample --action=log: exit 0" cli 0 load --driver=edu_sample --action=log
t "after load: stats show drivers edu_sample, action log, enabled" \
	[ "$(field drivers)/$(field action)/$(field enabled)/$(field checks)" = "edu_sample/log/1/all" ]
t "dmaverify load when loaded: exit 1" cli 1 load --driver edu_sample

echo "=== (a) control commands, good input"
t "control disable" wrote disable
t "disable: stats enabled 0, parameter N" [ "$(field enabled)$(cat $P/enabled)" = 0N ]
t "control enable" wrote enable
t "enable: stats enabled 1, parameter Y" [ "$(field enabled)$(cat $P/enabled)" = 1Y ]
for a in warn panic log; do
	t "control action $a" wrote "action $a"
	t "action $a: stats and parameter say $a" [ "$(field action)/$(cat $P/action)" = "$a/$a" ]
done
t "control checks all,-leak" wrote "checks all,-leak"
c=$(field checks)
case ",$c," in
*leak*|*,all,*) bad "checks all,-leak: stats say $c" ;;
*,double-unmap,*) ok "checks all,-leak: stats list the rules without the leak ones" ;;
*) bad "checks all,-leak: stats say $c" ;;
esac
t "control checks none" wrote "checks none"
t "checks none: stats say none" [ "$(field checks)/$(cat $P/checks)" = none/none ]
t "control checks double-unmap,wrong-size" wrote "checks double-unmap,wrong-size"
t "checks double-unmap,wrong-size: stats say so" [ "$(field checks)" = "double-unmap,wrong-size" ]
t "control checks free,-double-free" wrote "checks free,-double-free"
c=$(field checks)
case ",$c," in
*,double-free,*) bad "checks free,-double-free: stats say $c" ;;
*,double-unmap,*) ok "checks free,-double-free (a group minus a rule): $c" ;;
*) bad "checks free,-double-free: stats say $c" ;;
esac
t "control checks all" wrote "checks all"
t "checks all: stats say all" [ "$(field checks)" = all ]
t "control multishot on" wrote 'multishot on'
t "multishot on: parameter Y" [ "$(cat $P/multishot)" = Y ]
t "control multishot off" wrote "multishot off"
t "multishot off: parameter N" [ "$(cat $P/multishot)" = N ]
t "control attach foo_drv" wrote 'attach foo_drv'
t "attach foo_drv: stats drivers edu_sample,foo_drv" [ "$(field drivers)" = edu_sample,foo_drv ]
t "control attach foo_drv again" wrote "attach foo_drv"
t "attach foo_drv again: listed once" [ "$(field drivers)" = edu_sample,foo_drv ]
t "control detach foo_drv" wrote 'detach foo_drv'
t "detach foo_drv: stats drivers edu_sample" [ "$(field drivers)" = edu_sample ]
t "control detach foo_drv again: ENOENT" [ "$(ctl 'detach foo_drv')" = ENOENT ]
i=1
while [ $i -le 15 ]; do
	ctl "attach drv$i" > /dev/null
	i=$((i + 1))
done
t "16 drivers selected" [ "$(field drivers | sed 's/,/ /g' | wc -w)" = 16 ]
t "control attach of a 17th driver: ENOSPC" [ "$(ctl 'attach drv16')" = ENOSPC ]
t "dmaverify add of a 17th driver: exit 1, too many" eval 'cli 1 add drv16 && grep -q "too many" /tmp/e'
i=1
while [ $i -le 15 ]; do
	ctl "detach drv$i" > /dev/null
	i=$((i + 1))
done
t "15 drivers detached: edu_sample left" [ "$(field drivers)" = edu_sample ]
t "control detach edu_sample" wrote 'detach edu_sample'
t "detach edu_sample: stats drivers empty" [ -z "$(field drivers)" ]
modprobe edu_sample transfers=1
t "edu_sample bound while not selected: not verified" eval '[ "$(nattach)" = 0 ] && ! grep -q "^device" $DV/stats && [ -z "$(ls $DV/devices)" ]'
rmmod edu_sample
t "control attach edu_sample" wrote 'attach edu_sample'
modprobe edu_sample transfers=2
t "attach then modprobe edu_sample: verified (attach line, stats, devices/$EDU)" \
	eval '[ "$(nattach)" = 1 ] && attached && [ -f $DV/devices/$EDU/objects ]'
t "edu_sample's maps counted" eval '[ "$(sed -n "s/.*streaming maps *allocated \([0-9]*\) .*/\1/p" $DV/stats)" -ge 4 ]'
t "control rebind edu_sample" wrote 'rebind edu_sample'
t "rebind edu_sample: reprobed and verified again" \
	eval '[ "$(nattach)" = 2 ] && dmesg | grep -q "dmaverify: rebinding driver edu_sample" && attached'
t "control rebind nvme (not selected): ENOENT" [ "$(ctl 'rebind nvme')" = ENOENT ]
t "control scan" wrote scan
t "scan: no violation" [ "$(violations)" = 0 ]
rmmod edu_sample
modprobe edu_sample bug=double-unmap transfers=1
t "double-unmap: 1 violation counted" eval '[ "$(violations)" = 1 ] && grep -q "violation 0x05/0x00 double-unmap: 1" $DV/stats'
t "double-unmap: violations file has it" grep -q "slug=double-unmap " $DV/violations
echo "=== (e) dmaverify violations"
if cli 0 violations --json; then
	cat /tmp/o
	t "violations --json: one line, slug double-unmap" eval '[ "$(wc -l < /tmp/o)" = 1 ] && grep -q "\"slug\":\"double-unmap\"" /tmp/o'
	t "violations --json: keys time device driver code sub slug addr site shown report" \
		grep -qE '^\{"time":[0-9]+\.[0-9]+,"device":"'$EDU'","driver":"edu_sample","code":"0x05","sub":"0x00","slug":"double-unmap","addr":"[0-9a-f]+","site":"[^"]+","shown":true,"report":\{' /tmp/o
	# The whole report from debugfs "reports": title, codes, device, the
	# offending stack in edu_probe with the report's task and CPU, the
	# creating stack, the text as printed.
	t "violations --json: the report's title, bug check parameters, device" \
		grep -qE '"report":\{"number":[1-9][0-9]*,"time":[0-9.]+,"title":"BUG: dmaverify: double-unmap in edu_probe","slug":"double-unmap","bugcheck":"0xE6","parameter1":"0x05","parameter2":"0x00","device":"'$EDU'","driver":"edu_sample",' /tmp/o
	t "violations --json: the first stack is the call in edu_probe, with task and cpu" \
		grep -qE '"stacks":\[\{"what":"unmap of an address that is not mapped[^"]*","task":[0-9]+,"cpu":[0-9]+,"time":[0-9.]+,"frames":\["edu_probe\+0x[0-9a-f]+/0x[0-9a-f]+ \[edu_sample\]"' /tmp/o
	t "violations --json: the text has the CPU: line and the fix pointer" \
		eval 'grep -q "\\\\nCPU: [0-9]* UID: 0 PID: [0-9]* Comm: modprobe " /tmp/o && grep -q "dmaverify explain double-unmap" /tmp/o'
	json violations "$(cat /tmp/o)"
else
	bad "dmaverify violations --json failed"
fi
t "dmaverify violations: the raw line" eval 'cli 0 violations && grep -q "slug=double-unmap .* report=[1-9]" /tmp/o'
t "debugfs reports: the report whole, between report N and end N" \
	eval 'n=$(sed -n "s/.* report=\([0-9]*\)\$/\1/p" $DV/violations) && sed -n "/^report $n time=[0-9.]* device=$EDU driver=edu_sample code=0x05 sub=0x00 slug=double-unmap\$/,/^end $n\$/p" $DV/reports > /tmp/r && grep -q "^BUG: dmaverify: double-unmap in edu_probe\$" /tmp/r && grep -q "^ edu_probe+0x" /tmp/r && grep -q "^CPU: " /tmp/r'
t "dmaverify violations --full: the report as dmesg has it" \
	eval 'cli 0 violations --full && grep -q "^BUG: dmaverify: double-unmap in edu_probe\$" /tmp/o && dmesg | grep -q "BUG: dmaverify: double-unmap in edu_probe\$" && [ "$(grep -c "^ edu_probe+" /tmp/o)" -ge 1 ]'
t "dmaverify violations --json --full: usage error, exit 2" cli 2 violations --json --full
t "control reset" wrote reset
t "reset: violations 0, log empty, no device count" \
	eval '[ "$(violations)" = 0 ] && [ -z "$(cat $DV/violations)" ] && ! grep -q "  violation " $DV/stats'
t "dmaverify violations after reset: no violations" eval 'cli 0 violations && grep -q "no violations" /tmp/o'
t "dmaverify violations --json after reset: nothing" eval 'cli 0 violations --json && [ ! -s /tmp/o ]'
t "reset empties debugfs reports" eval '[ ! -s $DV/reports ]'
rmmod edu_sample

echo "=== (b) control commands, bad input"
# bad_input WHAT PRINTF-ARGS...: the write fails with EINVAL, nothing changes.
bad_input()
{
	what=$1
	shift
	before=$(snap)
	res=$(printf "$@" | ./dvwrite $DV/control)
	after=$(snap)
	if [ "$res" = EINVAL ] && [ "$before" = "$after" ]; then
		ok "control rejects $what: EINVAL, settings unchanged"
	else
		bad "control $what: got '$res'; settings $([ "$before" = "$after" ] && echo unchanged || echo "changed: $(echo $after)")"
	fi
}
bad_input "an unknown verb" 'bogus\n'
bad_input "attach without argument" 'attach\n'
bad_input "attach with only blanks" 'attach   \n'
bad_input "detach without argument" 'detach\n'
bad_input "rebind without argument" 'rebind\n'
bad_input "action without argument" 'action\n'
bad_input "action bogus" 'action bogus\n'
bad_input "checks without argument" 'checks\n'
bad_input "checks bogus" 'checks bogus\n'
bad_input "checks all,bogus" 'checks all,bogus\n'
bad_input "checks with an empty item" 'checks all,\n'
bad_input "multishot maybe" 'multishot maybe\n'
bad_input "multishot without argument" 'multishot\n'
bad_input "enable with an argument" 'enable now\n'
bad_input "reset with an argument" 'reset all\n'
bad_input "an empty write" ''
bad_input "a lone newline" '\n'
bad_input "a 200-byte write" 'attach %0192d\n' 0
bad_input "a 128-byte write" 'attach %0120d\n' 0
bad_input "binary bytes (NUL, 0xff)" 'enable\x00\xff\n'
bad_input "a NUL after a valid command" 'disable\x00'
bad_input "two commands in one write" 'disable\nenable\n'
bad_input "0xff in a driver name" 'attach edu\xff\n'
bad_input "a driver name with a slash" 'attach a/b\n'
bad_input "a driver name of 40 characters" 'attach %040d\n' 0
t "200 bytes counted: printf made 200" [ "$(printf 'attach %0192d\n' 0 | wc -c)" = 200 ]
t "a 127-byte command is read whole (detach of an unknown name: ENOENT, not EINVAL)" \
	[ "$(printf 'detach %0119d\n' 0 | ./dvwrite $DV/control)" = ENOENT ]
# Put back what a wrongly accepted command changed, for the next checks.
for d in $(field drivers | sed 's/,/ /g'); do
	[ "$d" = edu_sample ] || printf 'detach %s\n' "$d" | ./dvwrite $DV/control > /dev/null
done
grep -q '^drivers: .*edu_sample' $DV/stats || ctl 'attach edu_sample' > /dev/null
ctl enable > /dev/null
ctl 'action log' > /dev/null
ctl 'checks all' > /dev/null
ctl 'multishot off' > /dev/null
t "after the bad input: edu_sample still selected, enabled, action log, checks all" \
	[ "$(field drivers)/$(field enabled)/$(field action)/$(field checks)" = "edu_sample/1/log/all" ]
t "control is readable and lists the commands" grep -q "multishot on|off" $DV/control

echo "=== (e) CLI subcommands"
t "dmaverify help: exit 0, usage" eval 'cli 0 help && grep -q "^Usage: dmaverify" /tmp/o'
t "dmaverify (no arguments): exit 0, usage" eval 'cli 0 && grep -q "^Usage: dmaverify" /tmp/o'
for args in "bogus" "action" "action log warn" "checks" "add" "add edu_sample --frob" "remove" \
	"enable now" "disable now" "reset now" "scan now" "rebind" \
	"dump --kind" "dump --kind bogus" "dump --frob" "dump a b" "violations --xml" "unload now" \
	"load --driver" "load --bogus" "load --param nonsense" "load --ko" \
	"set" "set stack_depth" "set a b c" "set bogus 1" "set hash_bits 8" "set mode ops" "set ../x 1" \
	"explain" "explain bogus" "explain a b" "explain 0x99" "watch --count" "watch --count 0" \
	"watch --interval x" "watch --frob" "watch --json --full" "violations --full x" "gate --frob" "reset --frob" "reset --all now" "query --xml" \
	"query a b" "--version now" "attach" "detach"; do
	before=$(snap)
	if cli 2 $args; then
		if [ ! -s /tmp/e ]; then
			bad "dmaverify $args: exit 2 without a message"
		elif [ "$before" != "$(snap)" ]; then
			bad "dmaverify $args: exit 2 but the settings changed"
		else
			ok "dmaverify $args: exit 2 ($(head -1 /tmp/e))"
		fi
	else
		bad "dmaverify $args: wrong usage not refused with 2"
	fi
done
for args in "action bogus" "checks nope" "checks all,-nope" "multishot maybe" "add a/b" \
	"remove not_selected" "rebind not_selected" "dump 0000:99:99.9" \
	"set stack_depth 99" "set action bogus" "set max_objects 0" "query 0000:99:99.9" "query now"; do
	before=$(snap)
	if cli 1 $args; then
		if [ ! -s /tmp/e ]; then
			bad "dmaverify $args: exit 1 without a message"
		elif [ "$before" != "$(snap)" ]; then
			bad "dmaverify $args: exit 1 but the settings changed"
		else
			ok "dmaverify $args: exit 1 ($(head -1 /tmp/e))"
		fi
	else
		bad "dmaverify $args: failure not reported with 1"
	fi
done
t "dmaverify action bogus: says Invalid argument" eval 'cli 1 action bogus; grep -q "Invalid argument" /tmp/e'
t "dmaverify checks nope: shows the kernel's reason" eval 'cli 1 checks nope; grep -q "unknown check" /tmp/e'
t "dmaverify disable" eval 'cli 0 disable && [ "$(field enabled)" = 0 ]'
t "dmaverify enable" eval 'cli 0 enable && [ "$(field enabled)" = 1 ]'
t "dmaverify action warn" eval 'cli 0 action warn && [ "$(field action)" = warn ]'
t "dmaverify action log" eval 'cli 0 action log && [ "$(field action)" = log ]'
t "dmaverify checks all,-leak" eval 'cli 0 checks all,-leak && ! field checks | grep -q leak'
t "dmaverify checks all" eval 'cli 0 checks all && [ "$(field checks)" = all ]'
t "dmaverify multishot on" eval 'cli 0 multishot on && [ "$(cat $P/multishot)" = Y ]'
t "dmaverify multishot off" eval 'cli 0 multishot off && [ "$(cat $P/multishot)" = N ]'
t "dmaverify add foo_drv,bar_drv" eval 'cli 0 add foo_drv,bar_drv && [ "$(field drivers)" = edu_sample,foo_drv,bar_drv ]'
t "dmaverify remove foo_drv bar_drv" eval 'cli 0 remove foo_drv bar_drv && [ "$(field drivers)" = edu_sample ]'
t "dmaverify attach foo_drv (alias of add)" eval 'cli 0 attach foo_drv && [ "$(field drivers)" = edu_sample,foo_drv ]'
t "dmaverify detach foo_drv (alias of remove)" eval 'cli 0 detach foo_drv && [ "$(field drivers)" = edu_sample ]'
t "dmaverify set stack_depth 99: the kernel's reason" eval 'cli 1 set stack_depth 99; grep -q "not a number from 0 to 32" /tmp/e'
t "dmaverify set hash_bits 8: says load time" eval 'cli 2 set hash_bits 8; grep -q "load time" /tmp/e'
t "dmaverify scan" cli 0 scan
t "dmaverify reset" eval 'cli 0 reset && [ "$(violations)" = 0 ]'
modprobe edu_sample transfers=1
t "dmaverify remove edu_sample (bound): exit 0, still verified" \
	eval 'cli 0 remove edu_sample && [ -z "$(field drivers)" ] && attached'
n0=$(nattach)
t "dmaverify add edu_sample: exit 0, tells about --rebind" \
	eval 'cli 0 add edu_sample && grep -q -- "--rebind" /tmp/e && [ "$(field drivers)" = edu_sample ]'
t "dmaverify add edu_sample --rebind: reprobed" eval 'cli 0 add edu_sample --rebind && [ "$(nattach)" = $((n0 + 1)) ] && attached'
t "dmaverify rebind edu_sample: reprobed" eval 'cli 0 rebind edu_sample && [ "$(nattach)" = $((n0 + 2)) ] && attached'
if cli 0 query; then
	cat /tmp/o
	t "dmaverify query: settings" grep -q "^dmaverify: enabled, action log, checks all" /tmp/o
	t "dmaverify query: drivers" grep -q "^selected drivers: edu_sample" /tmp/o
	t "dmaverify query: the device and its mode" grep -q "^device $EDU  driver edu_sample  attached  mode ops$" /tmp/o
	missing=
	for f in $P/*; do
		grep -qE "^  ${f##*/} +(run-time|load-time) " /tmp/o || missing="$missing ${f##*/}"
	done
	t "dmaverify query: every parameter of $P (missing:$missing)" [ -z "$missing" ]
	t "dmaverify query: stack_depth run-time, hash_bits load-time" \
		eval 'grep -qE "^  stack_depth +run-time +16$" /tmp/o && grep -qE "^  hash_bits +load-time +14$" /tmp/o'
	t "dmaverify query: map counters" grep -qE '^  map +[1-9][0-9]* +[1-9][0-9]* +0 ' /tmp/o
else
	bad "dmaverify query failed"
fi
t "dmaverify query $EDU: that device" eval 'cli 0 query $EDU && grep -q "^device $EDU " /tmp/o'
if cli 0 query --json; then
	json query "$(cat /tmp/o)"
	t "query --json: one line, version, parameters, the device in mode ops" \
		eval '[ "$(wc -l < /tmp/o)" = 1 ] && grep -q "^{\"version\":\"[0-9]" /tmp/o && grep -q "\"stack_depth\":{\"value\":16,\"writable\":true}" /tmp/o && grep -q "\"hash_bits\":{\"value\":14,\"writable\":false}" /tmp/o && grep -q "\"device\":\"$EDU\",\"driver\":\"edu_sample\",\"state\":\"attached\",\"mode\":\"ops\"" /tmp/o'
else
	bad "dmaverify query --json failed"
fi
rmmod edu_sample

echo "=== (e) dmaverify dump with leaked mappings"
modprobe edu_sample bug=leak transfers=2
if cli 0 dump; then
	cat /tmp/o
	t "dump: header with device, driver, state" grep -q "^device $EDU  driver edu_sample  state attached" /tmp/o
	t "dump: counts per kind" grep -q "^  outstanding: coherent 1, pages 0, map 1, resource 0, sg 0 (2 objects)" /tmp/o
	t "dump: a map line" grep -q '^  map \[dma 0x[0-9a-f]*-0x[0-9a-f]*, size=512, DMA_FROM_DEVICE\]' /tmp/o
	t "dump: a coherent line" grep -q '^  coherent \[dma .*size=8192, DMA_BIDIRECTIONAL, cpu=' /tmp/o
else
	bad "dmaverify dump failed"
fi
t "dump --kind coherent: the coherent line only" \
	eval 'cli 0 dump --kind coherent && grep -q "^  coherent \[" /tmp/o && ! grep -q "^  map \[" /tmp/o'
t "dump DEVICE --kind=map: the map line only" \
	eval 'cli 0 dump $EDU --kind=map && grep -q "^  map \[" /tmp/o && ! grep -q "^  coherent \[" /tmp/o'
t "dump --kind sg: none" eval 'cli 0 dump --kind sg && grep -q "(no outstanding sg object)" /tmp/o'
if cli 0 dump --stacks --kind map; then
	cat /tmp/o
	t "dump --stacks: the map's stack, in edu_sample" grep -q '^    .*\[edu_sample\]' /tmp/o
else
	bad "dmaverify dump --stacks failed"
fi
t "dump: same objects as devices/$EDU/objects" \
	eval '[ "$(grep -c "^[a-z]" $DV/devices/$EDU/objects)" = 2 ]'
rmmod edu_sample
t "unbind with leaks: leak-map and leak-coherent reported" \
	eval 'cli 0 violations --json && grep -q "\"slug\":\"leak-map\"" /tmp/o && grep -q "\"slug\":\"leak-coherent\"" /tmp/o'
t "after unbind: dump shows the device released" eval 'cli 0 dump && grep -q "state released" /tmp/o'
t "dmaverify reset after the leaks: 0 violations" eval 'cli 0 reset && [ "$(violations)" = 0 ] && [ -z "$(cat $DV/violations)" ]'

echo "=== (h) set, gate, watch, reset --all"
cli 0 reset
t "dmaverify gate with no violation: exit 0" eval 'cli 0 gate && grep -q "passed" /tmp/e'
dmaverify watch --count 1 --interval 0.2 > /tmp/watch 2> /tmp/watch.err &
wpid=$!
sleep 1
modprobe edu_sample bug=double-unmap transfers=1
i=0
while kill -0 $wpid 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
if kill -0 $wpid 2>/dev/null; then
	kill $wpid
	bad "dmaverify watch --count 1: still running 10 s after a violation ($(cat /tmp/watch.err))"
else
	wait $wpid
	wrc=$?
	cat /tmp/watch
	t "dmaverify watch --count 1: exit 0 after the planted double-unmap, its line" \
		eval '[ $wrc = 0 ] && [ "$(wc -l < /tmp/watch)" = 1 ] && grep -q "device=$EDU driver=edu_sample code=0x05 sub=0x00 slug=double-unmap " /tmp/watch'
fi
if cli 3 gate; then
	cat /tmp/o
	t "dmaverify gate after a planted bug: exit 3, the rule and the log line" \
		eval 'grep -q "FAILED, 1 violation" /tmp/o && grep -q "0x05/0x00 double-unmap: 1" /tmp/o && grep -q "slug=double-unmap " /tmp/o'
else
	bad "dmaverify gate after a planted bug: not exit 3"
fi
if cli 3 gate --json; then
	json gate "$(cat /tmp/o)"
	t "dmaverify gate --json: exit 3, JSON on stdout, the summary on stderr" \
		eval 'grep -q "\"slug\":\"double-unmap\"" /tmp/o && grep -q "FAILED" /tmp/e && ! grep -q FAILED /tmp/o'
else
	bad "dmaverify gate --json after a planted bug: not exit 3"
fi
# watch --json, stopped by SIGTERM: exit 0; it prints only new violations.
# (multishot: the same call site again is printed, not rate-limited, so its
# report is kept whole.)
echo "multishot on" > $DV/control
dmaverify watch --json --interval 0.2 > /tmp/watch 2> /tmp/watch.err &
wpid=$!
sleep 1
rmmod edu_sample
modprobe edu_sample bug=double-unmap transfers=1
sleep 1
kill -TERM $wpid
wait $wpid
wrc=$?
cat /tmp/watch
json watch "$(cat /tmp/watch)"
t "dmaverify watch --json: the new violation only, exit 0 on SIGTERM" \
	eval '[ $wrc = 0 ] && [ "$(wc -l < /tmp/watch)" = 1 ] && grep -q "\"slug\":\"double-unmap\"" /tmp/watch'
t "dmaverify watch --json: with the whole report and its stacks" \
	grep -q '"title":"BUG: dmaverify: double-unmap in edu_probe".*"frames":\["edu_probe+' /tmp/watch
# watch --full: the printed report whole, as it happens.
dmaverify watch --full --count 1 --interval 0.2 > /tmp/watch 2> /tmp/watch.err &
wpid=$!
sleep 1
rmmod edu_sample
modprobe edu_sample bug=double-unmap transfers=1
i=0
while kill -0 $wpid 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill $wpid 2>/dev/null
wait $wpid
wrc=$?
echo "multishot off" > $DV/control
t "dmaverify watch --full --count 1: exit 0, the report whole" \
	eval '[ $wrc = 0 ] && grep -q "^BUG: dmaverify: double-unmap in edu_probe\$" /tmp/watch && grep -q "^ edu_probe+0x" /tmp/watch && grep -q "DRIVER_VERIFIER_DMA_VIOLATION (0xE6), parameter 1 0x05" /tmp/watch && [ "$(grep -c "^BUG: " /tmp/watch)" = 1 ]'
rmmod edu_sample
t "dmaverify set stack_depth 8" eval 'cli 0 set stack_depth 8 && [ "$(cat $P/stack_depth)" = 8 ]'
t "dmaverify set bounce on" eval 'cli 0 set bounce on && [ "$(cat $P/bounce)" = Y ]'
t "dmaverify set fail_every 3" eval 'cli 0 set fail_every 3 && [ "$(cat $P/fail_every)" = 3 ]'
t "dmaverify set multishot 1" eval 'cli 0 set multishot 1 && [ "$(cat $P/multishot)" = Y ]'
t "dmaverify set action warn" eval 'cli 0 set action warn && [ "$(field action)" = warn ]'
t "dmaverify query shows the set values" \
	eval 'cli 0 query && grep -qE "^  stack_depth +run-time +8$" /tmp/o && grep -qE "^  fail_every +run-time +3$" /tmp/o && grep -qE "^  bounce +run-time +Y$" /tmp/o'
t "dmaverify reset --all: exit 0" cli 0 reset --all
cat /tmp/e
t "reset --all: violations 0, log empty, parameters at their defaults, selection kept" \
	eval '[ "$(violations)" = 0 ] && [ -z "$(cat $DV/violations)" ] && [ "$(cat $P/stack_depth)/$(cat $P/bounce)/$(cat $P/fail_every)/$(cat $P/multishot)/$(cat $P/action)/$(cat $P/driver)" = 16/N/0/N/warn/edu_sample ]'
t "reset --all: says the allocation counters cannot be zeroed" grep -q "cannot be zeroed" /tmp/e
t "dmaverify gate after reset --all: exit 0" cli 0 gate
cli 0 action log

echo "=== (f) disable/enable consistency"
cli 0 reset
t "dmaverify disable" cli 0 disable
modprobe edu_sample transfers=20
t "dmaverify enable" cli 0 enable
rmmod edu_sample
t "bound while disabled, unbound while enabled: 0 violations" \
	eval '[ "$(violations)" = 0 ] && [ -z "$(cat $DV/violations)" ]'
# Toggle while a verified probe does 50 round trips (100 mappings).
cli 0 reset
n0=$(nattach)
modprobe edu_sample transfers=50 &
pid=$!
i=0
while [ "$(nattach)" = "$n0" ] && [ $i -lt 500 ]; do
	i=$((i + 1))
	kill -0 $pid 2>/dev/null || break
	sleep 0.01
done
toggles=0
while kill -0 $pid 2>/dev/null; do
	echo disable > $DV/control
	echo enable > $DV/control
	toggles=$((toggles + 2))
done
wait $pid
prc=$?
[ "$(field enabled)" = 1 ] || echo enable > $DV/control
t "toggling during a verified probe: modprobe ok, device was verified, $toggles toggles" \
	eval '[ $prc = 0 ] && [ "$(nattach)" = $((n0 + 1)) ] && [ $toggles -ge 10 ]'
rmmod edu_sample
t "toggling during a verified probe: 0 violations" \
	eval '[ "$(violations)" = 0 ] && [ -z "$(cat $DV/violations)" ]'
grep "^device\|allocated\|tracked" $DV/stats
t "toggling during a verified probe: all unmapped, stats show nothing outstanding (got $(outstanding), untracked $(untracked_out))" \
	eval '[ "$(outstanding)" = 0 ] && [ "$(untracked_out)" = 0 ]'
# The same with the CLI from the first moment (the bind may fall in either state).
cli 0 reset
modprobe edu_sample transfers=20 &
pid=$!
toggles=0
while kill -0 $pid 2>/dev/null; do
	dmaverify disable 2>/dev/null
	dmaverify enable 2>/dev/null
	toggles=$((toggles + 2))
done
wait $pid
prc=$?
rmmod edu_sample
t "dmaverify disable/enable loop during a probe ($toggles toggles): 0 violations" \
	eval '[ $prc = 0 ] && [ "$(field enabled)" = 1 ] && [ "$(violations)" = 0 ] && [ -z "$(cat $DV/violations)" ]'

echo "=== (g) permissions"
modprobe edu_sample transfers=1
mode() { stat -c %a "$1"; }
t "control is 0600" [ "$(mode $DV/control)" = 600 ]
t "stats, violations are 0400" [ "$(mode $DV/stats)$(mode $DV/violations)" = 400400 ]
t "devices/$EDU/objects, stacks are 0400" [ "$(mode $DV/devices/$EDU/objects)$(mode $DV/devices/$EDU/stacks)" = 400400 ]
dm=$(mode $DV) ddm=$(mode $DV/devices) rm=$(mode /sys/kernel/debug)
case $rm in
*0) ok "debugfs root $rm: $DV ($dm) and devices/ ($ddm) cannot be reached by others" ;;
*) bad "debugfs root is $rm: $DV ($dm) reachable by others" ;;
esac
case $dm in
*0) ;;
*) echo "  note: $DV is $dm and devices/ is $ddm (debugfs_create_dir's 0755): world-listable once the debugfs root is" ;;
esac
# A real user: busybox su with a passwd file made here.
grep -q '^nobody:' /etc/passwd 2>/dev/null || echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >> /etc/passwd
grep -q '^nogroup:' /etc/group 2>/dev/null || echo 'nogroup:x:65534:' >> /etc/group
asnobody() { su -s /bin/sh nobody -c "$1" > /tmp/su.out 2>&1; }
if asnobody 'id -u' && [ "$(cat /tmp/su.out)" = 65534 ]; then
	for mnt in 700 755; do
		if [ $mnt = 755 ]; then
			mount -o remount,mode=755 /sys/kernel/debug ||
				{ bad "cannot remount debugfs with mode=755"; break; }
		fi
		for f in stats violations control devices/$EDU/objects devices/$EDU/stacks; do
			asnobody "cat $DV/$f" && bad "nobody reads $f (debugfs root $mnt)" ||
				ok "nobody cannot read $f (debugfs root $mnt): $(head -1 /tmp/su.out)"
		done
		asnobody "echo disable > $DV/control" && bad "nobody writes control (debugfs root $mnt)" ||
			ok "nobody cannot write control (debugfs root $mnt)"
		t "still enabled after nobody's write" [ "$(field enabled)" = 1 ]
		asnobody "dmaverify query" && bad "dmaverify query works for nobody" ||
			ok "dmaverify query as nobody: fails ($(head -1 /tmp/su.out))"
	done
	mount -o remount,mode=700 /sys/kernel/debug
else
	echo "  note: su nobody does not work here ($(cat /tmp/su.out)): file modes only"
fi
rmmod edu_sample

echo "=== end"
t "dmaverify unload: exit 0" cli 0 unload
t "unloaded: no module, no debugfs directory" eval '! loaded && [ ! -e $DV ]'
t "dmaverify query after unload: exit 1" cli 1 query

echo "=== (h) query in observe mode"
if cli 0 load --driver edu_sample --param mode=observe; then
	modprobe edu_sample transfers=2
	if cli 0 query; then
		cat /tmp/o
		t "query, observe mode: the device in mode observe, its observer counts" \
			eval 'grep -q "^device $EDU  driver edu_sample  attached  mode observe$" /tmp/o && grep -qE "^  observer: [0-9]+ calls missed since load \([0-9]+ creations since attach\), [0-9]+ unverifiable$" /tmp/o && grep -q "^observer probes: " /tmp/o && grep -qE "^observer kind: [fk]probes$" /tmp/o'
	else
		bad "dmaverify query in observe mode failed"
	fi
	if cli 0 query --json; then
		json query "$(cat /tmp/o)"
		t "query --json, observe mode: mode, observer counts, probes" \
			eval 'grep -q "\"mode\":\"observe\"" /tmp/o && grep -qE "\"observer\":\{\"missed\":[0-9]+,\"missed_creations\":[0-9]+,\"unverifiable\":[0-9]+,\"degraded\":(true|false)\}" /tmp/o && grep -q "\"observer_probes\":\"" /tmp/o && grep -qE "\"observer_kind\":\"[fk]probes\"" /tmp/o && grep -q "\"degraded\":false" /tmp/o'
	else
		bad "dmaverify query --json in observe mode failed"
	fi
	rmmod edu_sample
	t "dmaverify gate, observe mode, no bug: exit 0" cli 0 gate
	t "dmaverify unload (observe mode): exit 0" cli 0 unload
else
	bad "dmaverify load --param mode=observe failed"
fi
echo "=== (i) the titles, the report ring's bound"
# Every title printed so far parses as syzkaller's KASAN/KFENCE titles do.
titles=$(dmesg | sed -n 's/^\[[^]]*\] //; /^BUG: dmaverify: /p')
t "every title printed ($(printf '%s\n' "$titles" | grep -c .)) matches syzkaller's title shape (the tool, the slug, in function)" \
	eval '[ -n "$titles" ] && ! printf "%s\n" "$titles" | grep -vE "^BUG: [A-Za-z0-9_-]+: [a-z0-9-]+ in [A-Za-z0-9_.]+\$"'
loaded && rmmod dmaverify
t "report_ring=65 refused (0-64)" eval '! modprobe dmaverify report_ring=65 2>/dev/null'
if modprobe dmaverify driver=edu_sample action=log multishot=1 report_ring=1; then
	for i in 1 2; do
		modprobe edu_sample bug=double-unmap transfers=1
		rmmod edu_sample
	done
	last=$(sed -n '$s/.* report=\([0-9]*\)$/\1/p' $DV/violations)
	t "report_ring=1: debugfs reports keeps the last report only" \
		eval '[ "$(grep -c "^report [0-9]* time=" $DV/reports)" = 1 ] && grep -q "^report $last time=" $DV/reports && [ "$last" -ge 2 ]'
	t "report_ring=1: violations --json: the older report null, the last one whole" \
		eval 'cli 0 violations --json && head -1 /tmp/o | grep -q "\"shown\":true,\"report\":null}$" && tail -1 /tmp/o | grep -q "\"report\":{\"number\":$last,"'
	rmmod dmaverify
else
	bad "modprobe dmaverify report_ring=1 failed"
fi
if modprobe dmaverify driver=edu_sample action=log report_ring=0; then
	modprobe edu_sample bug=double-unmap transfers=1
	rmmod edu_sample
	t "report_ring=0: no report kept, the log says report=0, --json report null" \
		eval '[ ! -s $DV/reports ] && grep -q "slug=double-unmap .* shown=1 report=0$" $DV/violations && cli 0 violations --json && grep -q "\"report\":null}$" /tmp/o'
	rmmod dmaverify
else
	bad "modprobe dmaverify report_ring=0 failed"
fi

echo "=== (f) selection by driver or module name"
loaded && rmmod dmaverify
modprobe usb_storage || bad "modprobe usb_storage failed"
dmesg -c > /dev/null
# xhci-pci: a module (spelt with '-') whose driver is xhci_hcd, loaded
# later; usb_storage: a USB driver's module; edu_smaple: a typo.
if modprobe dmaverify driver=xhci-pci,usb_storage,edu_smaple action=log; then
	t "a misspelt name: dmesg says no driver or module has it" \
		eval 'dmesg | grep -q "dmaverify: driver=edu_smaple: no PCI or platform driver or module of that name is registered now"'
	t "a USB driver's module: dmesg says it is verified through its host controller" \
		eval 'dmesg | grep -q "dmaverify: driver=usb_storage: a USB driver: its DMA is verified through its host controller (indirect)"'
	t "stats: usb_storage selected as a USB driver, edu_smaple unregistered" \
		eval 'grep -q "^selected usb_storage devices 0 ops 0 observe 0 as usb-driver$" $DV/stats && grep -q "^selected edu_smaple devices 0 ops 0 observe 0 as unregistered$" $DV/stats'
	modprobe xhci_pci || bad "modprobe xhci_pci failed"
	sleep 1
	t "a module name selects its driver: xhci_hcd's device attached" \
		eval 'dmesg | grep -q "dmaverify: verifying DMA of driver xhci_hcd (mode: "'
	t "stats: xhci-pci selects 1 device as module of pci:xhci_hcd" \
		eval 'grep -q "^selected xhci-pci devices 1 ops 1 observe 0 as module:pci:xhci_hcd$" $DV/stats'
	t "query: per selected name, devices and mode" \
		eval 'cli 0 query && grep -q "^  xhci-pci: 1 device (ops 1, observe 0); module xhci-pci, which registers pci:xhci_hcd$" /tmp/o && grep -q "^  usb_storage: 0 devices (ops 0, observe 0); a USB driver, verified through its host controller$" /tmp/o && grep -q "^  edu_smaple: 0 devices .*no such driver or module registered yet$" /tmp/o'
	if cli 0 query --json; then
		json query "$(cat /tmp/o)"
		t "query --json: selected names with devices and how they resolve" \
			eval 'grep -q "\"selected\":\[{\"name\":\"xhci-pci\",\"devices\":1,\"ops\":1,\"observe\":0,\"as\":\"module:pci:xhci_hcd\"}" /tmp/o'
	else
		bad "dmaverify query --json (selection) failed"
	fi
	t "control attach xhci_pci: dmesg says the module registers xhci_hcd" \
		eval 'wrote "attach xhci_pci" && dmesg | grep -q "dmaverify: driver=xhci_pci: no driver has that name; module xhci_pci registers pci:xhci_hcd: its devices are verified"'
	rmmod xhci_pci
	rmmod dmaverify || bad "rmmod dmaverify (selection) failed"
else
	bad "modprobe dmaverify driver=xhci-pci,usb_storage,edu_smaple failed"
fi
e=$(dmesg | grep -E 'Oops|WARNING:|general protection|UBSAN|KASAN|dmaverify: cannot attach|reprobe failed' | head -3)
[ -z "$e" ] && ok "no kernel warnings" || bad "kernel messages: $e"
sleep 1
echo "CLI-RESULTS-BEGIN"
cat $R
echo "CLI-RESULTS-END"
GUEST

start=$(date +%s)
set +e
"$TOP/scripts/vmrun" --kernel "$kernel" --qemu '-device edu,dma_mask=0xffffffff -device qemu-xhci' \
	--allow 'BUG: dmaverify:' --timeout "${T_TIMEOUT:-240}" --log "$log" \
	--file "$tmp/dvwrite" --file "$tmp/cli.sh" --file "$TOP/Documentation/dmaverify-codes.txt" -- sh cli.sh > "$tmp/vmrun.out" 2>&1
rc=$?
set -e
[ -s "$log" ] || cp "$tmp/vmrun.out" "$log"
secs=$(($(date +%s) - start))

results=$(tr -d '\r' < "$log" | sed -n '/^CLI-RESULTS-BEGIN$/,/^CLI-RESULTS-END$/p' | grep -aE '^(ok|FAIL) ' || true)
# The JSON printed by the guest: each line valid.
jsoncheck=''
if command -v python3 > /dev/null; then
	jsoncheck='python3 -m json.tool'
elif command -v jq > /dev/null; then
	jsoncheck='jq .'
fi
for name in query gate watch violations; do
	lines=$(tr -d '\r' < "$log" | sed -n "s/^JSON-$name: //p")
	if [ -z "$jsoncheck" ]; then
		hostres+="ok   host: $name JSON not checked (neither python3 nor jq here)"$'\n'
	elif [ -z "$lines" ]; then
		hostres+="FAIL host: no $name JSON from the guest"$'\n'
	else
		bad=0
		while IFS= read -r l; do
			$jsoncheck <<< "$l" > /dev/null 2>&1 || { bad=1; hostres+="FAIL host: invalid $name JSON: ${l:0:200}"$'\n'; }
		done <<< "$lines"
		[ $bad = 1 ] || hostres+="ok   host: $name JSON valid ($jsoncheck, $(wc -l <<< "$lines") line(s))"$'\n'
	fi
done
results=$(printf '%s%s' "$hostres" "$results")
[ -n "$results" ] && echo "$results"
fail=0
if [ "$rc" != 0 ]; then
	echo "FAIL the VM run: vmrun exited $rc ($(tail -3 "$tmp/vmrun.out" | tr '\n' ' '))"
	fail=1
fi
if [ -z "$results" ]; then
	echo "FAIL no results from the guest (console: $log)"
	fail=1
elif grep -q '^FAIL ' <<< "$results"; then
	fail=1
fi
npass=$(grep -c '^ok ' <<< "$results" || true)
nfail=$(grep -c '^FAIL ' <<< "$results" || true)
echo "$npass checks ok, $nfail failed, ${secs}s (console: $log)"
if [ $fail = 0 ]; then
	echo "PASS cli-debugfs $kernel"
else
	echo "FAIL cli-debugfs $kernel"
fi
exit $fail
