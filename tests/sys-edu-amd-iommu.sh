#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sys-edu-iommu.sh behind QEMU's AMD IOMMU (amd-iommu,pt=off,
# iommu.strict=1): the correct edu driver's round trips translated and
# silent, dmaverify attached to amd-iommu's fault tracepoint; the bug cases
# checked when the IOMMU logs their fault (see sys-edu-iommu.sh).  The test
# kernel has no AMD IOMMU driver.
#
# Usage: tests/sys-edu-amd-iommu.sh KERNEL
# kernels: debian-6.12
# kernels, tier 2: debian-6.1 debian-7
DV_IOMMU=amd exec "$(dirname "$0")/sys-edu-iommu.sh" "$@"
