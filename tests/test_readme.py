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
