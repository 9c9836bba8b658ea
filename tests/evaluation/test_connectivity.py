import torch

from poolbench.evaluation.connectivity import components_per_graph
from poolbench.pooling import get_pooler
from tests.pooling.graphs import path_graph


def test_components_are_counted_per_graph_with_isolated_nodes():
    # graph 0: a path 0-1-2 plus isolated node 3; graph 1: two separate edges
    edge_index = torch.tensor([[0, 1, 1, 2, 4, 5, 6, 7], [1, 0, 2, 1, 5, 4, 7, 6]])
    batch = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    assert components_per_graph(edge_index, batch, 2).tolist() == [2, 2]
    # a trailing graph pooled to nothing has no component
    assert components_per_graph(edge_index, batch, 3).tolist() == [2, 2, 0]


def test_topk_can_cut_a_path_apart_while_none_keeps_it_whole():
    g = path_graph(7)
    # scores high at both ends and low in the middle: TopK keeps the two ends
    g.x = torch.tensor([[3.0], [2.0], [-5.0], [-5.0], [-5.0], [2.0], [3.0]])
    batch = torch.zeros(7, dtype=torch.long)
    topk = get_pooler("topk")(in_channels=1, ratio=0.5)
    with torch.no_grad():
        topk.pool.select.weight.fill_(1.0)
    out = topk(g.x, g.edge_index, None, batch)
    assert components_per_graph(g.edge_index, batch, 1).tolist() == [1]
    assert components_per_graph(out.edge_index, out.batch, 1).tolist() == [2]
    whole = get_pooler("none")(in_channels=1)(g.x, g.edge_index, None, batch)
    assert components_per_graph(whole.edge_index, whole.batch, 1).tolist() == [1]
