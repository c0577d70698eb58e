"""Regions: several cities run as partitions of one run, exchanging what is national.

Core objects:
    :class:`~sclab.region.schema.Region`: a region file (cities, the world they run, the
        national policies, the links across cities).
    :func:`~sclab.region.cities.city_scenarios`: each city as an ordinary scenario with its
        :class:`~sclab.scenario.schema.CityKey`.
    :func:`~sclab.region.links.represented_elsewhere`: which companies of each city have
        their legal representative in another city.
"""
