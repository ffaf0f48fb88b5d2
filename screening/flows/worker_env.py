"""Settings a FireWorks worker takes from the launchpad file the project wrote.

`screening db launchpad-file` records the submitting shell's ``SCREENING_MODELS_DIR``,
``SCREENING_DATA_DIR`` and ``SCREENING_DEFAULT_MODEL`` under ``screening_env`` in the
launchpad YAML (FireWorks ignores the key) and names the file in ``FW_config.yaml`` as
``LAUNCHPAD_LOC``. An ``rlaunch`` started in that folder then needs nothing exported: each
job applies those values that its own environment does not set.
"""

from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger(__name__)

KEY = "screening_env"
CARRIED = ("SCREENING_MODELS_DIR", "SCREENING_DATA_DIR", "SCREENING_DEFAULT_MODEL")


def carried_env() -> dict[str, str]:
    """The settings of this shell that workers should inherit (resolved to absolute paths)."""
    from screening.settings import get_settings
    from screening.store.server import DatabaseTarget

    s = get_settings()
    out = {}
    if s.models_dir is not None:
        out["SCREENING_MODELS_DIR"] = str(s.models_dir.resolve())
    if DatabaseTarget.from_settings().embedded:
        out["SCREENING_DATA_DIR"] = str(s.data_dir.resolve())
    if "SCREENING_DEFAULT_MODEL" in os.environ:
        out["SCREENING_DEFAULT_MODEL"] = s.default_model
    return out


def apply_launchpad_env() -> dict[str, str]:
    """In a FireWorks worker, set the carried settings its environment lacks; return them.

    Does nothing outside FireWorks (no ``fireworks.fw_config`` imported) or when the
    launchpad file has no ``screening_env``.
    """
    fw_config = sys.modules.get("fireworks.fw_config")
    loc = getattr(fw_config, "LAUNCHPAD_LOC", None) if fw_config else None
    if not loc or not os.path.isfile(loc):
        return {}
    import yaml

    from screening.settings import get_settings

    try:
        doc = yaml.safe_load(open(loc).read()) or {}
    except (OSError, yaml.YAMLError):
        return {}
    env = doc.get(KEY) if isinstance(doc, dict) else None
    applied = {
        k: str(v)
        for k, v in (env or {}).items()
        if k in CARRIED and v is not None and k not in os.environ
    }
    if applied:
        os.environ.update(applied)
        get_settings.cache_clear()
        logger.info("settings from %s: %s", loc, ", ".join(applied))
    return applied
