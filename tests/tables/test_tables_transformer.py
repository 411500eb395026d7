"""The reversible transformer and the table sources."""
from __future__ import annotations

import json

import numpy as np
import pytest

from genlab.errors import DataError

pd = pytest.importorskip("pandas")

from tables_helpers import mixed_frame  # noqa: E402

from genlab.tables.transformer import TableTransformer  # noqa: E402


def _same(a: pd.Series, b: pd.Series) -> bool:
    missing = a.isna().to_numpy()
    return bool((missing == b.isna().to_numpy()).all() and (a[~missing].to_numpy() == b[~missing].to_numpy()).all())


def test_round_trip_of_every_column_kind_through_json():
    df = mixed_frame()
    t = TableTransformer().fit(df)
    assert [c.kind for c in t.columns] == ["continuous", "integer", "categorical", "boolean", "datetime", "continuous",
                                           "categorical"]
    t2 = TableTransformer.from_dict(json.loads(json.dumps(t.to_dict())))  # saved as JSON, no pickle
    x = t2.transform(df)
    assert x.shape == (len(df), t.width)
    back = t2.inverse(x)
    assert list(back.columns) == list(df.columns)
    for col in ("count", "colour", "flag", "day", "grade"):  # exactly
        assert _same(df[col], back[col]), col
    assert back["count"].dtype == np.int64 and back["flag"].dtype == bool
    assert set(back["colour"]) == {"red", "green", "blue"} and back["grade"].isna().sum() == df["grade"].isna().sum()
    for col in ("x", "score"):  # to float precision, missing cells back where they were
        assert (df[col].isna() == back[col].isna()).all()
        np.testing.assert_allclose(back[col].dropna().to_numpy(), df[col].dropna().to_numpy(), rtol=1e-12, atol=1e-9)


def test_mode_specific_normalization_on_two_clear_modes():
    values = np.r_[np.linspace(-10.2, -9.8, 50), np.linspace(19.7, 20.3, 50)]
    t = TableTransformer(max_modes=5).fit(pd.DataFrame({"v": values}))
    col = t.columns[0]
    x = t.transform(pd.DataFrame({"v": values}))
    k = x[:, 1:1 + len(col.means)].argmax(1)
    assert len(set(k[:50])) == 1 and len(set(k[50:])) == 1 and k[0] != k[50]  # one mode per cluster
    assert col.means[k[0]] == pytest.approx(-10.0, abs=0.05) and col.means[k[50]] == pytest.approx(20.0, abs=0.05)
    assert 0 < col.stds[k[0]] < 3 and 0 < col.stds[k[50]] < 3  # modes far narrower than the gap of 30
    # value -> (one-hot of its mode, (x - mu_k) / (4 sigma_k)), by hand
    expected = (values - np.array(col.means)[k]) / (4 * np.array(col.stds)[k])
    np.testing.assert_allclose(x[:, 0], expected, rtol=1e-12)
    assert np.abs(x[:, 0]).max() < 0.5
    assert (x[:, 1:1 + len(col.means)].sum(1) == 1).all()


def test_inverse_of_model_output_stays_in_range_and_integers_stay_integers():
    df = mixed_frame()
    t = TableTransformer().fit(df)
    rng = np.random.default_rng(1)
    raw = rng.normal(0, 3, (50, t.width))  # like unbounded model output
    back = t.inverse(raw)
    assert back["x"].between(df["x"].min(), df["x"].max()).all()
    assert back["count"].dtype == np.int64 and back["count"].between(df["count"].min(), df["count"].max()).all()
    assert set(back["colour"]) <= {"red", "green", "blue"}


def test_a_column_of_few_values_gets_one_exact_mode_per_value():
    """Coded values (fair's ages 17.5, 22, 27, ...): no mixture, each value its own mode, samples on the values."""
    codes = np.array([17.5, 22.0, 27.0, 32.0])
    df = pd.DataFrame({"age": np.repeat(codes, [10, 20, 30, 40]), "x": np.linspace(0, 1, 100)})
    t = TableTransformer(max_modes=4).fit(df)
    age = t.column("age")
    assert age.exact and age.means == codes.tolist() and age.weights == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert not t.column("x").exact  # 100 distinct values: the mixture
    x = t.transform(df)
    assert (x[:, 0] == 0).all()  # every value sits on its mode
    raw = np.random.default_rng(0).normal(0, 3, (200, t.width))  # unbounded model output, offsets included
    back = t.inverse(np.clip(raw, -1, 1))
    assert set(back["age"]) <= set(codes)  # exactly the codes, not a hair off
    assert (t.inverse(x)["age"] == df["age"]).all()


def test_metadata_overrides_and_bad_metadata():
    df = mixed_frame()
    t = TableTransformer().fit(df, {"count": "categorical"})
    assert t.column("count").kind == "categorical" and set(t.column("count").categories) == set(df["count"])
    with pytest.raises(DataError, match="metadata names column 'nope'"):
        TableTransformer().fit(df, {"nope": "integer"})


def test_unseen_category_and_other_columns_are_refused():
    df = mixed_frame()
    t = TableTransformer().fit(df)
    bad = df.copy()
    bad.loc[0, "colour"] = "purple"
    with pytest.raises(DataError, match="'purple', a value never seen"):
        t.transform(bad)
    with pytest.raises(DataError, match="lacks colour"):
        t.transform(df.drop(columns=["colour"]))


def test_named_tables_and_csv_specs(tmp_path):
    from genlab.data.tables import NAMED_TABLES, load_table

    fair = load_table("table:fair")
    assert fair.frame.shape == (6366, 9) and fair.kinds["occupation"] == "categorical"
    assert load_table("table:iris").frame["target"].iloc[0] == "setosa"
    assert set(NAMED_TABLES) >= {"breast_cancer", "wine", "diabetes", "fair", "randhie", "anes96", "star98"}
    with pytest.raises(DataError, match="unknown table 'fiar'.*fair"):
        load_table("table:fiar")
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,x\n,y\n3,\n")
    frame = load_table(f"csv:{path}").frame
    assert frame["a"].isna().sum() == 1 and frame["b"].isna().sum() == 1
