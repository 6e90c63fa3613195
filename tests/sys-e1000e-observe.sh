#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sys-e1000e-observe.sh KERNEL: tests/sys-e1000e.sh in observe-only
# mode (mode=observe), on the kernel without per-device dma_map_ops and on
# a distribution kernel where it is forced.
# kernels: test-noops debian-6.12 debian-7
DV_PARAMS="mode=observe ${DV_PARAMS:-}" exec "$(dirname "$0")/sys-e1000e.sh" "$@"
