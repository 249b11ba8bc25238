# Set-up and entry points. Every target installs the Debian packages it needs when they are missing,
# so `make demo` and `make test` work on a fresh machine (root, or sudo available).

SWIFT ?= swift
DEB_PACKAGES := libopenblas-dev liblapacke-dev pkg-config libpng-dev libjpeg62-turbo-dev
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps demo test test-release bench goldens python-deps docs examples clean

## Install the system libraries (OpenBLAS, LAPACKE, libpng, libjpeg-turbo) if any is missing.
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

## Build the mgm tool in release mode and run the demo.
demo: deps
	$(SWIFT) build -c release --product mgm
	./Scripts/demo.sh "$$($(SWIFT) build -c release --show-bin-path)/mgm"

## Build and run the whole test suite (debug build, as CI does).
test: deps
	$(SWIFT) test

## The suite in release mode, with @testable imports enabled (real-size checks run faster).
test-release: deps
	$(SWIFT) test -c release -Xswiftc -enable-testing

## Benchmarks against PyTorch on the same machine, same run (needs `make python-deps`).
bench: deps
	$(SWIFT) build -c release --product MGTensorBenchmarks
	"$$($(SWIFT) build -c release --show-bin-path)/MGTensorBenchmarks"

## Python tooling (torch, transformers, diffusers, …) pinned in Tools/requirements.txt: the references,
## the diffusers image backend and its integration test.
python-deps:
	$(PYTHON) -m pip install -q -r Tools/requirements.txt

## Regenerate every golden fixture deterministically.
goldens:
	HF_HUB_OFFLINE=1 $(PYTHON) Tools/make_goldens.py

## DocC documentation for every library target, as one combined archive in .build/docs/MiniGemini
## (targets link to their dependencies' pages with absolute links such as ``/MGTensor/Tensor``).
## Any DocC warning (broken link, undocumented parameter, …) fails the target.
DOC_TARGETS := MGTensor MGVision MGMining MGLanguage MGPipeline
docs:
	mkdir -p .build/docs
	$(SWIFT) package --allow-writing-to-directory .build/docs generate-documentation \
	  $(foreach t,$(DOC_TARGETS),--target $(t)) --enable-experimental-combined-documentation \
	  --output-path .build/docs/MiniGemini --disable-indexing --warnings-as-errors

## The downstream example package Examples/PhotoQA (it depends on this one by path, with its own
## .build): builds it and runs both executables on the bundled model. Each checks its answers and
## exits non-zero on a wrong one.
examples: deps
	cd Examples/PhotoQA && $(SWIFT) build
	cd Examples/PhotoQA && "$$($(SWIFT) build --show-bin-path)/PhotoQA"
	cd Examples/PhotoQA && "$$($(SWIFT) build --show-bin-path)/ComposeLayers"

clean:
	$(SWIFT) package clean

## Fuzz every parser of untrusted input for FUZZ_SECONDS each (libFuzzer + ASan; see Fuzz/README.md).
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./Fuzz/run.sh

## `mgm serve` end to end (Tools/server): the official openai client, the web page in headless
## Chromium, two replicas behind nginx. Installs chromium, chromium-driver and nginx (Debian) and
## the pinned Python packages when missing; reuses the debug build of mgm.
SERVER_DEB_PACKAGES := chromium chromium-driver nginx
.PHONY: test-server
test-server: deps
	@missing=""; for p in $(SERVER_DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	$(PYTHON) -m pip install -q -r Tools/server/requirements.txt
	# The same build as `make test` (with tests), so after it this is a no-op rather than a rebuild.
	$(SWIFT) build --build-tests
	MGM="$$($(SWIFT) build --show-bin-path)/mgm" HF_HUB_OFFLINE=1 timeout 1200 $(PYTHON) -m pytest -q -p no:cacheprovider Tools/server
