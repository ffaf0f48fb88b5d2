"""Render :class:`~screening.report.data.ReportData` as one self-contained HTML page.

Figures are PNGs inlined as data URIs, the style and the table-sorting script are inline:
the file opens from disk with no server and no network, and can be mailed as it is.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping

from screening.report.data import Section
from screening.report.figures import structure_png
from screening.report.text import FLAG_MEANING, d_text, e_hull_text, ea_text, sigma_text

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1400px;
padding:0 1.5em 3em;color:#222;line-height:1.4}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #1b6ca8;padding-bottom:.15em;margin-top:1.6em}
nav a{margin-right:1em}table{border-collapse:collapse;font-size:.86em}
.scroll{overflow-x:auto}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#eef3f8}table.sortable th{cursor:pointer;user-select:none;white-space:nowrap}
table.sortable th[data-order=asc]::after{content:" \\25B2"}
table.sortable th[data-order=desc]::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}code{font-size:.92em}
.muted{color:#666;font-size:.85em}.flag{background:#fff3cd;padding:0 .3em;border-radius:3px}
article{border:1px solid #ddd;border-radius:6px;padding:.3em 1em 1em;margin:1em 0}
.row{display:flex;flex-wrap:wrap;gap:1.2em;align-items:flex-start}img{max-width:100%}
pre{background:#f6f8fa;padding:.8em;overflow:auto;font-size:.8em}
"""

SORT_SCRIPT = """
function sortTable(table, col, th) {
  const asc = th.dataset.order !== 'asc';
  table.querySelectorAll('th').forEach(h => delete h.dataset.order);
  th.dataset.order = asc ? 'asc' : 'desc';
  const body = table.tBodies[0];
  const key = r => {
    const c = r.cells[col];
    if (c.dataset.v === undefined) return c.textContent.trim();
    return c.dataset.v === '' ? null : Number(c.dataset.v);
  };
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = key(a), y = key(b);
    if (x === null && y === null) return 0;
    if (x === null) return 1;
    if (y === null) return -1;
    const d = typeof x === 'number' ? x - y : String(x).localeCompare(String(y));
    return asc ? d : -d;
  });
  rows.forEach(r => body.appendChild(r));
}
document.querySelectorAll('table.sortable').forEach(table => {
  table.querySelectorAll('th').forEach((th, col) => {
    th.addEventListener('click', () => sortTable(table, col, th));
  });
});
"""

RANK_COLUMNS = (
    ("#", "rank"),
    ("formula", None),
    ("ord", "ordering"),
    ("score", "score"),
    ("E_hull eV/at", "e_hull_ev_per_atom"),
    ("σ(300 K) S/cm [95 %]", "sigma_300k_s_cm"),
    ("Ea eV", "activation_energy_ev"),
    ("D(T) cm²/s", "d_cm2_s"),
    ("N_eff", "n_eff"),
    ("tier", None),
    ("sampling", None),
    ("flags", None),
    ("id", None),
)


def esc(value) -> str:
    return html.escape("" if value is None else str(value))


def img(png: bytes, alt: str, width: int | None = None) -> str:
    size = f' width="{width}"' if width else ""
    data = base64.b64encode(png).decode()
    return f'<img alt="{esc(alt)}"{size} src="data:image/png;base64,{data}">'


def kv(pairs: Iterable[tuple[str, object]]) -> str:
    cells = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in pairs)
    return f"<table>{cells}</table>"


def _num(value) -> str:
    return "" if value is None else repr(float(value))


def _rank_cells(r: Mapping) -> list[tuple[str, str]]:
    """(text, sort value) per ranking column; an empty sort value sorts last."""
    d_sort = r["d_cm2_s"] if r["d_cm2_s"] is not None else r["d_upper_cm2_s"]
    cid = esc(r["candidate_id"])
    link = f'<a href="#cand-{cid}"><code>{cid[:10]}</code></a>'
    return [
        (str(r["rank"]), _num(r["rank"])),
        (esc(r["formula"]), None),
        ("-" if r["ordering"] is None else esc(r["ordering"]), _num(r["ordering"])),
        (f"{r['score']:.2f}", _num(r["score"])),
        (esc(e_hull_text(r)), _num(r["e_hull_ev_per_atom"])),
        (esc(sigma_text(r)), _num(r["sigma_300k_s_cm"])),
        (esc(ea_text(r)), _num(r["activation_energy_ev"])),
        (esc(d_text(r)), _num(d_sort)),
        ("-" if r["n_eff"] is None else f"{r['n_eff']:.0f}", _num(r["n_eff"])),
        (esc(r["tier"] or "-"), None),
        (esc(r["sampling"] or "-"), None),
        (", ".join(f'<span class="flag">{esc(f)}</span>' for f in r["flags"]) or "-", None),
        (link, None),
    ]


def ranking_table(rows: list[dict]) -> str:
    """The ranking as a sortable table (click a heading; numbers sort as numbers)."""
    head = "".join(f"<th>{esc(label)}</th>" for label, _ in RANK_COLUMNS)
    body = []
    for r in rows:
        cells = []
        for text, value in _rank_cells(r):
            attr = "" if value is None else f' class="num" data-v="{value}"'
            cells.append(f"<td{attr}>{text}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="scroll"><table id="ranking-table" class="sortable"><thead><tr>{head}</tr>'
        f"</thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _runs(doc: Mapping) -> str:
    """One line per MD run that entered the evidence: tier, T, verdict, D or bound, N_eff."""
    runs = []
    screen = (doc.get("screen") or {}).get("diffusion")
    if screen:
        runs.append(("screen", screen))
    runs += [("series", r) for r in (doc.get("diffusion") or {}).get("per_temperature") or []]
    lines = []
    for tier, r in runs:
        if r.get("status") == "ok" and r.get("diffusivity_cm2_s") is not None:
            d = f"D = {r['diffusivity_cm2_s']:.2e} ± {r.get('diffusivity_cm2_s_err') or 0:.1e}"
        elif r.get("diffusivity_upper_cm2_s") is not None:
            d = f"D < {r['diffusivity_upper_cm2_s']:.1e}"
        else:
            d = "no D"
        n_eff = r.get("n_eff")
        melt = " framework mobile (molten)" if r.get("framework_mobile") else ""
        lines.append(
            f"{tier} {r.get('temperature_k', 0):.0f} K: {r.get('status')}, {d} cm²/s"
            + ("" if n_eff is None else f", N_eff {n_eff:.0f}")
            + melt
        )
    for t in (doc.get("screen") or {}).get("melted_at_k") or []:
        lines.append(f"screen {t:.0f} K: framework melted (rerun colder, left out)")
    return "<br>".join(esc(x) for x in lines) or "no MD"


def _stability(doc: Mapping) -> list[tuple[str, object]]:
    st = doc.get("stability")
    if not st:
        e = doc.get("score_e_hull_ev_per_atom")
        return [("E_hull", "not computed" if e is None else f"{e:.3f} eV/atom (stand-in)")]
    dec = st.get("decomposition") or {}
    window = st.get("window_v")
    return [
        ("E_hull", f"{st.get('e_hull_ev_per_atom', 0):.3f} eV/atom"),
        ("formation energy", f"{st.get('formation_energy_ev_per_atom', 0):.3f} eV/atom"),
        ("decomposes to", esc(" + ".join(f"{v:.2f} {k}" for k, v in dec.items()) or "-")),
        (
            f"{st.get('mobile_ion', '')} window",
            "none" if not window else f"{window[0]:.2f}–{window[1]:.2f} V",
        ),
        ("reduced to", esc(", ".join(st.get("reduction_products") or []) or "-")),
        ("oxidised to", esc(", ".join(st.get("oxidation_products") or []) or "-")),
        ("correction", esc(st.get("correction"))),
    ]


def provenance_text(prov: Mapping) -> str:
    model = prov.get("model") or {}
    packages = ", ".join(f"{k} {v}" for k, v in (prov.get("packages") or {}).items())
    sha = str(model.get("weights_sha256") or "")[:16]
    return esc(
        f"{model.get('name')} ({model.get('package')} {model.get('version')}, weights "
        f"sha256 {sha}…, {model.get('device')}); {packages}; {prov.get('created_at')}"
    )


def candidate_section(sec: Section) -> str:
    """One candidate: structure picture, composition, stability, conduction evidence,
    flags, stored MSD/Arrhenius plots and provenance."""
    r, doc = sec.row, sec.doc
    ev = doc.get("evidence") or {}
    relax = doc.get("relax") or {}
    structure = relax.get("structure") or doc.get("structure")
    picture = img(structure_png(structure), f"structure of {r['formula']}") if structure else ""
    facts = [
        ("formula", esc(r["formula"])),
        ("prototype, substitution", esc(f"{doc.get('prototype')}: {doc.get('substitution')}")),
        ("ordering", esc(r["ordering"])),
        ("atoms, mobile ion", esc(f"{doc.get('n_atoms')}, {doc.get('mobile_ion')}")),
        ("stage, status", esc(f"{r['stage']}, {r['status']}")),
    ]
    if relax:
        facts.append(
            (
                "relaxation",
                esc(
                    f"{relax.get('energy_per_atom_ev', 0):.4f} eV/atom, ΔV "
                    f"{100 * (relax.get('volume_change_frac') or 0):+.1f} %, "
                    f"{relax.get('n_steps')} steps, converged {relax.get('converged')}"
                ),
            )
        )
    facts += _stability(doc)
    facts += [
        ("score", f"{r['score']:.2f} (tier {esc(r['tier'] or '-')}, {esc(r['sampling'] or '-')})"),
        ("σ(300 K) S/cm", esc(sigma_text(r))),
        ("Ea", esc(ea_text(r) + ("" if r["activation_energy_ev"] is None else " eV"))),
        ("MD runs", _runs(doc)),
        (
            "melting estimate",
            esc(f"{ev.get('melting_estimate_k')} K ({ev.get('melting_estimate_source')})")
            if ev.get("melting_estimate_k")
            else "-",
        ),
        (
            "flags",
            "<br>".join(
                f'<span class="flag">{esc(f)}</span> {esc(FLAG_MEANING.get(f, ""))}'
                for f in r["flags"]
            )
            or "-",
        ),
    ]
    if doc.get("provenance"):
        facts.append(("provenance", provenance_text(doc["provenance"])))
    plots = "".join(img(png, name, 520) for name, png in sorted(sec.plots.items()))
    cid = esc(r["candidate_id"])
    return (
        f'<article id="cand-{cid}"><h3>#{r["rank"]} {esc(r["formula"])} '
        f'<span class="muted">ord {esc(r["ordering"])} · <code>{cid}</code></span></h3>'
        f'<div class="row"><div>{picture}</div><div>{kv(facts)}</div></div>'
        f'<div class="row plots">{plots or "<p class=muted>no MD plots</p>"}</div></article>'
    )
