"""Physical constants of the materials, shared by the simulators and the analysis.

A low-level module: it imports nothing from tmdlearn, so :mod:`tmdlearn.synth` and the
analysis packages (:mod:`tmdlearn.stem`) read the same values without importing each other.
"""

from __future__ import annotations

#: Atomic numbers (HAADF Z-contrast weights).
Z = {"C": 6, "S": 16, "Se": 34, "Mo": 42, "W": 74}
#: In-plane lattice constants, Å: graphene 2.46 Å (C–C 1.42 Å), WS2 3.153 Å and MoS2 3.160 Å
#: (the sulphide Vegard end members of WS2(1-x)Se2x and MoS2(1-x)Se2x; 2H bulk values).
LATTICE_ANGSTROM = {"graphene": 2.46, "ws2": 3.153, "mos2": 3.160}
#: WS2 lattice constant, Å (the other Vegard end member is :data:`A_WSE2_ANGSTROM`).
A_WS2_ANGSTROM = LATTICE_ANGSTROM["ws2"]
#: WSe2 lattice constant, Å: a WS2(1-x)Se2x layer has a = (1 - x) a_WS2 + x a_WSe2 (Vegard).
A_WSE2_ANGSTROM = 3.282
#: MoS2 and MoSe2 lattice constants, Å (2H bulk): the Vegard end members of MoS2(1-x)Se2x.
A_MOS2_ANGSTROM = LATTICE_ANGSTROM["mos2"]
A_MOSE2_ANGSTROM = 3.288
#: The metal column species of the TMD films, and each metal's Vegard end members (sulphide,
#: selenide; Å).
METALS = ("W", "Mo")
VEGARD_ANGSTROM = {"W": (A_WS2_ANGSTROM, A_WSE2_ANGSTROM),
                   "Mo": (A_MOS2_ANGSTROM, A_MOSE2_ANGSTROM)}
#: The lattice constants (least, most; Å) of the specimens each STEM model is for: the WS2
#: model also reads MoS2 (3.16 Å) and MoSe2 (3.29 Å), 2H TMDs of the same structure.
LATTICE_RANGE_ANGSTROM = {"graphene": (LATTICE_ANGSTROM["graphene"],) * 2,
                          "ws2": (A_WS2_ANGSTROM, 3.29)}
