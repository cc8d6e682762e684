"""captum-ifim: the input-dependent Fisher information (iFIM) decomposition for Captum."""

from captum_ifim._ifim_decomposition import IFIMDecomposition, IFIMResult
from captum_ifim._version import __version__

__all__ = [
    "IFIMDecomposition",
    "IFIMResult",
    "__version__",
]
