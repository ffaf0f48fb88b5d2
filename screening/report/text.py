"""How ranking rows read as text: the cells of `screening rank` and of the HTML report, and
what each evidence flag means (one wording for both)."""

from __future__ import annotations

FLAG_MEANING = {
    "lever_arm": "300 K lies more than 3 fitted 1/T spans beyond their coldest run (or they "
    "have one temperature), so sigma(300 K) leans on the Ea prior",
    "framework_melting": "a run of theirs melted (left out of the score; later runs capped)",
    "above_melting_estimate": "a run above their melting estimate (a superheated cell)",
    "non_arrhenius": "their D(T) departs from one Arrhenius line (chi^2 p < 0.01)",
}


def e_hull_text(r: dict) -> str:
    e = r["e_hull_ev_per_atom"]
    return "-" if e is None else f"{e:.3f}{'*' if r['e_hull_is_standin'] else ''}"


def sigma_text(r: dict) -> str:
    if r["sigma_300k_s_cm"] is None:
        return "-"
    text = (
        f"{r['sigma_300k_s_cm']:.1e} [{r['sigma_300k_lower_s_cm']:.0e}, "
        f"{r['sigma_300k_upper_s_cm']:.0e}]"
    )
    return text + (" prior" if r["sampling"] == "no_md" else "")


def ea_text(r: dict) -> str:
    if r["activation_energy_ev"] is None:
        return "no fit"
    return f"{r['activation_energy_ev']:.2f} ± {r['activation_energy_err_ev']:.2f}"


def d_text(r: dict) -> str:
    if r["t_k"] is None:
        return "-"
    if r["d_cm2_s"] is not None:
        return f"{r['d_cm2_s']:.1e} @{r['t_k']:.0f}K"
    return f"<{r['d_upper_cm2_s']:.0e} @{r['t_k']:.0f}K"
