# poolbench: `make install` then `make test`.
PYTHON ?= python
PIP ?= $(PYTHON) -m pip
# A pinned CPU torch that pip takes from this machine's disk; a looser spec can
# pull a multi-GB CUDA build. On a GPU machine install the torch build you want
# first and run `make install TORCH=` (empty) so it is left alone.
TORCH ?= torch==2.13.0
export POOLBENCH_DATA_MIRROR ?= $(abspath ../shared/datasets)

.PHONY: install install-reference test readme readme-figures lint check-wheel train-example bench-smoke bench-synthetic bench-tu bench-regression bench-node bench-community table bench bench-parallel bench-scaling
.PHONY: slurm-start slurm-stop
.PHONY: eval-expressiveness eval-autoencoder eval-spectral eval-all catalogue catalogue-costs

install:
	$(if $(TORCH),$(PIP) install $(TORCH))
	$(PIP) install -e ".[dev,chem]"

# The reference library tgp needs torch-scatter compiled against the installed
# torch (about 6 minutes on 2 cores).
install-reference:
	$(PYTHON) -c "import torch_scatter" 2>/dev/null || { \
		$(PIP) install "setuptools>=70" wheel && \
		$(PIP) install --no-build-isolation torch-scatter; }
	$(PIP) install -e ".[dev,chem,reference]"

# Two pytest workers, one thread each: most of the suite waits on CLI
# subprocesses importing torch, so two run side by side on 2 cores (8 minutes
# against 14 serially). Each test file stays on one worker (--dist loadfile).
# TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= 2
test:
	OMP_NUM_THREADS=1 $(PYTHON) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# The README's measured figures: `readme` renders them from docs/figures/,
# `readme-figures` reruns every command first (minutes; a quiet machine).
readme:
	$(PYTHON) scripts/readme_figures.py

readme-figures:
	$(PYTHON) scripts/readme_figures.py --measure

# The wheel outside the repository: fresh venv, one-epoch run elsewhere (CI).
check-wheel:
	bash scripts/check_wheel.sh

# A one-node Slurm cluster on this machine (as root) for the Slurm tests and
# for trying hydra/launcher=slurm: scripts/slurm-local --help.
slurm-start:
	scripts/slurm-local start

slurm-stop:
	scripts/slurm-local stop

lint:
	$(PYTHON) -m ruff check poolbench tests scripts

train-example:
	poolbench train pooler=mincut dataset=mutag

# Speed and memory (README, Performance). Timings depend on what else runs.
bench:
	poolbench bench

bench-parallel:
	poolbench bench --parallel

# Cost vs N for every pooler: docs/scaling/scaling.{csv,png}, a few minutes.
bench-scaling:
	OMP_NUM_THREADS=1 poolbench bench --scaling --out docs/scaling

# Benchmarks: each prints its jobs and run count, shows progress, resumes when
# rerun, and ends with the table. BENCH_ARGS adds options or overrides, e.g.
# make bench-tu BENCH_ARGS="--jobs 8 trainer.threads=1"
BENCH_ARGS ?=
bench-smoke:
	$(PYTHON) scripts/bench.py smoke $(BENCH_ARGS)

bench-synthetic:
	$(PYTHON) scripts/bench.py synthetic $(BENCH_ARGS)

bench-tu:
	$(PYTHON) scripts/bench.py tu $(BENCH_ARGS)

bench-regression:
	$(PYTHON) scripts/bench.py regression $(BENCH_ARGS)

bench-node:
	$(PYTHON) scripts/bench.py node $(BENCH_ARGS)

bench-community:
	$(PYTHON) scripts/bench.py community $(BENCH_ARGS)

# Tables and figures from results/; TABLE_ARGS filters, e.g. TABLE_ARGS="dataset=mutag"
TABLE_ARGS ?=
table:
	$(PYTHON) -m poolbench table $(TABLE_ARGS)

# Pooling-quality evaluations over every registered pooler; each prints its
# table, appends rows to results/evaluations.csv and draws results/figures/.
# EVAL_ARGS narrows or changes them, e.g. EVAL_ARGS="pooler=mincut,topk".
EVAL_ARGS ?=
eval-expressiveness:
	$(PYTHON) -m poolbench eval expressiveness $(EVAL_ARGS)
eval-autoencoder:
	$(PYTHON) -m poolbench eval autoencoder $(EVAL_ARGS)
eval-spectral:
	$(PYTHON) -m poolbench eval spectral $(EVAL_ARGS)
eval-all: eval-expressiveness eval-autoencoder eval-spectral

# The pooler catalogue docs/poolers.md, from the registry and the measured costs
# in docs/pooler_costs.csv (tests/test_catalogue.py checks it is current).
catalogue:
	$(PYTHON) scripts/catalogue.py

# Re-measure those costs (poolbench bench's timing of the training path) on
# MUTAG and PROTEINS (a few minutes),
# then regenerate the catalogue. CATALOGUE_ARGS="--poolers sep,nmf" narrows it.
CATALOGUE_ARGS ?=
catalogue-costs:
	OMP_NUM_THREADS=1 $(PYTHON) scripts/catalogue.py --measure $(CATALOGUE_ARGS)
