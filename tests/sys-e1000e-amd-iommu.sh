#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sys-e1000e-amd-iommu.sh KERNEL: tests/sys-e1000e.sh with both NICs
# behind QEMU's AMD IOMMU (amd-iommu,pt=off, iommu.strict=1).  The test
# kernel has no AMD IOMMU driver.
# On debian-6.1 it checks the twin's PCI identity: there iommu-dma tries a
# 32-bit IOVA first only for a PCI device (dev_is_pci(), 6.5 moved the test
# to dev->iommu); with a twin that was no PCI device the NICs got IOVAs near
# 2^64 (amd-iommu's aperture), and behind QEMU's amd-iommu their packets of
# 6000 bytes were lost.
# kernels: debian-6.12
# kernels, tier 2: debian-7 debian-6.1
DV_IOMMU=amd
. "$(dirname "$0")/sys-e1000e.sh"
