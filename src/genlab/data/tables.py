"""Table sources for synthetic data: CSV files and named real tables shipped in installed packages.

A spec names a table: ``csv:PATH`` (or a path ending in .csv), or ``table:NAME`` for one of
:data:`NAMED_TABLES` (scikit-learn's and statsmodels' bundled data sets, all offline). A source
gives a pandas DataFrame plus the column kinds it knows for sure (e.g. a coded categorical
stored as numbers); everything else is inferred later by the table transformer, and a metadata
file can override both.

pandas is needed here only (the ``tables`` extra); it is imported when a table is read.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genlab.config import suggest
from genlab.errors import DataError

COLUMN_KINDS = ("continuous", "integer", "categorical", "boolean", "datetime")


@dataclass
class TableSource:
    """A table as read: the frame, the column kinds the source knows, where it came from."""

    frame: Any  # pandas.DataFrame
    kinds: dict[str, str] = field(default_factory=dict)
    name: str = "table"
    target: str | None = None  # the natural prediction target, when the source has one


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:  # pragma: no cover - pandas comes with statsmodels and the 'tables' extra
        raise DataError("tables need pandas: pip install 'genlab[tables]'") from None
    return pandas


def _sklearn(name: str, categorical_target: bool) -> Callable[[], TableSource]:
    def load() -> TableSource:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, f"load_{name}")(as_frame=True)
        frame = bunch.frame.copy()
        kinds = {}
        if categorical_target:
            names = list(getattr(bunch, "target_names", []))
            frame["target"] = [str(names[int(t)]) if names else str(int(t)) for t in frame["target"]]
            kinds["target"] = "categorical"
        return TableSource(frame, kinds, f"table:{name}", "target")
    return load


def _statsmodels(name: str, categorical: tuple[str, ...], integer: tuple[str, ...],
                 target: str) -> Callable[[], TableSource]:
    def load() -> TableSource:
        import importlib

        try:
            module = importlib.import_module(f"statsmodels.datasets.{name}")
        except ImportError:
            raise DataError(f"table:{name} needs statsmodels: pip install 'genlab[series]'") from None
        frame = module.load_pandas().data.copy()
        for col in (*categorical, *integer):  # coded as floats in the package: whole numbers
            frame[col] = frame[col].round().astype("int64")
        kinds = {**{c: "categorical" for c in categorical}, **{c: "integer" for c in integer}}
        return TableSource(frame, kinds, f"table:{name}", target)
    return load


# name -> (loader, one-line description)
NAMED_TABLES: dict[str, tuple[Callable[[], TableSource], str]] = {
    "breast_cancer": (_sklearn("breast_cancer", True),
                      "scikit-learn: 569 tumours, 30 continuous features, target malignant/benign"),
    "wine": (_sklearn("wine", True), "scikit-learn: 178 wines, 13 continuous features, target class_0..2"),
    "iris": (_sklearn("iris", True), "scikit-learn: 150 flowers, 4 continuous features, target species"),
    "diabetes": (_sklearn("diabetes", False),
                 "scikit-learn: 442 patients, 10 standardized features, continuous target (disease progression)"),
    "fair": (_statsmodels("fair", ("rate_marriage", "religious", "educ", "occupation", "occupation_husb"), (),
                          "rate_marriage"),
             "statsmodels: 6366 women (1974 survey), 5 categorical + 4 numeric columns incl. affairs (zero-inflated)"),
    "randhie": (_statsmodels("randhie", ("idp", "hlthg", "hlthf", "hlthp"), ("mdvis",), "mdvis"),
                "statsmodels: 20190 RAND health insurance records, 4 binary + integer visits + 5 continuous"),
    "anes96": (_statsmodels("anes96", ("PID", "educ", "income", "vote"),
                            ("TVnews", "selfLR", "ClinLR", "DoleLR", "age"), "vote"),
               "statsmodels: 944 voters (1996 election), 4 categorical + 5 integer + 2 continuous columns"),
    "star98": (_statsmodels("star98", (), (), "NABOVE"),
               "statsmodels: 303 California school districts, 22 numeric columns"),
}


def list_tables() -> list[tuple[str, str]]:
    """(spec, description) of every named table."""
    return [(f"table:{name}", desc) for name, (_, desc) in NAMED_TABLES.items()]


def read_csv_table(path: str | Path) -> TableSource:
    """A CSV file with a header row; empty cells and NA markers become missing values."""
    pd = _pandas()
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"table not found: {file}")
    try:
        frame = pd.read_csv(file, skipinitialspace=True)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise DataError(f"cannot read {file} as CSV: {str(e).splitlines()[0]}") from None
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataError(f"{file} needs a header row and at least one data row")
    frame.columns = [str(c).strip() for c in frame.columns]
    return TableSource(frame, {}, f"csv:{file}")


def load_table(spec: Any) -> TableSource:
    """A table from a spec ('csv:PATH', 'table:NAME', a .csv path), a DataFrame or a TableSource."""
    if isinstance(spec, TableSource):
        return spec
    if hasattr(spec, "columns") and hasattr(spec, "iloc"):  # a DataFrame
        if len(spec) == 0 or len(spec.columns) == 0:
            raise DataError("the table is empty")
        frame = spec.copy()
        frame.columns = [str(c) for c in frame.columns]
        return TableSource(frame, {}, "dataframe")
    text = str(spec)
    kind, sep, rest = text.partition(":")
    if sep and kind == "table":
        if rest not in NAMED_TABLES:
            raise DataError(f"unknown table '{rest}'{suggest(rest, NAMED_TABLES)}; available: "
                            f"{', '.join(NAMED_TABLES)}")
        return NAMED_TABLES[rest][0]()
    if sep and kind == "csv":
        return read_csv_table(rest)
    if text.lower().endswith(".csv") or Path(text).expanduser().is_file():
        return read_csv_table(text)
    raise DataError(f"unknown table spec '{text}': use csv:PATH or table:NAME ({', '.join(NAMED_TABLES)})")


__all__ = ["COLUMN_KINDS", "NAMED_TABLES", "TableSource", "list_tables", "load_table", "read_csv_table"]
