# FRACTALS — the two commands a newcomer needs are `make run` and `make test`.
GO            ?= go
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BIN           := bin
TEST_TIMEOUT  ?= 14m

.PHONY: run test bench lint cross build soak fuzz clean

## run: one simulated MeshBox++ unit in real time; API on http://127.0.0.1:8080/api/status (Ctrl-C stops)
run:
	$(GO) run ./cmd/fractalsd

## test: every test (unit, integration on loopback, fuzz seed corpora)
test:
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

## bench: every benchmark, one run each
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

## lint: formatting, vet and staticcheck (pinned)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## cross: the daemon and tools for the unit's ARM boards, without cgo
cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -o $(BIN)/linux-arm64/ ./cmd/...
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -o $(BIN)/linux-armv7/ ./cmd/...

## build: the host binaries into bin/
build:
	$(GO) build -o $(BIN)/ ./cmd/...

## soak: a simulated year of one unit and a simulated day of 1000 units (slow; not part of make test)
soak: build
	$(BIN)/fractals sim --units 1 --duration 8760h --step 1s --seed 7
	$(BIN)/fractals sim --units 1000 --duration 24h --step 1s --seed 7

clean:
	rm -rf $(BIN)

.PHONY: interop
## interop: our mesh node against go-ethereum's devp2p tool (RLPx hello, discv5 ping, record resolve)
interop:
	@command -v devp2p >/dev/null || [ -x "$$($(GO) env GOPATH)/bin/devp2p" ] || { echo "needs devp2p: $(GO) install github.com/ethereum/go-ethereum/cmd/devp2p@v1.16.9"; exit 1; }
	$(GO) test -count=1 -tags interop -run Interop -v ./mesh/
