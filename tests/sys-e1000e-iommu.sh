#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sys-e1000e-iommu.sh KERNEL: tests/sys-e1000e.sh with both NICs
# behind QEMU's Intel IOMMU (intel_iommu=on iommu.strict=1): their rings
# and packets translated, every unmapped IOVA invalid at once; the traffic
# must verify with zero reports and no IOMMU fault.
# kernels: test debian-6.12
# kernels, tier 2: debian-6.1 debian-7
DV_IOMMU=intel
. "$(dirname "$0")/sys-e1000e.sh"
