"""Small column tables for a run's results: summary.json, the printed tables and the CSV files
without pandas.

`Results` builds its small tables (flows, flows by replication, nodes, services, segments, queues)
as `Table`s: columns of plain Python values of the type pandas would give the column, so that a
summary-only run writes its folder without importing pandas (with pyarrow, 0.7 s of CPU
for a run that simulates in a few). The pandas DataFrame is built only when asked for
(`Table.frame()`), by the very constructor call `Results` always made, so `Results.flows` is the
DataFrame it always was.

What is kept identical to pandas (tests/test_tables.py checks each against pandas):

- column types, as `pd.DataFrame(rows)` infers them: all bool -> bool; all int -> int; numbers
  with a float, NaN or None among them -> float (None as NaN); all str with NaN or None missing ->
  str (missing as NaN); anything else -> object, the values as they are;
- `mean`: `Series.mean` (NaN skipped: NaN set to 0, numpy's pairwise sum of the whole column in
  float64, divided by the count of the others);
- `sort_values`: pandas' `nargsort` (numpy's default sort of the non-NaN values, NaN last);
- `to_csv`: `DataFrame.to_csv(path, index=False)`: floats written by numpy's `astype(str)`, NaN and
  None as empty fields, `csv.writer` with QUOTE_MINIMAL and "\\n" line ends.
"""

from __future__ import annotations

import csv
import functools
import math
from collections import namedtuple
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

BOOL, INT, FLOAT, STR, OBJECT = "bool", "int", "float", "str", "object"


def column_kind(values: Sequence) -> str:
    """The type pandas infers for a column of Python (or numpy scalar) values."""
    seen = set()
    for v in values:
        if v is None:
            seen.add("none")
        elif isinstance(v, (bool, np.bool_)):
            seen.add(BOOL)
        elif isinstance(v, (int, np.integer)):
            seen.add(INT)
        elif isinstance(v, (float, np.floating)):
            seen.add("nan" if v != v else FLOAT)
        elif isinstance(v, str):
            seen.add(STR)
        else:
            return OBJECT
    if seen == {BOOL}:
        return BOOL
    if seen == {INT}:
        return INT
    if seen and seen <= {INT, FLOAT, "nan", "none"} and (seen & {FLOAT, "nan"} or seen >= {INT, "none"}):
        return FLOAT
    if STR in seen and seen <= {STR, "nan", "none"}:
        return STR
    return OBJECT


def _as_kind(values: Sequence, kind: str) -> list:
    """Values as the column type gives them back (DataFrame.itertuples, Series.tolist)."""
    if kind == FLOAT:
        return [math.nan if v is None else float(v) for v in values]
    if kind == INT:
        return [int(v) for v in values]
    if kind == BOOL:
        return [bool(v) for v in values]
    if kind == STR:
        return [v if isinstance(v, str) else math.nan for v in values]
    return list(values)


def nanmean(values: Sequence, kind: str) -> float:
    """pandas' `Series.mean` of a column (NaN skipped; NaN for no value), bit for bit."""
    if not len(values):
        return math.nan
    if kind == FLOAT:
        a = np.asarray(values, dtype=np.float64)
        mask = np.isnan(a)
        if mask.any():
            a = a.copy()
            np.putmask(a, mask, 0.0)
        count = np.float64(a.size - mask.sum())
        the_sum = a.sum(dtype=np.float64)
        return float(the_sum / count) if count > 0 else math.nan
    if kind in (INT, BOOL):
        a = np.asarray(values, dtype=np.int64 if kind == INT else np.bool_)
        return float(a.sum(dtype=np.float64) / np.float64(a.size))
    raise TypeError(f"no mean of a {kind} column")


def _isna(v) -> bool:
    return v is None or (isinstance(v, (float, np.floating)) and v != v)


class Table:
    """Rows of named columns, each column of one type (see the module docstring).

    Attributes:
        columns: the column names, in order.
        kinds: each column's type (bool, int, float, str, object).
        data: each column's values.
        index: each row's label (its position in the table it was filtered from).
    """

    def __init__(self, columns: Sequence[str], data: dict[str, list], kinds: dict[str, str],
                 frame: Callable[[], pd.DataFrame] | None = None, index: list[int] | None = None,
                 arrays: dict[str, np.ndarray] | None = None):
        self.columns = list(columns)
        self.data = data
        self.kinds = kinds
        self._frame_factory = frame
        self._frame = None
        self._arrays = arrays or {}  # float columns kept as numpy arrays too, for writing them
        n = len(data[self.columns[0]]) if self.columns else 0
        self.index = list(range(n)) if index is None else index

    @classmethod
    def from_rows(cls, rows: list[dict], columns: Sequence[str] | None = None) -> Table:
        """The table of `pd.DataFrame(rows, columns=columns)`, which `frame()` builds on demand."""
        names = list(dict.fromkeys(k for row in rows for k in row)) if columns is None else columns
        data, kinds = {}, {}
        for c in names:
            values = [row.get(c) for row in rows]
            kinds[c] = column_kind(values)
            data[c] = _as_kind(values, kinds[c])
        return cls(names, data, kinds, functools.partial(_rows_frame, rows, columns))

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> Table:
        """A DataFrame's table (its values as `Series.tolist` gives them); `frame()` is that DataFrame."""
        data, kinds = {}, {}
        for c in df.columns:
            kind = df[c].dtype.kind
            kinds[c] = {"b": BOOL, "i": INT, "u": INT, "f": FLOAT}.get(kind, OBJECT)
            if kinds[c] == OBJECT and all(isinstance(v, str) or _isna(v) for v in df[c]):
                kinds[c] = STR if len(df) else OBJECT
            data[c] = df[c].tolist()
        table = cls(list(df.columns), data, kinds, index=list(df.index))
        table._frame = df
        return table

    def __len__(self) -> int:
        return len(self.index)

    def frame(self) -> pd.DataFrame:
        """The pandas DataFrame of this table (imports pandas)."""
        if self._frame is None:
            if self._frame_factory is None:
                raise ValueError("a table filtered from another has no DataFrame of its own")
            self._frame = self._frame_factory()
        return self._frame

    def column(self, name: str) -> list:
        return self.data[name]

    def itertuples(self):
        """Rows as namedtuples (Index, then the columns), as `DataFrame.itertuples()` gives them."""
        row = namedtuple("Pandas", ["Index", *self.columns], rename=True)
        return map(row._make, zip(self.index, *(self.data[c] for c in self.columns)))

    def take(self, positions: Sequence[int]) -> Table:
        """The rows at these positions, in that order."""
        data = {c: [v[i] for i in positions] for c, v in self.data.items()}
        return Table(self.columns, data, self.kinds, index=[self.index[i] for i in positions])

    def where(self, name: str, value) -> Table:
        """The rows whose column `name` equals `value` (`df[df[name] == value]`)."""
        return self.take([i for i, v in enumerate(self.data[name]) if v == value])

    def mask(self, keep: Sequence[bool]) -> Table:
        return self.take([i for i, k in enumerate(keep) if k])

    def mean(self, name: str) -> float:
        """`df[name].mean()`."""
        return nanmean(self.data[name], self.kinds[name])

    def sort_values(self, name: str, ascending: bool = True) -> Table:
        """`df.sort_values(name, ascending=ascending)` of a numeric column (pandas' nargsort, NaN last)."""
        items = np.asarray(self.data[name], dtype=np.float64 if self.kinds[name] == FLOAT else None)
        mask = np.isnan(items) if items.dtype.kind == "f" else np.zeros(len(items), dtype=bool)
        idx = np.arange(len(items))
        non_nans, non_nan_idx = items[~mask], idx[~mask]
        nan_idx = np.nonzero(mask)[0]
        if not ascending:
            non_nans, non_nan_idx = non_nans[::-1], non_nan_idx[::-1]
        indexer = non_nan_idx[non_nans.argsort(kind="quicksort")]
        if not ascending:
            indexer = indexer[::-1]
        return self.take([int(i) for i in np.concatenate([indexer, nan_idx])])

    def row(self, name: str, value):
        """The first row whose column `name` equals `value`, as a namedtuple (None if there is none)."""
        return next(iter(self.where(name, value).itertuples()), None)

    def to_csv(self, path: str | Path) -> None:
        """Write the table as `DataFrame.to_csv(path, index=False)` writes it."""
        if self._frame is not None and self._frame_factory is None:  # a DataFrame's own table
            self._frame.to_csv(path, index=False)
            return
        cells = [_float_cells(self._arrays[c]) if c in self._arrays else _csv_cells(self.data[c], self.kinds[c])
                 for c in self.columns]
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
            writer.writerow(self.columns)
            writer.writerows(zip(*cells))

    @classmethod
    def from_arrays(cls, columns: Sequence[str], blocks: list[dict], frame: Callable[[], pd.DataFrame]) -> Table:
        """A long table made of blocks of equal-length columns (numpy arrays or one scalar each),
        as `pd.concat([pd.DataFrame(block) for block in blocks], ignore_index=True)` makes it."""
        data, kinds, arrays = {}, {}, {}
        lengths = [max((len(v) for v in b.values() if isinstance(v, np.ndarray)), default=1) for b in blocks]
        for c in columns:
            parts = [b[c] if isinstance(b[c], np.ndarray) else np.full(n, b[c], dtype=object if isinstance(b[c], str)
                                                                       else None)
                     for b, n in zip(blocks, lengths)]
            arr = np.concatenate(parts) if parts else np.zeros(0)
            kind = {"b": BOOL, "i": INT, "u": INT, "f": FLOAT}.get(arr.dtype.kind, OBJECT)
            if kind == OBJECT and all(isinstance(v, str) for v in arr):
                kind = STR
            kinds[c] = kind
            data[c] = arr.tolist()
            if kind == FLOAT:
                arrays[c] = arr
        return cls(columns, data, kinds, frame, arrays=arrays)


def _rows_frame(rows: list[dict], columns) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(rows, columns=columns)


def _float_cells(a: np.ndarray) -> list[str]:
    """A float64 column's CSV fields, as pandas writes them (numpy's `astype(str)`, NaN empty)."""
    out = a.astype(np.float64).astype(str).astype(object)
    out[np.isnan(a)] = ""
    return out.tolist()


def _csv_cells(values: list, kind: str) -> list:
    if kind == FLOAT:
        return _float_cells(np.asarray(values, dtype=np.float64))
    if kind in (INT, BOOL):
        return values  # csv.writer writes str(v)
    return ["" if _isna(v) else v for v in values]
