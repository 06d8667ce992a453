# mlmice: multiple imputation of incomplete multilevel data.
# The stages of the tutorial "Imputation of incomplete multilevel data"
# (Oberman and Vink) as cached jobs; the case study is config.yaml.


from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


validate(config, schema="workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"


wildcard_constraints:
    study=ALL_STUDIES,


include: "workflow/rules/data.smk"


rule all:
    input:
        all_outputs(),
    default_target: True
