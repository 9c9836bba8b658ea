# poolbench: `make install` then `make test`.
PYTHON ?= python
PIP ?= $(PYTHON) -m pip
# A pinned CPU torch that pip takes from this machine's disk; a looser spec can
# pull a multi-GB CUDA build. Override on GPU machines: make install TORCH=torch==2.13.0
TORCH ?= torch==2.13.0
export POOLBENCH_DATA_MIRROR ?= $(abspath ../shared/datasets)

.PHONY: install install-reference test test-slow lint train-example

install:
	$(PIP) install $(TORCH)
	$(PIP) install -e ".[dev]"

# The reference library tgp needs torch-scatter compiled against the installed
# torch (about 6 minutes on 2 cores).
install-reference:
	$(PYTHON) -c "import torch_scatter" 2>/dev/null || \
		$(PIP) install --no-build-isolation torch-scatter
	$(PIP) install -e ".[dev,reference]"

test:
	OMP_NUM_THREADS=1 $(PYTHON) -m pytest -q

lint:
	$(PYTHON) -m ruff check poolbench tests scripts

train-example:
	poolbench train pooler=mincut dataset=mutag
