"""Networks for rows of a table: a residual MLP generator with per-span output activations and a
"packed" MLP discriminator that judges ``pac`` rows at once (PacGAN), which penalises mode collapse."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

# Rows a sampling pass takes through the generator at a time: its layers' outputs then stay a few MB each,
# which the allocator reuses, instead of fresh 100 MB buffers that a chunk of 100k rows costs in page faults
# (sampling 1M Adult rows: 7.5 -> 5.2 s for the generator on a 2-core CPU). Rows do not depend on it beyond
# float32 rounding: the matrix library may compute a short last block with another kernel, whose last bit
# can differ (as the chunk size of a sample could already make it).
BLOCK_ROWS = 8192


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
        self.choice_spans = [(a, size) for a, size, act in self.spans if act != "tanh"]  # (start, size)
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

        Choice spans: with ``gen``, one-hot draws from the softmax of the logits (``draw``); without, the
        logits (whose argmax, what decoding uses, is the most likely choice). Value spans get their tanh.
        """
        return self.draw(z, cond_index, gen)[0] if gen is not None else self._logits(z, cond_index)

    @torch.no_grad()
    def draw(
        self, z: torch.Tensor, cond_index: torch.Tensor | None, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows for sampling: each choice span one-hot, drawn from the softmax of its logits (the first
        slot whose running sum passes one uniform draw per span: cheaper than Gumbel noise per slot), value
        spans their tanh. Also the drawn slot of every choice span, (rows, ``choice_spans``) in that order,
        so the caller need not read them back from the one-hot."""
        spans = self.choice_spans
        n = z.shape[0]
        u = torch.rand(n, len(spans), 1, generator=gen).to(z.device, z.dtype)
        starts = torch.as_tensor([start for start, _ in spans], dtype=torch.long, device=z.device)
        rows = torch.empty(n, self.out.out_features, dtype=z.dtype, device=z.device)
        slots = torch.empty(n, len(spans), dtype=torch.long, device=z.device)
        for i in range(0, n, BLOCK_ROWS):
            part = slice(i, i + BLOCK_ROWS)
            out = self._logits(z[part], None if cond_index is None else cond_index[part])
            for j, (start, size) in enumerate(spans):
                passed = torch.softmax(out[:, start : start + size], dim=1).cumsum_(dim=1) > u[part, j]
                # the number of slots not yet passed is the first one passed; at most the last, for a
                # running sum that rounding leaves just below 1
                slots[part, j] = (~passed).sum(dim=1).clamp_(max=size - 1)
                out[:, start : start + size] = 0.0
            rows[part] = out.scatter_(1, slots[part] + starts, 1.0)
        return rows, slots

    def _logits(self, z: torch.Tensor, cond_index: torch.Tensor | None) -> torch.Tensor:
        """The eval-mode output with the choice spans' logits as they are. Each layer's weight is split by
        input segment ([newest block output, ..., z, c]) so no concatenation is materialised, batch norm
        is folded into the weights, and the one-hot condition becomes a column lookup instead of a matrix
        product."""
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
            ins = list(zip(reversed(feats), parts[:-1], strict=True))
            y = torch.addmm(b, ins[0][0], ins[0][1].t())
            for f, wp in ins[1:]:
                y.addmm_(f, wp.t())
            if cond_index is not None and sizes[1]:
                y += parts[-1].t()[cond_index]
            if relu:
                feats.append(torch.relu_(y))
            else:
                out = y
        out[:, self.tanh_idx] = torch.tanh(out[:, self.tanh_idx])
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
