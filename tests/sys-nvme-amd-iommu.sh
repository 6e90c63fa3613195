#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sys-nvme-amd-iommu.sh KERNEL: tests/sys-nvme-iommu.sh behind QEMU's
# AMD IOMMU (amd-iommu,pt=off, iommu.strict=1): nvme's I/O translated by
# amd-iommu, verified with zero reports.  The test kernel has no AMD IOMMU
# driver.
# kernels: debian-6.12
# kernels, tier 2: debian-6.1 debian-7
DV_IOMMU=amd
. "$(dirname "$0")/sys-nvme-iommu.sh"
