"""The entries of a config: a dataset to run (:class:`DatasetEntry`) and a model to run
(:class:`ModelEntry`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The dataset name of data given in Python to :func:`comparisons.compare` (not a registry
#: name: such a config runs only through ``compare``, which passes the data again).
PYTHON_DATASET = "python"


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset to run: a name of ``comparisons.datasets`` and its options."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The dataset's name in results (``label`` option, else the registry name)."""
        return str(self.options.get("label", self.name))

    def load_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.options.items() if k != "label"}

    @property
    def in_python(self) -> bool:
        """Data given in Python to :func:`comparisons.compare` (:data:`PYTHON_DATASET`)."""
        return self.name == PYTHON_DATASET


@dataclass(frozen=True)
class ModelEntry:
    """A model to run: where it comes from, its options, how it is trained or which weights
    it is given, the preprocessing it expects, and the labels of the datasets it runs on
    (``None``: every dataset of the config).

    Attributes:
        name: The model's name in the results: a name of ``comparisons.models`` (then also
            the model it builds), or a free name for a model given ``architecture``, or
            from ``factory``, ``zoo``, a whole-model checkpoint or Python.
        options: Keyword options of the registry builder, the factory or the zoo model.
        training: The training protocol (a model without weights is trained).
        datasets: The dataset labels it runs on, or ``None`` for all.
        factory: ``"package.module:callable"`` building the model, or ``None``.
        zoo: ``"torchvision:<name>"``, ``"timm:<name>"`` or ``"monai:<Class>"``, or ``None``.
        weights: A weights file (safetensors or a state dict): the model is used as given,
            not trained. With ``trust_pickle``, also a pickled model or TorchScript.
        trust_pickle: Allow a weights file whose loading runs code (a pickle, TorchScript).
        preprocessing: What the model expects of its inputs (``size``, ``channels``,
            ``mean``, ``std``; see :class:`comparisons.models.InputPreprocessing`), applied
            inside the model to the dataset's raw images.
        python_object: The fingerprint of a model given in Python to
            :func:`comparisons.compare` (then it is passed again, not built).
        output_key: Where the logits are in the model's output when
            :func:`captum_ifim.logits_of`'s rule does not find them (a key or attribute
            name, or an index); ``None``: the rule.
        target_layer: The CAMs' target layer, a module name of the model as built;
            ``None``: the default of its family (``docs/baselines.md``).
        reshape: The CAMs' reshape of that layer's output: a name (``"token-grid"``,
            ``"token-grid:2"``, ``"channels-last"``, ``"none"``) or a
            ``"package.module:callable"`` path; ``None``: the family's.
        architecture: The name of ``comparisons.models`` to build, so that one registry
            model can appear under several names (e.g. trained twice, with and without
            ``[models.training.adversarial]``); ``None``: ``name``.
        seeds: The run's seeds this model is trained and evaluated at (some of
            ``run.seeds``: a costly model at fewer seeds than the others); ``None``: all.
    """

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    datasets: list[str] | None = None
    factory: str | None = None
    zoo: str | None = None
    weights: str | None = None
    trust_pickle: bool = False
    preprocessing: dict[str, Any] = field(default_factory=dict)
    python_object: str | None = None
    output_key: str | int | None = None
    target_layer: str | None = None
    reshape: str | None = None
    architecture: str | None = None
    seeds: tuple[int, ...] | None = None

    @property
    def registry_name(self) -> str:
        """The ``comparisons.models`` name it builds: ``architecture``, else ``name``
        (meaningful for a registry model, ``source == "registry"``)."""
        return self.name if self.architecture is None else self.architecture

    @property
    def source(self) -> str:
        """``"registry"``, ``"factory"``, ``"zoo"``, ``"file"`` (a whole model in the
        weights file) or ``"python"``."""
        if self.python_object is not None:
            return "python"
        if self.factory is not None:
            return "factory"
        if self.zoo is not None:
            return "zoo"
        if (
            self.weights is not None
            and self.trust_pickle
            and not _registered_model(self.registry_name)
        ):
            return "file"
        return "registry"

    @property
    def is_given(self) -> bool:
        """Used as given (weights or a Python object), not trained."""
        return self.weights is not None or self.python_object is not None


def _registered_model(name: str) -> bool:
    from comparisons.models import available_models

    return name in available_models()
