"""Networks for rows of a table: a residual MLP generator with per-span output activations and a
"packed" MLP discriminator that judges ``pac`` rows at once (PacGAN), which penalises mode collapse."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Residual(nn.Module):
    """``[relu(bn(fc(x))), x]``: each block widens the input, so later layers still see the noise."""

    def __init__(self, i: int, o: int) -> None:
        super().__init__()
        self.fc, self.bn = nn.Linear(i, o), nn.BatchNorm1d(o)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)


class TableGenerator(nn.Module):
    """G(z, cond) -> encoded row: tanh on value spans, (Gumbel-)softmax on choice spans.

    While training, choice spans use a Gumbel-softmax with temperature ``tau`` (nearly one-hot, like real
    rows, yet differentiable); in eval mode a plain softmax. Sampling (``generate``) draws each choice
    from the softmax, as training's Gumbel noise does, not the argmax of the logits, which would give
    every row its most likely category and starve rare categories, missing-value slots and minority
    classes.
    """

    def __init__(
        self,
        z_dim: int,
        cond_dim: int,
        hidden: tuple[int, ...],
        spans: list[tuple[int, int, str]],
        tau: float,
    ) -> None:
        super().__init__()
        blocks, width = [], z_dim + cond_dim
        for h in hidden:
            blocks.append(Residual(width, h))
            width += h
        self.body = nn.Sequential(*blocks)
        self.out = nn.Linear(width, sum(s for _, s, _ in spans))
        self.spans, self.tau, self.cond_dim = [tuple(s) for s in spans], tau, cond_dim
        self.tanh_idx = [a for a, _, act in spans if act == "tanh"]
        # Every output column's span and whether it is a value column: the choice spans' softmaxes are
        # then a few whole-row operations rather than one call per span (a table has dozens of spans).
        group = torch.cat([torch.full((size,), i) for i, (_, size, _) in enumerate(self.spans)])
        is_tanh = torch.cat([torch.full((size,), act == "tanh") for _, size, act in self.spans])
        self.register_buffer("_group", group, persistent=False)
        self.register_buffer("_is_tanh", is_tanh, persistent=False)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        h = self.out(self.body(torch.cat([z, c], dim=1) if c is not None else z))
        if not self.training and not torch.is_grad_enabled():
            # Sampling only needs argmax of each choice (softmax keeps it), so skip the softmaxes.
            h[:, self.tanh_idx] = torch.tanh(h[:, self.tanh_idx])
            return h
        if self.training:  # Gumbel-softmax: softmax((logits + Gumbel noise) / tau), per span
            # Gumbel noise as -log(-log U): a uniform draw is ~4x cheaper on a CPU than exponential_
            u = torch.rand_like(h).clamp_(min=torch.finfo(h.dtype).tiny)
            h_choice = (h - u.log_().neg_().log_()) / self.tau
        else:
            h_choice = h
        return torch.where(self._is_tanh, torch.tanh(h), self._span_softmax(h_choice))

    def _span_softmax(self, y: torch.Tensor) -> torch.Tensor:
        """Softmax of ``y`` within each span (value columns are spans of one: 1 there, unused)."""
        group = self._group.expand_as(y)
        with torch.no_grad():  # the shift for stability: the softmax does not depend on it
            top = torch.full((y.shape[0], len(self.spans)), -torch.inf, dtype=y.dtype, device=y.device)
            top.scatter_reduce_(1, group, y, "amax")
        e = torch.exp(y - top.gather(1, group))
        total = torch.zeros_like(top).index_add(1, self._group, e)
        return e / total.gather(1, group)

    @torch.no_grad()
    def generate(
        self, z: torch.Tensor, cond_index: torch.Tensor | None, gen: torch.Generator | None = None
    ) -> torch.Tensor:
        """Eval-mode output for sampling, as ``forward(z, one_hot(cond_index))`` but much cheaper.

        Each layer's weight is split by input segment ([newest block output, ..., z, c]) so no
        concatenation is materialised, batch norm is folded into the weights, and the one-hot condition
        becomes a column lookup instead of a matrix product. Choice spans: with ``gen``, one-hot draws
        from the softmax of the logits; without, the logits (whose argmax, what decoding uses, is the most
        likely choice). Value spans get their tanh.
        """
        sizes = [z.shape[1], self.cond_dim]  # input segments, oldest last
        feats = [z]
        layers: list[tuple[torch.Tensor, torch.Tensor, bool]] = []
        for block in self.body:
            w, b = block.fc.weight, block.fc.bias
            bn = block.bn
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            layers.append((w * scale[:, None], (b - bn.running_mean) * scale + bn.bias, True))
        layers.append((self.out.weight, self.out.bias, False))
        for w, b, relu in layers:
            # split columns of w: [a_k, ..., a_1, z, c] matches feats reversed + c
            widths = [f.shape[1] for f in reversed(feats)] + [sizes[1]]
            parts = torch.split(w, widths, dim=1)
            y = b.expand(z.shape[0], -1).clone()
            for f, wp in zip(reversed(feats), parts[:-1], strict=True):
                y.addmm_(f, wp.t())
            if cond_index is not None and sizes[1]:
                y += parts[-1].t()[cond_index]
            if relu:
                feats.append(torch.relu_(y))
            else:
                out = y
        out[:, self.tanh_idx] = torch.tanh(out[:, self.tanh_idx])
        if gen is not None:  # per choice span: the first slot where the softmax's running sum passes a
            # uniform draw -- a draw from the softmax (one uniform per span: cheaper than Gumbel noise per slot)
            spans = [(start, size) for start, size, act in self.spans if act != "tanh"]
            u = torch.rand(out.shape[0], len(spans), 1, generator=gen).to(out.device, out.dtype)
            for j, (start, size) in enumerate(spans):
                passed = torch.softmax(out[:, start : start + size], dim=1).cumsum_(dim=1) > u[:, j]
                passed[:, -1] = True  # a running sum that rounding leaves just below 1
                hit = passed.to(out.dtype)
                hit[:, 1:] -= passed[:, :-1].to(out.dtype)  # one-hot: the first slot past the draw
                out[:, start : start + size] = hit
        return out


class TableDiscriminator(nn.Module):
    """D(rows, cond) -> one logit per pack of ``pac`` rows (the batch must be a multiple of ``pac``)."""

    def __init__(
        self, data_dim: int, cond_dim: int, hidden: tuple[int, ...], pac: int, dropout: float
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = (data_dim + cond_dim) * pac
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, 1))
        self.net, self.pac = nn.Sequential(*layers), pac

    def forward(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        if c is not None:
            x = torch.cat([x, c], dim=1)
        if x.shape[0] % self.pac:
            raise ValueError(f"batch of {x.shape[0]} rows is not a multiple of pac={self.pac}")
        return self.net(x.reshape(x.shape[0] // self.pac, -1)).squeeze(1)
