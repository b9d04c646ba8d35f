"""tmdlearn: machine learning for 2D transition-metal dichalcogenide films."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tmdlearn")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
