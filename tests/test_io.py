"""mlmice.io: reading users' files into the analysis frame, Parquet round trips."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mlmice as mm
from mlmice.io import Roles, infer_roles, read_columns, read_data, read_parquet, write_parquet

TUTORIAL = ["popularity_ij", "gender_ij", "extraversion_ij", "experience_j", "assessment_ij"]


@pytest.fixture(scope="module")
def complete(shared_data):
    return read_data(shared_data / "popular.RData", cluster="cluster_id", id="unit_id")


@pytest.fixture(scope="module")
def incomplete(shared_data):
    return read_data(shared_data / "popular_MAR.RData", cluster="cluster_id", id="unit_id",
                     labels={"gender_ij": {1: "boy", 2: "girl"}})


def test_incomplete_has_the_tutorials_missing_counts(incomplete):
    # R: colSums(is.na(popular_MAR))
    counts = incomplete.isna().sum().to_dict()
    assert counts == {"unit_id": 0, "cluster_id": 0, "popularity_ij": 214, "gender_ij": 3,
                      "extraversion_ij": 502, "experience_j": 1, "assessment_ij": 47}
    assert incomplete.shape == (2000, 7)


def test_both_versions_share_one_coding(complete, incomplete):
    for df in (complete, incomplete):
        assert all(df[v].dtype == np.float64 for v in TUTORIAL)
        assert df["cluster_id"].dtype == np.int64
        assert df.attrs["labels"] == {"gender_ij": {0: "boy", 1: "girl"}}
        roles = Roles.from_dict(df.attrs["roles"])
        assert roles.level2 == ("experience_j",)
        assert roles.binary == ("gender_ij",)
        assert roles.cluster == "cluster_id" and roles.id == "unit_id"
    # factor boy/girl (complete) and 1/2 (incomplete) agree wherever both are observed
    both = incomplete["gender_ij"].notna()
    assert both.sum() == 1997
    np.testing.assert_array_equal(complete.loc[both, "gender_ij"],
                                  incomplete.loc[both, "gender_ij"])
    assert set(complete["gender_ij"]) == {0.0, 1.0}
    # R: table(popular$gender_ij) boy 989, girl 1011
    assert complete["gender_ij"].sum() == 1011


def test_unlabelled_two_valued_codes_become_zero_one(shared_data):
    df = read_data(shared_data / "popular_MAR.RData", cluster="cluster_id")
    assert df.attrs["labels"] == {"gender_ij": {0: "1", 1: "2"}}
    assert set(df["gender_ij"].dropna()) == {0.0, 1.0}
    # unit_id not declared as id: it is an ordinary (level-1) variable
    assert "unit_id" in df.attrs["roles"]["level1"]


def test_sav_value_labels(shared_data):
    df = read_data(shared_data / "popular2.sav", cluster="class", id="pupil")
    assert df.shape == (2000, 15)
    assert df.attrs["labels"]["sex"] == {0: "boy", 1: "girl"}
    roles = infer_roles(df, cluster="class", id="pupil")
    assert "texp" in roles.level2 and "extrav" in roles.level1
    # Zsex is a z-scored binary: two non-integer values stay as they are
    assert "Zsex" not in roles.binary and df["Zsex"].nunique() == 2


def test_parquet_round_trip_keeps_labels_and_roles(incomplete, tmp_path):
    path = tmp_path / "sub" / "inc.parquet"
    write_parquet(incomplete, path)
    back = read_parquet(path)
    pd.testing.assert_frame_equal(back, incomplete)
    assert back.attrs == incomplete.attrs
    again = read_data(path, cluster="cluster_id", id="unit_id")
    pd.testing.assert_frame_equal(again, incomplete)
    assert again.attrs["labels"] == {"gender_ij": {0: "boy", 1: "girl"}}


def test_csv_with_string_cluster_and_text_binary(tmp_path):
    path = tmp_path / "d.csv"
    raw = pd.DataFrame({"school": ["a", "a", "b", "b"], "sex": ["m", "f", None, "f"],
                        "y": [1.5, 2.0, np.nan, 3.0], "w": [1.5, 1.5, 2.5, 2.5]})
    raw.to_csv(path, index=False)
    df = read_data(path, cluster="school", level2=["w"])
    assert df["school"].tolist() == ["a", "a", "b", "b"]
    assert df["sex"].tolist()[:2] == [1.0, 0.0] and np.isnan(df["sex"][2])
    assert df.attrs["labels"] == {"sex": {0: "f", 1: "m"}}
    assert df.attrs["roles"]["level2"] == ["w"] and df["w"].dtype == np.float64


def test_csv_format_options(tmp_path):
    """';' separators and decimal commas (European locales), '.' and '-99' for missing."""
    path = tmp_path / "eu.csv"
    path.write_text("school;x;y\na;1,5;.\na;2,25;3\nb;-99;4,5\nb;0,5;2\n")
    df = read_data(path, cluster="school",
                   csv={"sep": ";", "decimal": ",", "na_values": [".", "-99"]})
    np.testing.assert_array_equal(df["x"], [1.5, 2.25, np.nan, 0.5])
    np.testing.assert_array_equal(df["y"], [np.nan, 3.0, 4.5, 2.0])
    assert read_columns(path, csv={"sep": ";"}) == ["school", "x", "y"]
    with pytest.raises(ValueError, match="csv decimal == ';'"):
        read_data(path, cluster="school", csv={"decimal": ";"})
    with pytest.raises(ValueError, match="csv na_values must be a list"):
        read_data(path, cluster="school", csv={"sep": ";", "na_values": "."})


def test_text_among_numbers_is_not_made_a_category(tmp_path):
    """Before: '.' became a category and every number another one, silently."""
    path = tmp_path / "dot.csv"
    path.write_text("school,female,score\na,0,1.5\na,.,2.5\nb,1,.\nb,1,3.5\n")
    with pytest.raises(ValueError, match=r"variable 'female' mixes numbers with the text "
                                         r"'\.' \(1 row\(s\), the first at row 1"):
        read_data(path, cluster="school")
    df = read_data(path, cluster="school", csv={"na_values": ["."]})
    assert df["female"].isna().sum() == 1 and df["score"].isna().sum() == 1
    assert df.attrs["labels"]["female"] == {0: "0", 1: "1"}
    # a text variable that has no numbers in it is still categorical
    path.write_text("school,track,y\na,low,1\na,high,2\nb,mid,3\nb,low,4\n")
    assert list(read_data(path, cluster="school")["track"].cat.categories) == [
        "high", "low", "mid"]


def test_a_row_number_column_not_named_as_id_gets_a_warning(tmp_path):
    frame = mm.simulate_popularity(n_clusters=5, cluster_size=4, seed=1).data
    frame["pupil"] = np.arange(1, len(frame) + 1)
    path = _csv(tmp_path, frame)
    with pytest.warns(UserWarning, match=r"variable 'pupil' numbers the rows 1 to 20 \(a row "
                                         r"identifier\?\); if so, name it as the id"):
        read_data(path, cluster="cluster_id")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_data(path, cluster="cluster_id", id="pupil")


def test_sav_labels_of_three_codes_make_a_categorical(tmp_path):
    """SPSS value labels on three or more codes: a categorical in code order, ordered for
    measure ordinal; measure scale keeps the numbers (SPSS says they are numbers)."""
    import pyreadstat
    frame = pd.DataFrame({"school": [1, 1, 2, 2, 3, 3], "ses": [1.0, 2, 3, 4, np.nan, 2],
                          "kind": [1.0, 1, 2, 2, 3, 3], "score": [1.0, 2, 3, 4, 5, 6]})
    path = tmp_path / "d.sav"
    ses = {1.0: "low", 2.0: "lower-mid", 3.0: "upper-mid", 4.0: "high"}
    kind = {1.0: "public", 2.0: "private", 3.0: "religious"}
    pyreadstat.write_sav(frame, str(path), variable_value_labels={"ses": ses, "kind": kind,
                                                                  "score": {1.0: "one"}},
                         variable_measure={"ses": "ordinal", "kind": "nominal",
                                           "score": "scale"})
    df = read_data(path, cluster="school")
    assert df["ses"].cat.ordered and list(df["ses"].cat.categories) == list(ses.values())
    assert df["ses"].tolist()[:4] == ["low", "lower-mid", "upper-mid", "high"]
    assert not df["kind"].cat.ordered
    assert list(df["kind"].cat.categories) == ["public", "private", "religious"]
    assert df["score"].dtype == np.float64
    pyreadstat.write_sav(frame, str(path), variable_value_labels={"kind": kind},
                         variable_measure={"kind": "scale"})
    assert read_data(path, cluster="school")["kind"].dtype == np.float64


def test_declared_order_of_an_ordinal_text_variable(tmp_path):
    """data.ordered: a CSV's text categories in their order (alphabetical otherwise)."""
    path = tmp_path / "d.csv"
    path.write_text("school,ses,y\n1,low,1\n1,high,2\n2,middle,3\n2,low,4\n3,,5\n")
    assert list(read_data(path, cluster="school")["ses"].cat.categories) == [
        "high", "low", "middle"]
    df = read_data(path, cluster="school", ordered={"ses": ["low", "middle", "high"]})
    assert df["ses"].cat.ordered and list(df["ses"].cat.categories) == ["low", "middle", "high"]
    assert df["ses"].isna().sum() == 1
    with pytest.raises(ValueError, match=r"data.ordered\['ses'\] lacks the value\(s\) "
                                         r"\['middle'\]"):
        read_data(path, cluster="school", ordered={"ses": ["low", "high"]})
    with pytest.raises(ValueError, match=r"ses holds numbers|names \['nope'\]"):
        read_data(path, cluster="school", ordered={"nope": ["a", "b"]})
    # labelled codes, ordered as declared; two categories are 0/1 in that order
    df = read_data(path, cluster="school", ordered={"ses": ["low", "middle", "high"]},
                   labels=None)
    path.write_text("school,g,y\n1,yes,1\n1,no,2\n2,yes,3\n2,no,4\n")
    df = read_data(path, cluster="school", ordered={"g": ["yes", "no"]})
    assert df["g"].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert df.attrs["labels"]["g"] == {0: "yes", 1: "no"}


def _csv(tmp_path, frame, name="d.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_errors_name_the_file_variable_or_row(tmp_path, shared_data):
    good = pd.DataFrame({"g": [1, 1, 2, 2], "x": [1.0, 2.0, 3.0, 4.0], "z": [5, 5, 6, 7]})
    bad_type = tmp_path / "d.xlsx"
    bad_type.write_text("x")
    with pytest.raises(ValueError, match=r"d\.xlsx.*unknown file type '\.xlsx'"):
        read_data(bad_type, cluster="g")
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_data(tmp_path / "nope.csv", cluster="g")
    path = _csv(tmp_path, good)
    with pytest.raises(ValueError, match=r"cluster variable 'class' not found.*\['g', 'x', 'z'\]"):
        read_data(path, cluster="class")
    with pytest.raises(ValueError, match="id variable 'pid' not found"):
        read_data(path, cluster="g", id="pid")
    with pytest.raises(ValueError, match=r"'z' is declared level 2 but varies within cluster "
                                         r"2 \(g\): values 6 and 7"):
        read_data(path, cluster="g", level2=["z"])
    na = _csv(tmp_path, good.assign(g=[1, None, 2, None]), "na.csv")
    with pytest.raises(ValueError, match=r"'g' has 2 missing value\(s\), at row\(s\) 1, 3"):
        read_data(na, cluster="g")
    text = _csv(tmp_path, good.assign(x=["lo", "mid", "hi", "lo"]), "text.csv")
    assert list(read_data(text, cluster="g")["x"].cat.categories) == ["hi", "lo", "mid"]
    ident = _csv(tmp_path, good.assign(x=["p1", "p2", "p3", "p4"]), "ident.csv")
    with pytest.raises(ValueError, match="variable 'x' is not numeric.*4 distinct values in 4 "
                                         "rows: not a categorical variable"):
        read_data(ident, cluster="g")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty.csv' is empty"):
        read_data(empty, cluster="g")
    header_only = tmp_path / "header.csv"
    header_only.write_text("g,x\n")
    with pytest.raises(ValueError, match=r"header.csv' is empty \(0 rows"):
        read_data(header_only, cluster="g")
    with pytest.raises(ValueError, match=r"labels\['gender_ij'\] names codes 0, 1 but 'gender_ij' "
                                         "has 2"):
        read_data(shared_data / "popular_MAR.RData", cluster="cluster_id",
                  labels={"gender_ij": {0: "boy", 1: "girl"}})
    with pytest.raises(ValueError, match="has no object 'popular'; objects found: 'popular_MAR'"):
        read_data(shared_data / "popular_MAR.RData", cluster="cluster_id", object="popular")


def test_rdata_with_several_objects_lists_them(tmp_path, monkeypatch):
    pyreadr = pytest.importorskip("pyreadr")
    # pyreadr writes one object per file; a two-object file comes through the reader
    path = tmp_path / "two.RData"
    pyreadr.write_rdata(str(path), pd.DataFrame({"g": [1.0], "x": [2.0]}), df_name="a")
    objects = {"a": pd.DataFrame({"g": [1.0]}), "b": pd.DataFrame({"g": [2.0]})}
    monkeypatch.setattr(pyreadr, "read_r", lambda _path: objects)
    with pytest.raises(ValueError, match=r"holds 2 objects \('a', 'b'\); choose one with object="):
        read_data(path, cluster="g")
    assert read_data(path, cluster="g", object="b")["g"].tolist() == [2]


def test_factors_with_more_levels_stay_categorical():
    from mlmice.io import prepare_frame

    raw = pd.DataFrame({"g": [1, 1, 2, 2, 3, 3],
                        "f": pd.Categorical(["lo", "hi", "mid", None, "hi", "lo"],
                                            categories=["lo", "mid", "hi"], ordered=True),
                        "t": ["x", "y", "z", "x", None, "z"], "s": ["u", "u", "v", "v", "w", "w"]})
    df = prepare_frame(raw, cluster="g", source="my.rds")
    assert list(df["f"].cat.categories) == ["lo", "mid", "hi"] and df["f"].cat.ordered
    assert df["f"].isna().sum() == 1
    # a text column with 3-50 repeated values: a categorical, categories as R's factor
    assert list(df["t"].cat.categories) == ["x", "y", "z"] and not df["t"].cat.ordered
    assert df.attrs["roles"]["level2"] == ["s"]          # judged by its codes
    assert df.attrs["labels"] == {}
    # more than 50 categories is not a categorical variable
    many = pd.DataFrame({"g": np.repeat([1, 2], 51),
                         "f": pd.Categorical([f"c{i}" for i in range(51)] * 2)})
    with pytest.raises(ValueError, match="'f' is a factor with 51 levels, more than the 50"):
        prepare_frame(many, cluster="g", source="my.rds")


def test_categorical_survives_parquet_and_imputes(tmp_path):
    raw = pd.DataFrame({"g": np.repeat(np.arange(20), 6), "y": np.arange(120.0) % 7,
                        "t": np.tile(["a", "b", "c", "a", "b", "c"], 20)})
    raw.loc[::5, "t"] = None
    raw.to_csv(tmp_path / "d.csv", index=False)
    df = read_data(tmp_path / "d.csv", cluster="g")
    write_parquet(df, tmp_path / "d.parquet")
    back = read_parquet(tmp_path / "d.parquet")
    assert back["t"].dtype == df["t"].dtype
    import mlmice as mm

    assert mm.make_method(back)["t"] == "polyreg"
    done = mm.mice(back, m=1, maxit=2, seed=1).complete(1)
    assert set(done["t"]) <= {"a", "b", "c"} and done["t"].notna().all()


def test_text_identifier_not_named_as_id_gets_a_hint():
    from mlmice.io import prepare_frame

    raw = pd.DataFrame({"g": [1, 1, 2], "pupil": ["p1", "p2", "p3"], "y": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="'pupil' is not numeric.*name it as the id variable"):
        prepare_frame(raw, cluster="g", source="my.csv")
    assert prepare_frame(raw, cluster="g", id="pupil")["pupil"].tolist() == ["p1", "p2", "p3"]


def test_read_columns_of_each_format(shared_data, incomplete, tmp_path):
    names = ["unit_id", "cluster_id"] + TUTORIAL
    assert read_columns(shared_data / "popular_MAR.RData") == names
    assert read_columns(shared_data / "popular2.sav")[:3] == ["pupil", "class", "extrav"]
    write_parquet(incomplete, tmp_path / "d.parquet")
    assert read_columns(tmp_path / "d.parquet") == names
    incomplete.to_csv(tmp_path / "d.csv", index=False)
    assert read_columns(tmp_path / "d.csv") == names
    with pytest.raises(ValueError, match="unknown file type '.txt'"):
        (tmp_path / "d.txt").write_text("a")
        read_columns(tmp_path / "d.txt")
