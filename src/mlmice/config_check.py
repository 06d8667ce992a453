"""Check a pipeline config against its JSON schema with errors that name the key path.

``jsonschema``'s own message for a misspelt key is "Additional properties are not
allowed ('maxitt' was unexpected)" followed by the whole sub-schema; the key's path
comes last. :func:`config_errors` returns one short line per problem instead:
``config error at studies.s.imputation: unknown key 'maxitt'; did you mean 'maxit'?
(keys: method, predictor_matrix, ...)``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping

__all__ = ["config_errors", "key_path"]


def key_path(parts) -> str:
    """``studies.s.models[0].formula`` from a jsonschema error path."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _describe(error) -> str:
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = list((error.schema.get("properties") or {}).keys())
        extra = [k for k in error.instance if k not in known]
        if known and extra:
            name = extra[0]
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            return f"unknown key {name!r}{hint} (keys: {', '.join(known)})"
    if error.validator == "not" and isinstance(error.validator_value, Mapping) \
            and "enum" in error.validator_value:
        # propertyNames: not: {enum: [...]} (the reserved arm names)
        reserved = ", ".join(map(str, error.validator_value["enum"]))
        return f"the name {error.instance!r} is reserved ({reserved}); choose another"
    message = re.sub(r"\s+", " ", str(error.message))
    return message if len(message) <= 300 else message[:297] + "..."


def config_errors(config: Mapping, schema: Mapping, *, limit: int = 5) -> list[str]:
    """Schema violations of ``config``, most relevant first, each naming its key path.

    Parameters
    ----------
    config, schema : mapping
        The config (before defaults are filled in) and the JSON schema.
    limit : int
        At most this many messages.
    """
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(config), key=jsonschema.exceptions.relevance)
    out = []
    for error in errors[:limit]:
        # an error inside if/then or oneOf: report its deepest, most specific cause
        while error.context:
            error = sorted(error.context, key=jsonschema.exceptions.relevance)[0]
        out.append(f"config error at {key_path(error.absolute_path)}: {_describe(error)}")
    return list(dict.fromkeys(out))
