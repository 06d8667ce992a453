"""Run the report notebook and write it as HTML without code.

:func:`render_report` is what ``jupyter nbconvert --execute --no-input --to
html`` does, with papermill's parameters: the notebook runs in a fresh
kernel with the study's parameters injected, the executed notebook is kept,
and the HTML shows outputs only, every figure embedded. The kernel talks
over IPC sockets rather than TCP: nothing listens on a network port, and the
kernel has no reason to warn about unencrypted TCP on every run. The page
loads nothing from the network: nbconvert's template would fetch require.js,
MathJax and mermaid from a CDN, which the report does not use; without them it
opens offline, and reading it tells no server that it was read.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["render_report"]

#: nbconvert's lab template without the blocks that load scripts from a CDN.
_OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def _ipc_kernel_manager():
    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        """A kernel manager whose kernel listens on IPC sockets, not TCP."""

        def __init__(self, **kwargs):
            kwargs.setdefault("transport", "ipc")
            super().__init__(**kwargs)

    return IPCKernelManager


def render_report(notebook, *, executed, html, parameters: dict, title: str,
                  cwd=None) -> int:
    """Execute ``notebook`` with ``parameters``; write ``executed`` (.ipynb) and ``html``.

    Parameters
    ----------
    notebook : path
        The report template (``workflow/notebooks/report.ipynb``).
    executed, html : path
        Where the executed notebook and its HTML go.
    parameters : dict
        Papermill parameters (the template's ``parameters`` cell).
    title : str
        The HTML page's title.
    cwd : path, optional
        Working directory of the kernel (default the current one).

    Returns
    -------
    int
        Size of the HTML in bytes.
    """
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    papermill.execute_notebook(str(notebook), str(executed), parameters=parameters,
                               kernel_name="python3", cwd=os.fspath(cwd or os.getcwd()),
                               progress_bar=False, log_output=False,
                               # papermill rewrites the whole notebook (megabytes of
                               # figures) after every cell by default: 0.7 s of the job
                               request_save_on_cell_execute=False,
                               # every output is in once the last cell has replied; a
                               # graceful shutdown waits for the kernel's own exit
                               # (0.35 s of the job)
                               shutdown_kernel="immediate",
                               kernel_manager_class=_ipc_kernel_manager())
    node = nbformat.read(str(executed), as_version=4)
    from jinja2 import DictLoader

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True,
                            extra_loaders=[DictLoader({"mlmice.html.j2": _OFFLINE_TEMPLATE})],
                            template_file="mlmice.html.j2")
    text, _ = exporter.from_notebook_node(node, resources={"metadata": {"name": title}})
    Path(html).write_text(text, encoding="utf-8")
    return len(text.encode())
