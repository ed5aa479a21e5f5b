"""An ONNX TreeEnsemble node read into plain arrays, rebuilt as a treelite model, finished as ORT does.

``TreeGraph.parse`` finds the one ``TreeEnsembleClassifier`` / ``TreeEnsembleRegressor`` node of a
graph and what lies around it: the part before (graph inputs -> the node's input, run by ONNX
Runtime) and the chains of Identity/Cast after it (to the graph outputs). ``to_treelite`` builds
the trees with treelite's model builder (raw sums only); ``finish`` turns those sums into the node's
outputs the way ONNX Runtime 1.2x-1.3x does (base values, binary-class conventions, post
transform). Anything else raises :class:`Unsupported` with the reason, and scoring uses ONNX
Runtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

_OPS = {"BRANCH_LEQ": "<=", "BRANCH_LT": "<", "BRANCH_GTE": ">=", "BRANCH_GT": ">", "BRANCH_EQ": "=="}
_TREE_OPS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")
_NP: dict[int, type[np.floating[Any]]] = {1: np.float32, 11: np.float64}  # ONNX elem type -> numpy, for the tree input


class Unsupported(Exception):
    """This graph cannot be compiled; the message says why (logged, then ONNX Runtime scores it)."""


@dataclass
class TreeGraph:
    """The tree node of a model and the graph around it."""

    op: str
    attrs: dict[str, Any]
    x_name: str
    x_dtype: type[np.floating[Any]]  # what the trees compare in
    n_features: int
    tree_outputs: list[str]
    chains: dict[str, tuple[str, int | None]]  # graph output -> (tree output, Cast 'to' or None)
    pre_inputs: list[str] | None  # graph inputs feeding a pre-graph, None when X is a graph input
    model: Any  # the onnx ModelProto
    feed_dtype: type[np.floating[Any]] = np.float32  # the tree input's own type in the graph

    @classmethod
    def parse(cls, data: bytes) -> TreeGraph:
        """Read the model; raises :class:`Unsupported` when it is not one tree node plus plumbing."""
        import onnx

        model = onnx.load_from_string(data)
        g = model.graph
        trees = [n for n in g.node if n.op_type in _TREE_OPS and n.domain == "ai.onnx.ml"]
        if len(trees) != 1:
            raise Unsupported(f"{len(trees)} TreeEnsemble nodes (the compiler takes exactly one)")
        node = trees[0]
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        for key in [k for k in attrs if k.endswith("_as_tensor")]:
            attrs[key[: -len("_as_tensor")]] = onnx.numpy_helper.to_array(attrs.pop(key)).tolist()
        producers = {o: n for n in g.node for o in n.output}
        chains: dict[str, tuple[str, int | None]] = {}
        for out in g.output:
            name, cast = out.name, None
            while name not in node.output:
                p = producers.get(name)
                if p is None or p.op_type not in ("Identity", "Cast") or p.domain not in ("", "ai.onnx"):
                    raise Unsupported(f"graph output {out.name!r} is not the tree node's output (via Identity/Cast)")
                if p.op_type == "Cast" and cast is None:
                    cast = next(a.i for a in p.attribute if a.name == "to")
                name = p.input[0]
            chains[out.name] = (name, cast)
        x_name = node.input[0]
        inputs = {i.name: i for i in g.input}
        value_info = {v.name: v for v in [*g.value_info, *g.input]}
        pre_inputs = None if x_name in inputs else [i.name for i in g.input]
        if pre_inputs is not None and x_name not in value_info:
            model = onnx.shape_inference.infer_shapes(model)
            value_info = {v.name: v for v in [*model.graph.value_info, *model.graph.input]}
        vi = value_info.get(x_name)
        if vi is None:
            raise Unsupported("the tree input's type is unknown")
        elem = vi.type.tensor_type.elem_type
        if elem not in _NP:
            raise Unsupported(f"tree input element type {elem} (only float and double compile)")
        dims = vi.type.tensor_type.shape.dim
        width = dims[1].dim_value if len(dims) == 2 and dims[1].HasField("dim_value") else 0
        n_features = max(int(width), int(max(attrs.get("nodes_featureids", []), default=0)) + 1)
        if elem != 1:
            # ONNX Runtime's double path did not match a float64 treelite build on split-edge samples
            # (a parity miss each time); lakeml's own exports cast to float32 before the trees
            raise Unsupported("a double tree input (only float32 tree inputs are compiled)")
        return cls(node.op_type, attrs, x_name, np.float32, n_features, list(node.output), chains, pre_inputs,
                   model, np.float32)

    # ---- sub-models run by ONNX Runtime ---------------------------------------------------------
    def tree_only_bytes(self) -> bytes:
        """A model of the tree node alone (input X, the node's outputs): the reference for parity."""
        from onnx import TensorProto, helper

        node = next(n for n in self.model.graph.node if n.op_type in _TREE_OPS)
        elem = TensorProto.FLOAT if self.feed_dtype is np.float32 else TensorProto.DOUBLE
        x = helper.make_tensor_value_info(self.x_name, elem, [None, self.n_features])
        if self.op == "TreeEnsembleClassifier":
            lab = TensorProto.INT64 if self.attrs.get("classlabels_int64s") else TensorProto.STRING
            outs = [helper.make_tensor_value_info(self.tree_outputs[0], lab, None),
                    helper.make_tensor_value_info(self.tree_outputs[1], TensorProto.FLOAT, None)]
        else:
            outs = [helper.make_tensor_value_info(self.tree_outputs[0], TensorProto.FLOAT, None)]
        graph = helper.make_graph([node], "trees", [x], outs)
        model = helper.make_model(graph, opset_imports=list(self.model.opset_import))
        model.ir_version = self.model.ir_version
        return bytes(model.SerializeToString())

    def pre_bytes(self) -> bytes | None:
        """The graph from the model's inputs to the tree input, or None when X is a graph input."""
        if self.pre_inputs is None:
            return None
        import onnx

        ex = onnx.utils.Extractor(self.model)
        return bytes(ex.extract_model(self.pre_inputs, [self.x_name]).SerializeToString())

    # ---- the trees ------------------------------------------------------------------------------
    def _leaf_table(self) -> tuple[str, list[int], list[int], list[int], list[float]]:
        a = self.attrs
        if self.op == "TreeEnsembleClassifier":
            return ("class", list(a["class_treeids"]), list(a["class_nodeids"]), list(a["class_ids"]),
                    list(a["class_weights"]))
        return ("target", list(a["target_treeids"]), list(a["target_nodeids"]), list(a["target_ids"]),
                list(a["target_weights"]))

    def columns(self) -> list[int]:
        """The class / target ids that carry leaf weights (one margin column each)."""
        if self.op == "TreeEnsembleRegressor":
            return list(range(int(self.attrs.get("n_targets", 1))))
        return sorted(set(self._leaf_table()[3]))

    def check(self) -> None:
        """Raise :class:`Unsupported` for features this compiler does not reproduce."""
        a = self.attrs
        modes = {m.decode() if isinstance(m, bytes) else m for m in a.get("nodes_modes", [])}
        bad = modes - set(_OPS) - {"LEAF"}
        if bad:
            raise Unsupported(f"split modes {sorted(bad)} (BRANCH_NEQ / MEMBER are not compiled)")
        agg = a.get("aggregate_function", b"SUM")
        agg = agg.decode() if isinstance(agg, bytes) else agg
        if agg not in ("SUM", "AVERAGE"):
            raise Unsupported(f"aggregate_function {agg} (MIN/MAX are not compiled)")
        post = self.post_transform()
        allowed = ("NONE",) if self.op == "TreeEnsembleRegressor" else ("NONE", "LOGISTIC", "SOFTMAX")
        if post not in allowed:
            raise Unsupported(f"post_transform {post} for {self.op}")
        if self.op == "TreeEnsembleClassifier":
            labels = a.get("classlabels_int64s") or a.get("classlabels_strings") or []
            if len(labels) < 2:
                raise Unsupported("a classifier with fewer than two class labels")
            if len(labels) == 2 and len(a.get("base_values", []) or []) == 2 and len(self.columns()) == 1:
                raise Unsupported("binary classifier with one weighted class and two base values")

    def post_transform(self) -> str:
        """The node's post_transform (``NONE`` when absent)."""
        post = self.attrs.get("post_transform", b"NONE")
        return post.decode() if isinstance(post, bytes) else str(post)

    def to_treelite(self) -> Any:
        """The trees as a treelite model whose margin output is the sum of leaf weights per column."""
        from treelite.model_builder import Metadata, ModelBuilder, PostProcessorFunc, TreeAnnotation

        self.check()
        a = self.attrs
        cols = self.columns()
        k = len(cols)
        col_of = {c: i for i, c in enumerate(cols)}
        _kind, l_tree, l_node, l_id, l_w = self._leaf_table()
        leaves: dict[tuple[int, int], np.ndarray] = {}
        for t, n, c, w in zip(l_tree, l_node, l_id, l_w, strict=True):
            vec = leaves.setdefault((t, n), np.zeros(k, dtype=np.float64))
            vec[col_of[c]] += w
        trees: dict[int, dict[int, tuple[Any, ...]]] = {}
        for t, n, f, mode, v, tn, fn, miss in zip(
                a["nodes_treeids"], a["nodes_nodeids"], a["nodes_featureids"], a["nodes_modes"], a["nodes_values"],
                a["nodes_truenodeids"], a["nodes_falsenodeids"],
                a.get("nodes_missing_value_tracks_true") or [0] * len(a["nodes_treeids"]), strict=True):
            trees.setdefault(int(t), {})[int(n)] = (mode.decode() if isinstance(mode, bytes) else mode, int(f),
                                                    float(v), int(tn), int(fn), bool(miss))
        tree_ids = sorted(trees)
        ttype = "float32" if self.x_dtype is np.float32 else "float64"
        builder = ModelBuilder(
            threshold_type=ttype, leaf_output_type=ttype,
            metadata=Metadata(num_feature=self.n_features, task_type="kMultiClf" if k > 1 else "kRegressor",
                              average_tree_output=False, num_target=1, num_class=[k],
                              leaf_vector_shape=(1, k)),
            tree_annotation=TreeAnnotation(num_tree=len(tree_ids), target_id=[0] * len(tree_ids),
                                           class_id=[-1 if k > 1 else 0] * len(tree_ids)),
            postprocessor=PostProcessorFunc(name="identity_multiclass" if k > 1 else "identity"),
            base_scores=[0.0] * k,
        )
        zero = np.zeros(k)
        for t in tree_ids:
            nodes = trees[t]
            children = {c for m, _f, _v, tn, fn, _ in nodes.values() if m != "LEAF" for c in (tn, fn)}
            roots = [n for n in nodes if n not in children]
            if len(roots) != 1:
                raise Unsupported(f"tree {t} has {len(roots)} roots")
            builder.start_tree()
            order = [roots[0], *[n for n in nodes if n != roots[0]]]
            for n in order:
                mode, f, v, tn, fn, miss = nodes[n]
                builder.start_node(n)
                if mode == "LEAF":
                    vec = leaves.get((t, n), zero)
                    builder.leaf(vec.tolist() if k > 1 else float(vec[0]))
                else:
                    builder.numerical_test(f, v, default_left=miss, opname=_OPS[mode], left_child_key=tn,
                                           right_child_key=fn)
                builder.end_node()
            builder.end_tree()
        return builder.commit()

    def finish(self, margins: np.ndarray) -> dict[str, np.ndarray]:
        """The tree node's outputs from per-column leaf sums, as ONNX Runtime computes them."""
        a = self.attrs
        m = margins.reshape(margins.shape[0], -1)
        base = list(a.get("base_values") or [])
        post = self.post_transform()
        if self.op == "TreeEnsembleRegressor":
            agg = a.get("aggregate_function", b"SUM")
            if (agg.decode() if isinstance(agg, bytes) else agg) == "AVERAGE":
                m = m / len(set(a["nodes_treeids"]))
            if base:
                m = m + np.asarray(base, dtype=m.dtype)
            return {self.tree_outputs[0]: m.astype(np.float32)}
        labels = np.asarray(a.get("classlabels_int64s") or [s.decode() if isinstance(s, bytes) else s
                                                            for s in a.get("classlabels_strings", [])])
        n_cls = len(labels)
        cols = self.columns()
        if n_cls == 2 and len(cols) == 1:
            s = m[:, 0] + (base[0] if base else 0.0)
            positive = all(w >= 0 for w in a["class_weights"])
            if post == "LOGISTIC":
                p1 = _logistic(s)
                probs = np.stack([_logistic(-s), p1], axis=1)
            elif positive:
                probs = np.stack([1 - s, s], axis=1)
            else:
                probs = np.stack([-s, s], axis=1)
            win = s > (0.5 if positive and post != "LOGISTIC" else 0.0)
            label = np.where(win, labels[1], labels[0])
        else:
            scores = np.zeros((m.shape[0], n_cls), dtype=m.dtype)
            scores[:, cols] = m
            if len(base) == n_cls:
                scores = scores + np.asarray(base, dtype=m.dtype)
            label = labels[np.argmax(scores, axis=1)]
            if post == "SOFTMAX":
                e = np.exp(scores - scores.max(axis=1, keepdims=True))
                probs = e / e.sum(axis=1, keepdims=True)
            elif post == "LOGISTIC":
                probs = _logistic(scores)
            else:
                probs = scores
        return {self.tree_outputs[0]: label, self.tree_outputs[1]: probs.astype(np.float32)}

    def sample(self, rows: int, seed: int = 0) -> np.ndarray:
        """Inputs that exercise the splits: each feature at, just below and just above its thresholds,
        with some NaN (the missing-value direction) and some far values."""
        a = self.attrs
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(rows, self.n_features)).astype(self.feed_dtype)
        by_feature: dict[int, list[float]] = {}
        for f, mode, v in zip(a["nodes_featureids"], a["nodes_modes"], a["nodes_values"], strict=True):
            if (mode.decode() if isinstance(mode, bytes) else mode) != "LEAF":
                by_feature.setdefault(int(f), []).append(float(v))
        for f, values in by_feature.items():
            th = np.asarray(values, dtype=self.feed_dtype)
            pick = th[rng.integers(0, len(th), rows)]
            step = np.spacing(pick) * rng.integers(-1, 2, rows)
            x[:, f] = pick + step
        x[rng.random(x.shape) < 0.01] = np.nan
        return np.ascontiguousarray(x, dtype=self.feed_dtype)


def _logistic(x: np.ndarray) -> np.ndarray:
    v = 1.0 / (1.0 + np.exp(-np.abs(x)))
    return np.where(x < 0, 1.0 - v, v)


def cast_output(arr: np.ndarray, to: int | None) -> np.ndarray:
    """Apply an ONNX Cast (``to`` elem type) on the way to a graph output."""
    if to is None:
        return arr
    from onnx.helper import tensor_dtype_to_np_dtype

    return arr.astype(tensor_dtype_to_np_dtype(to))
