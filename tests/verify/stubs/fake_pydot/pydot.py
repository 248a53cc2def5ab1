"""Just enough of pydot for `keras.utils.plot_model` to run without Graphviz.

`write` saves the node labels as text, so a test can see which layers were drawn as
trainable. With FAKE_PYDOT_NO_DOT=1 it behaves like pydot without the `dot` program.
"""

import os


class PydotException(Exception):
    pass


class _Graph:
    def __init__(self, *args, **kwargs):
        self.attributes = dict(kwargs)
        self.nodes = []
        self.edges = {}
        self.subgraphs = []

    def set(self, name, value):
        self.attributes[name] = value

    def set_node_defaults(self, **kwargs):
        pass

    def add_node(self, node):
        self.nodes.append(node)

    def add_edge(self, edge):
        self.edges[(edge.src, edge.dst)] = edge

    def get_edge(self, src, dst):
        return [self.edges[(src, dst)]] if (src, dst) in self.edges else []

    def add_subgraph(self, graph):
        self.subgraphs.append(graph)

    def labels(self):
        out = [n.label for n in self.nodes]
        for sub in self.subgraphs:
            out += sub.labels()
        return out


class Dot(_Graph):
    def create(self, prog=None, format=None):
        if os.environ.get("FAKE_PYDOT_NO_DOT"):
            raise OSError("dot not found")
        return b""

    def write(self, path, format="raw"):
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"format={format}\n")
            f.write("\n".join(self.labels()))


class Cluster(_Graph):
    pass


class Node:
    def __init__(self, name, label=""):
        self.name = name
        self.label = label

    def set(self, name, value):
        pass


class Edge:
    def __init__(self, src, dst):
        self.src = src
        self.dst = dst

    def set(self, name, value):
        pass
