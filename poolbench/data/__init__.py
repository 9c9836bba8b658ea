"""Datasets: loaders, the offline mirror, splits, batching."""


def loader_facts(loader) -> tuple[str, str]:
    """What a dataset loader declares about its data, read without loading
    it: (``graphs`` or ``nodes``, ``classification`` or ``regression``)."""
    return (
        getattr(loader, "dataset_kind", "graphs"),
        getattr(loader, "target", "classification"),
    )
