"""The pipeline's config blocks as keyword arguments of the library's functions."""

from __future__ import annotations

__all__ = ["ampute_arguments"]


def ampute_arguments(block: dict, *, cluster: str | None = None) -> dict:
    """Keyword arguments of :func:`mlmice.amputation.ampute` from a config ``amputation`` block.

    The block is the pipeline's (``workflow/schemas/config.schema.yaml``):
    ``prop, mech, type, seed, std, bycases, patterns`` (each ``missing``,
    ``freq``, ``weights``, ``type``), ``level2`` and ``cluster_rates``; keys the
    block leaves out take :func:`mlmice.amputation.ampute`'s defaults.

    Parameters
    ----------
    block : dict
    cluster : str, optional
        The data's cluster variable (for level-2 amputation and cluster rates).
    """
    amp = dict(block)
    kwargs = {k: amp[k] for k in ("prop", "mech", "seed", "std", "bycases") if k in amp}
    if cluster is not None:
        kwargs["cluster"] = cluster
    patterns = amp.get("patterns")
    default_type = amp.get("type", "RIGHT")
    if patterns:
        kwargs["patterns"] = [list(p["missing"]) for p in patterns]
        kwargs["freq"] = [p.get("freq", 1) for p in patterns]
        kwargs["type"] = [p.get("type") or default_type for p in patterns]
        if amp.get("mech", "MAR") != "MCAR" and any(p.get("weights") for p in patterns):
            kwargs["weights"] = [dict(p["weights"]) if p.get("weights") else None
                                 for p in patterns]
    else:
        kwargs["type"] = default_type
    if amp.get("level2"):
        kwargs["level2"] = dict(amp["level2"])
    if amp.get("cluster_rates"):
        kwargs["cluster_rates"] = amp["cluster_rates"]
    return kwargs
