#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sys-nvme-observe.sh KERNEL: tests/sys-nvme.sh in observe-only mode
# (mode=observe: probes on the DMA API instead of dma_map_ops: fprobes on
# test-noops, debian-6.12 and debian-7, kprobes on debian-6.1).  On
# test-noops, a kernel without per-device dma_map_ops, that is what
# mode=auto picks; on the others it is forced.  debian-6.1 probes
# dma_map_page_attrs, debian-7 dma_map_phys.  Same workload plus 60 s of
# fio at queue depth 32, same data checks, zero violations, DMA operations
# counted, and on fprobes no call missed.
# kernels: test-noops debian-6.1 debian-6.12 debian-7
DV_PARAMS="mode=observe ${DV_PARAMS:-}" exec "$(dirname "$0")/sys-nvme.sh" "$@"
