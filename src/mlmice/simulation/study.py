"""One replicate of a simulation study: generate, delete, impute per arm, analyse.

A study (:class:`Study`) is a data generator, an amputation, named arms
(imputation specifications in the form of the pipeline's ``imputation``
block) and analysis models. Replicate ``r`` runs

1. complete data from the generator, seeded by ``SeedSequence(seed,
   spawn_key=(r, 0))``; the generator's true values;
2. the amputation, seeded by ``SeedSequence(seed, spawn_key=(r, 1))``;
3. every model on the complete data (arm ``complete``) and on the complete
   cases (arm ``cca``);
4. for every imputation arm, :func:`mlmice.mice` with the root seed
   ``SeedSequence(seed, spawn_key=(r, 2, crc32(arm)))`` (so adding an arm
   changes no other arm's numbers), then every model on the imputations,
   pooled by Rubin's rules (fixed effects, with Barnard-Rubin df) and
   averaged (variance components: as mitml's ``testEstimates``, or on the
   log scale with ``varcomp_scale="log"``).

Everything a replicate computes depends only on the study and ``r``, never
on which batch, process or machine runs it. A failing arm is recorded with
its error (:func:`run_replicate` returns it) and the others go on.
"""

from __future__ import annotations

import traceback
import warnings
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mlmice.simulation.fits import fit_model, fit_rows, pooled_rows
from mlmice.simulation.generators import Generator, make_generator
from mlmice.simulation.performance import ESTIMATE_COLUMNS

__all__ = ["REFERENCE_ARMS", "Arm", "Model", "Study", "run_batch", "run_replicate"]

#: Arms every study runs: the complete data before deletion, and complete cases.
REFERENCE_ARMS = ("complete", "cca")
FAILURE_COLUMNS = ("replicate", "arm", "error")


@dataclass(frozen=True)
class Arm:
    """An imputation specification (the pipeline's ``imputation`` block).

    Attributes
    ----------
    name : str
    method : dict
        Variable -> method (``"~ expr"`` for passive variables).
    predictor_matrix : dict
        ``{target: {predictor: code}}``; unlisted predictors 0.
    method_options : dict
    m, maxit : int
        Imputations and iterations per chain (defaults 5 and 20, as the
        imputation block's).
    """

    name: str
    method: dict
    predictor_matrix: dict
    method_options: dict = field(default_factory=dict)
    m: int = 5
    maxit: int = 20

    @classmethod
    def from_config(cls, name: str, cfg: dict) -> Arm:
        return cls(name=name, method=dict(cfg["method"]),
                   predictor_matrix={k: dict(v) for k, v in cfg["predictor_matrix"].items()},
                   method_options=dict(cfg.get("method_options") or {}),
                   m=int(cfg.get("m", 5)), maxit=int(cfg.get("maxit", 20)))


@dataclass(frozen=True)
class Model:
    """An analysis model: name, lme4 formula, ML (``reml=False``) or REML."""

    name: str
    formula: str
    reml: bool = False


@dataclass(frozen=True)
class Study:
    """A simulation study; see the module docstring.

    Attributes
    ----------
    generator : Generator
    amputation : dict
        Keyword arguments of :func:`mlmice.ampute` (without ``seed``; from a
        config block by :func:`mlmice.pipeline.config.ampute_arguments`).
    arms : tuple of Arm
    models : tuple of Model
    seed : int
    varcomp_scale : {"raw", "log"}
        How the variance components are pooled
        (:func:`mlmice.pooling.varcomp.pooled_misc_parameters`).
    """

    generator: Generator
    amputation: dict
    arms: tuple[Arm, ...]
    models: tuple[Model, ...]
    seed: int = 1
    varcomp_scale: str = "raw"

    @classmethod
    def from_config(cls, cfg: dict) -> Study:
        """From the pipeline's ``simulation`` block (keys ``generator``, ``amputation``,
        ``arms``, ``models``, ``seed``, and the study's ``varcomp_scale``), as the
        schema documents them."""
        arms = tuple(Arm.from_config(name, a) for name, a in cfg["arms"].items())
        clash = [a.name for a in arms if a.name in REFERENCE_ARMS]
        if clash:
            raise ValueError(f"simulation.arms: {clash} are reserved for the reference arms "
                             f"{REFERENCE_ARMS}; choose other names")
        models = tuple(Model(name=mdl["name"], formula=mdl["formula"],
                             reml=bool(mdl.get("reml", False))) for mdl in cfg["models"])
        from mlmice.pipeline.config import ampute_arguments
        amputation = ampute_arguments(cfg["amputation"], cluster=cfg.get("cluster", "cluster_id"))
        amputation.pop("seed", None)
        return cls(generator=make_generator(cfg["generator"]), amputation=amputation,
                   arms=arms, models=models, seed=int(cfg.get("seed", 1)),
                   varcomp_scale=str(cfg.get("varcomp_scale", "raw")))

    def seed_for(self, replicate: int, *key: int) -> int:
        """A 32-bit seed from ``SeedSequence(seed, spawn_key=(replicate, *key))``."""
        ss = np.random.SeedSequence(self.seed, spawn_key=(int(replicate), *key))
        return int(ss.generate_state(1)[0])


def _impute(arm: Arm, data: pd.DataFrame, seed: int):
    from mlmice.impute import mice
    from mlmice.impute.passive import add_passive_columns
    data = add_passive_columns(data, arm.method)
    pred = pd.DataFrame.from_dict(arm.predictor_matrix, orient="index").fillna(0).astype(int)
    return mice(data, m=arm.m, maxit=arm.maxit, method=arm.method, predictor_matrix=pred,
                method_options=arm.method_options or None, seed=seed)


def run_replicate(study: Study, replicate: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run replicate ``replicate`` of ``study``.

    Returns
    -------
    estimates : DataFrame
        Columns :data:`~mlmice.simulation.performance.ESTIMATE_COLUMNS`, one row
        per arm (``complete``, ``cca`` and the imputation arms), model and term.
    failures : DataFrame
        ``replicate, arm, error``: arms (or the whole replicate, arm ``*``) that
        raised, with the error's type, message and innermost frame.
    """
    from mlmice.amputation import ampute
    failures = []
    try:
        complete = study.generator.generate(study.seed_for(replicate, 0))
        incomplete = ampute(complete, **study.amputation,
                            seed=study.seed_for(replicate, 1)).amp
    except Exception as exc:  # noqa: BLE001  (recorded, the other replicates go on)
        return (pd.DataFrame(columns=list(ESTIMATE_COLUMNS)),
                pd.DataFrame([_failure(replicate, "*", exc)], columns=list(FAILURE_COLUMNS)))
    frames = []
    complete_fits = {}
    for arm_name, data in (("complete", complete), ("cca", incomplete)):
        for model in study.models:
            try:
                rows = fit_rows(fit_model(model.formula, data, reml=model.reml))
            except Exception as exc:  # noqa: BLE001
                failures.append(_failure(replicate, f"{arm_name}/{model.name}", exc))
                continue
            if arm_name == "complete":
                complete_fits[model.name] = rows
            frames.append(rows.assign(arm=arm_name, model=model.name))
    for arm in study.arms:
        try:
            imp = _impute(arm, incomplete, study.seed_for(replicate, 2,
                                                          zlib.crc32(arm.name.encode())))
        except Exception as exc:  # noqa: BLE001
            failures.append(_failure(replicate, arm.name, exc))
            continue
        for model in study.models:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    rows = pooled_rows(imp.fit(model.formula, reml=model.reml),
                                       varcomp_scale=study.varcomp_scale)
            except Exception as exc:  # noqa: BLE001
                failures.append(_failure(replicate, f"{arm.name}/{model.name}", exc))
                continue
            frames.append(rows.assign(arm=arm.name, model=model.name))
    if not frames:
        return (pd.DataFrame(columns=list(ESTIMATE_COLUMNS)),
                pd.DataFrame(failures, columns=list(FAILURE_COLUMNS)))
    out = pd.concat(frames, ignore_index=True)
    out["replicate"] = int(replicate)
    truth = {}
    for model in study.models:
        rows = complete_fits.get(model.name)
        if rows is None:
            continue
        kinds = rows.groupby("kind")["term"].apply(list).to_dict()
        values = study.generator.true_values(model.formula, model.reml, kinds.get("fixed", []),
                                             kinds.get("variance", []))
        truth.update({(model.name, t): v for t, v in values.items()})
    out["true_value"] = [truth.get((m, t), np.nan)
                         for m, t in zip(out["model"], out["term"], strict=True)]
    ref = {(m, t): e for m, rows in complete_fits.items()
           for t, e in zip(rows["term"], rows["estimate"], strict=True)}
    out["complete_estimate"] = [ref.get((m, t), np.nan)
                                for m, t in zip(out["model"], out["term"], strict=True)]
    return out[list(ESTIMATE_COLUMNS)], pd.DataFrame(failures, columns=list(FAILURE_COLUMNS))


def _failure(replicate: int, arm: str, exc: BaseException) -> dict:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" (at {tb[-1].filename.split('/')[-1]}:{tb[-1].lineno})" if tb else ""
    return {"replicate": int(replicate), "arm": arm,
            "error": f"{type(exc).__name__}: {exc}{where}"}


def run_batch(study: Study, replicates) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`run_replicate` for each of ``replicates``; the tables stacked."""
    est, fail = [], []
    for r in replicates:
        e, f = run_replicate(study, r)
        est.append(e)
        fail.append(f)
    estimates = pd.concat(est, ignore_index=True) if est else pd.DataFrame(
        columns=list(ESTIMATE_COLUMNS))
    failures = pd.concat(fail, ignore_index=True) if fail else pd.DataFrame(
        columns=list(FAILURE_COLUMNS))
    return (estimates.astype({"replicate": "int64"}),
            failures.astype({"replicate": "int64", "arm": str, "error": str}))
