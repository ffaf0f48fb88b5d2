"""Structure types of the reference library, built from space group + Wyckoff positions.

Elements: :data:`ELEMENTS` (ground-state structure per element, lattice constants at room
temperature). Binaries and ternaries: builders that take the species and a cation-anion bond
length and return a :class:`~pymatgen.core.Structure` whose shortest cation-anion distance is
that bond; the campaign's MLFF then relaxes positions and cell. Every builder's docstring is
its source line (space group, Wyckoff positions, reference).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
from pymatgen.core import Lattice, Structure

WYCKOFF_1963 = "Wyckoff, Crystal Structures, 2nd ed. (1963)"

#: simple ground states: builder -> element -> lattice parameters (Å, room temperature)
_SIMPLE: dict[str, dict[str, tuple]] = {
    "bcc": {"Li": (3.451,), "Na": (4.225,), "K": (5.23,), "Rb": (5.59,), "Cs": (6.05,),
            "Ba": (5.02,), "V": (3.03,), "Cr": (2.88,), "Fe": (2.87,), "Nb": (3.30,),
            "Mo": (3.15,), "Ta": (3.30,), "W": (3.16,), "Eu": (4.58,)},
    "fcc": {"Al": (4.05,), "Ca": (5.58,), "Sr": (6.08,), "Ni": (3.52,), "Cu": (3.61,),
            "Ag": (4.09,), "Au": (4.08,), "Pb": (4.95,), "Pd": (3.89,), "Pt": (3.92,),
            "Rh": (3.80,), "Ir": (3.84,), "Yb": (5.49,), "Ce": (5.16,)},
    "hcp": {"Mg": (3.21, 5.21), "Zn": (2.66, 4.95), "Cd": (2.98, 5.62), "Sc": (3.31, 5.27),
            "Y": (3.65, 5.73), "Ti": (2.95, 4.68), "Zr": (3.23, 5.15), "Hf": (3.19, 5.05),
            "Co": (2.51, 4.07), "Be": (2.29, 3.58), "Gd": (3.63, 5.78), "Lu": (3.50, 5.55),
            "Ru": (2.71, 4.28), "Re": (2.76, 4.46), "Tl": (3.46, 5.52),
            "La": (3.77, 6.07)},  # La: dhcp in nature, hcp stacking here (a few meV/atom)
    "diamond": {"C": (3.567,), "Si": (5.431,), "Ge": (5.658,),
                "Sn": (6.489,)},  # alpha-Sn, the 0 K phase
    "a7": {"As": (3.76, 10.55, 0.227), "Sb": (4.31, 11.27, 0.2336),
           "Bi": (4.55, 11.86, 0.2339)},
}  # fmt: skip

#: element -> (builder name, parameters, source).
ELEMENTS: dict[str, tuple[str, tuple, str]] = {
    **{el: (kind, p, WYCKOFF_1963) for kind, table in _SIMPLE.items() for el, p in table.items()},
    "In": ("tetragonal_i", (3.25, 4.95), WYCKOFF_1963 + ": I4/mmm, In 2a"),
    "Ga": (
        "cmce_8f",
        (4.519, 7.659, 4.526, 0.1539, 0.0798),
        "alpha-Ga, Cmce, Ga 8f (0, 0.154, 0.080); " + WYCKOFF_1963,
    ),
    "P": (
        "cmce_8f",
        (3.314, 10.478, 4.376, 0.1017, 0.0806),
        "black P, Cmce, P 8f (0, 0.102, 0.081); Brown & Rundqvist, Acta Cryst. 19, 684 (1965)",
    ),
    "Se": (
        "chain",
        (4.366, 4.954, 0.2254),
        "trigonal Se, P3_121, Se 3a (x, 0, 1/3); " + WYCKOFF_1963,
    ),
    "Te": ("chain", (4.457, 5.929, 0.2636), "trigonal Te, P3_121, Te 3a; " + WYCKOFF_1963),
    "Cl": (
        "cmce_8f",
        (6.24, 4.48, 8.26, 0.1015, 0.1083),
        "solid Cl2, Cmce, Cl 8f; Powell, Heal & Torrie, Mol. Phys. 53, 929 (1984)",
    ),
    "Br": (
        "cmce_8f",
        (6.67, 4.48, 8.72, 0.1034, 0.1163),
        "solid Br2, Cmce, Br 8f; Powell, Heal & Torrie, Mol. Phys. 53, 929 (1984)",
    ),
    "I": ("cmce_8f", (7.18, 4.71, 9.81, 0.1543, 0.1174), "solid I2, Cmce, I 8f; " + WYCKOFF_1963),
    "F": (
        "dimers",
        (1.42, 2.9),
        "idealised: F2 molecules (1.42 Å) on the solid-Cl2 (Cmce) "
        "arrangement scaled to 2.9 Å contacts; not the real alpha-F2 (C2/c)",
    ),
    "O": (
        "dimers",
        (1.21, 2.9),
        "idealised: O2 molecules (1.21 Å) on the solid-Cl2 (Cmce) "
        "arrangement; not the real alpha-O2 (C2/m), spin not treated",
    ),
    "N": (
        "dimers",
        (1.10, 3.3),
        "idealised: N2 molecules (1.10 Å) on the solid-Cl2 (Cmce) "
        "arrangement; not the real alpha-N2 (Pa-3)",
    ),
    "S": (
        "s8",
        (2.05, 108.0),
        "idealised: S8 crown molecules (S-S 2.05 Å, S-S-S 108°) two "
        "per cell; the real alpha-S8 is Fddd with 16 molecules in its cell",
    ),
}


def element_structure(symbol: str) -> tuple[Structure, str] | None:
    """The element's reference structure and its source line (None: not in the library)."""
    if symbol not in ELEMENTS:
        return None
    kind, p, source = ELEMENTS[symbol]
    return _ELEMENT_BUILDERS[kind](symbol, *p), source


def _sg(spacegroup: str, lattice: Lattice, species, coords) -> Structure:
    if lattice.a < 2:  # unit cells of the binary types: to Å scale before the primitive search
        lattice = Lattice(lattice.matrix * 5.0)
    s = Structure.from_spacegroup(spacegroup, lattice, species, coords)
    return s.get_primitive_structure()


def _cmce_8f(el, a, b, c, y, z):
    return _sg("Cmce", Lattice.orthorhombic(a, b, c), [el], [[0, y, z]])


def _dimers(el, bond, contact):
    # the Cl2 arrangement: 8f (0, y, z) molecules; cell scaled to the contact distance
    scale = contact / 3.32  # shortest intermolecular Cl...Cl contact of solid Cl2
    a, b, c = 6.24 * scale, 4.48 * scale, 8.26 * scale
    u = np.array([2 * 0.1015 * 4.48, 2 * 0.1083 * 8.26])  # Cl2 bond vector (b, c), Å
    y, z = (u / np.linalg.norm(u)) * bond / 2 / np.array([b, c])
    return _sg("Cmce", Lattice.orthorhombic(a, b, c), [el], [[0, y, z]])


def _s8(el, bond, angle_deg):
    d13 = 2 * bond * math.sin(math.radians(angle_deg) / 2)
    r = d13 / math.sqrt(2)
    h = math.sqrt(max(bond**2 - (2 * r * math.sin(math.pi / 8)) ** 2, 0.0)) / 2
    ring = [
        [r * math.cos(k * math.pi / 4), r * math.sin(k * math.pi / 4), h * (-1) ** k]
        for k in range(8)
    ]
    a = 8.0  # two rings per cell at 2.07 g/cm3 need ~411 Å3; relaxed by the MLFF
    lat = Lattice.orthorhombic(a, a, 411.0 * 2 / (a * a * 2))
    coords = [np.array(p) for p in ring]
    coords += [np.array(p) + lat.get_cartesian_coords([0.5, 0.5, 0.5]) for p in ring]
    return Structure(lat, [el] * 16, coords, coords_are_cartesian=True)


_ELEMENT_BUILDERS: dict[str, Callable[..., Structure]] = {
    "bcc": lambda el, a: _sg("Im-3m", Lattice.cubic(a), [el], [[0, 0, 0]]),
    "fcc": lambda el, a: _sg("Fm-3m", Lattice.cubic(a), [el], [[0, 0, 0]]),
    "hcp": lambda el, a, c: _sg("P6_3/mmc", Lattice.hexagonal(a, c), [el], [[1 / 3, 2 / 3, 1 / 4]]),
    "diamond": lambda el, a: _sg("Fd-3m", Lattice.cubic(a), [el], [[0, 0, 0]]),
    "a7": lambda el, a, c, z: _sg("R-3m", Lattice.hexagonal(a, c), [el], [[0, 0, z]]),
    "tetragonal_i": lambda el, a, c: _sg("I4/mmm", Lattice.tetragonal(a, c), [el], [[0, 0, 0]]),
    "chain": lambda el, a, c, x: _sg("P3_121", Lattice.hexagonal(a, c), [el], [[x, 0, 1 / 3]]),
    "cmce_8f": _cmce_8f,
    "dimers": _dimers,
    "s8": _s8,
}


def _scaled(s: Structure, cation: str, anion: str, bond: float) -> Structure:
    """``s`` scaled so that its shortest cation-anion distance is ``bond`` Å."""
    cat = [i for i, site in enumerate(s) if site.specie.symbol == cation]
    an = [i for i, site in enumerate(s) if site.specie.symbol == anion]
    d = s.distance_matrix[np.ix_(cat, an)].min()
    s = s.copy()
    s.scale_lattice(s.volume * (bond / d) ** 3)
    return s


def _cdi2_layer(m: str, x: str, c_over_a: float = 1.6) -> Structure:
    return Structure(
        Lattice.hexagonal(1.0, c_over_a),
        [m, x, x],
        [[0, 0, 0], [1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]],
    )


def _layered_mx3(m: str, x: str) -> Structure:
    s = _cdi2_layer(m, x, 2.4)
    s.make_supercell([[2, 1, 0], [-1, 1, 0], [0, 0, 1]])  # sqrt3 x sqrt3: 3 M, 6 X
    ms = [i for i, site in enumerate(s) if site.specie.symbol == m]
    s.remove_sites([min(ms, key=lambda i: np.linalg.norm(s[i].frac_coords % 1))])
    return s  # honeycomb MX3 layer (BiI3/AlCl3 family, AA stacking)


def _layered_mx4(m: str, x: str) -> Structure:
    s = _cdi2_layer(m, x, 2.4)
    s.make_supercell([[2, 0, 0], [0, 1, 0], [0, 0, 1]])
    ms = sorted(i for i, site in enumerate(s) if site.specie.symbol == m)
    s.remove_sites([ms[1]])  # edge-sharing octahedral chains (ZrCl4 motif)
    return s


def _p4x10(m: str, x: str) -> Structure:
    """One adamantane-like M4X10 cage (M at alternate cube corners, bridging X on the cube
    axes, terminal X outward; ideal tetrahedral angles) per cubic cell, 1 Å bridging bond."""
    a = 1 / math.sqrt(3)  # M at a(1,1,1)...: M-X(bridge) = sqrt(3) a = 1 with X at 2a
    ms = [np.array(v) * a for v in ((1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1))]
    bridges = [np.array(v) * 2 * a for v in np.vstack([np.eye(3), -np.eye(3)])]
    terminal = [p + 0.92 * p / np.linalg.norm(p) for p in ms]  # M=X about 0.92 of M-X
    cell = 4.55  # cell edge in bridging-bond units: no intermolecular contact below 2.2
    centre = np.full(3, cell / 2)
    coords = [c + centre for c in (*ms, *bridges, *terminal)]
    return Structure(Lattice.cubic(cell), [m] * 4 + [x] * 10, coords, coords_are_cartesian=True)


def _hex(c_over_a: float) -> Lattice:
    return Lattice.hexagonal(1.0, c_over_a)


#: (cations, anions) per formula unit -> [(type name, builder(cation, anion), source)].
BINARY_TYPES: dict[tuple[int, int], list[tuple[str, Callable[[str, str], Structure], str]]] = {
    (1, 1): [
        (
            "rocksalt",
            lambda m, x: _sg("Fm-3m", Lattice.cubic(1), [m, x], [[0, 0, 0], [0.5] * 3]),
            "NaCl type, Fm-3m, M 4a, X 4b",
        ),
        (
            "cscl",
            lambda m, x: _sg("Pm-3m", Lattice.cubic(1), [m, x], [[0, 0, 0], [0.5] * 3]),
            "CsCl type, Pm-3m, M 1a, X 1b",
        ),
        (
            "zincblende",
            lambda m, x: _sg("F-43m", Lattice.cubic(1), [m, x], [[0] * 3, [0.25] * 3]),
            "ZnS sphalerite type, F-43m, M 4a, X 4c",
        ),
        (
            "wurtzite",
            lambda m, x: _sg(
                "P6_3mc", _hex(1.633), [m, x], [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.375]]
            ),
            "ZnS wurtzite type, P6_3mc, M 2b (z=0), X 2b (z=3/8)",
        ),
    ],
    (2, 1): [
        (
            "antifluorite",
            lambda m, x: _sg("Fm-3m", Lattice.cubic(1), [x, m], [[0, 0, 0], [0.25] * 3]),
            "anti-CaF2 type (Li2O), Fm-3m, X 4a, M 8c",
        ),
        ("anti-cdi2", lambda m, x: _cdi2_layer(x, m), "anti-CdI2 type, P-3m1, X 1a, M 2d"),
    ],
    (1, 2): [
        (
            "fluorite",
            lambda m, x: _sg("Fm-3m", Lattice.cubic(1), [m, x], [[0, 0, 0], [0.25] * 3]),
            "CaF2 type, Fm-3m, M 4a, X 8c",
        ),
        (
            "rutile",
            lambda m, x: _sg(
                "P4_2/mnm", Lattice.tetragonal(1, 0.645), [m, x], [[0, 0, 0], [0.305, 0.305, 0]]
            ),
            "TiO2 rutile type, P4_2/mnm, M 2a, X 4f (x=0.305)",
        ),
        ("cdi2", _cdi2_layer, "CdI2 type, P-3m1, M 1a, X 2d"),
    ],
    (3, 1): [
        (
            "na3as",
            lambda m, x: _sg(
                "P6_3/mmc",
                _hex(1.78),
                [x, m, m],
                [[1 / 3, 2 / 3, 0.25], [0, 0, 0.25], [1 / 3, 2 / 3, 0.583]],
            ),
            "Na3As type (Li3P), P6_3/mmc, X 2c, M 2b + 4f (z=0.583)",
        ),
        (
            "li3n",
            lambda m, x: _sg(
                "P6/mmm", _hex(1.06), [x, m, m], [[0, 0, 0], [0, 0, 0.5], [1 / 3, 2 / 3, 0]]
            ),
            "Li3N type, P6/mmm, X 1a, M 1b + 2c",
        ),
    ],
    (1, 3): [
        (
            "layered-mx3",
            _layered_mx3,
            "idealised honeycomb MX3 layer from a CdI2 layer (BiI3/AlCl3 family, AA stacking)",
        ),
        (
            "reo3",
            lambda m, x: _sg("Pm-3m", Lattice.cubic(1), [m, x], [[0, 0, 0], [0.5, 0, 0]]),
            "ReO3 type, Pm-3m, M 1a, X 3d",
        ),
    ],
    (1, 4): [
        (
            "layered-mx4",
            _layered_mx4,
            "idealised MX4 layer of edge-sharing octahedral chains (ZrCl4 motif) from a CdI2 layer",
        ),
    ],
    (2, 5): [
        (
            "m4x10-cage",
            _p4x10,
            "idealised: one adamantane-like M4X10 cage molecule (P4S10, "
            "P4O10) per cubic cell; the real molecular crystals (P4S10: P-1) pack 2-4 per cell",
        ),
    ],
    (2, 3): [
        (
            "corundum",
            lambda m, x: _sg(
                "R-3c", Lattice.hexagonal(1, 2.73), [m, x], [[0, 0, 0.3523], [0.3064, 0, 0.25]]
            ),
            "alpha-Al2O3 type, R-3c, M 12c (z=0.352), X 18e (x=0.306)",
        ),
    ],
}


def binary_structures(cation: str, anion: str, n_cat: int, n_an: int, bond: float):
    """Yield ``(name, build, source)`` for each type of the stoichiometry
    cation_{n_cat} anion_{n_an} (reduced); ``build()`` makes the structure, scaled to
    ``bond`` Å (nothing is built until it is called); nothing for unknown stoichiometries."""
    for name, build, source in BINARY_TYPES.get((n_cat, n_an), []):
        yield (
            name,
            functools.partial(_built_and_scaled, build, cation, anion, bond),
            source + f"; {WYCKOFF_1963}",
        )


def _built_and_scaled(build, cation: str, anion: str, bond: float) -> Structure:
    return _scaled(build(cation, anion), cation, anion, bond)
