"""The package layout a maintainer relies on: no import circle, no upward import."""
from tests.conftest import ROOT, run_script


def test_packages_import_only_lower_ranked_packages_and_no_module_imports_in_a_circle():
    result = run_script("tools/package_graph.py", "--check")
    assert result.returncode == 0, result.stderr


def test_the_package_graph_in_the_docs_is_the_one_the_code_draws(tmp_path):
    drawn = tmp_path / "packages.md"
    assert run_script("tools/package_graph.py", "--write", str(drawn)).returncode == 0
    assert drawn.read_text() == (ROOT / "docs" / "packages.md").read_text(), "rerun tools/package_graph.py --write"
