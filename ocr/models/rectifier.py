"""A thin-plate-spline spatial transformer that straightens curved and slanted words.

As in RARE / ASTER (Shi et al., CVPR 2016 / TPAMI 2018) and the TPS stage of clovaai's
deep-text-recognition-benchmark: a small localisation CNN looks at the word and predicts
``fiducials`` control points on it (half along its top edge, half along its bottom edge);
the thin-plate spline that carries those points to a straight rectangle resamples the
image to a fixed ``output_size``; the CRNN reads the result. It is trained end to end
through the bilinear sampler, with no extra loss, and starts as the identity (the
localisation net's last layer is zero with the rectangle as its bias).

Each image is read only inside its valid width (batches are padded on the right), so
padding never reaches the sampled image and a reading does not depend on the batch.
Everything is a matrix product and ``grid_sample``, so it exports to ONNX.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


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
    """``(height * width, K)``: times the K source points, the input position each output pixel samples.

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
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, height * 2 + 1, dtype=torch.float64)[1::2],
                            torch.linspace(-1, 1, width * 2 + 1, dtype=torch.float64)[1::2], indexing="ij")
    pixels = torch.stack([xs.flatten(), ys.flatten()], dim=1)  # pixel centres, as align_corners=False
    lifted = torch.cat([_radial(pixels, t), torch.ones(len(pixels), 1, dtype=torch.float64), pixels], dim=1)
    return (lifted @ torch.linalg.inv(system)[:, :k]).float()


class TPSRectifier(nn.Module):
    """``(images (B, C, H, W), widths (B,))`` -> ``(rectified (B, C, *output_size), widths)``.

    Args:
        in_channels: 1 gray, 3 RGB.
        fiducials: control points (even, at least 4; 20 in RARE and ASTER).
        output_size: ``(height, width)`` of the rectified image (height 32 for the backbone).
        localisation_size: ``(height, width)`` the localisation net sees each word at.
        channels: the localisation net's four convolutions.
    """

    def __init__(self, in_channels: int = 1, fiducials: int = 20, output_size: tuple[int, int] = (32, 128),
                 localisation_size: tuple[int, int] = (16, 48),
                 channels: tuple[int, int, int, int] = (16, 32, 64, 64)) -> None:
        super().__init__()
        self.output_size, self.localisation_size = tuple(output_size), tuple(localisation_size)
        targets = fiducial_rectangle(fiducials)
        self.register_buffer("sampling", tps_sampling_matrix(targets, *self.output_size), persistent=False)
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
        b, _, _, padded = images.shape
        if widths is None:
            widths = torch.full((b,), padded, dtype=torch.long, device=images.device)
        # the valid part of each image spans x in [-1, 2 w / W - 1] of the padded one
        share = (widths.to(images.dtype) / padded).view(b, 1, 1)
        source = self.points(self.localisation(self._valid_part(images, share))).view(b, -1, 2)
        grid = self.sampling @ source  # (B, H_out * W_out, 2) in the valid part's coordinates
        # never past the centre of the last valid column: padding must not bleed in
        last = ((2 * widths.to(images.dtype) - 1) / padded - 1).view(b, 1)
        grid = torch.stack([torch.minimum((grid[..., 0] + 1) * share[..., 0] - 1, last), grid[..., 1]], dim=-1)
        grid = grid.view(b, *self.output_size, 2)
        rectified = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return rectified, torch.full((b,), self.output_size[1], dtype=torch.long, device=images.device)

    def _valid_part(self, images: Tensor, share: Tensor) -> Tensor:
        """Each image's valid width resampled to the localisation net's input size."""
        b = images.shape[0]
        zero, one = torch.zeros_like(share[:, 0, 0]), torch.ones_like(share[:, 0, 0])
        theta = torch.stack([torch.stack([share[:, 0, 0], zero, share[:, 0, 0] - 1], dim=1),
                             torch.stack([zero, one, zero], dim=1)], dim=1)
        grid = F.affine_grid(theta, [b, images.shape[1], *self.localisation_size], align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
