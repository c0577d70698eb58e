"""``docs/legal.md``, generated from the clauses and the built-in packs' verdicts.

Core objects:
    :func:`markdown`: the whole page, from :data:`~sclab.legal.clauses.CLAUSES` and the
        verdicts of the policies given (``make docs`` passes the built-in packs and the
        catalogue of sclab's own components; a test keeps the file equal to it).
"""

from __future__ import annotations

from collections.abc import Iterable

from sclab.engine.catalogue import Catalogue
from sclab.legal import COLUMNS, Verdict, assess
from sclab.legal.clauses import CLAUSES, MINOR_CONDUCT, RELATED_CONTEXTS, VERDICTS
from sclab.policy.schema import Policy

INTRO = """\
# The law, rule by rule

`sclab check-policy FILE|PACK` (and `sclab.legal.assess_run` for the policies recorded
in a run, the `law_verdicts` table) reads every rule, points delta (on recorded events,
or on another system's list) and joint measure of a policy against the clauses below
and gives, for each, a verdict and its reason in one sentence. Generated from the code
(`make docs`).

Verdicts are findings about a design, not errors: a valid policy exits 0 whatever they
say. sclab's policies run in no jurisdiction; reading them against EU law is a benchmark
(what the same design would meet if it were put into service in the Union), and reading
them against China's own documents asks whether a system keeps the rules its own
government set. Nothing here is legal advice: each clause says what sclab cannot know.

## Command line

```
sclab check-policy nanjing                       # tables: a matrix, then the reasons
sclab check-policy my-policy.yaml --json         # every verdict as JSON
sclab check-policy composite --fail-on prohibited
```

Exit codes: `0` the policy is valid (whatever the verdicts); `1` it is valid but a
verdict is as serious as `--fail-on` (`prohibited`, or `needs-review`, which includes
`prohibited`); `2` it is not valid (one line: file, line, field, what was expected).

## The `law_verdicts` table

`sclab.legal.assess_run(con)` reads a run's `policies` (the YAML texts compiled) and
`kinds` (the run's own catalogue) and returns one row per rule × clause:

{columns}

## What a policy states

Three optional fields feed the verdicts. The simulation never reads them: they change
no result. Missing means "not stated", and a verdict that turns on a fact not stated
says `needs review`, never `permitted`: stating less can never make a policy look more
lawful.

- `purpose` (policy): `law_enforcement`, `judicial_enforcement`, `administration` or
  `commercial`: what the policy is for, as its operator states it.
- `legal_basis` (policy, rule, joint measure): the law or regulation it rests on, cited
  in one string; a rule's or measure's own wins over the policy's.
- `human_review` (policy, rule, joint measure): `none` (solely automated, no route to a
  person), `on_objection` (a person looks when the entity objects) or `before` (a person
  reviews each decision before it takes effect); a rule's or measure's own wins.

The built-in packs fill them in from their sources, and only there: where no basis is
published, the field is left out and a comment in the pack says why.

## What each rule decides

The rows of the tables are a policy's rules, points deltas (by their rule id; a points
score's `list_deltas` among them) and joint measures. For each, sclab follows the
policy's own references to what it rests on and what it reaches:

- **Rests on**: the recorded event kinds of its condition (directly, through a counter,
  or through a score and its grades); for a joint measure, what puts entities on its
  list, or what its score rests on. A points delta for an entry on another system's list
  (`list_deltas`) rests on what puts entities on that list: the publishing policy's
  listing rules (the policies checked or run together, else the built-in packs); a list
  none of them publishes has unknown facts, so its verdicts need review. A factor score
  rests on every input: event kinds, platform and post totals, citizen attributes
  (context `characteristics`, except the income decile: `finance`) and the scores of
  one's ties (context `relationships`). The facts of each kind (domain, lawful,
  biometric, real-time) come from the catalogue (`docs/catalogue.md`; a run's own, in
  `assess_run`).
- **Effects**: a rule's sanctions, the lists it enters and the joint measures on those
  lists (a listing means its measures), and score changes. A score change is one
  contribution among many: the measures on a score and its grades are judged on their
  own rows, with everything the score rests on.
- **Contexts reached**: the catalogue domains of the resource moments that its effects
  block or price up.
- **Detrimental** effects: blocked, priced up, public display, downgrade, warning,
  blacklisting, a score falling. **Significant** effects (GDPR Art. 22): blocked, priced
  up, public display, downgrade, blacklisting.
- **Natural persons** bear it when the records are a person's, or when a measure on a
  company reaches its legal representative.

Gravity (Assumption): the acts treated as minor conduct are {minor}. A jaywalk is
punished by a warning or a fine of 5 to 50 yuan (Road Traffic Safety Law, Art. 89); the
others are small fines or one overdue payment. Everything else that breaks a duty (a
loan default, a lost judgment, non-performance, tax arrears, a company's violations and
breaches) is not minor.

Related contexts for Art. 5(1)(c)(i): a domain is related to itself, and {related}.

## The clauses
"""


def _clause_section(i: int) -> str:
    c = CLAUSES[i]
    lines = [
        f"### {c.label}: {c.title}",
        "",
        f"`{c.id}`. {c.says}",
        "",
        f"Source: {c.citation}",
        "",
    ]
    lines += [f"- **{verdict}**: {how}." for verdict, how in c.decides]
    lines += ["", f"What sclab cannot know: {c.cannot_know}", ""]
    return "\n".join(lines)


def _pack_table(policy: Policy, verdicts: list[Verdict]) -> str:
    header = "| rule | " + " | ".join(c.label for c in CLAUSES) + " |"
    rule = "| --- |" + " --- |" * len(CLAUSES)
    rows: dict[str, dict[str, str]] = {}
    for v in verdicts:
        rows.setdefault(v.rule_id, {})[v.clause] = v.verdict
    body = [
        f"| `{r}` | " + " | ".join(cells[c.id] for c in CLAUSES) + " |" for r, cells in rows.items()
    ]
    return "\n".join([f"### `{policy.id}`: {policy.title}", "", header, rule, *body, ""])


def markdown(policies: Iterable[Policy], catalogue: Catalogue) -> str:
    """The page: how verdicts are decided, clause by clause, and the verdicts of
    ``policies`` (the built-in packs) against ``catalogue``."""
    minor = ", ".join(f"`{k}`" for k in sorted(MINOR_CONDUCT))
    related = "; ".join(f"`{a}` data may be used in `{b}`" for a, b in sorted(RELATED_CONTEXTS))
    columns = "\n".join(f"- `{name}`: {meaning}." for name, meaning in COLUMNS.items())
    related += " (a judgment or tax debt is money owed)"
    parts = [INTRO.format(minor=minor, related=related, columns=columns)]
    parts += [_clause_section(i) for i in range(len(CLAUSES))]
    parts.append(
        "## The built-in packs\n\n"
        "Each pack's rules against every clause (the reasons: `sclab check-policy PACK`). "
        f"Verdicts: {', '.join(VERDICTS)}.\n"
    )
    policies = list(policies)
    for p in policies:
        parts.append(_pack_table(p, assess(p, catalogue, policies)))
    return "\n".join(parts)
