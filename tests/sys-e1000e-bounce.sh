#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sys-e1000e-bounce.sh KERNEL: tests/sys-e1000e.sh with dmaverify's bounce
# buffers (bounce=1): the device only ever sees dmaverify's redzoned,
# poisoned copies; data must still verify, with zero violations.
# kernels: test debian-6.12
# kernels, tier 2: test-debug
DV_PARAMS="bounce=1 ${DV_PARAMS:-}" exec "$(dirname "$0")/sys-e1000e.sh" "$@"
