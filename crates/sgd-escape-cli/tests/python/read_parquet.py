"""Reads sgd-escape's Parquet files with pandas (pyarrow) and polars and checks them against
the CSV files of the same results. Called by tests/parquet_readers.rs:

    python read_parquet.py ESCAPE_TIMES_PARQUET ESCAPE_TIMES_CSV MERGED_PARQUET MERGED_CSV
"""

import math
import sys

import pandas as pd
import polars as pl


def same(a, b):
    return (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)) or a == b


def check(parquet_path, csv_path, dtypes):
    by_pandas = pd.read_parquet(parquet_path, engine="pyarrow")
    by_polars = pl.read_parquet(parquet_path)
    from_csv = pd.read_csv(csv_path, keep_default_na=False, na_values=["NaN"])
    assert list(by_pandas.columns) == list(from_csv.columns), (list(by_pandas.columns), list(from_csv.columns))
    assert by_polars.columns == list(from_csv.columns)
    assert len(by_pandas) == len(from_csv) == by_polars.height > 0
    for column, kind in dtypes.items():
        assert str(by_pandas[column].dtype) == kind, (column, by_pandas[column].dtype, kind)
    for column in from_csv.columns:
        expected = from_csv[column].tolist()
        pandas_values = by_pandas[column].tolist()
        polars_values = [float("nan") if v is None else v for v in by_polars[column].to_list()]
        pandas_values = [float("nan") if v is None else v for v in pandas_values]
        for i, (e, a, b) in enumerate(zip(expected, pandas_values, polars_values)):
            assert same(e, a) and same(e, b), (column, i, e, a, b)
    return by_pandas, by_polars


def main():
    escape_parquet, escape_csv, merged_parquet, merged_csv = sys.argv[1:5]
    check(escape_parquet, escape_csv, {"replica": "int64", "steps": "int64", "time": "float64", "escaped": "bool"})
    merged, merged_polars = check(
        merged_parquet,
        merged_csv,
        {"dynamics.noise.lr": "float64", "seed": "int64", "escaped": "int64", "mean_time": "float64"},
    )
    # Missing predictions are nulls in Parquet (NaN in the CSV).
    assert merged_polars["predicted_mean_time_sgd_chain"].null_count() == merged_polars.height
    assert merged_polars["predicted_mean_time_quadrature"].null_count() == 0
    print(f"pandas {pd.__version__} and polars {pl.__version__} read {len(merged)} merged rows and the replicas")


main()
