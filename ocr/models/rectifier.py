"""A thin-plate-spline spatial transformer that straightens curved and slanted words.

As in RARE / ASTER (Shi et al., CVPR 2016 / TPAMI 2018) and the TPS stage of clovaai's
deep-text-recognition-benchmark: a small localisation CNN looks at the word and predicts
``fiducials`` control points on it (half along its top edge, half along its bottom edge);
the thin-plate spline that carries those points to a straight rectangle resamples the
image; the CRNN reads the result. It is trained end to end through the bilinear sampler,
with no extra loss, and starts as the identity (the localisation net's last layer is zero,
with the rectangle as its bias).

The output has the input's size: each image keeps its own width (batches are padded on the
right), so time steps, lengths and padding work as without a rectifier, and long words are
not squeezed. The spline is evaluated on a coarse ``grid`` over each word and interpolated
bilinearly to every pixel (a spline is smooth; this is the cost of one small matrix
product). Each image is read only inside its valid width, its padding stays 0, and a
reading does not depend on the batch. Everything is a matrix product or ``grid_sample``, so
it exports to ONNX.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ocr.models.masks import valid_positions


def fiducial_rectangle(count: int, margin: float = 0.05) -> Tensor:
    """``count`` points ``(x, y)`` in [-1, 1]: half evenly along the top edge, half along the bottom."""
    if count < 4 or count % 2:
        raise ValueError(f"the TPS rectifier needs an even number of at least 4 fiducials, got {count}")
    xs = torch.linspace(-1 + margin, 1 - margin, count // 2)
    top = torch.stack([xs, torch.full_like(xs, -1 + margin)], dim=1)
    bottom = torch.stack([xs, torch.full_like(xs, 1 - margin)], dim=1)
    return torch.cat([top, bottom])


def _radial(a: Tensor, b: Tensor) -> Tensor:
    """The TPS kernel ``r^2 log r^2`` between every point of ``a`` (N, 2) and of ``b`` (K, 2)."""
    r2 = torch.cdist(a, b).pow(2)
    return r2 * torch.log(r2.clamp_min(1e-9))


def tps_sampling_matrix(targets: Tensor, height: int, width: int) -> Tensor:
    """``(height * width, K)``: times the K source points, the input position that each point
    of a ``height`` x ``width`` grid over the rectified image (corners included) samples.

    The spline maps the fixed ``targets`` (K, 2) on the rectified image to the predicted
    source points; solving its linear system once, here, leaves one matrix product per batch.
    """
    k = targets.shape[0]
    ones = torch.ones(k, 1, dtype=torch.float64)
    t = targets.double()
    system = torch.zeros(k + 3, k + 3, dtype=torch.float64)
    system[:k, :k] = _radial(t, t)
    system[:k, k:] = torch.cat([ones, t], dim=1)
    system[k:, :k] = torch.cat([ones, t], dim=1).T
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, height, dtype=torch.float64),
                            torch.linspace(-1, 1, width, dtype=torch.float64), indexing="ij")
    pixels = torch.stack([xs.flatten(), ys.flatten()], dim=1)
    lifted = torch.cat([_radial(pixels, t), torch.ones(len(pixels), 1, dtype=torch.float64), pixels], dim=1)
    return (lifted @ torch.linalg.inv(system)[:, :k]).float()


class TPSRectifier(nn.Module):
    """``(images (B, C, H, W), widths (B,))`` -> ``(rectified (B, C, H, W), widths)``.

    Args:
        in_channels: 1 gray, 3 RGB.
        fiducials: control points (even, at least 4; 20 in RARE and ASTER).
        grid: ``(rows, columns)`` of the coarse grid the spline is evaluated on.
        localisation_size: ``(height, width)`` the localisation net sees each word at.
        channels: the localisation net's four convolutions.
    """

    def __init__(self, in_channels: int = 1, fiducials: int = 20, grid: tuple[int, int] = (8, 32),
                 localisation_size: tuple[int, int] = (16, 48),
                 channels: tuple[int, int, int, int] = (16, 32, 64, 64)) -> None:
        super().__init__()
        self.grid, self.localisation_size = tuple(grid), tuple(localisation_size)
        targets = fiducial_rectangle(fiducials)
        self.register_buffer("sampling", tps_sampling_matrix(targets, *self.grid), persistent=False)
        layers, c_in = [], in_channels
        for i, c in enumerate(channels):
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            layers.append(nn.MaxPool2d(2, 2) if i < len(channels) - 1 else nn.AdaptiveAvgPool2d(1))
            c_in = c
        self.localisation = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c_in, 64), nn.ReLU(inplace=True))
        self.points = nn.Linear(64, 2 * fiducials)
        nn.init.zeros_(self.points.weight)  # starts as the identity: the predicted points are the rectangle
        with torch.no_grad():
            self.points.bias.copy_(targets.flatten())

    def forward(self, images: Tensor, widths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        b, _, height, padded = images.shape
        if widths is None:
            widths = torch.full((b,), padded, dtype=torch.long, device=images.device)
        w = widths.to(images.dtype).view(b, 1)
        share = w / padded  # the valid part of each image spans x in [-1, 2 share - 1] of the padded one
        source = self.points(self.localisation(self._valid_part(images, share))).view(b, -1, 2)
        coarse = (self.sampling @ source).view(b, *self.grid, 2).permute(0, 3, 1, 2)  # (B, 2, rows, columns)
        # every output pixel centre, in its own image's valid-part coordinates
        columns, rows = _centres(padded, images), _centres(height, images)
        u = ((columns.view(1, -1) + 1) / share - 1).clamp(-1, 1)  # (B, W)
        lookup = torch.stack([u.view(b, 1, padded).expand(b, height, padded),
                              rows.view(1, height, 1).expand(b, height, padded)], dim=-1)
        fine = F.grid_sample(coarse, lookup, mode="bilinear", padding_mode="border", align_corners=True)
        # valid-part coordinates -> the padded image's, never past the last valid column's centre
        last = (2 * w - 1) / padded - 1
        x = torch.minimum((fine[:, 0] + 1) * share.view(b, 1, 1) - 1, last.view(b, 1, 1))
        grid = torch.stack([x, fine[:, 1]], dim=-1)
        rectified = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
        valid = valid_positions(widths, padded).to(images.dtype)
        return rectified * valid.view(b, 1, 1, padded), widths

    def _valid_part(self, images: Tensor, share: Tensor) -> Tensor:
        """Each image's valid width resampled to the localisation net's input size."""
        b = images.shape[0]
        height, width = self.localisation_size
        columns = _centres(width, images).view(1, 1, width)
        rows = _centres(height, images).view(1, height, 1)
        x = ((columns + 1) * share.view(b, 1, 1) - 1).expand(b, height, width)
        grid = torch.stack([x, rows.expand(b, height, width)], dim=-1)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _centres(count: int, like: Tensor) -> Tensor:
    """The normalised coordinates, in [-1, 1], of the centres of ``count`` pixels in a row."""
    return (torch.arange(count, dtype=like.dtype, device=like.device) + 0.5) * 2 / count - 1
