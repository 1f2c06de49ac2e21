"""The ``forest`` retriever: beam search down the semantic forest, no LLM, milliseconds.

From the top level down, each kept cluster's children are scored by

    w_summary * cos(q, summary) + (1 - w_summary) * cos(q, mean of its leaves)
    + w_evidence * (best attribute match among its leaves) + w_parent * (parent's score)

and the best ``beam`` of each level are kept; the leaves under the kept areas are scored by
similarity + attribute match (label, colour, material, room, floor, implicit categories)
+ ``w_area`` x their area's score + spatial and recency priors. The attribute evidence of every
cluster is a ``reduceat`` over contiguous leaf ranges, so it costs O(leaves) integer work while
similarity is only computed inside the beam.

Question types that are not about one thing take their own paths: **global** questions are
answered from the site, floor and room clusters with counted facts; **temporal** ones ("what
did you see first?") order objects by their timestamps; **relational** ones ("the lamp next to
the bed") rank target candidates by relation edges to anchor candidates (geometry when a
memory has no edge); a question for a **room** ("where is the kitchen?") returns room clusters.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np

from memory.query import QueryAnalysis, QueryType, focus_text, label_group
from memory.retrieval import RETRIEVERS, BaseRetriever, Cancel, RetrievalResult, RobotPose, leaf_match
from memory.retrieval_index import RetrievalIndex, segment_reduce

log = logging.getLogger(__name__)

__all__ = ["ForestRetriever", "global_facts", "child_rows"]

_COMPATIBLE = {"near": {"next_to", "left_of", "right_of"}, "next_to": {"near", "left_of", "right_of"},
               "on": {"above"}, "above": {"on"}, "under": set(), "left_of": {"near", "next_to"},
               "right_of": {"near", "next_to"}}


def global_facts(ix: RetrievalIndex, q: QueryAnalysis | None = None) -> dict[str, Any]:
    """Counted facts of the whole memory from its top levels: floors, rooms by type, objects,
    the site's summary (and, for ``count_of`` an object label, how many of it were seen)."""
    facts: dict[str, Any] = {"objects": int(ix.is_object.sum()), "leaves": len(ix)}
    L2 = ix.levels.get(2)
    rooms = [k for k in range(len(L2)) if L2.leaf_end[k] > L2.leaf_start[k]] if L2 is not None else []
    types = Counter((L2.room_type[k] or "other area") for k in rooms) if L2 is not None else Counter()
    facts["rooms"] = len(rooms)
    facts["room_types"] = dict(sorted(types.items(), key=lambda kv: (-kv[1], kv[0])))
    L3 = ix.levels.get(3)
    floors = sorted({int(L3.floor[k]) for k in range(len(L3)) if L3.leaf_end[k] > L3.leaf_start[k]}) if L3 else []
    facts["floors"] = len(floors) or len(set(ix.floor.tolist()))
    top = ix.levels.get(max(ix.top_level, 4))  # the site: level 4 of ours, the top of a deeper kept forest
    if top is not None and len(top) and top.records is not None:
        facts["site"] = top.records[0].summary or top.records[0].name
        facts["site_id"] = top.ids[0]
    if L3 is not None and L3.records is not None:
        facts["floor_summaries"] = {int(r.floor): r.summary for r in L3.records if r.n_leaves}
    if q is not None and q.count_of and q.count_of not in ("room", "floor") and q.count_of not in ix.room_code \
            and q.count_of not in types:
        codes = ix.labels_matching(sorted(set(q.target_labels) | label_group(q.count_of)))
        mask = np.isin(ix.label, codes) & ix.is_object
        if q.room and q.room in ix.room_code:
            rc = ix.room_code[q.room]
            mask &= (ix.room == rc) | (ix.room_guess == rc)
        facts["count_of"] = q.count_of
        facts["count"] = int(mask.sum())
    return facts


class ForestRetriever(BaseRetriever):
    """Embedding-guided beam search down the forest (see the module docstring)."""

    name = "forest"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._things: dict[str, np.ndarray] = {}

    def _retrieve(self, query: QueryAnalysis, k: int, robot: RobotPose | None,
                  cancel: Cancel | None) -> RetrievalResult:
        ix = self.index
        res = RetrievalResult(query, [], self.name)
        if len(ix) == 0:
            res.notes.append("the memory is empty")
            return res
        if query.type == QueryType.GLOBAL:
            return self._global(query, k, res)
        if query.type == QueryType.TEMPORAL and not query.target:
            return self._order_by_time(query, k, res)
        if query.type == QueryType.RELATIONAL and query.anchor:
            return self._relational(query, k, robot, res)
        if query.target_room and not query.target:
            return self._rooms(query, k, res)
        return self._descend(query, k, robot, res)

    # ------------------------------------------------------------------ beam search
    def _focus(self, q: QueryAnalysis) -> str:
        """What to embed: every word of the question, less the lead-in ("where is", "find me")."""
        if q.type == QueryType.IMPLICIT or not q.text:
            return q.text
        return focus_text(q.text)

    def thing_vectors(self, q: QueryAnalysis) -> tuple[np.ndarray, np.ndarray] | None:
        """Vectors and weights of the things that satisfy an implicit question (cached per word)."""
        if not q.categories or self.text_encoder is None:
            return None
        names = [n for n, _ in q.categories]
        todo = [n for n in names if n not in self._things]
        if todo:
            for n, v in zip(todo, np.asarray(self.text_encoder.encode_text(todo), dtype=np.float32), strict=True):
                self._things[n] = v
        return np.stack([self._things[n] for n in names]), np.array([w for _, w in q.categories], np.float32)

    def _descend(self, q: QueryAnalysis, k: int, robot: RobotPose | None, res: RetrievalResult) -> RetrievalResult:
        ix, cfg = self.index, self.config
        qv = self.query_vector(q, self._focus(q)) if (q.text or q.vector is not None) else None
        qi = self.image_query_vector(q)
        qit = None
        enc = self.image_encoder
        if qv is not None and q.text and ix.image is not None and enc is not None \
                and "text" in getattr(enc, "modalities", ()) and cfg.w_image_text > 0:
            space = getattr(getattr(enc, "inner", enc), "text_space_id", getattr(enc, "id", ""))
            same = self.text_encoder is not None and space == getattr(self.text_encoder, "id", None)
            qit = qv if same else np.asarray(enc.encode_text([self._focus(q)]), dtype=np.float32)[0]
        things = self.thing_vectors(q) if q.type == QueryType.IMPLICIT else None
        constrained = bool(q.target_labels or q.colour or q.material or q.room or q.floor is not None or q.categories)
        match = leaf_match(ix, q, cfg) if constrained else None
        evidence: dict[int, np.ndarray] = {}  # per level: best leaf match under each cluster

        def need(vectors: np.ndarray) -> np.ndarray:
            """How well each row of ``vectors`` shows something that satisfies the need."""
            tv, tw = things  # type: ignore[misc]
            return (vectors @ tv.T * tw[None, :]).max(axis=1)

        def cluster_scores(lv: int, rows: np.ndarray) -> np.ndarray:
            L = ix.levels[lv]
            s = np.zeros(len(rows), dtype=np.float32)
            if qv is not None:
                s += cfg.w_summary * (L.summary[rows] @ qv) + (1.0 - cfg.w_summary) * (L.mean[rows] @ qv)
            if things is not None:
                s += cfg.w_need * (cfg.w_summary * need(L.summary[rows]) + (1.0 - cfg.w_summary) * need(L.mean[rows]))
            if qi is not None and L.image is not None:
                s += L.image[rows] @ qi
            if qit is not None and L.image is not None:
                s += cfg.w_image_text * (L.image[rows] @ qit)
            if match is not None:
                if lv not in evidence:  # one reduceat over the whole level: its leaf ranges tile the leaves
                    evidence[lv] = segment_reduce(np.maximum, match, L.leaf_start, L.leaf_end, empty=0.0)
                s += cfg.w_evidence * evidence[lv][rows]
            if lv == 2 and q.room:
                s += cfg.w_room * np.array([L.room_type[r] == q.room for r in rows], dtype=np.float32)
            return s

        area_rows, _ = self._beam(cluster_scores)
        rows = child_rows(ix.levels[1].start[area_rows], ix.levels[1].end[area_rows]) if len(area_rows) else \
            np.zeros(0, dtype=np.int64)
        orphans = np.nonzero(ix.leaf_parent < 0)[0]
        if len(orphans):
            rows = np.concatenate([rows, orphans])
        # the forest only adds evidence: the exact flat top candidates always compete in the final ranking
        extra = self._flat_candidates(qv, qi, things, need, max(cfg.flat_candidates, k))
        if len(extra):
            rows = np.union1d(rows, extra)
        # every candidate inherits its own area's score the same way, whether the beam or flat search found it
        parent = ix.leaf_parent[rows]
        inherited = np.zeros(len(rows), dtype=np.float32)
        has = parent >= 0
        if has.any() and 1 in ix.levels:
            areas, inv = np.unique(parent[has], return_inverse=True)
            inherited[has] = cluster_scores(1, areas)[inv]
        scores = cfg.w_area * inherited.astype(np.float32)
        if qv is not None:
            scores += ix.vec[rows] @ qv
        if things is not None:
            scores += cfg.w_need * need(ix.vec[rows])
        if qi is not None:
            scores += ix.image[rows] @ qi  # type: ignore[index]
        if qit is not None:
            scores += cfg.w_image_text * (ix.image[rows] @ qit)  # type: ignore[index]
        if match is not None:
            scores += match[rows]
        if q.image is None and q.type in (QueryType.EXPLICIT, QueryType.IMPLICIT, QueryType.TEMPORAL) \
                and not q.target_room:
            scores -= cfg.place_penalty * (~ix.is_object[rows])
        scores += self.spatial_prior(rows, robot) + self.recency_prior(rows)
        if q.type == QueryType.TEMPORAL:  # among equal matches, the most recently (or first) seen
            t = ix.t_last[rows] if q.temporal == "last" else -ix.t_first[rows]
            span = float(np.ptp(t)) or 1.0
            scores += 0.05 * ((t - t.min()) / span).astype(np.float32)
        res.hits = self.top_leaf_hits(rows, scores, k)
        if qv is not None and res.hits:  # plain text similarity of the hits, for the generator's confidence
            sims = ix.vec[np.array([ix.row[h.id] for h in res.hits])] @ qv
            res.facts["similarity"] = {h.id: round(float(v), 4) for h, v in zip(res.hits, sims, strict=True)}
        return res

    def _flat_candidates(self, qv: np.ndarray | None, qi: np.ndarray | None, things: Any, need: Any,
                         n: int) -> np.ndarray:
        """Rows of the exact top ``n`` leaves by similarity alone (text, image, and the need's things)."""
        ix = self.index
        out = []
        for s in ((ix.vec @ qv) if qv is not None else None,
                  (ix.image @ qi) if qi is not None and ix.image is not None else None,
                  need(ix.vec) if things is not None else None):
            if s is None or not len(s):
                continue
            m = min(n, len(s))
            out.append(np.argpartition(-s, m - 1)[:m] if len(s) > m else np.arange(len(s)))
        return np.unique(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)

    def _beam(self, cluster_scores) -> tuple[np.ndarray, np.ndarray]:
        """Rows and scores of the level-1 clusters kept by the beam."""
        ix, cfg = self.index, self.config
        top = ix.top_level
        if top == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        roots_at = {lv: np.array([r for rl, r in ix.roots if rl == lv], dtype=np.int64) for lv in range(1, top + 1)}
        rows = roots_at[top]
        scores = cluster_scores(top, rows) if len(rows) else np.zeros(0, dtype=np.float32)
        rows, scores = self._keep(top, rows, scores)
        for lv in range(top - 1, 0, -1):
            up = ix.levels[lv + 1]
            kids = child_rows(up.start[rows], up.end[rows]) if len(rows) else np.zeros(0, dtype=np.int64)
            parent_s = np.repeat(scores, up.end[rows] - up.start[rows]) if len(rows) else np.zeros(0, np.float32)
            extra = roots_at.get(lv, np.zeros(0, dtype=np.int64))
            kids = np.concatenate([kids, extra])
            parent_s = np.concatenate([parent_s, np.zeros(len(extra), dtype=np.float32)])
            if not len(kids):
                rows, scores = kids, parent_s
                continue
            s = cluster_scores(lv, kids) + cfg.w_parent * parent_s
            rows, scores = self._keep(lv, kids, s)
        return rows, scores

    def _keep(self, lv: int, rows: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        width = self.config.beam[min(lv, 3) - 1] if lv <= 3 else len(rows)
        if len(rows) <= width:
            return rows, scores
        part = np.argpartition(-scores, width - 1)[:width]
        return rows[part], scores[part]

    # ------------------------------------------------------------------ other kinds of questions
    def _global(self, q: QueryAnalysis, k: int, res: RetrievalResult) -> RetrievalResult:
        ix = self.index
        res.facts = global_facts(ix, q)
        qv = self.query_vector(q) if q.text else None
        hits = []
        for lv in sorted({max(ix.top_level, 4), 4, 3}, reverse=True):
            L = ix.levels.get(lv)
            if L is None:
                continue
            for r in range(len(L)):
                if L.leaf_end[r] > L.leaf_start[r]:
                    hits.append(self.cluster_hit(lv, r, 1.0 + 0.1 * lv))
        L2 = ix.levels.get(2)
        if L2 is not None and len(L2):
            want = q.room or (q.count_of if q.count_of in ix.room_code or q.count_of in L2.room_type else "")
            rows = np.array([r for r in range(len(L2)) if L2.leaf_end[r] > L2.leaf_start[r]], dtype=np.int64)
            sim = (L2.summary[rows] @ qv) if qv is not None and len(rows) else np.zeros(len(rows), np.float32)
            wanted = np.array([bool(want) and L2.room_type[r] == want for r in rows], dtype=bool)
            order = np.argsort(-sim, kind="stable")
            first = [self.cluster_hit(2, int(rows[i]), 1.0 + float(sim[i])) for i in order if wanted[i]]
            rest = [self.cluster_hit(2, int(rows[i]), float(sim[i])) for i in order if not wanted[i]]
            hits = first + hits + rest
        res.hits = hits[:max(k, 1)]
        return res

    def _order_by_time(self, q: QueryAnalysis, k: int, res: RetrievalResult) -> RetrievalResult:
        ix = self.index
        rows = np.nonzero(ix.is_object)[0]
        if not len(rows):
            rows = np.arange(len(ix))
        if q.temporal == "first":
            order = np.lexsort((rows, ix.t_first[rows], ix.step_first[rows]))
            t = ix.t_first[rows]
            score = 1.0 - (t - t.min()) / (float(np.ptp(t)) or 1.0)
        else:
            order = np.lexsort((rows, -ix.t_last[rows], -ix.step_last[rows]))
            t = ix.t_last[rows]
            score = 1.0 - (t.max() - t) / (float(np.ptp(t)) or 1.0)
        res.hits = [self.leaf_hit(int(rows[i]), float(score[i])) for i in order[:k]]
        return res

    def _rooms(self, q: QueryAnalysis, k: int, res: RetrievalResult) -> RetrievalResult:
        ix = self.index
        L2 = ix.levels.get(2)
        rows = [r for r in range(len(L2)) if L2.room_type[r] == q.target_room] if L2 is not None else []
        if not rows:
            res.notes.append(f"no room of type {q.target_room!r} in the memory")
            return self._descend(replace(q, room=q.target_room), k, None, res)
        qv = self.query_vector(q)
        arr = np.array(rows, dtype=np.int64)
        s = 1.0 + (L2.summary[arr] @ qv if qv is not None else np.zeros(len(arr), np.float32))
        res.hits = [self.cluster_hit(2, int(arr[i]), float(s[i])) for i in np.argsort(-s, kind="stable")[:k]]
        return res

    def _relational(self, q: QueryAnalysis, k: int, robot: RobotPose | None,
                    res: RetrievalResult) -> RetrievalResult:
        ix, cfg = self.index, self.config
        anchor_codes = ix.labels_matching(q.anchor_labels)
        anchors = np.nonzero(np.isin(ix.label, anchor_codes))[0] if len(anchor_codes) else np.zeros(0, np.int64)
        if not len(anchors):
            res.notes.append(f"no {q.anchor} in the memory")
            if q.target:
                return self._descend(q, k, robot, res)
            return res
        a_quality = 1.0 + leaf_match(ix, q, cfg, anchors, labels=q.anchor_labels, colour=q.anchor_colour,
                                     material=q.anchor_material) - cfg.w_label
        if q.target_labels:
            codes = ix.labels_matching(q.target_labels)
            cands = np.nonzero(np.isin(ix.label, codes))[0] if len(codes) else np.zeros(0, np.int64)
            if not len(cands):
                res.notes.append(f"no {q.target} in the memory")
                return self._descend(q, k, robot, res)
        else:
            near = set()
            for a in anchors.tolist():
                near.update(b for b, _ in ix.relations.get(a, ()))
            d = _xy_dist(ix, np.nonzero(ix.is_object)[0], anchors)
            near.update(np.nonzero(ix.is_object)[0][d.min(axis=1) <= 1.5].tolist())
            cands = np.array(sorted(near - set(anchors.tolist())), dtype=np.int64)
            if not len(cands):
                return res
        aset = {int(a): float(qa) for a, qa in zip(anchors, a_quality, strict=True)}
        rel = np.zeros(len(cands), dtype=np.float32)
        for i, t in enumerate(cands.tolist()):
            best = 0.0
            for b, kind in ix.relations.get(t, ()):
                if b in aset:
                    w = 1.0 if kind == q.relation else 0.7 if kind in _COMPATIBLE.get(q.relation, ()) else 0.0
                    best = max(best, w * aset[b])
            rel[i] = best
        geo = _geometric(ix, cands, anchors, q.relation) * np.asarray(a_quality, dtype=np.float32)[None, :]
        rel = np.maximum(rel, geo.max(axis=1) if geo.size else 0.0)
        qv = self.query_vector(q, self._focus(q)) if q.target else None
        scores = cfg.w_relation * rel
        if qv is not None:
            scores = scores + ix.vec[cands] @ qv
        scores += leaf_match(ix, q, cfg, cands) + self.spatial_prior(cands, robot)
        res.hits = self.top_leaf_hits(cands, scores.astype(np.float32), k)
        return res


def child_rows(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(start[i], end[i])``."""
    lengths = end - start
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(start - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + offsets


def _xy_dist(ix: RetrievalIndex, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    pa, pb = ix.pos[a, :2], ix.pos[b, :2]
    d = np.linalg.norm(pa[:, None, :] - pb[None, :, :], axis=2)
    return d + 50.0 * (ix.floor[a][:, None] != ix.floor[b][None, :])


def _geometric(ix: RetrievalIndex, cands: np.ndarray, anchors: np.ndarray, relation: str) -> np.ndarray:
    """Relation evidence from positions alone (memories without relation edges): (cands, anchors)."""
    d = _xy_dist(ix, cands, anchors)
    dz = ix.pos[cands, 2][:, None] - ix.pos[anchors, 2][None, :]
    if relation in ("on", "above"):
        return np.where((d < 0.6) & (dz > 0.05), 0.6, 0.2 * np.exp(-d)).astype(np.float32)
    if relation == "under":
        return np.where((d < 0.6) & (dz < -0.05), 0.6, 0.2 * np.exp(-d)).astype(np.float32)
    scale = 1.5 if relation in ("left_of", "right_of") else 1.0
    return (0.6 * np.exp(-d / scale)).astype(np.float32)


RETRIEVERS.register("forest", ForestRetriever)
