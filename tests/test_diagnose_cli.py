"""`nnfix diagnose`, `rules` and `explain` end to end: exit codes, selection, configuration."""

import json

from click.testing import CliRunner

from nnfix.cli import main
from nnfix.diagnose import rules

from .conftest import CONFIGS

HEALTHY = str(CONFIGS / "moons.yaml")
ZERO = str(CONFIGS / "story-zero-init.yaml")  # Y101: an error
UNIFORM = str(CONFIGS / "story-uniform-init.yaml")  # warnings only


def invoke(*args):
    return CliRunner().invoke(
        main, ["diagnose", *args, "--quick"] if args and args[0] != "-" else list(args)
    )


def codes(result) -> list[str]:
    return [f["code"] for s in json.loads(result.stdout)["specs"] for f in s["findings"]]


def test_exit_codes():
    assert invoke(HEALTHY).exit_code == 0
    assert invoke(UNIFORM).exit_code == 0  # warnings only, fail-on error
    assert invoke(UNIFORM, "--fail-on", "warning").exit_code == 1
    assert invoke(ZERO).exit_code == 1
    assert invoke(ZERO, "--fail-on", "never").exit_code == 0


def test_several_specs_one_report_worst_exit(tmp_path):
    result = invoke(HEALTHY, ZERO, "--format", "json")
    assert result.exit_code == 1
    assert [s["spec"] for s in json.loads(result.stdout)["specs"]] == [HEALTHY, ZERO]
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {source: moonz}\n")
    result = invoke(HEALTHY, str(bad), ZERO)
    assert result.exit_code == 2  # a spec could not be read: the worst
    assert "unknown value 'moonz'" in result.stderr
    assert "symmetric-init" in result.stdout  # the others were still diagnosed


def test_select_and_ignore_by_code_prefix_and_name():
    # G104: saturated sigmoids leave W1's gradient below what finite differences can resolve
    everything = {"D102", "Y103", "Y104", "T101", "T105", "G104"}
    assert set(codes(invoke(UNIFORM, "--format", "json"))) == everything
    assert set(codes(invoke(UNIFORM, "--format", "json", "--select", "Y"))) == {"Y103", "Y104"}
    assert set(codes(invoke(UNIFORM, "--format", "json", "--select", "one-signed-init,T105"))) == {
        "Y104",
        "T105",
    }
    assert set(
        codes(
            invoke(UNIFORM, "--format", "json", "--ignore", "Y1", "--ignore", "lr-decays-too-fast")
        )
    ) == {"D102", "T101", "G104"}
    result = invoke(UNIFORM, "--select", "Y1O4")
    assert result.exit_code == 2 and "unknown rule or prefix 'Y1O4'" in result.stderr


def test_symptom_links_to_its_root_cause():
    findings = json.loads(invoke(UNIFORM, "--format", "json").stdout)["specs"][0]["findings"]
    by_code = {f["code"]: f for f in findings}
    assert set(by_code["T101"]["caused_by"]) >= {"D102", "Y104"}
    assert by_code["D102"]["root_cause"] and not by_code["T101"]["root_cause"]
    order = [f["code"] for f in findings]
    assert order.index("D102") < order.index("T101")


def test_pyproject_configuration_and_precedence(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.nnfix]\nfail_on = "warning"\nignore = ["T105"]\n'
    )
    sub = tmp_path / "deep" / "er"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)  # found by walking up from the working directory
    result = invoke(UNIFORM, "--format", "json")
    assert result.exit_code == 1  # fail_on warning from pyproject
    assert "T105" not in codes(result)
    assert invoke(UNIFORM, "--fail-on", "error").exit_code == 0  # the flag wins
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        (CONFIGS / "story-uniform-init.yaml")
        .read_text()
        .replace("data/bars.npz", str(CONFIGS / "data" / "bars.npz"))
        + "diagnose:\n  fail_on: never\n"
    )
    assert invoke(str(spec)).exit_code == 0  # the spec's diagnose: beats pyproject
    (tmp_path / "pyproject.toml").write_text('[tool.nnfix]\nfail_onn = "warning"\n')
    bad = invoke(UNIFORM)
    assert bad.exit_code == 2 and "did you mean 'fail_on'" in bad.stderr


def test_output_file_keeps_the_rich_report_on_the_terminal(tmp_path):
    out = tmp_path / "report.sarif"
    result = invoke(ZERO, "--output", str(out))
    assert result.exit_code == 1
    assert "Y101 symmetric-init" in result.stdout  # rich on the terminal
    assert (
        json.loads(out.read_text())["runs"][0]["results"][0]["ruleId"] == "Y101"
    )  # sarif from the suffix
    svg = tmp_path / "report.svg"
    invoke(ZERO, "--output", str(svg))
    assert svg.read_text().startswith("<svg") and "symmetric-init" in svg.read_text()


def test_output_says_where_it_wrote_on_stderr(tmp_path):
    out = tmp_path / "report.json"
    result = invoke(ZERO, "--output", str(out))
    assert result.stderr.splitlines()[-1] == f"wrote {out}"  # stdout stays the rich report
    assert "wrote" not in result.stdout and json.loads(out.read_text())["specs"]
    assert "wrote" not in invoke(ZERO, "--format", "json").stderr  # no file, nothing to say


def test_rich_report_points_at_the_spec_line():
    result = invoke(ZERO)
    assert f"{ZERO}:15:9: Y101 symmetric-init" in result.stdout
    assert "fix: model.init: xavier_normal" in result.stdout
    assert result.stdout.startswith("FAIL")


def test_rules_and_explain():
    table = CliRunner().invoke(main, ["rules"])
    assert table.exit_code == 0
    for rule in rules.RULES.values():
        assert rule.code in table.stdout and rule.name in table.stdout
    for key in ("A102", "a102", "derivative-wrong-argument"):
        doc = CliRunner().invoke(main, ["explain", key])
        assert doc.exit_code == 0
        assert "derivative_of: a" in doc.stdout and "Why it breaks training" in doc.stdout
    missing = CliRunner().invoke(main, ["explain", "symetric-init"])
    assert missing.exit_code == 2 and "did you mean 'symmetric-init'" in missing.stderr
