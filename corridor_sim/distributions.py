"""Random quantities in a scenario: specs that validate themselves and samplers that know their mean.

A plain number is a constant. A mapping names a distribution by `dist` and gives its natural
parameters (mean and sd for lognormal and gamma, not the parameters of the underlying normal).
Routing needs each distribution's mean, so every spec exposes `mean`; the engine draws from it with
a numpy Generator that belongs to the facility, segment or service using it.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator


BLOCK = 1024
MAX_VALUE = 1_000_000.0
"""The largest parameter (or plain value) a distribution may have: a million hours is 114 years, so
a larger one cannot be meant, and the bound keeps sums of means (expected route times) finite."""
MIN_GAMMA_SHAPE = 1e-6
"""The smallest gamma shape (mean/sd)^2 accepted (sd at most 1000 times the mean): below it numpy's
draws are all but exactly zero, with a rare astronomically large one, and the mean is not met."""


def _blocks(draw_block):
    """A zero-argument sampler handing out values drawn `BLOCK` at a time.

    numpy Generators give the same numbers in the same order whether drawn one by one or in an
    array, so this changes no result; it spares a scalar numpy call (~1.5 us) per draw.
    """
    buffer: list[float] = []

    def draw() -> float:
        if not buffer:
            buffer.extend(reversed(draw_block(BLOCK).tolist()))
        return buffer.pop()

    return draw


class _Dist(BaseModel):
    # allow_inf_nan=False: .inf and .nan are refused in every parameter.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @property
    def mean(self) -> float:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def sampler(self, rng: np.random.Generator):
        """Return a zero-argument function drawing one value (hours, or whatever the key's unit)."""
        raise NotImplementedError  # pragma: no cover


class Constant(_Dist):
    dist: Literal["constant"] = "constant"
    value: float = Field(ge=0, le=MAX_VALUE)

    @property
    def mean(self) -> float:
        return self.value

    def sampler(self, rng):
        value = float(self.value)
        return lambda: value


class Exponential(_Dist):
    dist: Literal["exponential"]
    mean_: float = Field(alias="mean", gt=0, le=MAX_VALUE)

    @property
    def mean(self) -> float:
        return self.mean_

    def sampler(self, rng):
        scale = self.mean_
        return _blocks(lambda n: rng.exponential(scale, n))


class Uniform(_Dist):
    dist: Literal["uniform"]
    low: float = Field(ge=0, le=MAX_VALUE)
    high: float = Field(ge=0, le=MAX_VALUE)

    @model_validator(mode="after")
    def _ordered(self):
        if self.high < self.low:
            raise ValueError("high must be >= low")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def sampler(self, rng):
        low, high = self.low, self.high
        return _blocks(lambda n: rng.uniform(low, high, n))


class Triangular(_Dist):
    dist: Literal["triangular"]
    low: float = Field(ge=0, le=MAX_VALUE)
    mode: float = Field(ge=0, le=MAX_VALUE)
    high: float = Field(ge=0, le=MAX_VALUE)

    @model_validator(mode="after")
    def _ordered(self):
        if not (self.low <= self.mode <= self.high) or self.low == self.high:
            raise ValueError("triangular needs low <= mode <= high and low < high")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3

    def sampler(self, rng):
        low, mode, high = self.low, self.mode, self.high
        return _blocks(lambda n: rng.triangular(low, mode, high, n))


class Normal(_Dist):
    """Normal truncated at zero (by rejection); `mean` reports the truncated mean."""

    dist: Literal["normal"]
    mean_: float = Field(alias="mean", ge=0, le=MAX_VALUE)
    sd: float = Field(gt=0, le=MAX_VALUE)

    @property
    def mean(self) -> float:
        # Mean of a normal truncated below at 0: mu + sd * phi(a) / (1 - Phi(a)), a = -mu/sd.
        a = -self.mean_ / self.sd
        phi = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
        tail = 0.5 * math.erfc(a / math.sqrt(2))
        return self.mean_ + self.sd * phi / tail

    def sampler(self, rng):
        mu, sd = self.mean_, self.sd

        def draw() -> float:
            while True:
                x = rng.normal(mu, sd)
                if x >= 0:
                    return x

        return draw


class Lognormal(_Dist):
    dist: Literal["lognormal"]
    mean_: float = Field(alias="mean", gt=0, le=MAX_VALUE)
    sd: float = Field(gt=0, le=MAX_VALUE)

    @model_validator(mode="after")
    def _representable(self):
        # The sampler's (sd/mean)^2 overflows for extreme ratios (mean 1e-300, sd 1e6).
        try:
            (self.sd / self.mean_) ** 2
        except OverflowError:
            raise ValueError(f"lognormal with mean {self.mean_:g} and sd {self.sd:g}: sd / mean overflows "
                             f"when squared; the distribution cannot be drawn from") from None
        return self

    @property
    def mean(self) -> float:
        return self.mean_

    def sampler(self, rng):
        sigma2 = math.log(1 + (self.sd / self.mean_) ** 2)
        mu, sigma = math.log(self.mean_) - sigma2 / 2, math.sqrt(sigma2)
        return _blocks(lambda n: rng.lognormal(mu, sigma, n))


class Gamma(_Dist):
    dist: Literal["gamma"]
    mean_: float = Field(alias="mean", gt=0, le=MAX_VALUE)
    sd: float = Field(gt=0, le=MAX_VALUE)

    @model_validator(mode="after")
    def _representable(self):
        # The sampler's shape (mean/sd)^2 and scale sd^2/mean overflow or underflow for extreme
        # ratios (mean 1e-300 with sd 1e6 gives shape 0 and scale inf).
        try:
            shape, scale = (self.mean_ / self.sd) ** 2, self.sd**2 / self.mean_
        except OverflowError:
            shape = scale = math.inf
        if not (MIN_GAMMA_SHAPE <= shape < math.inf and 0 < scale < math.inf):
            raise ValueError(f"gamma with mean {self.mean_:g} and sd {self.sd:g} has shape (mean/sd)^2 = "
                             f"{shape:g} and scale sd^2/mean = {scale:g}; the shape must be at least "
                             f"{MIN_GAMMA_SHAPE:g} (sd at most 1000 x mean) and both finite")
        return self

    @property
    def mean(self) -> float:
        return self.mean_

    def sampler(self, rng):
        shape = (self.mean_ / self.sd) ** 2
        scale = self.sd**2 / self.mean_
        return _blocks(lambda n: rng.gamma(shape, scale, n))


class Empirical(_Dist):
    dist: Literal["empirical"]
    values: list[Annotated[float, Field(ge=0, le=MAX_VALUE)]] = Field(min_length=1)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    def sampler(self, rng):
        values = np.asarray(self.values, dtype=float)
        return lambda: values[rng.integers(len(values))]


DistSpec = Annotated[
    Union[Constant, Exponential, Uniform, Triangular, Normal, Lognormal, Gamma, Empirical],
    Field(discriminator="dist"),
]
"""A distribution given as a mapping with `dist`."""

def _number_or_spec(value) -> str:
    return "~spec" if isinstance(value, (dict, _Dist)) else "~number"


Distribution = Annotated[
    Union[Annotated[float, Field(ge=0, le=MAX_VALUE), Tag("~number")], Annotated[DistSpec, Tag("~spec")]],
    Discriminator(_number_or_spec),
]
"""A distribution as written in a scenario: a plain non-negative number or a spec."""


def as_spec(value: float | _Dist) -> _Dist:
    """Turn a plain number into a Constant spec; leave a spec as it is."""
    if isinstance(value, _Dist):
        return value
    return Constant(value=float(value))


def mean_of(value: float | _Dist) -> float:
    """The mean of a distribution as written in a scenario."""
    return as_spec(value).mean


def sampler_of(value: float | _Dist, rng: np.random.Generator):
    """A zero-argument function drawing from a distribution as written in a scenario."""
    return as_spec(value).sampler(rng)
