#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sys-nvme-iommu-observe.sh KERNEL: tests/sys-nvme-iommu.sh in observe
# mode.  On Debian's 7.x the block layer maps nvme's requests through the
# IOVA API (dma_iova_link(), dma_iova_destroy()), which bypasses the
# dma_map_* calls: the observer tracks the links as streaming mappings, so
# the I/O must be counted (not only the 14 maps of the controller's setup)
# with no report.
# kernels: debian-7
DV_PARAMS="mode=observe ${DV_PARAMS:-}" exec "$(dirname "$0")/sys-nvme-iommu.sh" "$@"
