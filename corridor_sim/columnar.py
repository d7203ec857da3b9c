"""Column tables of numpy arrays, written to Parquet by pyarrow without pandas.

A run's per-shipment tables (the measured shipments, the stage rows outside rides, the rides and
the vehicle runs' stop logs) come out of the engine as numpy columns. `Columns` keeps them so, a
categorical column as its integer codes with the labels they index, and `write_parquet` hands them
to pyarrow directly: `corridor-sim run` writes its folder without importing pandas (about 0.4 s of
CPU per process) or building a DataFrame. `Columns.frame()` gives the pandas DataFrame for a caller
that wants one, with the same dtypes the tables always had (categoricals for the coded columns), and
`Columns.from_frame` takes a DataFrame in, so that the writer accepts either.

The Parquet layout (types, encodings, row groups) is results_dir.py's; docs/outputs.md lists it.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

# Column kinds in the files: dictionary<int32, string> categories, int32 ids, bool flags, and floats
# (float32 where the table says so, else float64; NaN written as null: not delivered yet).
CATEGORICAL = {"flow", "route", "stage", "place", "line", "node", "handling", "segment"}
INT = {"replication", "shipment", "run", "board", "alight", "stop"}
BOOL = {"measured"}

# zstd level 9: level 15 takes about 4% fewer bytes but, on the ten-station network's 320,000 stage
# rows, 1.2 s more CPU of a 7-8 s run (docs/performance.md).
ZSTD_LEVEL = 9


class Columns:
    """Named numpy columns of equal length; a categorical column holds codes (-1: none) into its labels.

    Attributes:
        data: column name -> array, in column order.
        categories: categorical column name -> its labels.
    """

    def __init__(self, data: dict[str, np.ndarray], categories: dict[str, list[str]] | None = None):
        self.data = data
        self.categories = dict(categories or {})

    @property
    def columns(self) -> list[str]:
        return list(self.data)

    def __len__(self) -> int:
        return len(next(iter(self.data.values()))) if self.data else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[name]

    def take(self, order: np.ndarray) -> Columns:
        """The rows in `order` (an index array)."""
        return Columns({k: v[order] for k, v in self.data.items()}, self.categories)

    def drop(self, names: Sequence[str]) -> Columns:
        return Columns({k: v for k, v in self.data.items() if k not in names},
                       {k: v for k, v in self.categories.items() if k not in names})

    @classmethod
    def concat(cls, parts: Sequence[Columns]) -> Columns:
        """The parts' rows one after another (the same columns in each).

        A categorical column keeps its labels where every part has the same ones; otherwise (as
        pandas' concat then astype("category") would give) its labels are the values present, sorted."""
        if not parts:
            return cls({})
        first = parts[0]
        data, categories = {}, {}
        for name in first.columns:
            if name in first.categories:
                labels = first.categories[name]
                if all(p.categories[name] == labels for p in parts):
                    data[name] = np.concatenate([p.data[name] for p in parts])
                    categories[name] = labels
                else:
                    values = [np.asarray(p.categories[name], dtype=object)[p.data[name][p.data[name] >= 0]]
                              for p in parts]
                    present = sorted({str(v) for vs in values for v in vs})
                    code = {v: i for i, v in enumerate(present)}
                    recoded = []
                    for p in parts:  # each part's codes through a table from its labels to the new ones
                        table = np.array([code.get(str(x), -1) for x in p.categories[name]] + [-1], dtype=np.int32)
                        recoded.append(table[np.where(p.data[name] >= 0, p.data[name], -1)])
                    data[name] = np.concatenate(recoded)
                    categories[name] = present
            else:
                data[name] = np.concatenate([p.data[name] for p in parts])
        return cls(data, categories)

    @classmethod
    def of(cls, table) -> Columns:
        """A table to write: `Columns` as they are, a DataFrame by its columns (`from_frame`)."""
        return table if isinstance(table, Columns) else cls.from_frame(table)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Columns:
        """A DataFrame's columns; a categorical one (or one named as categorical in the layout) as codes."""
        import pandas as pd

        data, categories = {}, {}
        for name in frame.columns:
            col = frame[name]
            if name in CATEGORICAL or isinstance(col.dtype, pd.CategoricalDtype):
                cat = col if isinstance(col.dtype, pd.CategoricalDtype) else col.astype("category")
                data[name] = cat.cat.codes.to_numpy()
                categories[name] = [str(c) for c in cat.cat.categories]
            else:
                data[name] = col.to_numpy()
        return cls(data, categories)

    def frame(self) -> pd.DataFrame:
        """The pandas DataFrame: categorical columns as `pd.Categorical`, the others as they are."""
        import pandas as pd

        return pd.DataFrame({
            name: (pd.Categorical.from_codes(values, categories=self.categories[name])
                   if name in self.categories else values)
            for name, values in self.data.items()})


def arrow_table(cols: Columns, units: dict[str, str], float32: Sequence[str] = ()):
    """A pyarrow Table of `cols` with the layout's types; each field's unit in its metadata.

    The arrays are made from the numpy buffers (`pa.Array.from_buffers`), not by `pa.array`, which
    imports pandas to ask whether its argument is a pandas object: the same arrays, without pandas.
    A NaN float and a negative category code are nulls (as `pa.array(..., from_pandas=True)` and a
    mask would make them)."""
    import pyarrow as pa

    arrays, fields = [], []
    for name, values in cols.data.items():
        if name in cols.categories:
            codes = np.asarray(values).astype(np.int32)
            arr = pa.DictionaryArray.from_arrays(_numeric(pa, codes, pa.int32(), codes >= 0),
                                                 _strings(pa, cols.categories[name]))
        elif name in INT:
            arr = _numeric(pa, np.asarray(values).astype(np.int32), pa.int32())
        elif name in BOOL:
            flags = np.asarray(values).astype(bool)
            arr = pa.Array.from_buffers(pa.bool_(), len(flags), [None, pa.py_buffer(np.packbits(flags, bitorder="little"))])
        else:
            x = np.asarray(values, dtype=np.float32 if name in float32 else np.float64)
            arr = _numeric(pa, x, pa.float32() if name in float32 else pa.float64(), ~np.isnan(x))
        arrays.append(arr)
        fields.append(pa.field(name, arr.type, metadata={"unit": units.get(name, "")}))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _numeric(pa, values: np.ndarray, arrow_type, valid: np.ndarray | None = None):
    """An arrow array on a numpy array's buffer; nulls where `valid` is false."""
    values = np.ascontiguousarray(values)
    bitmap, nulls = None, 0
    if valid is not None and not valid.all():
        bitmap, nulls = pa.py_buffer(np.packbits(valid, bitorder="little")), int(len(valid) - np.count_nonzero(valid))
    return pa.Array.from_buffers(arrow_type, len(values), [bitmap, pa.py_buffer(values)], null_count=nulls)


def _strings(pa, labels: Sequence):
    """An arrow string array of `labels` (as str), from its UTF-8 bytes and their offsets."""
    encoded = [str(x).encode("utf-8") for x in labels]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum([len(b) for b in encoded])
    return pa.Array.from_buffers(pa.string(), len(encoded), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))])


def write_parquet(cols: Columns, path, units: dict[str, str], float32: Sequence[str] = ()) -> None:
    """Write `cols` to `path` as Parquet (zstd, level `ZSTD_LEVEL`), one row group per replication.

    Rows must come grouped by replication; each group is written by its own `write_table` call,
    which starts a row group. Categorical columns are dictionary-encoded; every other column gets
    the encoding that compresses it best (`choose_encodings`).
    """
    import pyarrow.parquet as pq

    table = arrow_table(cols, units, float32)
    encoding = choose_encodings(table)
    reps = np.asarray(cols["replication"])
    starts = [0, *(np.flatnonzero(reps[1:] != reps[:-1]) + 1).tolist(), len(reps)]
    plain = {c: e for c, e in encoding.items() if e != DICTIONARY}
    with pq.ParquetWriter(path, table.schema, compression="zstd", compression_level=ZSTD_LEVEL,
                          column_encoding=plain or None,
                          use_dictionary=[c for c in table.column_names if c not in plain]) as writer:
        for a, b in zip(starts[:-1], starts[1:]):
            if b > a:
                writer.write_table(table.slice(a, b - a), row_group_size=b - a)


DICTIONARY = "RLE_DICTIONARY"
# Encodings tried per column type: the two Parquet encodings that suit it, and a dictionary.
_CANDIDATES = {"float": ("BYTE_STREAM_SPLIT", "PLAIN", DICTIONARY),
               "int": ("DELTA_BINARY_PACKED", "PLAIN", DICTIONARY)}
# The sample compressed with each candidate: chunks of consecutive rows (delta and byte-stream-split
# gain from neighbours) spread over the table, at a fast zstd level (the ranking hardly depends on it).
_SAMPLE_CHUNKS, _SAMPLE_ROWS, _TRIAL_LEVEL = 8, 8192, 3


def choose_encodings(table) -> dict[str, str]:
    """Column -> the Parquet encoding whose zstd-compressed bytes are fewest on a sample of it.

    Floats try byte-stream-split (zstd compresses the separated exponent and mantissa bytes of
    clock times best), plain (durations with many zeros, few distinct values) and a dictionary;
    integers try delta (ids rising within a replication), plain and a dictionary. Dictionary-typed
    (categorical) and boolean columns are left out: they keep the writer's default (a dictionary).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = {}
    n = table.num_rows
    if n == 0:
        return out
    # The whole column if it is small, else chunks that do not overlap (repeated rows would favour
    # whatever encoding zstd finds the repeat in).
    if n <= _SAMPLE_CHUNKS * _SAMPLE_ROWS:
        starts, rows = np.array([0]), n
    else:
        starts, rows = np.linspace(0, n - _SAMPLE_ROWS, _SAMPLE_CHUNKS).astype(np.int64), _SAMPLE_ROWS
    for name in table.column_names:
        col = table.column(name)
        kind = "float" if pa.types.is_floating(col.type) else "int" if pa.types.is_integer(col.type) else None
        if kind is None:
            continue
        sample = pa.table({"x": pa.concat_arrays([c for s in starts for c in col.slice(int(s), rows).chunks])})
        sizes = {}
        for enc in _CANDIDATES[kind]:
            buf = io.BytesIO()
            if enc == DICTIONARY:
                pq.write_table(sample, buf, compression="zstd", compression_level=_TRIAL_LEVEL, use_dictionary=True)
            else:
                pq.write_table(sample, buf, compression="zstd", compression_level=_TRIAL_LEVEL, use_dictionary=False,
                               column_encoding={"x": enc})
            sizes[enc] = buf.tell()
        out[name] = min(sizes, key=sizes.get)
    return out


def sorted_rows(cols: Columns, keys: Sequence[str]) -> Columns:
    """The rows ordered by `keys` (the first the most significant; a categorical by its codes), stable."""
    return cols.take(np.lexsort([np.asarray(cols[k]) for k in reversed(keys)]))
