"""The robot acting in a world: the exploration loop, driving to a remembered goal, and its own occupancy map.

``exploration`` runs a driving policy step by step and feeds the memory; ``navigation`` plans on the robot's own
map, follows and replans; ``occupancy`` keeps that map in the memory file for a later session.
"""
