# SPDX-License-Identifier: GPL-2.0
#
# dmaverify: build against your running kernel with `make` (or KDIR=...),
# or against a kernel prepared by scripts/kernel with `make KERNEL=NAME`.
#
#   make [KDIR=...] [C=2]   build dmaverify.ko (and the samples) here
#   make KERNEL=test        build for a prepared kernel, into build/test/
#   make demo               the demo: a real DMA bug found in a VM
#   make check              the tests CI runs (tier 1; see scripts/check);
#                           ends with "N passed, N failed"
#   make check-all          every test on every kernel (tier 2)
#   make harness-selftest   the VM harness alone: boots and NVMe I/O, no dmaverify
#   make kunit              the KUnit suite in a VM
#   make bench              the benchmark
#   make stress             the long robustness run (debug kernel)

TOP := $(CURDIR)
SOURCES := Kbuild dmaverify kunit samples stress

ifneq ($(KERNEL),)
BDIR := $(TOP)/build/$(KERNEL)
KMAKE := $(TOP)/scripts/kmake $(KERNEL)
else
KDIR ?= /lib/modules/$(shell uname -r)/build
BDIR := $(TOP)
KMAKE := $(MAKE) -C $(KDIR)
endif

.PHONY: all modules clean check check-all harness-selftest demo kunit bench stress sparse checkpatch

all: modules

# The compat header is probed once per kernel tree (see scripts/compat-probe).
$(BDIR)/dmaverify/compat-autoconf.h: scripts/compat-probe
	@mkdir -p $(BDIR)/dmaverify
	+scripts/compat-probe $@ $(KMAKE)

modules:
ifneq ($(KERNEL),)
	@mkdir -p $(BDIR)
	@rsync -a --exclude compat-autoconf.h --exclude '.probes' --exclude '*.o' \
		--exclude '*.ko' --exclude '*.cmd' --exclude '*.mod*' $(SOURCES) $(BDIR)/
endif
	@$(MAKE) --no-print-directory $(BDIR)/dmaverify/compat-autoconf.h
	+$(KMAKE) M=$(BDIR) $(if $(C),C=$(C)) modules

clean:
	rm -rf build dmaverify/compat-autoconf.h dmaverify/.probes
	find . -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' \
		-o -name '.*.cmd' -o -name 'modules.order' -o -name 'Module.symvers' \
		| grep -v '^./.git' | xargs rm -f

demo:
	scripts/demo

check:
	scripts/check

check-all:
	CHECK_TIER=2 scripts/check

harness-selftest:
	scripts/harness-selftest --boots 10 --fio 3 test debian-6.12 debian-6.1 debian-7

kunit:
	scripts/run-kunit

bench:
	scripts/bench

stress:
	scripts/stress

sparse:
	$(MAKE) KERNEL=test C=2 modules

checkpatch:
	scripts/run-checkpatch

# --- Installing (without DKMS; see README "Installing") ----------------------
#
#   make [KDIR=...] modules_install [DESTDIR=...]
#                           dmaverify.ko into $(DESTDIR)/lib/modules/KREL/extra
#                           (KREL: KDIR's kernel release), then depmod
#   make install-tools [PREFIX=/usr/local] [DESTDIR=...]
#                           the CLI as $(PREFIX)/sbin/dmaverify, its bash
#                           completion, the man page dmaverify(8) and the
#                           rules' explanations ($(PREFIX)/share/dmaverify)
#   make install            both
#   make uninstall          removes what they installed
#   make man                build/dmaverify.8 (rst2man, python3-docutils)

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
DATADIR ?= $(PREFIX)/share/dmaverify
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALL_MOD_DIR ?= extra
VERSION := $(shell head -n 1 $(TOP)/VERSION)
# The release of the kernel the module is built for (recursive: only
# evaluated by modules_install).
ifneq ($(KERNEL),)
KREL = $(shell $(TOP)/scripts/kernel --env $(KERNEL) | sed -n 's/^KREL=//p')
else
KREL = $(shell cat $(KDIR)/include/config/kernel.release 2>/dev/null)
endif
MODDEST = $(DESTDIR)/lib/modules/$(KREL)/$(INSTALL_MOD_DIR)

.PHONY: install install-tools modules_install uninstall man

install: modules_install install-tools

modules_install: modules
	@test -n "$(KREL)" || { echo "no kernel release in $(KDIR)/include/config/kernel.release" >&2; exit 1; }
	install -d $(MODDEST)
	install -m 644 $(BDIR)/dmaverify.ko $(MODDEST)/dmaverify.ko
	$(if $(DESTDIR),,depmod -a $(KREL))

$(TOP)/build/dmaverify.8: Documentation/dmaverify.8.rst Documentation/dmaverify.rst VERSION
	@mkdir -p $(TOP)/build
	cd Documentation && sed 's/@VERSION@/$(VERSION)/' dmaverify.8.rst | \
		rst2man --halt=warning > $@.tmp
	mv $@.tmp $@

man: $(TOP)/build/dmaverify.8

install-tools: $(TOP)/build/dmaverify.8
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(BASHCOMPDIR)
	install -m 755 scripts/dmaverify $(DESTDIR)$(SBINDIR)/dmaverify
	install -m 644 scripts/dmaverify.bash-completion $(DESTDIR)$(BASHCOMPDIR)/dmaverify
	install -m 644 $(TOP)/build/dmaverify.8 $(DESTDIR)$(MANDIR)/man8/dmaverify.8
	install -m 644 VERSION Documentation/dmaverify-codes.txt \
		Documentation/dmaverify-reports.rst $(DESTDIR)$(DATADIR)/

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/dmaverify $(DESTDIR)$(BASHCOMPDIR)/dmaverify \
		$(DESTDIR)$(MANDIR)/man8/dmaverify.8
	rm -rf $(DESTDIR)$(DATADIR)
	$(if $(KREL),rm -f $(MODDEST)/dmaverify.ko)
	$(if $(DESTDIR)$(KERNEL),,$(if $(KREL),depmod -a $(KREL)))
