#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sys-ahci-observe.sh KERNEL: tests/sys-ahci.sh in observe-only mode
# (mode=observe: probes on the DMA API), on the kernel without per-device
# dma_map_ops and on Debian's 7.x where it is forced.  Same workload, same
# data checks, zero violations, and on fprobes no call missed.
# kernels: test-noops debian-7
DV_PARAMS="mode=observe ${DV_PARAMS:-}" exec "$(dirname "$0")/sys-ahci.sh" "$@"
