"""Tests for nnfix.data: the generators, the file readers, load_dataset and encode_targets."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from nnfix.cli import main
from nnfix.data import encode_targets, images, load_dataset, tokens
from nnfix.data.generated import GENERATORS
from nnfix.errors import DataError, InputError
from nnfix.spec.model import DataSpec


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def load(tmp_path: Path, seed: int = 0, dtype: str = "float32", **data):
    return load_dataset(DataSpec(**data), base_dir=tmp_path, rng=rng(seed), dtype=dtype)


def data_error(tmp_path: Path, **data) -> InputError:
    with pytest.raises(InputError) as info:
        load(tmp_path, **data)
    assert isinstance(info.value, DataError)
    return info.value


# --- generators ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, classes, features, width, labels",
    [
        ("xor", 2, 2, 2, {0, 1}),
        ("moons", 2, 2, 2, {0, 1}),
        ("circles", 2, 2, 2, {0, 1}),
        ("spirals", 3, 2, 2, {0, 1, 2}),
        ("blobs", 4, 5, 5, {0, 1, 2, 3}),
    ],
)
def test_classification_generators_shape_labels_and_seed(name, classes, features, width, labels):
    x, y = GENERATORS[name](301, 0.1, rng(1), classes, features)
    assert x.shape == (301, width) and x.dtype == np.float64
    assert y.shape == (301,) and np.issubdtype(y.dtype, np.integer)
    assert set(np.unique(y).tolist()) == labels
    x2, y2 = GENERATORS[name](301, 0.1, rng(1), classes, features)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = GENERATORS[name](301, 0.1, rng(2), classes, features)
    assert not np.allclose(x, x3)


@pytest.mark.parametrize("name", ["xor", "moons", "circles"])
def test_binary_generators_are_roughly_balanced(name):
    _, y = GENERATORS[name](1000, 0.1, rng(3), 2, 2)
    assert 420 <= y.sum() <= 580


def test_moons_and_circles_split_odd_counts_exactly_and_are_shuffled():
    for name in ("moons", "circles"):
        _, y = GENERATORS[name](7, 0.0, rng(0), 2, 2)
        assert np.bincount(y).tolist() == [3, 4]
    _, y = GENERATORS["moons"](200, 0.0, rng(0), 2, 2)
    assert 0 < y[:100].sum() < 100  # not all 0s then all 1s


def test_moons_without_noise_lie_on_their_half_circles():
    x, y = GENERATORS["moons"](200, 0.0, rng(0), 2, 2)
    upper, lower = x[y == 0], x[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0)
    assert upper[:, 1].min() >= -1e-12 and lower[:, 1].max() <= 0.5 + 1e-12


def test_circles_without_noise_have_radius_1_and_half():
    x, y = GENERATORS["circles"](100, 0.0, rng(0), 2, 2)
    r = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0)
    np.testing.assert_allclose(r[y == 1], 0.5)


def test_circles_noise_is_a_gaussian_of_that_std():
    x, y = GENERATORS["circles"](20000, 0.05, rng(0), 2, 2)
    r = np.hypot(x[:, 0], x[:, 1])
    assert abs(r[y == 0].std() - 0.05) < 0.005


def test_xor_without_noise_labels_the_off_diagonal_quadrants():
    x, y = GENERATORS["xor"](500, 0.0, rng(0), 2, 2)
    assert np.abs(x).max() <= 1.0
    np.testing.assert_array_equal(y, (np.sign(x[:, 0]) != np.sign(x[:, 1])).astype(int))


def test_spirals_split_samples_evenly_with_radius_0_to_1():
    x, y = GENERATORS["spirals"](301, 0.0, rng(0), 3, 2)
    assert np.bincount(y).tolist() == [101, 100, 100]
    r = np.hypot(x[:, 0], x[:, 1])
    assert r.min() == 0.0 and r.max() == pytest.approx(1.0)
    # without noise, each arm is a curve: angle = 4·(class + radius)
    arm = y == 1
    angle = np.arctan2(x[arm, 0], x[arm, 1])  # sin on x, cos on y
    expected = np.angle(np.exp(1j * 4 * (1 + r[arm])))
    np.testing.assert_allclose(angle[r[arm] > 0], expected[r[arm] > 0], atol=1e-9)


def test_blobs_cluster_around_centres_in_the_box():
    x, y = GENERATORS["blobs"](3000, 0.0, rng(0), 3, 4)
    assert np.bincount(y).tolist() == [1000, 1000, 1000]
    for k in range(3):
        cluster = x[y == k]
        assert np.all(np.abs(cluster.mean(axis=0)) < 5.2)
        np.testing.assert_allclose(cluster.std(axis=0), 1.0, atol=0.08)
    wide, wy = GENERATORS["blobs"](3000, 1.0, rng(0), 3, 4)
    np.testing.assert_allclose(wide[wy == 0].std(axis=0), 2.0, atol=0.15)


def test_linear_is_an_exact_affine_map_without_noise():
    x, y = GENERATORS["linear"](50, 0.0, rng(0), 2, 3)
    assert x.shape == (50, 3) and y.shape == (50, 1) and y.dtype == np.float64
    design = np.column_stack([x, np.ones(50)])
    coef, residual, *_ = np.linalg.lstsq(design, y, rcond=None)
    assert residual[0] < 1e-20
    assert np.all(np.abs(coef) > 1e-3)
    _, noisy = GENERATORS["linear"](50, 0.5, rng(0), 2, 3)
    assert 0.2 < np.std(noisy - y) < 0.8


# --- images, sequences, text ---------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 12, 12), (12, 12, 3), (9, 7), (2, 5, 5)])
def test_images_shape_range_balance_and_seed(shape):
    x, y = images.images(203, 0.1, rng(1), 4, shape)
    assert x.shape == (203, *shape) and x.dtype == np.float64
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.std() > 0.05
    assert y.shape == (203,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [51, 51, 51, 50]  # balanced, shuffled
    assert y[:50].sum() > 0 and len(set(y[:8].tolist())) > 1
    again = images.images(203, 0.1, rng(1), 4, shape)
    np.testing.assert_array_equal(x, again[0])
    np.testing.assert_array_equal(y, again[1])
    assert not np.allclose(x, images.images(203, 0.1, rng(2), 4, shape)[0])


def test_images_channels_last_are_channels_first_with_the_axis_moved():
    first, y_first = images.images(30, 0.2, rng(5), 3, (3, 10, 10))
    last, y_last = images.images(30, 0.2, rng(5), 3, (10, 10, 3))
    np.testing.assert_array_equal(y_first, y_last)
    np.testing.assert_array_equal(np.moveaxis(first, 1, -1), last)
    assert images.axes((3, 10, 10)) == (3, 10, 10, True)
    assert images.axes((10, 10, 3)) == (3, 10, 10, False)
    assert images.axes((28, 28)) == (1, 28, 28, False)


def test_images_without_noise_are_their_class_pattern_moved_by_at_most_a_pixel():
    shape = (2, 10, 8)
    patterns = images.templates(5, shape, rng(3))  # drawn first, from the same stream
    x, y = images.images(60, 0.0, rng(3), 5, shape)
    for sample, label in zip(x, y, strict=True):
        moves = [
            np.abs(np.roll(patterns[label], (dy, dx), axis=(1, 2)) - sample).max()
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        ]
        assert min(moves) == 0.0
    # each pattern is dark ground with blobs peaking at 1, and no two classes alike
    assert np.allclose(patterns.max(axis=(1, 2, 3)), 1.0) and patterns.min() == 0.0
    flat = patterns.reshape(5, -1)
    overlap = np.corrcoef(flat)[np.triu_indices(5, 1)]
    assert overlap.max() < 0.9


def test_images_smaller_than_the_jitter_threshold_are_not_moved():
    x, y = images.images(20, 0.0, rng(0), 2, (1, 4, 4))
    for label in (0, 1):
        same = x[y == label]
        np.testing.assert_array_equal(same, np.broadcast_to(same[0], same.shape))


def test_images_load_flattened_with_their_shape_kept(tmp_path):
    d = load(tmp_path, source="images", shape=[3, 6, 5], classes=3, samples=40, validation=0.25)
    assert d.x_train.shape == (30, 90) and d.x_train.dtype == np.float32
    assert d.shape == (3, 6, 5) and d.flattened and d.tokens is None
    assert d.shaped(d.x_val).shape == (10, 3, 6, 5)
    x, y = images.images(40, 0.1, rng(0), 3, (3, 6, 5))  # the data stream is the spec's seed
    np.testing.assert_allclose(d.shaped(d.x_train), x[d.train_rows], rtol=1e-6)
    np.testing.assert_array_equal(d.y_val, y[d.val_rows])
    assert d.description == (
        "images, 40 samples of shape (3, 6, 5), flattened to 90 features, "
        "10 held out for validation"
    )
    default = load(tmp_path, source="images", samples=8)
    assert default.shape == (1, 12, 12) and set(default.y_train.tolist()) == {0, 1}


def test_dense_net_trained_by_nnfix_on_images_beats_chance_clearly(write_spec):
    spec = write_spec(
        """
        seed: 4
        data: {source: images, shape: [1, 12, 12], classes: 5, samples: 600, noise: 0.3,
               validation: 0.25}
        model:
          layers:
            - {units: 24, activation: relu}
            - {units: 5, activation: softmax}
        loss: cce
        train: {optimizer: adam, lr: 0.01, epochs: 15}
        """
    )
    result = CliRunner().invoke(main, ["train", str(spec), "--format", "json", "--no-progress"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["data"].startswith("images, 600 samples of shape (1, 12, 12), flattened to 144")
    assert summary["validation"]["accuracy"] > 0.8  # chance is 0.2
    diagnosed = CliRunner().invoke(main, ["diagnose", str(spec), "--format", "json"])
    assert diagnosed.exit_code == 0, diagnosed.output
    [report] = json.loads(diagnosed.stdout)["specs"]
    assert [f for f in report["findings"] if f["severity"] == "error"] == []


def _bigram_accuracy(x: np.ndarray, y: np.ndarray, vocab: int) -> float:
    """How often the token seen most often after a sequence's last one, counted on the first
    half, is the next token of the second half."""
    half = len(x) // 2
    counts = np.zeros((vocab, vocab))
    np.add.at(counts, (x[:half, -1], y[:half]), 1)
    return float(np.mean(counts.argmax(axis=1)[x[half:, -1]] == y[half:]))


def test_sequences_shapes_dtypes_and_seed():
    for target, y_shape in (("next", (300,)), ("shifted", (300, 7)), ("label", (300,))):
        x, y = tokens.sequences(300, 0.1, rng(2), 11, 7, target, 3)
        assert x.shape == (300, 7) and x.dtype == np.int64 and y.shape == y_shape
        assert y.dtype == np.int64 and x.min() >= 0 and x.max() < 11
        again = tokens.sequences(300, 0.1, rng(2), 11, 7, target, 3)
        np.testing.assert_array_equal(x, again[0])
        np.testing.assert_array_equal(y, again[1])
        assert not np.array_equal(x, tokens.sequences(300, 0.1, rng(3), 11, 7, target, 3)[0])
    assert set(np.unique(x).tolist()) == set(range(11))


def test_sequence_targets_next_shifted_and_label():
    x, shifted = tokens.sequences(200, 0.1, rng(4), 9, 6, "shifted", 2)
    np.testing.assert_array_equal(shifted[:, :-1], x[:, 1:])  # x[1:] and the token after
    x_next, after = tokens.sequences(200, 0.1, rng(4), 9, 6, "next", 2)
    np.testing.assert_array_equal(x_next, x)  # the same walks: next is shifted's last column
    np.testing.assert_array_equal(after, shifted[:, -1])
    assert after.min() >= 0 and after.max() < 9
    _, label = tokens.sequences(301, 0.1, rng(4), 9, 6, "label", 4)
    assert np.bincount(label).tolist() == [76, 75, 75, 75]


def test_sequences_are_learnable_and_noise_is_the_share_of_random_tokens():
    x, y = tokens.sequences(2000, 0.1, rng(0), 20, 10, "next", 2)
    assert _bigram_accuracy(x, y, 20) > 0.3  # chance is 0.05
    x, y = tokens.sequences(2000, 1.0, rng(0), 20, 10, "next", 2)
    assert _bigram_accuracy(x, y, 20) < 0.1  # all noise: nothing to learn
    chain = tokens.chains(1, 6, 0.25, rng(1))[0]
    np.testing.assert_allclose(chain.sum(axis=1), 1.0)
    assert chain.min() >= 0.25 / 6 - 1e-12


def test_sequence_labels_are_told_by_their_own_chains():
    x, y = tokens.sequences(1000, 0.1, rng(6), 20, 10, "label", 3)
    half = len(x) // 2
    scores = np.zeros((half, 3))
    for k in range(3):  # a bigram model per class, fitted on the first half
        seen = x[:half][y[:half] == k]
        counts = np.ones((20, 20))
        np.add.at(counts, (seen[:, :-1].ravel(), seen[:, 1:].ravel()), 1)
        logp = np.log(counts / counts.sum(axis=1, keepdims=True))
        scores[:, k] = logp[x[half:, :-1], x[half:, 1:]].sum(axis=1)
    assert np.mean(scores.argmax(axis=1) == y[half:]) > 0.9  # chance is 1/3


def test_text_windows_are_the_text_and_the_character_after():
    body = tokens.bundled()
    x, y, alphabet = tokens.text(300, rng(0), 12, "next")
    assert alphabet == "".join(sorted(set(body))) and len(alphabet) > 20
    assert x.shape == (300, 12) and x.dtype == np.int64 and y.shape == (300,)
    for window, after in zip(x, y, strict=True):
        assert "".join(alphabet[i] for i in window) + alphabet[after] in body
    assert len({tuple(window) for window in x}) > 290  # distinct windows, drawn at random
    x2, shifted, _ = tokens.text(300, rng(0), 12, "shifted")
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(shifted[:, :-1], x[:, 1:])
    np.testing.assert_array_equal(shifted[:, -1], y)
    assert not np.array_equal(tokens.text(300, rng(1), 12, "next")[0], x)


def test_token_sources_load_as_integer_ids(tmp_path):
    d = load(tmp_path, source="sequences", vocab=7, length=5, samples=50, validation=0.2)
    assert d.x_train.shape == (40, 5) and d.x_train.dtype == np.int64 and d.tokens == 7
    assert d.shape == (5,) and not d.flattened and d.y_train.shape == (40,)
    assert d.description == (
        "sequences, 50 sequences of 5 tokens (vocabulary 7), target: the next token, "
        "10 held out for validation"
    )
    s = load(tmp_path, source="sequences", target="shifted", length=4, samples=10)
    assert s.y_train.shape == (10, 4) and s.y_train.dtype == np.int64
    t = load(tmp_path, source="text", length=8, samples=20, limit=15)
    assert t.x_train.shape == (15, 8) and t.tokens == len(t.alphabet) == len(set(tokens.bundled()))
    assert t.description == (
        f"text, first 15 of 20 windows of 8 characters (vocabulary {t.tokens}), "
        "target: the next character"
    )
    labelled = load(tmp_path, source="sequences", target="label", classes=3, samples=30)
    assert labelled.description.endswith("target: one of 3 classes")
    assert set(labelled.y_train.tolist()) == {0, 1, 2}


def test_schema_shows_the_keys_of_images_sequences_and_text():
    schema = json.loads(CliRunner().invoke(main, ["schema"]).output)
    data = schema["$defs"]["DataSpec"]["properties"]
    assert {"images", "sequences", "text"} <= set(data["source"]["enum"])
    assert {"shape", "vocab", "length", "target"} <= set(data)
    shape = data["shape"]["anyOf"][0]
    assert (shape["minItems"], shape["maxItems"]) == (2, 3)


# --- csv -----------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_without_header_takes_the_last_column_as_integer_labels(tmp_path):
    write(tmp_path, "d.csv", "1,2,0\n3.5,-4,1.0\n\n5,6e-1,2\n")
    d = load(tmp_path, source="csv", path="d.csv", dtype="float64")
    np.testing.assert_array_equal(d.x_train, [[1, 2], [3.5, -4], [5, 0.6]])
    assert d.y_train.dtype == np.int64 and d.y_train.tolist() == [0, 1, 2]
    assert d.description == "d.csv, 3 rows, 2 features"


def test_csv_with_header_target_by_name_and_by_index(tmp_path):
    write(tmp_path, "d.csv", "a,label,b\n1,0,2\n3,1,4\n")
    by_name = load(tmp_path, source="csv", path="d.csv", target="label")
    np.testing.assert_array_equal(by_name.x_train, [[1, 2], [3, 4]])
    assert by_name.y_train.tolist() == [0, 1]
    by_index = load(tmp_path, source="csv", path="d.csv", target=0)
    np.testing.assert_array_equal(by_index.x_train, [[0, 2], [1, 4]])
    assert by_index.y_train.tolist() == [1, 3]
    negative = load(tmp_path, source="csv", path="d.csv", target=-2)
    assert negative.y_train.tolist() == [0, 1]
    as_text = load(tmp_path, source="csv", path="d.csv", target="2")
    assert as_text.y_train.tolist() == [2, 4]


def test_csv_target_keeps_its_meaning_of_a_column_beside_the_sequence_targets(tmp_path):
    from nnfix.spec.load import load_spec

    write(tmp_path, "d.csv", "next,label,x\n0,1,5\n1,0,6\n")
    for column, values in (("next", [0, 1]), ("label", [1, 0])):
        spec = tmp_path / "spec.yaml"
        spec.write_text(
            f"data: {{source: csv, path: d.csv, target: {column}}}\n"
            "model: {layers: [{units: 1, activation: sigmoid}]}\nloss: bce\n"
        )
        loaded = load_spec(spec)  # no 'unknown target' from the sequences' meaning
        d = load_dataset(loaded.spec.data, base_dir=tmp_path, rng=rng())
        assert d.y_train.tolist() == values and d.x_train.shape == (2, 2)


def test_csv_keeps_float_targets_and_nan(tmp_path):
    write(tmp_path, "d.csv", "x,y\n1,0.5\nnan,1.5\ninf,2\n")
    d = load(tmp_path, source="csv", path="d.csv", dtype="float64")
    assert d.y_train.dtype == np.float64 and d.y_train.tolist() == [0.5, 1.5, 2.0]
    assert np.isnan(d.x_train[1, 0]) and np.isposinf(d.x_train[2, 0])


def test_csv_whitespace_lines_and_quotes_parse_like_the_fast_path(tmp_path):
    write(tmp_path, "d.csv", 'a,b\n"1",2\n   \n3, 4 \n')
    d = load(tmp_path, source="csv", path="d.csv")
    np.testing.assert_array_equal(d.x_train, [[1], [3]])
    assert d.y_train.tolist() == [2, 4]


def test_csv_bad_cell_names_line_column_and_text(tmp_path):
    write(tmp_path, "d.csv", "a,b,label\n1,2,0\n\n3,oops,1\n")
    error = data_error(tmp_path, source="csv", path="d.csv")
    [problem] = error.problems
    assert problem.line == 4 and problem.col == 3
    assert problem.file == tmp_path / "d.csv"
    assert problem.path == ("data", "path")
    assert "column 'b'" in problem.message and "'oops'" in problem.message
    assert "line 4" in problem.message and "expected a number" in problem.message


def test_csv_without_header_names_the_column_index_and_empty_cells(tmp_path):
    write(tmp_path, "d.csv", "1,2,0\n3,,1\n")
    [problem] = data_error(tmp_path, source="csv", path="d.csv").problems
    assert problem.line == 2 and "column index 1" in problem.message
    assert "empty cell" in problem.message


def test_csv_reports_ten_bad_cells_then_counts_the_rest(tmp_path):
    rows = "".join(f"{i},x,0\n" for i in range(25))
    write(tmp_path, "d.csv", "a,b,c\n" + rows + "1,2\n")
    problems = data_error(tmp_path, source="csv", path="d.csv").problems
    assert len(problems) == 11
    assert [p.line for p in problems[:10]] == list(range(2, 12))
    assert "and 16 more" in problems[10].message  # 15 bad cells and 1 short row left


def test_csv_short_row_is_reported(tmp_path):
    write(tmp_path, "d.csv", "a,b,c\n1,2,3\n4,5\n")
    [problem] = data_error(tmp_path, source="csv", path="d.csv").problems
    assert (
        problem.line == 3 and "expected 3 cells" in problem.message and "found 2" in problem.message
    )


def test_csv_unknown_target_lists_the_columns_with_a_hint(tmp_path):
    write(tmp_path, "d.csv", "a,b,label\n1,2,0\n")
    [problem] = data_error(tmp_path, source="csv", path="d.csv", target="lable").problems
    assert problem.path == ("data", "target")
    assert "'a', 'b', 'label'" in problem.message
    assert problem.hint == "did you mean 'label'?"


def test_csv_target_named_twice_in_the_header_is_an_error_at_the_header(tmp_path):
    """A name the header repeats cannot say which column is the target: never the first
    silently. Located at the header's line and the second cell of that name."""
    write(tmp_path, "d.csv", "x1,label,x2,label\n0.1,0,0.5,1\n0.3,1,0.2,0\n")
    [problem] = data_error(tmp_path, source="csv", path="d.csv", target="label").problems
    assert (problem.file, problem.line, problem.col) == (tmp_path / "d.csv", 1, 13)
    assert problem.path == ("data", "target")
    assert "'label'" in problem.message and "1 and 3" in problem.message
    assert problem.hint is not None and "index" in problem.hint


def test_csv_repeated_names_of_other_columns_are_read_by_position(tmp_path):
    write(tmp_path, "d.csv", "x,x,x,label\n1,2,3,0\n4,5,6,1\n")
    by_name = load(tmp_path, source="csv", path="d.csv", target="label", dtype="float64")
    np.testing.assert_array_equal(by_name.x_train, [[1, 2, 3], [4, 5, 6]])
    assert by_name.y_train.tolist() == [0, 1]
    write(tmp_path, "d.csv", "a,label,b,label\n1,0,2,1\n3,1,4,0\n")
    by_index = load(tmp_path, source="csv", path="d.csv", target=3)
    assert by_index.y_train.tolist() == [1, 0]


def test_csv_target_index_out_of_range(tmp_path):
    write(tmp_path, "d.csv", "1,2,0\n")
    [problem] = data_error(tmp_path, source="csv", path="d.csv", target=3).problems
    assert "3 columns" in problem.message and "out of range" in problem.message


def test_csv_with_only_a_header_is_an_error(tmp_path):
    write(tmp_path, "d.csv", "a,b\n\n")
    [problem] = data_error(tmp_path, source="csv", path="d.csv").problems
    assert "no data rows" in problem.message


def test_csv_gzipped_is_read(tmp_path):
    (tmp_path / "d.csv.gz").write_bytes(gzip.compress(b"a,b\n1,0\n2,1\n"))
    d = load(tmp_path, source="csv", path="d.csv.gz")
    assert d.x_train.ravel().tolist() == [1.0, 2.0] and d.y_train.tolist() == [0, 1]


# --- npz, npy, idx -------------------------------------------------------------------------


def test_npz_default_and_custom_keys(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.arange(6.0).reshape(3, 2), y=np.array([0, 1, 0]))
    d = load(tmp_path, source="npz", path="d.npz")
    assert d.x_train.shape == (3, 2) and d.y_train.tolist() == [0, 1, 0]
    np.savez(tmp_path / "e.npz", inputs=np.ones((2, 3)), labels=np.array([[0.5], [1.5]]))
    e = load(tmp_path, source="npz", path="e.npz", x="inputs", y="labels")
    assert e.x_train.shape == (2, 3) and e.y_train.shape == (2, 1)


def test_npz_missing_keys_list_what_the_file_has(tmp_path):
    np.savez(tmp_path / "d.npz", inputs=np.ones((2, 3)), labels=np.zeros(2))
    problems = data_error(tmp_path, source="npz", path="d.npz", x="input").problems
    # at the key the spec names the array with, or (y left to its default) at data.path
    assert [p.path for p in problems] == [("data", "x"), ("data", "path")]
    assert problems[1].hint == "set data.y to one of them"
    assert "'inputs', 'labels'" in problems[0].message
    assert problems[0].hint == "did you mean 'inputs'?"
    assert problems[0].file == tmp_path / "d.npz"


def test_npy_images_are_flattened_and_lengths_checked(tmp_path):
    images = np.arange(4 * 28 * 28, dtype=np.uint8).reshape(4, 28, 28)
    np.save(tmp_path / "x.npy", images)
    np.save(tmp_path / "y.npy", np.array([3, 1, 4, 1], dtype=np.uint8))
    d = load(tmp_path, source="npy", x="x.npy", y="y.npy")
    assert d.x_train.shape == (4, 784) and d.x_train[1, 0] == 784 % 256
    assert d.shape == (28, 28) and d.flattened
    np.testing.assert_array_equal(d.shaped(d.x_train), images)
    assert d.y_train.dtype == np.int64 and d.y_train.tolist() == [3, 1, 4, 1]
    np.save(tmp_path / "short.npy", np.array([0, 1, 0]))
    [problem] = data_error(tmp_path, source="npy", x="x.npy", y="short.npy").problems
    assert "(4, 784)" in problem.message and "(3,)" in problem.message
    assert problem.path == ("data", "y") and problem.file == tmp_path / "short.npy"


def test_npz_of_any_rank_keeps_each_sample_s_shape(tmp_path):
    x = rng(0).random((6, 3, 5, 4))  # images (N, C, H, W)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(6) % 2)
    d = load(tmp_path, source="npz", path="d.npz", validation=0.5, dtype="float64")
    assert d.x_train.shape == (3, 60) and d.shape == (3, 5, 4)
    np.testing.assert_array_equal(d.shaped(d.x_train), x[d.train_rows])
    np.testing.assert_array_equal(d.shaped(d.x_val), x[d.val_rows])
    assert "6 samples of shape (3, 5, 4), flattened to 60 features" in d.description
    ids = rng(1).integers(0, 9, size=(5, 7))  # token ids (N, T): their own rank already
    np.savez(tmp_path / "t.npz", x=ids, y=ids[:, -1])
    t = load(tmp_path, source="npz", path="t.npz")
    assert t.shape == (7,) and not t.flattened and t.description == "t.npz, 5 samples, 7 features"


def test_npy_text_arrays_are_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.array([["a"], ["b"]]))
    np.save(tmp_path / "y.npy", np.array([0, 1]))
    [problem] = data_error(tmp_path, source="npy", x="x.npy", y="y.npy").problems
    assert "expected numbers" in problem.message and problem.path == ("data", "x")


def idx_bytes(array: np.ndarray, code: int, dtype: str) -> bytes:
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    return header + array.astype(dtype).tobytes()


def test_idx_round_trip_plain_and_gzipped(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28)).astype(np.uint8)
    labels = np.array([7, 2, 1, 0, 4], dtype=np.uint8)
    (tmp_path / "images-idx3-ubyte").write_bytes(idx_bytes(images, 0x08, ">u1"))
    (tmp_path / "labels.idx.gz").write_bytes(gzip.compress(idx_bytes(labels, 0x08, ">u1")))
    d = load(tmp_path, source="idx", x="images-idx3-ubyte", y="labels.idx.gz")
    np.testing.assert_array_equal(d.x_train, images.reshape(5, 784))
    assert d.y_train.tolist() == [7, 2, 1, 0, 4]
    assert d.description == (
        "images-idx3-ubyte + labels.idx.gz, 5 samples of shape (28, 28), flattened to 784 features"
    )


@pytest.mark.parametrize(
    "code, dtype", [(0x09, ">i1"), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")]
)
def test_idx_every_type_code(tmp_path, code, dtype):
    x = np.array([[-3, 1], [2, 100]])
    (tmp_path / "x.idx").write_bytes(idx_bytes(x, code, dtype))
    (tmp_path / "y.idx").write_bytes(idx_bytes(np.array([1.5, -2.5]), 0x0E, ">f8"))
    d = load(tmp_path, source="idx", x="x.idx", y="y.idx", dtype="float64")
    np.testing.assert_array_equal(d.x_train, x)
    assert d.y_train.tolist() == [1.5, -2.5]


def test_idx_bad_magic_and_truncation_are_reported_for_both_files(tmp_path):
    (tmp_path / "x.idx").write_bytes(b"PK\x03\x04junk")
    (tmp_path / "y.idx").write_bytes(idx_bytes(np.arange(10), 0x08, ">u1")[:-3])
    problems = data_error(tmp_path, source="idx", x="x.idx", y="y.idx").problems
    assert [p.path for p in problems] == [("data", "x"), ("data", "y")]
    assert "not an IDX file" in problems[0].message and "50 4b 03 04" in problems[0].message
    assert "10 bytes" in problems[1].message and "7 bytes follow" in problems[1].message


# --- missing files and keys ----------------------------------------------------------------


def test_missing_file_names_the_resolved_path_and_a_close_name(tmp_path):
    write(tmp_path, "train.csv", "1,0\n")
    [problem] = data_error(tmp_path, source="csv", path="trian.csv").problems
    assert str(tmp_path / "trian.csv") in problem.message
    assert problem.path == ("data", "path")
    assert problem.hint == "did you mean 'train.csv'?"


def test_missing_x_and_y_are_all_reported(tmp_path):
    problems = data_error(tmp_path, source="npy", x="a.npy").problems
    assert len(problems) == 2
    assert "data.y" in problems[0].message
    assert "a.npy" in problems[1].message and problems[1].path == ("data", "x")


def test_file_source_without_path(tmp_path):
    [problem] = data_error(tmp_path, source="csv").problems
    assert "needs data.path" in problem.message


# --- limit, validation, scale --------------------------------------------------------------


def test_limit_keeps_the_first_samples(tmp_path):
    write(tmp_path, "d.csv", "".join(f"{i},{i % 2}\n" for i in range(10)))
    d = load(tmp_path, source="csv", path="d.csv", limit=4)
    assert d.x_train.ravel().tolist() == [0, 1, 2, 3]
    assert d.description == "d.csv, first 4 of 10 rows, 1 feature"


def test_validation_holds_out_a_random_fraction_without_overlap(tmp_path):
    write(tmp_path, "d.csv", "".join(f"{i},{i % 2}\n" for i in range(100)))
    d = load(tmp_path, source="csv", path="d.csv", validation=0.25, dtype="float64")
    assert len(d.x_train) == 75 and len(d.x_val) == 25
    together = np.concatenate([d.x_train.ravel(), d.x_val.ravel()])
    assert sorted(together.tolist()) == list(range(100))
    np.testing.assert_array_equal(d.y_val, d.x_val.ravel() % 2)
    assert d.x_val.ravel().tolist() != list(range(25))  # shuffled, not the first rows
    again = load(tmp_path, source="csv", path="d.csv", validation=0.25, dtype="float64")
    np.testing.assert_array_equal(again.x_val, d.x_val)


def test_validation_holds_out_at_least_one_and_none_when_zero(tmp_path):
    write(tmp_path, "d.csv", "1,0\n2,1\n3,0\n")
    d = load(tmp_path, source="csv", path="d.csv", validation=0.01)
    assert len(d.x_train) == 2 and len(d.x_val) == 1
    none = load(tmp_path, source="csv", path="d.csv")
    assert none.x_val.shape == (0, 1) and none.y_val.shape == (0,)


def test_standard_scaling_is_fitted_on_train_and_applied_to_both(tmp_path):
    d = load(tmp_path, source="blobs", features=3, samples=400, validation=0.2, scale="standard")
    np.testing.assert_allclose(d.x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(d.x_train.std(axis=0), 1.0, atol=1e-5)
    assert not np.allclose(d.x_val.mean(axis=0), 0.0, atol=1e-5)
    raw = load(tmp_path, source="blobs", features=3, samples=400, validation=0.2, dtype="float64")
    mean, std = raw.x_train.mean(axis=0), raw.x_train.std(axis=0)
    np.testing.assert_allclose(d.x_val, (raw.x_val - mean) / std, rtol=1e-5, atol=1e-5)


def test_minmax_scaling_lands_in_unit_interval_and_constants_become_zero(tmp_path):
    write(tmp_path, "d.csv", "2,7,0\n4,7,1\n10,7,0\n")
    d = load(tmp_path, source="csv", path="d.csv", scale="minmax", dtype="float64")
    np.testing.assert_allclose(d.x_train, [[0, 0], [0.25, 0], [1, 0]])
    s = load(tmp_path, source="csv", path="d.csv", scale="standard", dtype="float64")
    assert np.all(np.isfinite(s.x_train)) and np.all(s.x_train[:, 1] == 0)


def test_scaling_keeps_nan_where_it_was_and_scales_the_rest(tmp_path):
    write(tmp_path, "d.csv", "1,0\nnan,1\n3,0\n")
    d = load(tmp_path, source="csv", path="d.csv", scale="minmax", dtype="float64")
    assert d.x_train[0, 0] == 0.0 and np.isnan(d.x_train[1, 0]) and d.x_train[2, 0] == 1.0


def test_dtype_is_applied_to_inputs(tmp_path):
    assert load(tmp_path, source="moons").x_train.dtype == np.float32
    assert load(tmp_path, source="moons", dtype="float64").x_train.dtype == np.float64
    assert load(tmp_path, source="moons", samples=64).n_features == 2


# --- encode_targets ------------------------------------------------------------------------


def test_encode_one_hot():
    out = encode_targets(np.array([2, 0, 1, 2]), 3)
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert out.dtype == np.float64
    column = encode_targets(np.array([[1], [0]]), 2)
    np.testing.assert_array_equal(column, [[0, 1], [1, 0]])


def test_encode_single_unit_and_matching_width_pass_through():
    np.testing.assert_array_equal(encode_targets(np.array([0, 1, 1]), 1), [[0], [1], [1]])
    y = np.array([[0.2, 0.8], [0.5, 0.5]], dtype=np.float32)
    assert encode_targets(y, 2) is y


def test_encode_out_of_range_label_says_the_range():
    with pytest.raises(InputError) as info:
        encode_targets(np.arange(10), 4)
    assert isinstance(info.value, DataError)
    assert "labels run 0–9 but the output layer has 4 units" in str(info.value)
    with pytest.raises(InputError) as info:
        encode_targets(np.array([1, 2, 3]), 3)
    assert info.value.problems[0].hint == "the labels look 1-based: subtract 1"
    with pytest.raises(InputError, match="labels run -1–1"):
        encode_targets(np.array([-1, 0, 1]), 3)


def test_encode_width_mismatch_names_both_widths():
    with pytest.raises(InputError, match="3 columns but the output layer has 2 units"):
        encode_targets(np.zeros((4, 3)), 2)
    with pytest.raises(InputError, match="continuous"):
        encode_targets(np.array([0.5, 1.5]), 2)


def test_encode_keeps_nan_labels_visible():
    out = encode_targets(np.array([1.0, np.nan, 0.0]), 2)
    np.testing.assert_array_equal(out[[0, 2]], [[0, 1], [1, 0]])
    assert np.all(np.isnan(out[1]))


@given(st.lists(st.integers(0, 9), min_size=1, max_size=50), st.integers(10, 12))
def test_one_hot_rows_pick_out_the_label(labels, units):
    out = encode_targets(np.array(labels), units)
    assert out.shape == (len(labels), units)
    np.testing.assert_array_equal(out.sum(axis=1), 1.0)
    np.testing.assert_array_equal(out.argmax(axis=1), labels)
