"""``mlmice`` on the command line: ``mlmice init`` writes a config for a data file.

::

    mlmice init pupils.csv --cluster school [--id pupil] [--out config.yaml]
                [--sep ';'] [--decimal ','] [--na-values . -99]
    snakemake --cores all --configfile config.yaml

``init`` reads the file with :func:`mlmice.read_data`, finds the level-2
variables (constant within every cluster), and writes a commented config that
the pipeline's schema accepts: one study named after the file, the data block,
``amputation: null`` (the file is taken as incomplete already), an imputation
model (``2l.pmm`` for incomplete level-1 variables, ``2l.bin`` for binary ones,
``2lonly.pmm`` for level-2 variables; every other variable a predictor, level-1
predictors of level-1 variables with their cluster means, code 3) and a
random-intercept model per incomplete level-1 variable as a starting point.
Nothing is imputed or fitted; edit the file, then run the pipeline.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

__all__ = ["init_config", "main"]

_PLAIN = re.compile(r"[A-Za-z.][A-Za-z0-9._]*")


def _term(name: str) -> str:
    """A variable name as a formula term (backtick-quoted unless plain)."""
    return name if _PLAIN.fullmatch(name) else f"`{name}`"


_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def _flow(value) -> str:
    """``value`` as YAML flow text: bare names where safe, JSON (a subset of YAML) else."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flow(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, str) and _BARE.fullmatch(value) and value.lower() not in _RESERVED:
        return value
    return json.dumps(value, ensure_ascii=False)


def init_config(path, *, cluster: str, id: str | None = None,
                study: str | None = None, csv: dict | None = None) -> str:
    """The text of a commented, schema-valid config for the data file ``path``.

    Parameters
    ----------
    path : str or Path
        The data file (.sav .RData/.rds .csv .parquet).
    cluster, id : str
        Cluster and (optional) unit identifier variables.
    study : str, optional
        Study name (default: the file's stem, reduced to letters, digits,
        ``_`` and ``-``).
    csv : dict, optional
        How a CSV file is written (``sep``, ``decimal``, ``na_values``; see
        :func:`mlmice.read_data`); written into the config's ``data.csv``.

    Raises
    ------
    ValueError
        From :func:`mlmice.read_data` (naming the file or variable), or when
        no variable has missing values.
    """
    import pandas as pd

    from mlmice.io import read_data

    path = Path(path)
    csv = {k: v for k, v in (csv or {}).items() if v}
    df = read_data(path, cluster=cluster, id=id, csv=csv)
    roles = df.attrs["roles"]
    level2 = list(roles.get("level2", []))
    binary = set(roles.get("binary", []))
    never = [c for c in df.columns if c not in (cluster, id) and df[c].isna().all()]
    variables = [c for c in df.columns if c not in (cluster, id, *never)]
    incomplete = [v for v in variables if df[v].isna().any()]
    if not incomplete:
        raise ValueError(f"{path}: no variable has missing values; nothing to impute")
    constant = [v for v in variables if df[v].nunique(dropna=True) <= 1]
    level2 = [v for v in level2 if v not in constant]
    nearly = _nearly_level2(df, [v for v in variables if v not in level2 and v not in constant],
                            cluster)
    name = study or (re.sub(r"[^A-Za-z0-9_-]", "_", path.stem) or "study")

    method, pred = {}, {}
    categorical = {v: df[v].cat.ordered for v in variables
                   if isinstance(df[v].dtype, pd.CategoricalDtype)}
    for target in incomplete:
        if target in categorical:
            kind = "polr" if categorical[target] else "polyreg"
            method[target] = f"2lonly.{kind}" if target in level2 else f"2l.{kind}"
        elif target in level2:
            method[target] = "2lonly.pmm"
        elif target in binary:
            method[target] = "2l.bin"
        else:
            method[target] = "2l.pmm"
        row = {cluster: -2}
        for p in variables:
            if p == target or p in constant:
                continue
            level1_pair = target not in level2 and p not in level2
            row[p] = 3 if level1_pair else 1
        pred[target] = row
    models = []
    for target in (v for v in incomplete
                   if v not in level2 and v not in binary and v not in categorical):
        rhs = " + ".join(_term(v) for v in variables if v != target and v not in constant)
        models.append({"name": "ri_" + re.sub(r"[^A-Za-z0-9_-]", "_", target),
                       "formula": f"{_term(target)} ~ {rhs or '1'} + (1 | {_term(cluster)})",
                       "reml": False})

    n_missing = df[incomplete].isna().sum()
    lines = [
        f"# mlmice config for {path.name}, written by `mlmice init`.",
        "# Every key is described, with its default, in workflow/schemas/config.schema.yaml.",
        "# Run: snakemake --cores all --configfile {this file}",
        f"# {len(df)} rows in {df[cluster].nunique()} clusters of {cluster!r}; level-2 "
        f"variables: {', '.join(level2) or 'none'}.",
    ]
    if constant:
        lines.append(f"# Constant (left out of every model): {', '.join(constant)}.")
    if never:
        lines.append(f"# Never observed (all values missing; left out by data.drop): "
                     f"{', '.join(never)}.")
    nominal = [v for v, is_ordered in categorical.items() if not is_ordered]
    if nominal:
        lines.append("# Unordered categorical (first category the reference): "
                     + "; ".join(f"{v} [{', '.join(map(str, df[v].cat.categories))}]"
                                 for v in nominal)
                     + ".")
        lines.append("# An ordinal one: list its categories in their order under data.ordered.")
    for var, clusters in nearly.items():
        lines.append(f"# {var} is constant within all clusters but {', '.join(clusters)}: "
                     "a data error? Corrected, it is level 2.")
    lines += ["studies:", f"  {name}:", "    data:",
              f"      file: {_flow(str(path))}",
              f"      cluster: {_flow(cluster)}",
              f"      id: {_flow(id)}",
              f"      level2: {_flow(level2)}"]
    if never:
        lines.append(f"      drop: {_flow(never)}")
    if csv:
        lines.append(f"      csv: {_flow(csv)}")
    lines += ["    # The file is incomplete already; to study a method on complete data,",
              "    # give an amputation block instead (see the schema).",
              "    amputation: null",
              "    imputation:",
              "      # 2l.pmm for level-1, 2l.bin for binary, 2lonly.pmm for level-2 variables;",
              "      # 2l.polr/2l.polyreg for ordered/unordered categorical ones (2lonly.* at",
              "      # level 2).",
              "      # Missing values: "
              + ", ".join(f"{v} {int(n_missing[v])}" for v in incomplete) + ".",
              "      method:"]
    lines += [f"        {_flow(v)}: {_flow(m)}" for v, m in method.items()]
    lines += ["      # Codes: -2 cluster, 1 fixed effect, 2 fixed + random, 3 fixed + cluster",
              "      # mean, 4 fixed + random + cluster mean; unlisted predictors are 0.",
              "      predictor_matrix:"]
    lines += [f"        {_flow(t)}: {_flow(row)}" for t, row in pred.items()]
    lines += ["      method_options: {}", "      m: 5", "      maxit: 20", "      seed: 2024",
              "    # Variance components averaged as they are (raw, as mitml) or on the log",
              "    # scale (log: recommended with 2l.smc; docs/validity.md).",
              "    pooling:", "      varcomp_scale: raw",
              "    # A random-intercept model per incomplete level-1 variable, to start from.",
              "    # With random slopes or products, impute with 2l.smc (see the README).",
              "    models:"]
    for mdl in models:
        lines += [f"      - name: {_flow(mdl['name'])}",
                  f"        formula: {_flow(mdl['formula'])}",
                  "        reml: false"]
    if not models:
        lines[-1] = "    models: []"
    return "\n".join(lines) + "\n"


def _nearly_level2(df, variables, cluster) -> dict[str, list[str]]:
    """Variables constant within all but at most 5 % of at least 10 clusters (at most 2),
    with those clusters: a level-2 variable with a typing error, most likely."""
    n_clusters = df[cluster].nunique()
    if n_clusters < 10:
        return {}
    allowed = min(2, max(1, int(0.05 * n_clusters)))
    out = {}
    for var in variables:
        varies = df.groupby(cluster, observed=True)[var].nunique(dropna=True) > 1
        if 1 <= varies.sum() <= allowed:
            out[var] = [str(c) for c in varies.index[varies.to_numpy()]]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="mlmice", description="mlmice command line")
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="write a commented config for a data file")
    init.add_argument("data", help="data file (.sav .RData/.rds .csv .parquet)")
    init.add_argument("--cluster", required=True, help="cluster variable")
    init.add_argument("--id", default=None, help="unit identifier variable")
    init.add_argument("--study", default=None, help="study name (default: the file name)")
    init.add_argument("--out", default="config.yaml",
                      help="config file to write (default config.yaml; '-' for stdout)")
    init.add_argument("--force", action="store_true", help="overwrite an existing --out")
    init.add_argument("--sep", default=None, help="CSV field separator (default ',')")
    init.add_argument("--decimal", default=None, choices=[".", ","],
                      help="CSV decimal mark (default '.')")
    init.add_argument("--na-values", nargs="+", default=None, metavar="TEXT",
                      help="CSV text that marks a missing value, e.g. --na-values . -99")
    args = parser.parse_args(argv)
    csv = {"sep": args.sep, "decimal": args.decimal, "na_values": args.na_values}
    try:
        text = init_config(args.data, cluster=args.cluster, id=args.id, study=args.study,
                           csv=csv)
    except (OSError, ValueError) as exc:
        print(f"mlmice init: {exc}", file=sys.stderr)
        return 2
    if args.out == "-":
        sys.stdout.write(text)
        return 0
    out = Path(args.out)
    if out.exists() and not args.force:
        print(f"mlmice init: {out} exists; choose another --out or add --force",
              file=sys.stderr)
        return 2
    out.write_text(text)
    print(f"wrote {out}; run: snakemake --cores all --configfile {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
