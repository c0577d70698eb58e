# Two entry points for a fresh machine (python3, pip, make):
#   make demo   install, run the built-in default scenario with its twin (the same world
#               without policies), its audit and its report, say what to open
#   make test   install, then run the linters (ruff, the import contracts, mypy) and the tests
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install bench lint docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/sclab run demo --out runs/demo --force --twin none
	$(BIN)/sclab audit runs/demo
	$(BIN)/sclab report runs/demo
	@echo ""
	@echo "The report: $(CURDIR)/runs/demo/report.html (open it in a browser; it works offline, docs/report.md)"
	@echo "Next steps:"
	@echo "  open the report:     xdg-open runs/demo/report.html   (macOS: open runs/demo/report.html)"
	@echo '  query the database:  $(BIN)/python -c "import duckdb; duckdb.connect(\"runs/demo/audit.duckdb\", read_only=True).sql(\"FROM harm_by_class\").show()"'
	@echo "                       (the run's tables: runs/demo/run.duckdb, docs/database.md; the audit's: docs/audit.md)"
	@echo "  explain a person:    $(BIN)/sclab explain runs/demo --person ID"
	@echo "  compare:             $(BIN)/sclab compare runs/demo runs/demo/twin   (the effects, docs/effects.md;"
	@echo "                       the report's last section draws them: what the system changed)"

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/sclab bench

docs: $(STAMP)
	$(BIN)/python -c "from sclab.scenario.schema import markdown; open('docs/scenarios.md', 'w').write(markdown())"
	$(BIN)/python -c "from sclab.reference import database_markdown; open('docs/database.md', 'w').write(database_markdown())"
	$(BIN)/python -c "from sclab.engine.registry import markdown; from sclab.run import load_builtin_components; open('docs/components.md', 'w').write(markdown(load_builtin_components()))"
	$(BIN)/python -c "from sclab.engine.statearrays import markdown; from sclab.engine.simulation import ENGINE_STATE; from sclab.run import load_builtin_components; open('docs/state.md', 'w').write(markdown(ENGINE_STATE, load_builtin_components()))"
	$(BIN)/python -c "from sclab.engine.catalogue import markdown; from sclab.targets import builtin_catalogue; open('docs/catalogue.md', 'w').write(markdown(builtin_catalogue()))"
	$(BIN)/python -c "from sclab.legal.docs import markdown; from sclab.policy.loader import builtin_packs, is_bundle, load_policy; from sclab.targets import builtin_catalogue; open('docs/legal.md', 'w').write(markdown([load_policy(n) for n in builtin_packs() if not is_bundle(n)], builtin_catalogue()))"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/mypy

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache
