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
	scripts/compat-probe $@ $(KMAKE)

modules:
ifneq ($(KERNEL),)
	@mkdir -p $(BDIR)
	@rsync -a --exclude compat-autoconf.h --exclude '.probes' --exclude '*.o' \
		--exclude '*.ko' --exclude '*.cmd' --exclude '*.mod*' $(SOURCES) $(BDIR)/
endif
	@$(MAKE) --no-print-directory $(BDIR)/dmaverify/compat-autoconf.h
	$(KMAKE) M=$(BDIR) $(if $(C),C=$(C)) modules

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
