"""Repairs of the semantic forest when new knowledge arrives (mixed into ``SemanticForest``).

A new room segmentation can show that leaves grouped together sit in different rooms: the
repair re-reads every leaf's region, splits areas that straddle regions and regroups areas
into rooms, keeping room ids where most of a region's leaves already are. Only what changed
moves. Empty clusters are pruned bottom-up.
"""
from __future__ import annotations

from collections import Counter

AREA, ROOM, FLOOR, SITE = 1, 2, 3, 4


class RepairMixin:
    """Methods of ``SemanticForest`` that repair and prune the tree (they use its private state)."""

    def _reassign_all(self) -> int:
        moved = 0
        for lid in list(self._leaves):
            leaf = self._leaves[lid]
            cur = self._clusters[self._leaf_parent[lid]]
            region = self._leaf_region.get(lid)
            best = self._best_area(leaf, region, exclude=cur.id)
            if best is None:
                continue
            cur_d = self._area_distance(leaf, cur)
            if self._area_distance(leaf, best) + 0.05 < cur_d:
                self._detach_leaf(leaf, cur)
                self._attach_leaf(leaf, best)
                moved += 1
        return moved

    def _repair_regions(self) -> tuple[int, int]:
        """Re-read every leaf's region; split areas across regions; regroup areas into rooms."""
        moved_leaves = 0
        for lid, leaf in self._leaves.items():
            self._leaf_region[lid] = self._region_for(leaf.position, leaf.floor)
        for area in [c for c in self._clusters.values() if c.level == AREA]:
            votes = Counter(self._leaf_region[lid] for lid in area.children if self._leaf_region[lid] is not None)
            major = votes.most_common(1)[0][0] if votes else None
            area.region = major
            if major is None:
                continue
            for lid in [lid for lid in area.children
                        if self._leaf_region[lid] is not None and self._leaf_region[lid] != major]:
                leaf = self._leaves[lid]
                self._detach_leaf(leaf, area)
                self._leaf_parent.pop(lid, None)
                del self._leaves[lid]
                self.insert(leaf)
                moved_leaves += 1
        # regions -> rooms, keeping room ids where most of a region's leaves already are
        areas_by_region: dict[int, list] = {}
        for a in self._clusters.values():
            if a.level == AREA and a.region is not None and a.n > 0:
                areas_by_region.setdefault(a.region, []).append(a)
        claims: list[tuple[int, int, str]] = []  # (leaves, region, room id)
        for region, areas in areas_by_region.items():
            per_room = Counter()
            for a in areas:
                if a.parent is not None:
                    per_room[a.parent] += a.n
            for rid, n in per_room.items():
                claims.append((n, region, rid))
        claims.sort(key=lambda t: (-t[0], t[1], t[2]))
        new_map: dict[int, str] = {}
        taken: set[str] = set()
        for _n, region, rid in claims:
            if region in new_map or rid in taken:
                continue
            new_map[region] = rid
            taken.add(rid)
        moved_areas = 0
        for region in sorted(areas_by_region):
            if region not in new_map:
                room = self._new_cluster(ROOM, areas_by_region[region][0].floor)
                new_map[region] = room.id
            room = self._clusters[new_map[region]]
            room.region = region
            for a in areas_by_region[region]:
                if a.parent != room.id:
                    self._attach_area(a, room)
                    moved_areas += 1
            if room.parent is None:
                self._link(room, self._floor_for(room.floor))
        for c in self._clusters.values():
            if c.level == ROOM and c.id not in taken and c.id not in new_map.values():
                c.region = None
        self._room_of_region = new_map
        return moved_leaves, moved_areas

    def _prune(self) -> list[str]:
        removed = []
        for level in (AREA, ROOM, FLOOR, SITE):
            for c in [c for c in self._clusters.values() if c.level == level and not c.children]:
                self._unlink(c)
                self._index(c, remove=True)
                del self._clusters[c.id]
                self._dirty.discard(c.id)
                removed.append(c.id)
                if level == FLOOR:
                    self._floor_cluster.pop(c.floor, None)
                if level == SITE:
                    self._root = None
        self._room_of_region = {r: rid for r, rid in self._room_of_region.items() if rid in self._clusters}
        return removed
