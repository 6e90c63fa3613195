#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sys-nvme-smmu.sh KERNEL: tests/sys-nvme-arm64.sh behind QEMU's
# SMMUv3 (-M virt,iommu=smmuv3, iommu.strict=1): dmaverify forwards to the
# IOMMU's DMA ops, says that arm-smmu-v3's faults are not verified, and the
# disk works before, during and after it.
#
# kernels: test-arm64 debian-6.12-arm64 debian-6.1-arm64
NVME_MACHINE=iommu=smmuv3
NVME_APPEND=iommu.strict=1
. "$(dirname "$0")/sys-nvme-arm64.sh"
