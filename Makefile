# sealocr — see README.md. `make run` and `make test` are the two commands.
GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
export SEALOCR_CACHE ?= $(HOME)/.cache/sealocr

.PHONY: all models build run test vet lint gotest bench fmt clean

all: build

## models: fetch the pinned models and ONNX Runtime into $(SEALOCR_CACHE), checksums verified (no-op when present)
models:
	@$(GO) run ./models/cmd/fetchmodels --dir "$(SEALOCR_CACHE)"

## build: compile the binaries into bin/
build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/core ./core/cmd/core

## run: fetch models if missing, build, start the stack on its embedded defaults
run: models build
	./$(BIN)/core

## test: vet, staticcheck and the race-enabled test suite (needs the models: fetched first)
test: models vet lint gotest

vet:
	$(GO) vet ./...

lint:
	$(GO) tool staticcheck ./...

gotest:
	$(GO) test -race -count=1 ./...

## bench: print the figures (latency per page and line, lines/s, pipeline overhead)
bench: models
	$(GO) test -run '^$$' -bench . -benchtime 20x -count 1 ./core/internal/pipeline/

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)
