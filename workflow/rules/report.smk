# Stage 6, the report: papermill runs workflow/notebooks/report.ipynb with the
# study's parameters; nbconvert writes it as HTML with the code hidden and every
# figure embedded.
#   results/{study}/report.html
#   results/{study}/report/report.ipynb   the executed notebook


rule report:
    input:
        unpack(report_inputs),
    output:
        html=report(
            "results/{study}/report.html",
            caption="../report/report.rst",
            category="0. Report (report.html)",
        ),
        notebook="results/{study}/report/report.ipynb",
    log:
        "logs/report/{study}.log",
    benchmark:
        "benchmarks/report/{study}.tsv"
    params:
        notebook=report_params,
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        "../../envs/mlmice.yaml"
    script:
        "../../scripts/report.py"
