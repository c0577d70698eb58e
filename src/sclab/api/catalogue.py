"""What sclab offers to run, and what the law says of a policy.

Core objects:
    :func:`scenarios`, :func:`packs`, :func:`pack_text`, :func:`components`: the built-in
        scenarios, policy packs (and one pack's YAML, to copy and edit) and components.
    :func:`check_policy` / :class:`PolicyCheck`: a policy file or pack validated against
        sclab's own components, and each of its rules' verdicts under each clause
        (docs/legal.md), as ``sclab check-policy`` prints them.

Cost: reading the packages' YAML files (a few milliseconds each) and, for a check, the
legal assessment of the policy's rules (no population, no run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sclab.legal import Verdict
    from sclab.policy.schema import Bundle, Policy

#: ``fail_on`` levels of :meth:`PolicyCheck.fails`: the verdicts that count at each.
FAIL_LEVELS = {"prohibited": ("prohibited",), "needs-review": ("prohibited", "needs review")}


def scenarios() -> dict[str, str]:
    """The built-in scenarios' names and one-line descriptions.

    Example:
        >>> import sclab
        >>> sorted(sclab.scenarios())
        ['demo', 'nanjing']
    """
    from sclab.scenario import builtin_scenarios

    return builtin_scenarios()


def packs() -> dict[str, str]:
    """The built-in policy packs' names and titles.

    Example:
        >>> import sclab
        >>> "rongcheng" in sclab.packs() and "composite" in sclab.packs()
        True
    """
    from sclab.policy.loader import builtin_packs

    return builtin_packs()


def pack_text(name: str) -> str:
    """A built-in pack's YAML: write it to a file, edit it, run it
    (``Scenario.with_policies(path)``).

    Raises:
        PolicyError: no such pack (the message lists them).

    Example:
        >>> import sclab
        >>> "id: nanjing" in sclab.pack_text("nanjing")
        True
    """
    from sclab.policy.loader import pack_text as text

    return text(name)


def components() -> dict[str, dict[str, str]]:
    """Stage → component name → what it does: every source, sensor, policy and
    behaviour a scenario can name.

    Example:
        >>> import sclab
        >>> "cameras" in sclab.components()["sensors"]
        True
    """
    from sclab.engine.registry import STAGES
    from sclab.run import load_builtin_components

    registry = load_builtin_components()
    return {
        stage: {name: registry.entry(stage, name).summary for name in registry.available(stage)}
        for stage in STAGES
    }


@dataclass(frozen=True)
class PolicyCheck:
    """A valid policy (or bundle of policies) and each rule's verdict under each clause.

    Attributes:
        name: The pack name or file checked.
        bundle: The bundle, when ``name`` is one.
        policies: The policies checked (a bundle's members).
        verdicts: One per rule or measure and clause (:class:`sclab.legal.Verdict`).
    """

    name: str
    bundle: Bundle | None
    policies: list[Policy]
    verdicts: list[Verdict]

    @property
    def worst(self) -> str | None:
        """The most serious verdict (``prohibited``, ``needs review``, ...)."""
        from sclab.legal import worst

        return worst(self.verdicts)

    def fails(self, fail_on: str) -> bool:
        """Whether a verdict is as serious as ``fail_on`` (``prohibited`` or
        ``needs-review``, which includes prohibited).

        Example:
            >>> import sclab
            >>> sclab.check_policy("nanjing").fails("needs-review")
            True
        """
        return self.worst in FAIL_LEVELS[fail_on]

    def to_json(self) -> dict[str, Any]:
        """Plain data (``sclab check-policy --json``).

        Example:
            >>> import sclab
            >>> sclab.check_policy("rongcheng").to_json()["policies"]
            ['rongcheng']
        """
        return {
            "policy": self.name,
            "valid": True,
            "policies": [p.id for p in self.policies],
            "verdicts": [v.as_dict() for v in self.verdicts],
        }


def check_policy(name_or_path: str) -> PolicyCheck:
    """Validate a policy file or pack (its kinds against sclab's own components) and
    assess each rule against the law.

    Raises:
        PolicyError: not valid (one line: file, line, field).

    Example:
        >>> import sclab
        >>> check = sclab.check_policy("nanjing")
        >>> [p.id for p in check.policies], check.worst
        (['nanjing'], 'prohibited')
    """
    from sclab.legal import assess
    from sclab.targets import builtin_catalogue, builtin_policies, load_checked_policies

    bundle, members = load_checked_policies(name_or_path)
    catalogue = builtin_catalogue()
    # Lists a policy reads: those of the policies checked together, else the built-in
    # packs' (as for the names it uses, and as `sclab run` adds them).
    ids = {p.id for p in members}
    others = [*members, *(b for b in builtin_policies() if b.id not in ids)]
    verdicts = [v for p in members for v in assess(p, catalogue, others)]
    return PolicyCheck(name_or_path, bundle, members, verdicts)
