"""The iFIM at a layer, over token embeddings and split across inputs, against brute force.

The references build the full Fisher matrix of the layer's activation (or of the inputs)
with ``torch.autograd.functional.jacobian`` (tests/_ifim_reference.py) and diagonalize it.
"""

from __future__ import annotations

import functools

import matplotlib
import pytest
import torch
from captum.attr import LayerAttribution, NoiseTunnel
from torch import Tensor, nn

from captum_ifim import (
    IFIMDecomposition,
    LayerIFIMDecomposition,
    TokenIFIMDecomposition,
    plot_input_shares,
)
from captum_ifim.functional import input_shares, signed_location_norms

from ._ifim_reference import brute_force_fisher, softmax_log_likelihoods, top_eigenspace

matplotlib.use("Agg")
TIGHT = {"rtol": 1e-6, "atol": 1e-9}


def _conv_net(num_classes: int, three_d: bool = False) -> nn.Sequential:
    torch.manual_seed(7 + num_classes)
    conv = nn.Conv3d if three_d else nn.Conv2d
    side = 4**3 if three_d else 6 * 6
    return (
        nn.Sequential(
            conv(1, 3, 3, padding=1),
            nn.Tanh(),
            conv(3, 2, 3, padding=1),
            nn.Tanh(),
            nn.Flatten(),
            nn.Linear(2 * side, num_classes),
        )
        .double()
        .eval()
    )


def _projector(result_vectors: Tensor, count: int) -> Tensor:
    basis = result_vectors[:count].reshape(count, -1)
    return basis.T @ basis


def _check_layer_against_brute_force(model, layer_index, x, energy, to_input=False):
    """LayerIFIM at ``model[layer_index]`` vs the Fisher matrix of ``model[layer_index + 1:]``
    (output) or ``model[layer_index:]`` (input) at the activation."""
    layer = model[layer_index]
    result = LayerIFIMDecomposition(model, layer).decompose(
        x, energy=energy, attribute_to_layer_input=to_input
    )
    tail = model[layer_index:] if to_input else model[layer_index + 1 :]
    activation = model[:layer_index](x) if to_input else model[: layer_index + 1](x)
    torch.testing.assert_close(result.activation, activation.detach(), rtol=0, atol=0)
    shape = tuple(activation.shape[1:])
    for n in range(x.shape[0]):
        a = activation[n].detach().flatten()
        fisher, _ = brute_force_fisher(softmax_log_likelihoods(tail, shape), a)
        rank, count = int(result.rank[n]), int(result.num_components[n])
        values, projector = top_eigenspace(fisher, count)
        torch.testing.assert_close(result.eigenvalues[n, :rank], values[:rank], **TIGHT)
        assert values[rank:].abs().max() < 1e-10 * values[0]
        torch.testing.assert_close(_projector(result.eigenvectors[n], count), projector, **TIGHT)
        torch.testing.assert_close(result.sensitive[n].flatten(), projector @ a, **TIGHT)
        torch.testing.assert_close(result.insensitive[n].flatten(), a - projector @ a, **TIGHT)
    return result


@pytest.mark.parametrize(("num_classes", "energy"), [(2, 0.9), (4, 0.9), (4, 1.0)])
def test_layer_ifim_equals_the_fisher_matrix_of_the_activation(num_classes, energy):
    model = _conv_net(num_classes)
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    result = _check_layer_against_brute_force(model, 1, x, energy)
    assert result.rank.tolist() == [num_classes - 1] * 2


def test_layer_input_equals_previous_layer_output_and_brute_force():
    model = _conv_net(3)
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    from_input = _check_layer_against_brute_force(model, 2, x, 0.9, to_input=True)
    from_output = LayerIFIMDecomposition(model, model[1]).decompose(x)
    torch.testing.assert_close(from_input.eigenvalues, from_output.eigenvalues, **TIGHT)
    torch.testing.assert_close(from_input.sensitive, from_output.sensitive, **TIGHT)


def test_three_d_layer_and_its_map_at_the_volume_size():
    model = _conv_net(3, three_d=True)
    x = torch.randn(2, 1, 4, 4, 4, dtype=torch.float64)
    result = _check_layer_against_brute_force(model, 1, x, 0.9)
    expected = signed_location_norms(result.sensitive, result.activation, feature_dim=1)
    torch.testing.assert_close(result.location_scores, expected, rtol=0, atol=0)
    assert result.spatial_map is not None and result.spatial_map.shape == (2, 1, 4, 4, 4)
    torch.testing.assert_close(result.spatial_map[:, 0], expected, **TIGHT)  # same grid


def test_spatial_map_is_captum_interpolate_of_the_location_scores():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 3, 3, stride=2, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(3 * 16, 3)
    )
    net = net.double().eval()
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    result = LayerIFIMDecomposition(net, net[1]).decompose(x)
    assert result.location_scores.shape == (2, 4, 4)
    norms = torch.linalg.vector_norm(result.sensitive, dim=1)
    torch.testing.assert_close(result.location_scores.abs(), norms, rtol=0, atol=0)
    expected = LayerAttribution.interpolate(result.location_scores.unsqueeze(1), (8, 8), "bilinear")
    torch.testing.assert_close(result.spatial_map, expected, rtol=0, atol=0)


def test_projection_summary_sums_to_the_sensitive_energy():
    """<s_l, a_l> per location sums to ||a_sens||^2 = a^T U_K U_K^T a; maps and tokens."""
    model = _conv_net(3)
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    result = LayerIFIMDecomposition(model, model[1], location_summary="projection").decompose(x)
    torch.testing.assert_close(
        result.location_scores.sum(dim=(1, 2)), result.sensitive.square().sum(dim=(1, 2, 3))
    )
    torch.testing.assert_close(result.spatial_map[:, 0], result.location_scores, **TIGHT)
    ids, mask = _padded_batch()
    tokens = TokenIFIMDecomposition(_token_model(), pad_token_id=0, location_summary="projection")
    scored = tokens.decompose(ids, additional_forward_args=(mask,))
    expected = (scored.sensitive * scored.activation).sum(dim=-1)
    torch.testing.assert_close(scored.location_scores, expected, rtol=0, atol=0)
    assert torch.all(scored.location_scores[ids == 0] == 0)
    with pytest.raises(ValueError, match="expected location_summary to be one of"):
        LayerIFIMDecomposition(model, model[1], location_summary="norm")  # type: ignore[arg-type]


def test_identity_layer_at_the_input_equals_input_space_ifim():
    net = _conv_net(4)
    model = nn.Sequential(nn.Identity(), net).eval()
    x = torch.randn(3, 1, 6, 6, dtype=torch.float64)
    expected = IFIMDecomposition(net).decompose(x, energy=0.8)
    for layer, to_input in ((model[0], False), (model[0], True), (net[0], True)):
        got = LayerIFIMDecomposition(model, layer).decompose(
            x, energy=0.8, attribute_to_layer_input=to_input
        )
        torch.testing.assert_close(got.eigenvalues, expected.eigenvalues, **TIGHT)
        torch.testing.assert_close(got.eigenvectors, expected.eigenvectors, **TIGHT)
        torch.testing.assert_close(got.sensitive, expected.sensitive, **TIGHT)
        torch.testing.assert_close(got.insensitive, expected.insensitive, **TIGHT)
        assert torch.equal(got.num_components, expected.num_components)


def test_batched_equals_one_by_one_and_internal_batches():
    model = _conv_net(4)
    x = torch.randn(3, 1, 6, 6, dtype=torch.float64)
    ifim = LayerIFIMDecomposition(model, model[2])
    batched = ifim.decompose(x)
    chunked = ifim.decompose(x, internal_batch_size=2)
    for n in range(3):
        single = ifim.decompose(x[n : n + 1])
        for got in (single, chunked):
            m = 0 if got is single else n
            torch.testing.assert_close(got.eigenvalues[m], batched.eigenvalues[n], **TIGHT)
            torch.testing.assert_close(got.sensitive[m], batched.sensitive[n], **TIGHT)
            torch.testing.assert_close(got.spatial_map[m], batched.spatial_map[n], **TIGHT)


def test_model_and_inputs_left_as_found_and_noise_tunnel_works():
    model = _conv_net(3)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    ifim = LayerIFIMDecomposition(model, model[1])
    sensitive = ifim.attribute(x, energy=0.9)
    smooth = NoiseTunnel(ifim).attribute(x, nt_samples=3, stdevs=0.0, energy=0.9)
    torch.testing.assert_close(smooth, sensitive, **TIGHT)  # zero noise: the same map
    assert not x.requires_grad and x.grad is None
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())
    for name, p in model.named_parameters():
        assert torch.equal(p, before[name])


# ----------------------------------------------------------------------------------------
# Per-input shares
# ----------------------------------------------------------------------------------------


class _ImageAndTable(nn.Module):
    """(image (N, 1, 4, 4), table (N, 3)) -> (N, C); ``fuse`` takes both features."""

    def __init__(self, num_classes: int = 4, image_weight: float = 1.0) -> None:
        super().__init__()
        self.image = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Tanh(), nn.Flatten())
        self.fuse = _Fuse(2 * 16 + 3, num_classes, image_weight)

    def forward(self, image: Tensor, table: Tensor) -> Tensor:
        return self.fuse(self.image(image), table)


class _Fuse(nn.Module):
    def __init__(self, width: int, num_classes: int, image_weight: float) -> None:
        super().__init__()
        self.hidden = nn.Linear(width, 6)
        self.out = nn.Linear(6, num_classes)
        self.image_weight = image_weight

    def forward(self, image_features: Tensor, table: Tensor) -> Tensor:
        joined = torch.cat([self.image_weight * image_features, table], dim=1)
        return self.out(torch.tanh(self.hidden(joined)))


@functools.cache
def _two_input_model(image_weight: float = 1.0) -> _ImageAndTable:
    torch.manual_seed(3)
    return _ImageAndTable(image_weight=image_weight).double().eval()


def _brute_force_shares(model, inputs: tuple[Tensor, ...], n: int):
    shapes = [tuple(x.shape[1:]) for x in inputs]
    sizes = [x[0].numel() for x in inputs]

    def log_probs(flat: Tensor) -> Tensor:
        parts = [p.reshape(1, *s) for p, s in zip(flat.split(sizes), shapes, strict=True)]
        return torch.log_softmax(model(*parts), dim=1)[0]

    flat = torch.cat([x[n].flatten() for x in inputs])
    fisher, _ = brute_force_fisher(log_probs, flat)
    values, vectors = torch.linalg.eigh(fisher)
    values, vectors = values.flip(0), vectors.flip(1)
    blocks = vectors.T.split(sizes, dim=1)
    per_vector = torch.stack([b.square().sum(dim=1) for b in blocks], dim=1)
    traces = [torch.diagonal(b).sum() for b in _diagonal_blocks(fisher, sizes)]
    return values, per_vector, torch.stack(traces) / torch.diagonal(fisher).sum()


def _diagonal_blocks(matrix: Tensor, sizes: list[int]) -> list[Tensor]:
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    return [matrix[s : s + k, s : s + k] for s, k in zip(starts, sizes, strict=True)]


def test_input_shares_equal_those_of_the_brute_force_eigenvectors():
    model = _two_input_model()
    inputs = (torch.randn(2, 1, 4, 4, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64))
    result = IFIMDecomposition(model).decompose(inputs)
    shares = result.input_shares
    assert shares.eigenvector_shares.shape == (2, 3, 2) and shares.spectrum_shares.shape == (2, 2)
    for n in range(2):
        values, per_vector, trace_shares = _brute_force_shares(model, inputs, n)
        rank = int(result.rank[n])
        assert rank == 3
        torch.testing.assert_close(result.eigenvalues[n], values[:rank], **TIGHT)
        torch.testing.assert_close(shares.eigenvector_shares[n], per_vector[:rank], **TIGHT)
        torch.testing.assert_close(shares.spectrum_shares[n], trace_shares, **TIGHT)
        torch.testing.assert_close(
            shares.eigenvector_shares[n].sum(dim=1), torch.ones(rank, dtype=torch.float64)
        )


def test_input_shares_follow_which_input_the_output_reads():
    inputs = (torch.randn(2, 1, 4, 4, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64))
    table_only = IFIMDecomposition(_two_input_model(0.0)).decompose(inputs).input_shares
    torch.testing.assert_close(
        table_only.spectrum_shares, torch.tensor([[0.0, 1.0]] * 2, dtype=torch.float64)
    )
    # A single tensor input holds all of it; zero eigenvectors past the rank hold nothing.
    zero = input_shares((torch.zeros(1, 2, 5),), torch.zeros(1, 2))
    assert zero.eigenvector_shares.abs().sum() == 0 and zero.spectrum_shares.abs().sum() == 0


def test_layer_with_two_inputs_splits_like_the_brute_force_fisher():
    model = _two_input_model()
    inputs = (torch.randn(2, 1, 4, 4, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64))
    result = LayerIFIMDecomposition(model, model.fuse).decompose(
        inputs, attribute_to_layer_input=True
    )
    features = (model.image(inputs[0]).detach(), inputs[1])
    assert isinstance(result.activation, tuple) and result.location_scores is None
    torch.testing.assert_close(result.activation[0], features[0], rtol=0, atol=0)
    shares = result.input_shares
    for n in range(2):
        values, per_vector, trace_shares = _brute_force_shares(model.fuse, features, n)
        torch.testing.assert_close(result.eigenvalues[n], values[:3], **TIGHT)
        torch.testing.assert_close(shares.eigenvector_shares[n], per_vector[:3], **TIGHT)
        torch.testing.assert_close(shares.spectrum_shares[n], trace_shares, **TIGHT)


def test_plot_input_shares_draws_one_stacked_bar_per_eigenvector():
    model = _two_input_model()
    inputs = (torch.randn(1, 1, 4, 4, dtype=torch.float64), torch.randn(1, 3, dtype=torch.float64))
    shares = IFIMDecomposition(model).decompose(inputs).input_shares
    ax = plot_input_shares(shares, names=["image", "table"])
    widths = [patch.get_width() for patch in ax.patches]
    assert len(widths) == 2 * 4  # (spectrum bar + 3 eigenvectors) x 2 inputs
    expected = [float(shares.spectrum_shares[0, 1]), *shares.eigenvector_shares[0, :, 1].tolist()]
    assert widths[4:] == pytest.approx(expected)  # the table's segment of each bar
    with pytest.raises(ValueError, match="expected 2 names"):
        plot_input_shares(shares, names=["image"])
    matplotlib.pyplot.close("all")


# ----------------------------------------------------------------------------------------
# Token embeddings
# ----------------------------------------------------------------------------------------


class _TinyAttention(nn.Module):
    """Token ids (N, T) and a mask (N, T) -> (N, C): one masked self-attention layer."""

    def __init__(self, vocab: int = 12, width: int = 4, num_classes: int = 3) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width, padding_idx=0)
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.out = nn.Linear(width, num_classes)

    def forward(self, ids: Tensor, mask: Tensor) -> Tensor:
        e = self.embed(ids)
        scores = self.query(e) @ self.key(e).transpose(1, 2)
        scores = scores.masked_fill(mask[:, None, :] == 0, float("-inf"))
        attended = torch.softmax(scores, dim=-1) @ e
        pooled = (torch.tanh(attended) * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return self.out(pooled)


@functools.cache
def _token_model() -> _TinyAttention:
    torch.manual_seed(5)
    return _TinyAttention().double().eval()


def _padded_batch() -> tuple[Tensor, Tensor]:
    ids = torch.tensor([[3, 7, 1, 9, 4], [5, 2, 8, 0, 0], [6, 11, 0, 0, 0]])
    return ids, (ids != 0).long()


def test_token_scores_against_the_fisher_matrix_of_the_real_tokens():
    """The model attends to every position (mask of ones), so its output depends on the
    padded embeddings too; the padded tokens (pad_token_id) must still stay out of F."""
    model = _token_model()
    ids, _ = _padded_batch()
    mask = torch.ones_like(ids)
    ifim = TokenIFIMDecomposition(model, pad_token_id=0)
    result = ifim.decompose(ids, additional_forward_args=(mask,))
    embeddings = model.embed(ids).detach()
    for n in range(ids.shape[0]):
        length = int((ids[n] != 0).sum())
        real = embeddings[n, :length]

        def log_probs(flat: Tensor, n: int = n, length: int = length) -> Tensor:
            e = embeddings[n : n + 1].clone()
            e[0, :length] = flat.reshape(length, -1)
            return torch.log_softmax(_forward_from_embeddings(model, e, mask[n : n + 1]), 1)[0]

        fisher, _ = brute_force_fisher(log_probs, real.flatten())
        count = int(result.num_components[n])
        values, projector = top_eigenspace(fisher, count)
        torch.testing.assert_close(result.eigenvalues[n], values[:2], **TIGHT)
        sensitive = (projector @ real.flatten()).reshape(length, -1)
        torch.testing.assert_close(result.sensitive[n, :length], sensitive, **TIGHT)
        assert torch.all(result.sensitive[n, length:] == 0)
        assert torch.all(result.eigenvectors[n][:, length:] == 0)
        scores = torch.linalg.vector_norm(sensitive, dim=1)
        signs = torch.sign((sensitive * real).sum(dim=1))
        torch.testing.assert_close(result.location_scores[n, :length], signs * scores, **TIGHT)
        assert torch.all(result.location_scores[n, length:] == 0)
    attributed = ifim.attribute(ids, additional_forward_args=(mask,))
    torch.testing.assert_close(attributed, result.location_scores, rtol=0, atol=0)


def _forward_from_embeddings(model: _TinyAttention, e: Tensor, mask: Tensor) -> Tensor:
    handle = model.embed.register_forward_hook(lambda *_: e)
    try:
        return model(torch.zeros(mask.shape, dtype=torch.long), mask)
    finally:
        handle.remove()


def test_padded_batch_equals_each_sequence_alone_unpadded():
    model = _token_model()
    ids, mask = _padded_batch()
    ifim = TokenIFIMDecomposition(model)
    batched = ifim.attribute(ids, additional_forward_args=(mask,), token_mask=mask)
    for n in range(ids.shape[0]):
        length = int(mask[n].sum())
        alone = ifim.attribute(
            ids[n : n + 1, :length], additional_forward_args=(mask[n : n + 1, :length],)
        )
        torch.testing.assert_close(batched[n, :length], alone[0], **TIGHT)
        assert torch.all(batched[n, length:] == 0)


def test_hugging_face_classifier_embeddings_found_with_mask_and_padding():
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(
        vocab_size=20,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=8,
        num_labels=3,
    )
    torch.manual_seed(0)
    bert = transformers.BertForSequenceClassification(config).double().eval()
    # The model as it comes: forward(input_ids, attention_mask) -> SequenceClassifierOutput.
    ifim = TokenIFIMDecomposition(bert, pad_token_id=0)
    assert ifim.layer is bert.bert.embeddings
    ids = torch.tensor([[2, 5, 7, 3], [2, 9, 0, 0]])
    mask = (ids != 0).long()
    scores = ifim.attribute(ids, additional_forward_args=(mask,))
    assert scores.shape == (2, 4) and torch.all(scores[1, 2:] == 0) and torch.all(scores[0] != 0)
    alone = ifim.attribute(ids[1:, :2], additional_forward_args=(mask[1:, :2],))
    torch.testing.assert_close(scores[1, :2], alone[0], **TIGHT)


# ----------------------------------------------------------------------------------------
# Bad input: a clear error before any backward pass, nothing changed
# ----------------------------------------------------------------------------------------


def test_bad_layers_and_arguments_are_refused():
    model = _conv_net(3)
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    with pytest.raises(ValueError, match="expected a layer of the model"):
        LayerIFIMDecomposition(model, nn.Tanh())
    with pytest.raises(TypeError, match=r"expected layer to be a torch\.nn\.Module"):
        LayerIFIMDecomposition(model, "1")  # type: ignore[arg-type]

    class Unused(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = _conv_net(3)
            self.spare = nn.Linear(2, 2)
            self.side = nn.Tanh()

        def forward(self, x: Tensor, scale: Tensor | None = None) -> Tensor:
            self.side(x)  # computed, never used by the output
            return self.net(x)

    wrapper = Unused().double().eval()
    with pytest.raises(ValueError, match="got 0 calls; is it part"):
        LayerIFIMDecomposition(wrapper, wrapper.spare).decompose(x)
    with pytest.raises(ValueError, match="does not reach the output"):
        LayerIFIMDecomposition(wrapper, wrapper.side).decompose(x)
    with pytest.raises(ValueError, match="batch size 2 of the inputs"):
        LayerIFIMDecomposition(wrapper, wrapper.net[1]).decompose(
            x, additional_forward_args=(torch.ones(3, 1),)
        )
    shared = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Tanh()).double()
    looped = nn.Sequential(shared, shared, nn.Flatten(), nn.Linear(36, 2)).double().eval()
    with pytest.raises(ValueError, match="run once per forward pass, got 2 calls"):
        LayerIFIMDecomposition(looped, shared[0]).decompose(x)
    with pytest.raises(ValueError, match="expected energy"):
        LayerIFIMDecomposition(model, model[1]).decompose(x, energy=1.5)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in wrapper.modules())


def test_token_inputs_without_an_embedding_layer_or_of_a_wrong_shape_are_refused():
    with pytest.raises(ValueError, match="without an embedding layer"):
        TokenIFIMDecomposition(_conv_net(3))

    class TwoTables(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.words = nn.Embedding(5, 2)
            self.positions = nn.Embedding(5, 2)

    with pytest.raises(ValueError, match="got 2 \\(words, positions\\); pass embedding="):
        TokenIFIMDecomposition(TwoTables())
    model = _token_model()
    ids, mask = _padded_batch()
    ifim = TokenIFIMDecomposition(model)
    with pytest.raises(ValueError, match="expected token ids of shape \\(N, T\\)"):
        ifim.attribute(ids[0], additional_forward_args=(mask[0],))
    with pytest.raises(ValueError, match="expected token_mask of shape"):
        ifim.attribute(ids, additional_forward_args=(mask,), token_mask=mask[:, :2])
    with pytest.raises(ValueError, match="batch size 3 of the inputs"):
        ifim.attribute(ids, additional_forward_args=(mask[:2],))
    with pytest.raises(ValueError, match=r"embedding layer's output to be \(N, T, D\)"):
        TokenIFIMDecomposition(model, embedding=model.out).attribute(
            ids, additional_forward_args=(mask,)
        )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu_at_a_layer_and_over_tokens():
    model = _conv_net(4)
    x = torch.randn(3, 1, 6, 6, dtype=torch.float64)
    on_cpu = LayerIFIMDecomposition(model, model[1]).decompose(x)
    gpu_model = _conv_net(4).cuda()
    on_gpu = LayerIFIMDecomposition(gpu_model, gpu_model[1]).decompose(x.cuda())
    assert on_gpu.sensitive.device.type == "cuda" and on_gpu.spatial_map.device.type == "cuda"
    torch.testing.assert_close(on_gpu.eigenvalues.cpu(), on_cpu.eigenvalues, **TIGHT)
    torch.testing.assert_close(on_gpu.sensitive.cpu(), on_cpu.sensitive, **TIGHT)
    ids, mask = _padded_batch()
    tokens_cpu = TokenIFIMDecomposition(_token_model(), pad_token_id=0)
    scores_cpu = tokens_cpu.attribute(ids, additional_forward_args=(mask,))
    torch.manual_seed(5)
    gpu_tokens = _TinyAttention().double().eval().cuda()
    scores_gpu = TokenIFIMDecomposition(gpu_tokens, pad_token_id=0).attribute(
        ids.cuda(), additional_forward_args=(mask.cuda(),)
    )
    torch.testing.assert_close(scores_gpu.cpu(), scores_cpu, **TIGHT)
