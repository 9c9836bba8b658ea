"""The README's own-pooler example runs as written, through the real CLI."""

from __future__ import annotations

import re

from tests.cli_helpers import REPO, rows, run_cli


def readme_example() -> tuple[str, str]:
    text = (REPO / "README.md").read_text()
    match = re.search(
        r"<!-- readme-example: (\S+) -->\n```python\n(.*?)```", text, re.S
    )
    assert match, "README lost its own-pooler example"
    return match.group(1), match.group(2)


def test_readme_custom_pooler_trains_through_the_cli(tmp_path, data_root, mirror):
    path, code = readme_example()
    target = tmp_path / path
    target.parent.mkdir(parents=True)
    (target.parent / "__init__.py").write_text("")
    target.write_text(code)
    out = run_cli(
        [
            "train",
            "pooler=custom",
            "pooler._target_=my_pkg.pool.GraphSumPool",
            "dataset=mutag",
            "protocol=holdout",
            "trainer.max_epochs=2",
        ],
        tmp_path,
        data_root,
        mirror,
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    frame = rows(tmp_path)
    assert frame.pooler.tolist() == ["my_pkg.pool.GraphSumPool"]
    assert frame.status.tolist() == ["ok"]
    assert frame.avg_nodes_pooled.tolist() == [1.0]  # one supernode per graph


def readme_text() -> str:
    return " ".join((REPO / "README.md").read_text().split())


def test_the_readme_lists_every_trainer_key():
    from dataclasses import fields

    from poolbench.training.config import TrainerConfig

    row = re.search(r"\| `trainer` \| `default` \| (.*?) \|", readme_text())
    assert row, "the README's configuration table lost its trainer row"
    listed = set(re.findall(r"`(\w+)`", row.group(1)))
    assert listed == {f.name for f in fields(TrainerConfig)}


def test_the_readme_names_the_precomputed_poolers():
    from poolbench.pooling.registry import discover

    found = re.search(
        r"\(`trainer\.precompute=true`, default\): ([\w, ]+?) read only", readme_text()
    )
    assert found, "the README's precomputed-pooling sentence moved"
    listed = set(re.split(r", | and ", found.group(1)))
    assert listed == {n for n, c in discover().items() if c.precomputable}


def test_the_readme_names_the_dense_poolers_without_an_n_squared_term():
    """The scaling estimate's N^2 term comes from two class attributes; the
    README's list of poolers without it must follow them."""
    from poolbench.pooling.registry import discover

    found = re.search(r"\(no N² term for ([\w, ]+?), which work", readme_text())
    assert found, "the README's scaling-estimate sentence moved"
    listed = set(re.split(r", | and ", found.group(1)))
    registry = discover()
    edge_form = {
        n for n, c in registry.items()
        if c.is_dense and not getattr(c, "needs_dense_adj", True)
    }  # fmt: skip
    no_pairs = {n for n in edge_form if registry[n].pair_floats == (0, 0)}
    assert listed == no_pairs
    # the README names the one edge-form pooler whose loss is over all pairs
    for name in edge_form - no_pairs:
        assert f"{name} too, but its all-pairs loss" in readme_text()
