"""The world: sources of true acts (ground truth) and resource moments.

Each module registers its sources with the engine (``@register("sources", name, Params)``);
importing this package registers them all, so scenarios can name them. See
:mod:`sclab.world.base` for the conventions every source follows.
"""

from sclab.world import (  # noqa: F401
    company_conduct,
    payments,
    resources,
    social_media,
    state_data,
    streets,
)
