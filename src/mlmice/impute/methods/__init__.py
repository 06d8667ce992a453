"""Imputation methods: the contract (:mod:`.base`) and the built-in methods.

Each built-in module registers its methods with
:func:`~mlmice.impute.methods.base.register_method` when it is imported, which happens
the first time one of its methods is asked for (:func:`get_method`); the table
:data:`~mlmice.impute.methods.base.BUILTIN_METHODS` names each built-in method's module.
To add a built-in method, register it in its module and add its name there.
"""

from mlmice.impute.methods.base import (
    BUILTIN_METHODS,
    ImputationError,
    ImputationMethod,
    MethodInput,
    MethodResult,
    available_methods,
    get_method,
    method_class,
    redundant_columns,
    register_method,
    two_level_design,
)

__all__ = ["BUILTIN_METHODS", "ImputationError", "ImputationMethod", "MethodInput",
           "MethodResult", "available_methods", "get_method", "method_class",
           "redundant_columns", "register_method", "two_level_design"]
