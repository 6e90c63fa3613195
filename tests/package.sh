#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Packaging: the Debian packages, DKMS, make install, and a VM that loads the
# DKMS-built module through modprobe.
#
# Usage: tests/package.sh [VM-KERNEL]   (default debian-6.12)
#
#  1. dpkg-buildpackage -us -uc in a copy of the tree: the source package,
#     dmaverify-dkms and dmaverify-tools; lintian must report no error (E:)
#     on any of them; the packages'
#     contents (dpkg -c) and versions are checked against VERSION.
#  2. DKMS (dkms add + build, as the dmaverify-dkms package's postinst does,
#     in a private DKMS tree: nothing is installed on the host) from the
#     package's /usr/src/dmaverify-VERSION, against Debian's 6.12, 6.1 and
#     7.x (the latter in its gcc 14 build root); `dkms add` of a checkout
#     (the top-level dkms.conf reads VERSION).
#  3. make install-tools and make modules_install into a DESTDIR; the
#     installed CLI runs from there (its version and explanations).
#  4. VM-KERNEL boots with the DKMS-built module in
#     /lib/modules/KREL/updates/dkms and dmaverify-tools unpacked: depmod,
#     `dmaverify load` (modprobe) finds DKMS's module, NVMe I/O is verified
#     without a violation, and edu_sample's double unmap is reported
#     (`dmaverify gate` exits 3, explain works from /usr/share/dmaverify).
#
# Prints "ok ..."/"FAIL ..." per check and ends with "PASS package" or
# "FAIL package"; exit status 1 on failure.
# Not grep -q at the end of a pipe: with pipefail, the writer may die of
# SIGPIPE.  The checks' commands are strings for eval, expanded there:
# shellcheck disable=SC2016
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMK=${1:-debian-6.12}
DKMS_KERNELS=(debian-6.12 debian-6.1 debian-7)
VERSION=$(head -n 1 "$TOP/VERSION")
logdir=${DMAVERIFY_TEST_LOGS:-${TMPDIR:-/tmp}/dmaverify-tests}
mkdir -p "$logdir"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dmaverify-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$TOP/scripts/deps" >&2

fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
# check DESCRIPTION COMMAND...: ok if COMMAND succeeds.
check() { local d=$1; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }
# CACHE: the kernels' cache (scripts/kernel).
. "$TOP/scripts/lib.sh"
t0=$(date +%s)
elapsed() { echo "$(($(date +%s) - t0))s"; }

# --- 1. the packages ---------------------------------------------------------

# A copy of the tree (what git tracks, or everything but build products):
# dpkg-buildpackage writes the packages next to it.
mkdir -p "$tmp/pkg/src"
if git -C "$TOP" rev-parse --git-dir > /dev/null 2>&1; then
	git -C "$TOP" ls-files -co --exclude-standard | rsync -a --files-from=- "$TOP/" "$tmp/pkg/src/"
else
	rsync -a --exclude build --exclude '*.o' --exclude '*.ko' --exclude .git "$TOP/" "$tmp/pkg/src/"
fi
if (cd "$tmp/pkg/src" && dpkg-buildpackage -us -uc) > "$logdir/package-build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc ($(elapsed); log: $logdir/package-build.log)"
else
	bad "dpkg-buildpackage failed: $(tail -5 "$logdir/package-build.log" | tr '\n' '|')"
	echo "FAIL package"
	exit 1
fi
dkms_deb=$tmp/pkg/dmaverify-dkms_${VERSION}_all.deb
tools_deb=$tmp/pkg/dmaverify-tools_${VERSION}_all.deb
check "the packages are named after VERSION ($VERSION): $(cd "$tmp/pkg" && echo ./*.deb ./*.dsc)" \
	test -f "$dkms_deb" -a -f "$tools_deb" -a -f "$tmp/pkg/dmaverify_$VERSION.dsc"
check "debian/changelog's version is VERSION's ($VERSION; on a new VERSION, add a changelog entry)" \
	test "$(cd "$TOP" && dpkg-parsechangelog -S Version)" = "$VERSION"

# lintian exits 1 when it found errors, 2 when it could not check.
rc=0
lintian "$tmp"/pkg/*.changes > "$tmp/lintian" 2>&1 || rc=$?
grep -v 'running with root privileges' "$tmp/lintian" > "$logdir/package-lintian.log" || true
errs=$(grep -c '^E: ' "$logdir/package-lintian.log" || true)
warns=$(grep -c '^W: ' "$logdir/package-lintian.log" || true)
if [ $rc = 0 ] && [ "$errs" = 0 ]; then
	ok "lintian: 0 errors, $warns warnings"
else
	bad "lintian (exit $rc): $errs errors: $(grep -v '^[WIPN]: ' "$logdir/package-lintian.log" | head -3 | tr '\n' '|')"
fi
grep '^W: ' "$logdir/package-lintian.log" | sed 's/^/     lintian /' || true

# The contents: each package's files, and nothing else (no build products).
contents()
{
	dpkg -c "$1" | awk '$1 !~ /^d/ { sub(/^\.\//, "", $6); print $6 }' | sort
}
want_dkms="usr/share/doc/dmaverify-dkms/changelog.gz
usr/share/doc/dmaverify-dkms/copyright
usr/src/dmaverify-$VERSION/Kbuild
usr/src/dmaverify-$VERSION/Makefile
usr/src/dmaverify-$VERSION/VERSION
usr/src/dmaverify-$VERSION/dkms.conf
$(cd "$TOP" && for f in dmaverify/*.[ch]; do [ "$f" = dmaverify/compat-autoconf.h ] || echo "usr/src/dmaverify-$VERSION/$f"; done)
usr/src/dmaverify-$VERSION/scripts/compat-probe"
got=$(contents "$dkms_deb")
if [ "$got" = "$(sort <<< "$want_dkms")" ]; then
	ok "dmaverify-dkms: $(wc -l <<< "$got") files: the module's source, Kbuild, Makefile, compat-probe, dkms.conf"
else
	bad "dmaverify-dkms contents: $(diff <(sort <<< "$want_dkms") <(echo "$got") | grep '^[<>]' | head -5 | tr '\n' ' ')"
fi
want_tools="usr/sbin/dmaverify
usr/share/bash-completion/completions/dmaverify
usr/share/dmaverify/VERSION
usr/share/dmaverify/dmaverify-codes.txt
usr/share/dmaverify/dmaverify-reports.rst
usr/share/doc/dmaverify-tools/README.gz
usr/share/doc/dmaverify-tools/changelog.gz
usr/share/doc/dmaverify-tools/copyright
usr/share/doc/dmaverify-tools/dmaverify.rst.gz
usr/share/man/man8/dmaverify.8.gz"
got=$(contents "$tools_deb")
if [ "$got" = "$(sort <<< "$want_tools")" ]; then
	ok "dmaverify-tools: $(wc -l <<< "$got") files: the CLI, bash completion, dmaverify(8), the rules' explanations"
else
	bad "dmaverify-tools contents: $(diff <(sort <<< "$want_tools") <(echo "$got") | grep '^[<>]' | head -5 | tr '\n' ' ')"
fi
check "dmaverify-dkms depends on dkms" eval 'dpkg-deb -f "$dkms_deb" Depends | grep "^dkms" > /dev/null'
check "dmaverify-tools: /usr/sbin/dmaverify is executable" \
	eval 'dpkg -c "$tools_deb" | grep "^-rwxr-xr-x .* ./usr/sbin/dmaverify$" > /dev/null'
dpkg-deb -x "$dkms_deb" "$tmp/dkms-deb"
dpkg-deb -x "$tools_deb" "$tmp/tools-deb"
conf=$tmp/dkms-deb/usr/src/dmaverify-$VERSION/dkms.conf
check "the packaged dkms.conf spells out PACKAGE_VERSION=\"$VERSION\"" grep -qx "PACKAGE_VERSION=\"$VERSION\"" "$conf"
check "dkms.conf: BUILT_MODULE_NAME dmaverify, AUTOINSTALL" \
	eval 'grep -qx "BUILT_MODULE_NAME\[0\]=\"dmaverify\"" "$conf" && grep -qx "AUTOINSTALL=\"yes\"" "$conf"'
# shellcheck disable=SC2034 # used in the eval strings below
manpage=$tmp/tools-deb/usr/share/man/man8/dmaverify.8.gz
check "dmaverify(8): section 8, version $VERSION, with the CLI's commands and the parameters" \
	eval 'zcat "$manpage" | grep "^\.TH \"\?DMAVERIFY\"\? \"\?8\"\? .*$VERSION" > /dev/null &&
		zcat "$manpage" | grep "dmaverify gate" > /dev/null && zcat "$manpage" | grep "scan_interval_ms" > /dev/null'
check "dmaverify(8) renders without groff errors" \
	eval '! (LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$manpage" 2>&1 >/dev/null | grep -v "character above first line discarded" | grep .)'
cli=$tmp/tools-deb/usr/sbin/dmaverify
check "the packaged CLI: --version is $VERSION (from its share/dmaverify)" \
	test "$(DMAVERIFY_DOC='' "$cli" --version)" = "dmaverify $VERSION"
check "the packaged CLI: explain finds its share/dmaverify, not the checkout" \
	eval '"$cli" explain double-unmap | grep "^A real report of each rule: $tmp/tools-deb/usr/share/dmaverify/dmaverify-reports.rst" > /dev/null'
check "bash completion: 'dmaverify expl<TAB>' and 'dmaverify explain leak-<TAB>'" \
	eval 'bash -c ". $tmp/tools-deb/usr/share/bash-completion/completions/dmaverify
		PATH=$tmp/tools-deb/usr/sbin:\$PATH
		COMP_WORDS=(dmaverify expl); COMP_CWORD=1; _dmaverify; a=\${COMPREPLY[*]}
		COMP_WORDS=(dmaverify explain leak-); COMP_CWORD=2; _dmaverify
		[ \"\$a\" = explain ] && [ \"\${COMPREPLY[*]}\" = \"leak-coherent leak-map leak-sg\" ]"'

# --- 2. DKMS -----------------------------------------------------------------

# dkms_build NAME: dkms add + build of the packaged source for kernel NAME,
# in a private DKMS tree under $tmp; the module in $tmp/dkms-NAME.ko.
dkms_build()
{
	local k=$1 KDIR KREL CHROOT
	eval "$("$TOP/scripts/kernel" --env "$k" | grep -E '^(KDIR|KREL|CHROOT)=')"
	local d=$tmp/dkms/$k
	mkdir -p "$d/tree" "$d/install/$KREL"
	local args=(--sourcetree "$tmp/dkms-deb/usr/src" --dkmstree "$d/tree" --installtree "$d/install")
	local cmd="dkms add dmaverify/$VERSION ${args[*]} &&
		dkms build dmaverify/$VERSION -k $KREL --kernelsourcedir $KDIR ${args[*]}"
	local start rc=0
	start=$(date +%s)
	if [ -z "$CHROOT" ]; then
		bash -c "$cmd" > "$d/dkms.log" 2>&1 || rc=$?
	else
		# The kernel's build root (gcc 14) has no dkms: the host's script
		# (bash) runs there, with $tmp and the kernel cache mounted.
		unshare -m bash -euc "
			for p in '$tmp' '$CACHE'; do
				mkdir -p '$CHROOT'\$p
				mount --bind \$p '$CHROOT'\$p
			done
			touch '$CHROOT/usr/sbin/dkms'
			mount --bind /usr/sbin/dkms '$CHROOT/usr/sbin/dkms'
			mount -t proc proc '$CHROOT/proc'
			chroot '$CHROOT' env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
				bash -c '$cmd'
		" > "$d/dkms.log" 2>&1 || rc=$?
	fi
	local ko
	ko=$(find "$d/tree/dmaverify/$VERSION/$KREL" -name dmaverify.ko 2>/dev/null | head -1)
	if [ $rc != 0 ] || [ -z "$ko" ]; then
		bad "dkms build for $k ($KREL) failed (exit $rc): $(grep -v '^$' "$d/dkms.log" | tail -3 | tr '\n' '|')"
		tail -20 "$d/tree/dmaverify/$VERSION/build/make.log" 2>/dev/null | sed 's/^/     | /'
		return 0
	fi
	cp "$ko" "$tmp/dkms-$k.ko"
	local vm warn
	vm=$(modinfo -F vermagic "$ko")
	warn=$(grep -E 'warning:|error:' "$d/tree/dmaverify/$VERSION/$KREL"/*/log/make.log | grep -v 'pahole version differs' | head -2 || true)
	if [ "${vm%% *}" = "$KREL" ] && [ -z "$warn" ]; then
		ok "dkms build for $k: $KREL, $(($(date +%s) - start))s${CHROOT:+ (in its gcc 14 build root)}, vermagic '$vm', no warning"
	else
		bad "dkms build for $k: vermagic '$vm' (want $KREL)${warn:+; warnings: $warn}"
	fi
}

for k in "${DKMS_KERNELS[@]}"; do
	dkms_build "$k"
done
# From a checkout: the top-level dkms.conf reads its version from VERSION.
mkdir -p "$tmp/co-tree"
if dkms add "$tmp/pkg/src" --dkmstree "$tmp/co-tree" --sourcetree "$tmp/co-src" > "$tmp/co.log" 2>&1 &&
	[ -f "$tmp/co-src/dmaverify-$VERSION/dkms.conf" ] &&
	dkms status --dkmstree "$tmp/co-tree" --sourcetree "$tmp/co-src" | grep "^dmaverify/$VERSION: added" > /dev/null; then
	ok "dkms add CHECKOUT: dmaverify/$VERSION added (the version read from VERSION)"
else
	bad "dkms add of a checkout: $(tail -3 "$tmp/co.log" | tr '\n' '|')"
fi

# --- 3. make install ---------------------------------------------------------

inst=$tmp/inst
if make -s -C "$TOP" install-tools DESTDIR="$inst" PREFIX=/opt/dv > "$tmp/inst.log" 2>&1 &&
	make -s -C "$TOP" KERNEL=debian-6.12 modules_install DESTDIR="$inst" >> "$tmp/inst.log" 2>&1; then
	eval "$("$TOP/scripts/kernel" --env debian-6.12 | grep '^KREL=')"
	files=$(cd "$inst" && find . -type f | sort | xargs)
	want="./lib/modules/$KREL/extra/dmaverify.ko ./opt/dv/sbin/dmaverify ./opt/dv/share/bash-completion/completions/dmaverify ./opt/dv/share/dmaverify/VERSION ./opt/dv/share/dmaverify/dmaverify-codes.txt ./opt/dv/share/dmaverify/dmaverify-reports.rst ./opt/dv/share/man/man8/dmaverify.8"
	check "make install-tools PREFIX=/opt/dv + modules_install KERNEL=debian-6.12, DESTDIR: $(wc -w <<< "$files") files" \
		test "$files" = "$want"
	[ "$files" = "$want" ] || echo "     got: $files"
	check "the installed CLI (DESTDIR/opt/dv/sbin) finds its share/dmaverify: version and explain" \
		eval 'test "$("$inst/opt/dv/sbin/dmaverify" --version)" = "dmaverify $VERSION" &&
			"$inst/opt/dv/sbin/dmaverify" explain leak-map | grep "^A real report of each rule: $inst/opt/dv/share/dmaverify/" > /dev/null'
	make -s -C "$TOP" uninstall DESTDIR="$inst" PREFIX=/opt/dv KERNEL=debian-6.12 >> "$tmp/inst.log" 2>&1
	check "make uninstall (same DESTDIR, PREFIX, KERNEL) leaves no file" \
		test -z "$(find "$inst" -type f)"
else
	bad "make install-tools/modules_install: $(tail -3 "$tmp/inst.log" | tr '\n' '|')"
fi

# --- 4. the VM ---------------------------------------------------------------

ko=$tmp/dkms-$VMK.ko
[ -f "$ko" ] || dkms_build "$VMK"
if [ ! -f "$ko" ]; then
	bad "no DKMS-built module for $VMK: no VM run"
else
	mkdir -p "$tmp/vm"
	cp "$ko" "$tmp/vm/dmaverify.ko"
	cp -a "$tmp/tools-deb" "$tmp/vm/tools"
	img=$tmp/nvme.img
	truncate -s 256M "$img"
	cat > "$tmp/vm/guest.sh" <<'GUEST'
. ./guest-lib.sh
K=$(uname -r)
M=/lib/modules/$K
# What dpkg -i of the two packages does: dmaverify-tools unpacked, and the
# module DKMS built for this kernel where DKMS installs it, then depmod.
cp -a tools/. / || fail "cannot unpack dmaverify-tools"
mkdir -p $M/updates/dkms && cp dmaverify.ko $M/updates/dkms/ || fail "cannot install dmaverify.ko"
/usr/sbin/depmod -a || fail "depmod -a failed"
[ ! -e $M/extra/dmaverify.ko ] || fail "another dmaverify.ko is in $M/extra"
f=$(/usr/sbin/modinfo -n dmaverify)
[ "$f" = $M/updates/dkms/dmaverify.ko ] || fail "modprobe finds dmaverify at '$f', not DKMS's"
step "modprobe finds DKMS's module: $f ($(/usr/sbin/modinfo -F vermagic dmaverify))"
DVC=/usr/sbin/dmaverify
[ "$($DVC --version)" = "dmaverify $(cat /usr/share/dmaverify/VERSION)" ] || fail "$DVC --version: $($DVC --version)"
$DVC explain double-unmap | grep -q '^double-unmap: bug check 0xE6' || fail "$DVC explain double-unmap failed"
$DVC load --driver nvme,edu_sample --action log || fail "$DVC load --driver nvme,edu_sample failed"
grep -q "^dmaverify " /proc/modules || fail "dmaverify is not loaded"
step "loaded by $DVC load (modprobe)"
mods nvme
disk=$(find_disk 524288) || fail "no 256 MB disk appeared"
raw_check /dev/$disk 16 direct
fio_check /dev/$disk 4
dv_check nvme
$DVC gate || fail "$DVC gate failed after NVMe I/O"
step "NVMe verified: $OPS DMA operations, no violation"
# A real bug: edu_sample unmaps a buffer twice.
modprobe edu_sample bug=double-unmap transfers=3 || fail "modprobe edu_sample failed"
/usr/sbin/rmmod edu_sample
dmesg | grep -q 'BUG: dmaverify: double-unmap in edu_' || fail "no double-unmap report from edu_sample"
$DVC gate > /tmp/gate 2>&1
rc=$?
[ $rc = 3 ] || fail "$DVC gate exited $rc after the double unmap, not 3"
grep -q 'double-unmap' /tmp/gate || fail "$DVC gate does not name double-unmap: $(head -3 /tmp/gate)"
step "edu_sample's double unmap reported; $DVC gate exits 3"
echo "PKG-RESULT PASS ops=$OPS path=$PATHS"
GUEST
	log=$logdir/package-vm-$VMK.log
	rc=0
	"$TOP/scripts/vmrun" --kernel "$VMK" --no-dmaverify --timeout 240 --log "$log" \
		--allow 'BUG: dmaverify: double-unmap' \
		--qemu "-drive file=$img,if=none,id=d0,format=raw -device nvme,drive=d0,serial=dv1 -device edu,dma_mask=0xffffffff" \
		--file "$TOP/tests/guest-lib.sh" --file "$tmp/vm/guest.sh" --file "$tmp/vm/dmaverify.ko" \
		--file "$tmp/vm/tools" -- sh guest.sh > "$tmp/vm.out" 2>&1 || rc=$?
	[ -s "$log" ] || cp "$tmp/vm.out" "$log"
	res=$(tr -d '\r' < "$log" | grep -a '^PKG-RESULT PASS' | tail -1 || true)
	if [ $rc = 0 ] && [ -n "$res" ]; then
		tr -d '\r' < "$log" | grep -a '^DVT: \[' | sed 's/^/     /' | grep -E 'modprobe finds|loaded by|NVMe verified|double unmap'
		ok "VM $VMK: DKMS's module loaded through modprobe, ${res#PKG-RESULT PASS }; edu_sample's bug reported ($(elapsed))"
	else
		bad "VM $VMK (vmrun exit $rc): $(tr -d '\r' < "$log" | grep -a -E 'DVT-RESULT FAIL|DVT: failure' | head -2 | tr '\n' '|') (console: $log)"
	fi
fi

echo "package: $(elapsed)"
if [ $fails = 0 ]; then
	echo "PASS package"
else
	echo "FAIL package ($fails checks failed)"
	exit 1
fi
