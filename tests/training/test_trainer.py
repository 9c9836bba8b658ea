import pytest
import torch
from torch_geometric.loader import DataLoader

from poolbench.errors import PoolbenchError, RunFailure
from poolbench.models.hierarchical import HierarchicalGNN
from poolbench.pooling import get_pooler
from poolbench.training.trainer import TrainerConfig, evaluate, fit

CPU = torch.device("cpu")


def model(seed=0, pooler="mincut"):
    torch.manual_seed(seed)

    def make(level, c, n):
        return get_pooler(pooler)(in_channels=c, ratio=0.5, avg_nodes=n)

    return HierarchicalGNN(7, 2, make, avg_nodes=18, blocks=[1, 1], hidden=16)


def loaders(mutag, batch_size=16):
    g = mutag.graphs
    train = DataLoader(
        g[:120],
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
    )
    val = DataLoader(g[120:150], batch_size=batch_size)
    test = g[150:]
    return train, val, test


def test_metrics_do_not_depend_on_batch_size(mutag):
    m = model()
    graphs = mutag.graphs[:50]
    a = evaluate(m, DataLoader(graphs, batch_size=1), CPU)
    b = evaluate(m, DataLoader(graphs, batch_size=7), CPU)
    c = evaluate(m, DataLoader(graphs, batch_size=50), CPU)
    assert a.acc == b.acc == c.acc
    assert a.loss == pytest.approx(b.loss, abs=1e-5) and b.loss == pytest.approx(
        c.loss, abs=1e-5
    )


def test_best_weights_are_restored(mutag):
    cfg = TrainerConfig(max_epochs=8, patience=8)
    train, val, _ = loaders(mutag)
    m = model()
    res = fit(m, train, val, cfg, CPU)
    again = evaluate(m, val, CPU)
    assert again.loss == pytest.approx(res.val.loss, abs=1e-6)
    assert res.history[res.best_epoch]["val_loss"] == pytest.approx(res.val.loss)
    assert res.val.loss == min(h["val_loss"] for h in res.history)


def test_early_stopping_respects_patience(mutag):
    cfg = TrainerConfig(max_epochs=200, patience=3, lr=0.05)
    train, val, _ = loaders(mutag)
    res = fit(model(), train, val, cfg, CPU)
    assert res.epochs == res.best_epoch + 1 + 3 or res.epochs == 200


def test_non_finite_loss_is_a_run_failure(mutag):
    m = model()
    with torch.no_grad():
        for p in m.head.parameters():
            p.fill_(float("nan"))
    train, val, _ = loaders(mutag)
    with pytest.raises(RunFailure) as err:
        fit(m, train, val, TrainerConfig(max_epochs=3), CPU)
    assert err.value.status == "nan"


@pytest.mark.parametrize(
    "bad", [{"max_epochs": -1}, {"patience": 0}, {"lr": 0}, {"monitor": "test_acc"}]
)
def test_bad_trainer_settings_are_refused(bad):
    with pytest.raises(PoolbenchError):
        TrainerConfig(**bad)


@pytest.mark.parametrize("ties_improve", [False, True])
def test_a_tie_restarts_patience_only_with_ties_improve(mutag, ties_improve):
    # lr so small that no prediction changes: every epoch ties the first
    cfg = TrainerConfig(
        max_epochs=6, patience=2, lr=1e-30, monitor="val_acc", ties_improve=ties_improve
    )
    train, val, _ = loaders(mutag)
    res = fit(model(), train, val, cfg, CPU)
    assert len({h["val_acc"] for h in res.history}) == 1
    if ties_improve:  # Errica et al.'s Patience: the latest tie is the best
        assert (res.best_epoch, res.epochs) == (5, 6)
    else:
        assert (res.best_epoch, res.epochs) == (0, 3)


def test_kept_best_weights_are_a_copy_not_the_live_tensors():
    """The keeper must return the values of the epoch it was called at, even
    after the optimizer moves the weights and after later calls reuse copies."""
    from poolbench.training.trainer import best_weights_keeper

    m = model()
    params = list(m.parameters())
    keep = best_weights_keeper(m, params)
    first = {k: v.clone() for k, v in keep().items()}
    with torch.no_grad():
        for p in params:
            p.add_(1.0)
    second = keep()
    for k, v in m.state_dict().items():
        assert torch.equal(second[k], v)
        assert torch.equal(first[k] + 1.0, v)
    with torch.no_grad():
        for p in params:
            p.mul_(3.0)
    m.load_state_dict(second)  # what fit restores
    for k, v in m.state_dict().items():
        assert torch.equal(first[k] + 1.0, v)


def test_a_model_with_buffers_keeps_them_too():
    from poolbench.training.trainer import best_weights_keeper

    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    keep = best_weights_keeper(m, list(m.parameters()))
    m(torch.randn(8, 3))  # running statistics move
    kept = keep()
    mean = m[1].running_mean.clone()
    m(torch.randn(8, 3) + 5)
    assert not torch.equal(m[1].running_mean, mean)
    m.load_state_dict(kept)
    assert torch.equal(m[1].running_mean, mean)


def test_train_accuracy_is_counted_over_every_training_graph(mutag):
    """The epoch's train score from the kept logits equals a count by hand."""
    from poolbench.tasks.graph import GraphClassification

    task = GraphClassification()
    m = model().eval()
    train, _, _ = loaders(mutag, batch_size=7)
    tallies, correct, total = [], 0, 0
    with torch.no_grad():
        for batch in train:
            out = task.forward(m, batch)
            tallies.append(task.tally(out, batch))
            correct += int((out.logits.argmax(-1) == batch.y).sum())
            total += batch.num_graphs
    assert total == 120
    assert task.train_score(tallies) == correct / total


def test_non_finite_gradient_under_clipping_is_a_run_failure(mutag):
    m = model()
    train, val, _ = loaders(mutag)

    def poison(grad):
        return torch.full_like(grad, float("inf"))

    m.head[0].weight.register_hook(poison)
    with pytest.raises(RunFailure) as err:
        fit(m, train, val, TrainerConfig(max_epochs=2, grad_clip=1.0), CPU)
    assert err.value.status == "nan"
