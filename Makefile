# sealocr — see README.md. `make run` and `make test` are the two commands.
GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
export SEALOCR_CACHE ?= $(HOME)/.cache/sealocr

.PHONY: all models testdeps build run test vet lint gotest bench bench-gutenye bench-docs gutenye images kube-binaries kube-test fmt clean

all: build

## models: fetch the pinned models and ONNX Runtime into $(SEALOCR_CACHE), checksums verified (no-op when present)
models:
	@$(GO) run ./models/cmd/fetchmodels --dir "$(SEALOCR_CACHE)"

STATE     := $(or $(SEALOCR_STATE_DIR),$(HOME)/.local/state/sealocr)

## build: compile the binaries into bin/ (the sidecar and sealctl without cgo)
build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/core ./core/cmd/core
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/sidecar ./sidecar/cmd/sidecar
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/sealctl ./sidecar/cmd/sealctl

## run: fetch models if missing, build, start core (127.0.0.1:8081) and sidecar (https://127.0.0.1:8443) with
## the local profile (rate limits that fit one person's batch; production keeps the defaults, see README)
run: models build
	@core=; sidecar=; \
	stop() { trap - INT TERM; kill $$core $$sidecar 2>/dev/null; wait; }; \
	trap 'stop; exit 0' INT TERM; \
	coreaddr=$${SEALOCR_CORE_LISTEN:-127.0.0.1:8081}; addr=$${SEALOCR_LISTEN:-127.0.0.1:8443}; \
	coremetrics=$${SEALOCR_CORE_METRICS_LISTEN:-127.0.0.1:9091}; metrics=$${SEALOCR_METRICS_LISTEN:-127.0.0.1:9443}; \
	if ./$(BIN)/core healthcheck >/dev/null 2>&1; then \
	  echo "make run: $$coreaddr already answers as a sealocr core: another 'make run' is running (stop it, or set SEALOCR_CORE_LISTEN)" >&2; exit 1; fi; \
	./$(BIN)/core & core=$$!; \
	i=0; until kill -0 $$core 2>/dev/null && ./$(BIN)/core healthcheck >/dev/null 2>&1; do \
	  if ! kill -0 $$core 2>/dev/null; then wait $$core; \
	    echo "make run: the core exited (its error is above; is $$coreaddr or its metrics port $$coremetrics in use?)" >&2; exit 1; fi; \
	  i=$$((i+1)); if [ $$i -ge 240 ]; then echo "make run: the core did not become ready in 120 s" >&2; stop; exit 1; fi; \
	  sleep 0.5; \
	done; \
	if [ -f "$(STATE)/ca.pem" ] && ./$(BIN)/sealctl keys --timeout 3s --server "https://$$addr" --ca "$(STATE)/ca.pem" >/dev/null 2>&1; then \
	  echo "make run: https://$$addr already answers as a sealocr sidecar: another 'make run' is running (stop it, or set SEALOCR_LISTEN)" >&2; stop; exit 1; fi; \
	SEALOCR_RATE_LIMIT=$${SEALOCR_RATE_LIMIT:-6000/m} SEALOCR_RATE_LIMIT_BURST=$${SEALOCR_RATE_LIMIT_BURST:-1000} \
	  SEALOCR_UPSTREAM=$${SEALOCR_UPSTREAM:-http://$$coreaddr} ./$(BIN)/sidecar & sidecar=$$!; \
	i=0; until kill -0 $$sidecar 2>/dev/null && [ -f "$(STATE)/ca.pem" ] && \
	    ./$(BIN)/sealctl keys --timeout 3s --server "https://$$addr" --ca "$(STATE)/ca.pem" >/dev/null 2>&1; do \
	  if ! kill -0 $$sidecar 2>/dev/null; then wait $$sidecar; \
	    echo "make run: the sidecar exited (its error is above; is $$addr or its metrics port $$metrics in use?)" >&2; stop; exit 1; fi; \
	  i=$$((i+1)); if [ $$i -ge 60 ]; then echo "make run: the sidecar did not answer in 30 s" >&2; stop; exit 1; fi; \
	  sleep 0.5; \
	done; \
	sleep 0.5; \
	for p in $$core $$sidecar; do kill -0 $$p 2>/dev/null || { echo "make run: a process exited right after starting (see above)" >&2; stop; exit 1; }; done; \
	echo ""; \
	echo "sealocr is running. OCR a sample image through the encrypted path:"; \
	echo "  ./$(BIN)/sealctl ocr --server https://$$addr --ca $(STATE)/ca.pem --keys $(STATE)/keys.yaml core/testdata/ocr/paddleocr/pages/11.jpg"; \
	echo "or open the WebUI: https://$$addr/ (trust $(STATE)/ca.pem; see README, Open the WebUI)"; \
	echo "Local profile: rate limit $${SEALOCR_RATE_LIMIT:-6000/m}, burst $${SEALOCR_RATE_LIMIT_BURST:-1000} (production default 60/m, 60)."; \
	echo "Press Ctrl-C to stop."; \
	wait

## testdeps: install what the tests' real outside parts need, where missing (pebble, chromium, pycryptodome, npm ci)
testdeps:
	@./.ci/testdeps.sh

## test: vet, staticcheck and the race-enabled test suite (fetches the models and test dependencies first)
test: models testdeps vet lint gotest

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted" >&2; exit 1; fi
	$(GO) vet ./...

lint:
	$(GO) tool staticcheck ./...

gotest:
	$(GO) test -race -count=1 -timeout 45m ./...

## bench: print the figures: OCR latency per page and line, lines/s with and without batching, pipeline
## overhead against raw ONNX Runtime time; sidecar overhead per request (in process, beside TLS termination alone
## and a TLS proxy without envelope; then through a real sidecar process over HTTP/1.1 and HTTP/2); PSK seal/open
## MB/s per suite (AES-256-GCM beside SM4-GCM) at 1 KiB, 100 KiB and 1 MiB next to raw AES-256-GCM and SM4-GCM;
## the sidecar against caddy as a TLS reverse proxy (added latency, client CPU); Redis request-check latency
## (replay + rate limit, loopback); requests/s of one sidecar in memory, one on Redis, three on one Redis;
## searchable PDF and hOCR writers (bytes and time per page); then bench-gutenye and bench-docs
bench: models
	$(GO) test -run '^$$' -bench . -benchtime 10x -count 1 ./core/internal/pipeline/
	$(GO) test -run '^$$' -bench Soak -benchtime 500x -count 1 ./core/internal/httpapi/
	$(GO) test -run '^$$' -bench SidecarOverhead -benchtime 200x -count 1 ./sidecar/internal/gateway/
	$(GO) test -run '^$$' -bench EncryptedPath -benchtime 200x -count 1 ./sidecar/cmd/sidecar/
	$(GO) test -run '^$$' -bench AgainstCaddy -benchtime 200x -count 1 ./sidecar/cmd/sidecar/
	$(GO) test -run '^$$' -bench . -benchtime 1s -count 1 ./sidecar/internal/envelope/psk/
	$(GO) test -run '^$$' -bench RequestChecks -benchtime 5000x -count 1 ./sidecar/internal/redisstate/
	$(GO) test -run '^$$' -bench Replicas -benchtime 2000x -count 1 ./sidecar/cmd/sidecar/
	$(GO) test -run '^$$' -bench . -benchtime 10x -count 1 ./core/internal/render/
	@$(MAKE) --no-print-directory bench-gutenye
	@$(MAKE) --no-print-directory bench-docs

## bench-docs: the core against ocrmypdf 14 (-l chi_sim+eng --rotate-pages --force-ocr) on generated multi-page
## scanned PDFs (5 documents x 4 pages, one page upside down and one turned 90 degrees in each; BENCH_PDF_DOCUMENTS,
## BENCH_PDF_PAGES), each tool with the same CPU threads: pages per minute and CER of pdftotext on both outputs
bench-docs: models testdeps
	$(GO) run ./core/bench/docbench -documents $(or $(BENCH_PDF_DOCUMENTS),5) -pages $(or $(BENCH_PDF_PAGES),4)

## bench-gutenye: core against the pinned @gutenye/ocr-node on one generated set (20 receipts/invoices, 200 lines;
## 10 English invoices, 200 English lines, with Tesseract 5 eng --psm 7 beside them on the lines), one run on this
## machine: per-document median of both and their ratio, CER (spaces kept/removed), exact lines; pages turned by
## 90/180/270 degrees (angle found, reading-order CER)
bench-gutenye: models testdeps gutenye
	$(GO) run ./core/bench/ocrbench -documents $(or $(BENCH_DOCUMENTS),20) -lines $(or $(BENCH_LINES),200) \
	  -english-documents $(or $(BENCH_EN_DOCUMENTS),10) -english-lines $(or $(BENCH_EN_LINES),200)

# gutenye: install the pinned peer from its lockfile (offline-safe: onnxruntime-node's postinstall would fetch
# CUDA libraries from NuGet on linux/x64; ONNXRUNTIME_NODE_INSTALL=skip keeps the CPU binary the package ships)
gutenye:
	@if [ ! -d core/bench/gutenye/node_modules/@gutenye/ocr-node ] || [ core/bench/gutenye/package-lock.json -nt core/bench/gutenye/node_modules/.package-lock.json ]; then \
	  cd core/bench/gutenye && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error; \
	fi

## images: build Dockerfile.core and Dockerfile.sidecar with podman (root, no Docker engine) and smoke-run them
images:
	VERSION=$(VERSION) ./.ci/images.sh

## kube-binaries: build etcd, kube-apiserver and kube-controller-manager from the Go module proxy into
## $(SEALOCR_CACHE)/kube/<version> (cold: ~13 min and ~2.5 GB RAM on 2 cores; reused afterwards)
kube-binaries:
	@./charts/kube/build-control-plane.sh >/dev/null

## kube-test: the chart against a real control plane (not part of `make test`): install, upgrade, helm test and
## uninstall with every values file in a PodSecurity "restricted" namespace; see README.md, Development
kube-test:
	@bin=$$(./charts/kube/build-control-plane.sh) && \
	$(GO) vet -tags kubetest ./charts/ && \
	$(GO) tool staticcheck -tags kubetest ./charts/ && \
	SEALOCR_KUBE_BIN="$$bin" $(GO) test -tags kubetest -count=1 -timeout 20m -run '^TestKube$$' -v ./charts/

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)
