"""Which ONNX Runtime package is installed: exactly one, or a clear error saying how to fix it.

``onnxruntime`` (CPU) and ``onnxruntime-gpu`` (CUDA) install the same ``onnxruntime``
module; with both present, whichever was installed last has overwritten the other's files,
and a CUDA session may silently be a CPU one. sparkbert takes ONNX Runtime from an extra,
``sparkbert[cpu]`` or ``sparkbert[gpu]``, so that a reinstall never pulls the CPU package
back next to the GPU one; ``check_onnxruntime`` refuses a machine that has both, or none.

Examples
--------
>>> check_onnxruntime(installed={"onnxruntime": "1.22.0"})
'onnxruntime'
>>> check_onnxruntime(installed={"onnxruntime": "1.22.0", "onnxruntime-gpu": "1.22.0"})
Traceback (most recent call last):
...
ImportError: Both onnxruntime 1.22.0 and onnxruntime-gpu 1.22.0 are installed; ...
"""

from __future__ import annotations

from collections.abc import Mapping

#: The distributions that provide the ``onnxruntime`` module, the CPU one first.
PACKAGES = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino", "onnxruntime-directml")


def installed_packages() -> dict[str, str]:
    """Return the ONNX Runtime distributions installed in this Python, with their versions.

    Examples
    --------
    >>> set(installed_packages()) <= set(PACKAGES)
    True
    """
    from importlib import metadata

    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def check_onnxruntime(installed: Mapping[str, str] | None = None) -> str:
    """Return the one ONNX Runtime distribution installed; raise ``ImportError`` for none or several.

    Parameters
    ----------
    installed : mapping of str to str, optional
        Distribution → version; defaults to what this Python has (``installed_packages``).

    Examples
    --------
    >>> check_onnxruntime(installed={})
    Traceback (most recent call last):
    ...
    ImportError: No ONNX Runtime is installed. Install sparkbert with one: pip install '.[cpu]' ...
    """
    found = installed_packages() if installed is None else dict(installed)
    if len(found) == 1:
        return next(iter(found))
    if not found:
        raise ImportError(
            "No ONNX Runtime is installed. Install sparkbert with one: pip install '.[cpu]' (CPU) or "
            "pip install '.[gpu]' (CUDA), on the driver and on every executor."
        )
    listed = " and ".join(f"{name} {version}" for name, version in found.items())
    keep = "onnxruntime-gpu" if "onnxruntime-gpu" in found else next(iter(found))
    raise ImportError(
        f"Both {listed} are installed; they overwrite each other's `onnxruntime` module. Keep one: "
        f"pip uninstall -y {' '.join(found)} && pip install {keep} (sparkbert's '[gpu]' or '[cpu]' "
        "extra installs exactly one)."
    )


__all__ = ["PACKAGES", "check_onnxruntime", "installed_packages"]
