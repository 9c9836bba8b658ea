"""``poolbench reproduce``: run a paper's setup and compare with its numbers."""
