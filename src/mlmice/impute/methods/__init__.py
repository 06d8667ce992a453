"""Built-in imputation methods; importing this package registers them.

Each module registers its methods with :func:`~mlmice.impute.methods.base.register_method`.
"""

from mlmice.impute.methods import logreg  # noqa: F401  (registers "logreg")
from mlmice.impute.methods.base import (
    ImputationMethod,
    MethodInput,
    MethodResult,
    available_methods,
    get_method,
    register_method,
    two_level_design,
)

__all__ = ["ImputationMethod", "MethodInput", "MethodResult", "available_methods", "get_method",
           "register_method", "two_level_design"]
