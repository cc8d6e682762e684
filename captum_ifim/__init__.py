"""captum-ifim: the input-dependent Fisher information (iFIM) decomposition for Captum."""

from captum_ifim._version import __version__

__all__ = ["__version__"]
