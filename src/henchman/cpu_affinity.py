"""The ``cpu_affinity`` setting: its values and the CPU-list syntax (pure).

Settings validation (:mod:`henchman.config_loader`) checks the setting with :func:`check_setting`
and CPU placement (:mod:`henchman.server.placement`) reads it with :func:`parse_cpu_list`; both
import it from here, at the bottom of the package.
"""

from __future__ import annotations

__all__ = ["AUTO", "OFF", "check_setting", "parse_cpu_list"]

AUTO = "auto"
OFF = "off"


def parse_cpu_list(text: str) -> frozenset[int]:
    """``"0,2-3"`` -> ``{0, 2, 3}`` (the ``taskset -c`` / cpuset syntax); ``ValueError`` if bad."""
    cpus: set[int] = set()
    for item in text.split(","):
        part = item.strip()
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ValueError(f"{part!r} is not a CPU number or range")
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise ValueError(f"range {part!r} runs backwards")
        cpus.update(range(first, last + 1))
    return frozenset(cpus)


def check_setting(value: str) -> str:
    """Validate a ``cpu_affinity`` value: ``auto``, ``off`` or a CPU list; returns it normalised."""
    text = value.strip().lower()
    if text in (AUTO, OFF):
        return text
    try:
        parse_cpu_list(text)
    except ValueError as exc:
        raise ValueError(f"must be auto, off or a CPU list like 0,2-3 ({exc})") from None
    return text
