"""Surname and given-name frequencies for synthetic people.

Core objects:
    :data:`SURNAMES`: the built-in surname table (most common first).
    :func:`surname_probabilities`: the share of people carrying each surname.
    :func:`given_name_probabilities`: a Zipf-Mandelbrot law over a pool of given names.

Why names matter in a lab about scoring: record linkage mixes up people who share a name,
and in China a few surnames cover a large share of the population, so same-name errors
fall unevenly. The top-20 shares follow the Ministry of Public Security's household
registration surname report (Wang, Li and Zhang each about 7 %; the top 20 about 53 %);
ranks 21-100 and a long tail of 400 rarer surnames are filled with a power law so that the
top 100 cover about 85 %, as that report states. Given names are indices into a pool, not
strings: only whether two people share a name matters to the model.
"""

from __future__ import annotations

import numpy as np

# Top 100 surnames in rank order (approximate ranking of the MPS reports).
_TOP100 = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤"
)
_TOP20_SHARES = (
    0.0725, 0.0719, 0.0683, 0.0538, 0.0453, 0.0308, 0.0223, 0.0229, 0.0205, 0.0200,
    0.0167, 0.0154, 0.0144, 0.0128, 0.0131, 0.0113, 0.0106, 0.0100, 0.0100, 0.0086,
)  # fmt: skip
TOP100_COVERAGE = 0.85
N_TAIL = 400

SURNAMES: tuple[str, ...] = tuple(_TOP100) + tuple(f"姓{i:03d}" for i in range(N_TAIL))


def surname_probabilities() -> np.ndarray:
    """Share of people with each surname in :data:`SURNAMES` (sums to 1)."""
    top20 = np.array(_TOP20_SHARES)
    # Ranks 21-100: a power law k^-1.2 scaled so that ranks 1-100 cover TOP100_COVERAGE.
    ranks = np.arange(21, 101, dtype=float)
    mid = ranks**-1.2
    mid *= (TOP100_COVERAGE - top20.sum()) / mid.sum()
    tail = np.arange(101, 101 + N_TAIL, dtype=float) ** -1.0
    tail *= (1.0 - TOP100_COVERAGE) / tail.sum()
    p = np.concatenate([top20, mid, tail])
    return p / p.sum()


def given_name_probabilities(pool: int, offset: float, exponent: float) -> np.ndarray:
    """Zipf-Mandelbrot shares p_k ∝ (k + offset)^-exponent for k = 1..pool."""
    k = np.arange(1, pool + 1, dtype=float)
    p = (k + offset) ** -exponent
    return p / p.sum()


def draw_categorical(p: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n draws from the categorical law ``p`` by inverse CDF (one uniform per draw)."""
    cdf = np.cumsum(p)
    cdf[-1] = 1.0  # guard against rounding so every uniform lands in a category
    idx = np.searchsorted(cdf, rng.random(n), side="right")
    return np.minimum(idx, len(p) - 1)
