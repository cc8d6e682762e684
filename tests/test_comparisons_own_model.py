"""Your model in a config: a factory on your path or a zoo name, its weights (safetensors, a
state dict, a trusted pickle), the preprocessing it expects; used as given (Table II from its
test split) or trained; and every way this can go wrong, caught before any cell runs."""

from __future__ import annotations

import copy
import json
import tomllib
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

import comparisons.run._runner as runner_module
from captum_ifim import default_target_layer
from comparisons import load_results
from comparisons.config import dumps_toml as dumps
from comparisons.config import parse_config
from comparisons.models import (
    InputPreprocessing,
    PreprocessedModel,
    build_factory_model,
    build_zoo_model,
    load_weights,
    read_checkpoint,
)
from comparisons.run import run
from tests._own_fixtures import (
    folder_tensors,
    pixel_values,
    write_factory_module,
    write_manifest,
    write_png_folder,
)


@pytest.fixture
def factory(tmp_path, monkeypatch) -> str:
    """A factory module on a temporary path (``sys.path``), by name."""
    folder = tmp_path / "code"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return write_factory_module(folder)


def _trained_like(factory: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_factory_model(f"{factory}:build", {}).eval()


def _config(root: Path, model: dict, **run) -> dict:
    return {
        "run": {
            "name": "own",
            "eval_examples": 6,
            "batch_size": 3,
            "background_examples": 2,
            "figure_examples": 2,
            "num_threads": 1,
            **run,
        },
        "datasets": [{"name": "image-folder", "options": {"root": str(root), "label": "scans"}}],
        "models": [model],
        "methods": {"names": ["saliency", "gradcam"]},
        "metrics": {"names": ["deletion-auc", "energy-in-mask"]},
    }


def test_factory_import_errors_name_the_module_and_why(factory, tmp_path):
    with pytest.raises(ImportError, match=r"cannot import module 'no_such_pkg.models'.*no_such"):
        build_factory_model("no_such_pkg.models:build", {})
    broken = tmp_path / "code" / "broken_factory_mod.py"
    broken.write_text("import a_dependency_that_is_not_installed\n")
    with pytest.raises(ImportError, match=r"'broken_factory_mod' failed because it imports"):
        build_factory_model("broken_factory_mod:build", {})
    raising = tmp_path / "code" / "raising_factory_mod.py"
    raising.write_text("raise RuntimeError('configured wrongly')\n")
    with pytest.raises(ImportError, match=r"RuntimeError: configured wrongly"):
        build_factory_model("raising_factory_mod:build", {})
    with pytest.raises(ValueError, match=r"no attribute 'biuld'.*close: \['build'"):
        build_factory_model(f"{factory}:biuld", {})
    with pytest.raises(TypeError, match=r"return an nn.Module, got str"):
        build_factory_model(f"{factory}:not_a_model", {})
    with pytest.raises(ValueError, match=r"raised TypeError"):
        build_factory_model(f"{factory}:build", {"depth": 3})
    with pytest.raises(ValueError, match=r"package.module:callable"):
        build_factory_model("just_a_module", {})


@pytest.mark.parametrize("kind", ["safetensors", "state-dict", "nested", "data-parallel"])
def test_weights_files_load_into_the_factory_model_exactly(factory, tmp_path, kind):
    model = _trained_like(factory, seed=3)
    state = model.state_dict()
    path = tmp_path / ("w.safetensors" if kind == "safetensors" else "w.pt")
    if kind == "safetensors":
        save_file(state, str(path))
    elif kind == "state-dict":
        torch.save(state, path)
    elif kind == "nested":  # a training checkpoint: the state dict beside other entries
        torch.save({"epoch": 7, "state_dict": state, "lr": 0.1}, path)
    else:
        torch.save({f"module.{k}": v for k, v in state.items()}, path)
    checkpoint = read_checkpoint(path)
    fresh = _trained_like(factory, seed=4)
    load_weights(fresh, checkpoint.state, str(path))
    x = torch.rand(3, 1, 8, 8)
    torch.testing.assert_close(fresh(x), model(x), rtol=0, atol=0)


def test_weights_that_do_not_fit_name_every_kind_of_key(factory, tmp_path):
    state = _trained_like(factory).state_dict()
    state.pop("head.bias")
    state["extra.weight"] = torch.zeros(1)
    state["head.weight"] = torch.zeros(3, 16)
    target = _trained_like(factory, seed=1)
    before = copy.deepcopy(target.state_dict())
    with pytest.raises(ValueError) as error:
        load_weights(target, state, "w.pt")
    message = str(error.value)
    assert "missing keys 1 (head.bias)" in message
    assert "unexpected keys 1 (extra.weight)" in message
    assert "mis-shaped keys (file vs model) 1 (head.weight (3, 16) vs (2, 16))" in message
    for name, tensor in target.state_dict().items():  # the model is left as it was
        assert torch.equal(tensor, before[name])


def test_pickles_and_torchscript_load_only_with_the_opt_in(factory, tmp_path):
    model = _trained_like(factory)
    torch.save(model, tmp_path / "whole.pt")
    with pytest.raises(ValueError, match=r"runs code from the file. Set trust_pickle = true"):
        read_checkpoint(tmp_path / "whole.pt")
    loaded = read_checkpoint(tmp_path / "whole.pt", trust_pickle=True)
    assert loaded.kind == "module" and isinstance(loaded.module, nn.Module)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.script is deprecated in recent torch
        torch.jit.script(model).save(str(tmp_path / "scripted.pt"))
    with pytest.raises(ValueError, match=r"a TorchScript archive .* trust_pickle"):
        read_checkpoint(tmp_path / "scripted.pt")
    assert read_checkpoint(tmp_path / "scripted.pt", trust_pickle=True).kind == "torchscript"
    (tmp_path / "junk.pt").write_bytes(b"\x00\x01 not a checkpoint")
    with pytest.raises(ValueError, match=r"unreadable"):
        read_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError, match=r"no file at"):
        read_checkpoint(tmp_path / "nothing.safetensors")


def test_zoo_models_are_built_without_downloads_and_sized_for_the_data():
    model = build_zoo_model(
        "torchvision:resnet18", {}, in_channels=3, num_classes=4, spatial_dims=2
    )
    assert model.fc.out_features == 4
    with pytest.raises(ValueError, match=r"no pretrained weights.*weights = 'path'"):
        build_zoo_model(
            "timm:resnet10t", {"pretrained": True}, in_channels=1, num_classes=2, spatial_dims=2
        )
    with pytest.raises(ValueError, match="close names \\['resnet50'"):
        build_zoo_model("torchvision:resnet51", {}, in_channels=3, num_classes=2, spatial_dims=2)
    with pytest.raises(ValueError, match=r"<zoo> among"):
        build_zoo_model("keras:resnet50", {}, in_channels=3, num_classes=2, spatial_dims=2)
    timm_model = build_zoo_model("timm:resnet10t", {}, in_channels=1, num_classes=3, spatial_dims=2)
    assert timm_model.eval()(torch.rand(2, 1, 32, 32)).shape == (2, 3)  # in_chans filled in


def test_the_preprocessing_wrapper_is_the_declared_function_of_the_raw_image(factory):
    inner = _trained_like(factory)
    three = nn.Sequential(
        nn.Conv2d(3, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 2)
    ).eval()
    spec = InputPreprocessing(size=(4, 4), channels=3, mean=(0.1, 0.2, 0.3), std=(0.5, 0.6, 0.7))
    wrapped = PreprocessedModel(three, spec, in_channels=1, spatial_dims=2).eval()
    x = torch.rand(5, 1, 9, 7, requires_grad=True)
    resized = F.interpolate(x, size=(4, 4), mode="bilinear", antialias=True, align_corners=False)
    manual = (resized.repeat(1, 3, 1, 1) - torch.tensor([0.1, 0.2, 0.3])[:, None, None]) / (
        torch.tensor([0.5, 0.6, 0.7])[:, None, None]
    )
    torch.testing.assert_close(wrapped(x), three(manual))
    # The gradient with respect to the raw image is the chain rule through the preprocessing.
    (grad_wrapped,) = torch.autograd.grad(wrapped(x)[:, 1].sum(), x)
    (grad_manual,) = torch.autograd.grad(three(manual)[:, 1].sum(), x)
    torch.testing.assert_close(grad_wrapped, grad_manual)
    assert list(wrapped.state_dict()) == [f"model.{k}" for k in three.state_dict()]
    # RGB to one channel: the ITU-R 601 luma.
    gray = PreprocessedModel(inner, InputPreprocessing(channels=1), 3, 2).eval()
    rgb = torch.rand(2, 3, 8, 8)
    luma = (rgb * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(1, keepdim=True)
    torch.testing.assert_close(gray(rgb), inner(luma))
    # A CAM on the wrapper weights the layer the bare model's default would be.
    assert default_target_layer(wrapped) is default_target_layer(three)
    resnet = build_zoo_model(
        "torchvision:resnet18", {}, in_channels=3, num_classes=2, spatial_dims=2
    )
    wrapped_resnet = PreprocessedModel(resnet, InputPreprocessing(channels=3), 1, 2)
    assert default_target_layer(wrapped_resnet) is resnet.layer4[-1]
    with pytest.raises(ValueError, match=r"mean and preprocessing.std together"):
        InputPreprocessing.from_dict({"mean": [0.5]})
    with pytest.raises(ValueError, match=r"unknown key"):
        InputPreprocessing.from_dict({"resize": 4})


def test_model_entries_in_a_config(factory, tmp_path):
    base = _config(tmp_path, {"name": "mine", "factory": f"{factory}:build", "weights": "w.pt"})
    config = parse_config(base)
    entry = config.models[0]
    assert (entry.source, entry.is_given, entry.factory) == ("factory", True, f"{factory}:build")
    assert parse_config(tomllib.loads(dumps(config.to_dict()))) == config
    # A registry model keeps its old layout (and so its old fingerprint).
    registry = parse_config(_config(tmp_path, {"name": "shallow-cnn"}))
    assert set(registry.to_dict()["models"][0]) == {"name", "options", "training", "datasets"}
    bad = [
        ({"name": "resnet50"}, "unknown model 'resnet50'.*factory = 'package.module:callable'"),
        ({"name": "a__b", "factory": "m:f"}, "without '__'"),
        ({"name": "x", "factory": "m:f", "zoo": "timm:resnet18"}, "one of factory, zoo"),
        (
            {"name": "x", "zoo": "torchvision:resnet50", "options": {"weights": "DEFAULT"}},
            "no pretrained weights",
        ),
        (
            {"name": "x", "factory": "m:f", "weights": "w.pt", "training": {"epochs": 2}},
            "used as it is, not trained",
        ),
        ({"name": "x", "factory": "m:f", "preprocessing": {"channels": 2}}, "channels 1 or 3"),
        ({"name": "x", "factory": "m:f", "trust_pickle": "yes"}, "true or false"),
        ({"name": "x", "factory": "not a factory"}, "package.module:callable"),
    ]
    for model, match in bad:
        with pytest.raises((ValueError, TypeError), match=match):
            parse_config(_config(tmp_path, model))


def _folder(tmp_path: Path, per_class: int = 5) -> Path:
    root = tmp_path / "scans"
    write_png_folder(root, per_class=per_class, split="test")
    return root


def test_a_given_model_runs_and_reports_its_test_precision_and_recall(factory, tmp_path):
    from sklearn.metrics import precision_recall_fscore_support

    root = _folder(tmp_path)
    model = _trained_like(factory, seed=2)
    save_file(model.state_dict(), str(tmp_path / "w.safetensors"))
    data = _config(
        root,
        {"name": "mine", "factory": f"{factory}:build", "weights": str(tmp_path / "w.safetensors")},
    )
    folder = run(parse_config(data), tmp_path / "run", progress=False)
    assert folder.failed == []
    rows = load_results(folder.path)
    images, labels = folder_tensors(5)
    with torch.no_grad():
        predictions = model(images).argmax(1)
    precision, recall, _, _ = precision_recall_fscore_support(
        labels, predictions, labels=[0, 1], zero_division=0
    )
    model_rows = rows[rows.method == ""].set_index(["metric", "setting"])["value"]
    assert model_rows["test-precision", "class=benign"] == pytest.approx(precision[0])
    assert model_rows["test-recall", "class=malignant"] == pytest.approx(recall[1])
    assert model_rows["test-accuracy", ""] == pytest.approx(
        float((predictions == labels).float().mean())
    )
    assert "train-seconds" not in set(rows.metric)  # not trained
    assert set(rows.method) == {"", "saliency", "gradcam"}
    assert "energy-in-mask" not in set(rows.metric)  # no masks: skipped
    record = json.loads(next((folder.path / "models").glob("*.json")).read_text())["training"]
    assert record["given"] is True and len(record["identity"]["weights"]["sha256"]) == 64


def test_bad_models_fail_before_anything_is_written(factory, tmp_path):
    root = _folder(tmp_path)
    good = _trained_like(factory)
    save_file(good.state_dict(), str(tmp_path / "w.safetensors"))
    torch.save(good, tmp_path / "whole.pt")
    three = build_factory_model(f"{factory}:build", {"num_classes": 3})
    save_file(three.state_dict(), str(tmp_path / "three.safetensors"))
    cases = [
        (
            {"factory": f"{factory}:build", "weights": str(tmp_path / "gone.safetensors")},
            FileNotFoundError,
            "no file at",
        ),
        (
            {"factory": f"{factory}:build", "weights": str(tmp_path / "whole.pt")},
            ValueError,
            "trust_pickle",
        ),
        (
            {
                "factory": f"{factory}:build",
                "options": {"num_classes": 3},
                "weights": str(tmp_path / "three.safetensors"),
            },
            ValueError,
            "C = 2 outputs, one per class of the dataset \\(benign, malignant\\), got 3",
        ),
        (
            {
                "factory": f"{factory}:build",
                "options": {"width": 8},
                "weights": str(tmp_path / "w.safetensors"),
            },
            ValueError,
            "mis-shaped keys",
        ),
        (
            {
                "factory": f"{factory}:build_vector_output",
                "weights": str(tmp_path / "w.safetensors"),
            },
            ValueError,
            "outputs of shape \\(N, C\\) = \\(2, 2\\).*got \\(2,\\)",
        ),
        (
            {
                "factory": f"{factory}:build",
                "preprocessing": {"channels": 3},
                "weights": str(tmp_path / "w.safetensors"),
            },
            ValueError,
            "take the dataset's images",
        ),
        ({"factory": "missing_module_xyz:build"}, ImportError, "missing_module_xyz"),
        (
            {"zoo": "torchvision:resnet18", "options": {"num_classes": 5}},
            ValueError,
            r"to have 3 channels.*declare what it expects in \[models.preprocessing\]",
        ),
        (
            {
                "zoo": "torchvision:resnet18",
                "options": {"num_classes": 5},
                "preprocessing": {"channels": 3, "size": [32, 32]},
            },
            ValueError,
            "C = 2 outputs",
        ),
    ]
    for model, error, match in cases:
        data = _config(root, {"name": "mine", **model})
        with pytest.raises(error, match=match):
            run(parse_config(data), tmp_path / "out", progress=False)
        assert not (tmp_path / "out").exists(), model
    # A model without weights is trained: it needs training images.
    data = _config(root, {"name": "mine", "factory": f"{factory}:build"})
    with pytest.raises(ValueError, match=r"no train and no val images"):
        run(parse_config(data), tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_other_weights_are_refused_when_resuming(factory, tmp_path):
    root = _folder(tmp_path)
    weights = tmp_path / "w.safetensors"
    save_file(_trained_like(factory, seed=0).state_dict(), str(weights))
    data = _config(root, {"name": "mine", "factory": f"{factory}:build", "weights": str(weights)})
    run(parse_config(data), tmp_path / "run", progress=False)
    save_file(_trained_like(factory, seed=1).state_dict(), str(weights))  # retrained
    cells = sorted((tmp_path / "run" / "cells").glob("*.json"))
    with pytest.raises(ValueError, match=r"other weights"):
        run(parse_config(data), tmp_path / "run", progress=False)
    assert sorted((tmp_path / "run" / "cells").glob("*.json")) == cells


def test_a_factory_model_without_weights_is_trained_once_and_cached(factory, tmp_path, monkeypatch):
    root = tmp_path / "scans"
    write_png_folder(root, per_class=8)
    data = _config(
        root,
        {
            "name": "mine",
            "factory": f"{factory}:build",
            "options": {"width": 3},
            "training": {"epochs": 2, "batch_size": 4},
        },
    )
    data["methods"] = {"names": ["saliency"]}
    data["metrics"] = {"names": ["deletion-auc"]}
    first = run(parse_config(data), tmp_path / "a", cache_dir=tmp_path / "cache", progress=False)
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 1
    second = run(parse_config(data), tmp_path / "b", cache_dir=tmp_path / "cache", progress=False)
    rows_a, rows_b = load_results(first.path), load_results(second.path)
    model_a = rows_a[rows_a.metric.str.startswith("test-")].reset_index(drop=True)
    model_b = rows_b[rows_b.metric.str.startswith("test-")].reset_index(drop=True)
    assert model_a.equals(model_b)
    record = json.loads(next((tmp_path / "b" / "models").glob("*.json")).read_text())["training"]
    assert record["from_cache"] is True and record["model_options"]["external"]["factory"]
    # The model was standardized with the training images' statistics, inside the model.
    assert record["model_options"]["input_std"] > 0
    assert runner_module is not None


def test_bad_data_on_disk_fails_before_anything_is_written(factory, tmp_path):
    from PIL import Image

    good = _trained_like(factory)
    save_file(good.state_dict(), str(tmp_path / "w.safetensors"))
    model = {
        "name": "mine",
        "factory": f"{factory}:build",
        "weights": str(tmp_path / "w.safetensors"),
    }
    unreadable = _folder(tmp_path / "unreadable")
    (unreadable / "test" / "benign" / "001.png").write_bytes(b"not a png")
    mixed = _folder(tmp_path / "mixed")
    Image.fromarray(pixel_values(0, 1, (14, 10))).save(mixed / "test" / "benign" / "001.png")
    Image.fromarray(pixel_values(0, 0)).save(tmp_path / "a.png")
    manifest = write_manifest(
        tmp_path / "m.csv",
        [{"path": "a.png", "label": "benign"}, {"path": "gone.png", "label": "malignant"}],
    )
    cases = [
        ({"root": str(unreadable), "label": "scans"}, "image-folder", ValueError, "001.png"),
        ({"root": str(mixed), "label": "scans"}, "image-folder", ValueError, "image_size"),
        (
            {"manifest": str(manifest), "classes": ["benign", "malignant"], "label": "m"},
            "csv",
            FileNotFoundError,
            "gone.png",
        ),
    ]
    for options, name, error, match in cases:
        data = _config(unreadable, model)
        data["datasets"] = [{"name": name, "options": options}]
        with pytest.raises(error, match=match):
            run(parse_config(data), tmp_path / "out", progress=False)
        assert not (tmp_path / "out").exists(), options
