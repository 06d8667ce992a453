"""Built-in imputation methods; importing this package registers them.

Each module registers its methods with :func:`~mlmice.impute.methods.base.register_method`.
To add a built-in method module, add one line ``import mlmice.impute.methods.<module>  #
noqa: F401`` to the sorted block below (``ruff check --fix`` keeps it sorted).
"""

import mlmice.impute.methods.level_two  # noqa: F401
import mlmice.impute.methods.logreg  # noqa: F401
import mlmice.impute.methods.mean  # noqa: F401
import mlmice.impute.methods.norm  # noqa: F401
import mlmice.impute.methods.pmm  # noqa: F401
import mlmice.impute.methods.two_level_bin  # noqa: F401
import mlmice.impute.methods.two_level_lmer  # noqa: F401
import mlmice.impute.methods.two_level_norm  # noqa: F401
import mlmice.impute.methods.two_level_pan  # noqa: F401
import mlmice.impute.methods.two_level_pmm  # noqa: F401
import mlmice.impute.methods.two_level_smc  # noqa: F401
from mlmice.impute.methods.base import (
    ImputationError,
    ImputationMethod,
    MethodInput,
    MethodResult,
    available_methods,
    get_method,
    redundant_columns,
    register_method,
    two_level_design,
)

__all__ = ["ImputationError", "ImputationMethod", "MethodInput", "MethodResult",
           "available_methods", "get_method", "redundant_columns", "register_method",
           "two_level_design"]
