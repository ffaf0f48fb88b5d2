"""Idealised layered metal halides from a close-packed CdI2-type layer (see README).

Usage: python make_layered.py OUT_DIR  (writes the *_layered.cif files of this folder)
"""

import math
import sys

import numpy as np
from pymatgen.core import Lattice, Structure


def cdi2(m, x, d_mx, c):
    a = math.sqrt(2) * d_mx  # X-X edge of an ideal octahedron
    z = (a * math.sqrt(2 / 3) / 2) / c  # anion plane height above the metal plane
    return Structure(
        Lattice.hexagonal(a, c), [m, x, x], [[0, 0, 0], [1 / 3, 2 / 3, z], [2 / 3, 1 / 3, 1 - z]]
    )


def mx3(m, x, d_mx, c):
    s = cdi2(m, x, d_mx, c)
    s.make_supercell([[2, 1, 0], [-1, 1, 0], [0, 0, 1]])  # sqrt3 x sqrt3: 3 M, 6 X
    ms = [i for i, site in enumerate(s) if site.specie.symbol == m]
    # remove the metal at the origin: the other two form a honeycomb
    origin = min(ms, key=lambda i: np.linalg.norm(s[i].frac_coords % 1))
    s.remove_sites([origin])
    return s


def mx4(m, x, d_mx, c):
    s = cdi2(m, x, d_mx, c)
    s.make_supercell([[2, 0, 0], [0, 1, 0], [0, 0, 1]])  # 2 M rows along a
    ms = sorted(i for i, site in enumerate(s) if site.specie.symbol == m)
    s.remove_sites([ms[1]])  # every other row: edge-sharing chains along b
    return s


CASES = {  # formula: (builder, M, X, M-X distance in A from Shannon radii, layer repeat c in A)
    "YCl3": (mx3, "Y", "Cl", 2.71, 6.0),
    "ScCl3": (mx3, "Sc", "Cl", 2.56, 5.9),
    "InCl3": (mx3, "In", "Cl", 2.52, 5.9),
    "YBr3": (mx3, "Y", "Br", 2.86, 6.4),
    "ScBr3": (mx3, "Sc", "Br", 2.71, 6.3),
    "InBr3": (mx3, "In", "Br", 2.68, 6.3),
    "ZrCl4": (mx4, "Zr", "Cl", 2.53, 5.9),
    "ZrBr4": (mx4, "Zr", "Br", 2.68, 6.3),
}
out = sys.argv[1]
for f, (b, m, x, d, c) in CASES.items():
    s = b(m, x, d, c)
    assert s.composition.reduced_formula == f, (f, s.composition)
    kind = (
        "honeycomb MX3 layer (BiI3/AlCl3 family, AA stacking)"
        if b is mx3
        else "MX4 layer of edge-sharing octahedral chains (ZrCl4 family)"
    )
    name = f"{out}/{f}_layered.cif"
    s.to(filename=name)
    txt = open(name).read()
    head = (
        f"# {f}: idealised {kind}; M-{x} = {d} A (Shannon radii), interlayer repeat {c} A.\n"
        "# Built by removing metals from a CdI2-type close-packed layer; "
        "relaxed by the MLFF before use.\n"
    )
    open(name, "w").write(head + txt)
    print(f, len(s), s.lattice.abc)
