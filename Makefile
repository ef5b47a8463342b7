# FRACTALS — the two commands a newcomer needs are `make run` and `make test`.
GO            ?= go
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BIN           := bin
TEST_TIMEOUT  ?= 14m

.PHONY: run test bench lint cross build soak fuzz clean footprint install

## run: a community of three simulated units in real time on loopback devp2p; each on http://127.0.0.1:8080, :8081, :8082 (dashboard /, /metrics, /api/status, /api/mesh; Ctrl-C stops)
run:
	$(GO) run ./cmd/fractalsd --community 3

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

## cross: the daemon and tools for the unit's ARM boards, without cgo, stripped (-s -w: no symbol table or DWARF),
## without the embedded development chain (-tags nosimchain: units use a JSON-RPC chain)
cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags nosimchain -ldflags='-s -w' -o $(BIN)/linux-arm64/ ./cmd/...
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -tags nosimchain -ldflags='-s -w' -o $(BIN)/linux-armv7/ ./cmd/...

## build: the host binaries into bin/
build:
	$(GO) build -o $(BIN)/ ./cmd/...

## soak: a simulated year of one unit, a simulated day of 1000 units, community days of 10, 50 and 1000
## units by consensus over the in-memory mesh (slow; not part of make test)
soak: build
	$(BIN)/fractals sim --units 1 --duration 8760h --step 1s --seed 7
	$(BIN)/fractals sim --units 1000 --duration 24h --step 1s --seed 7
	$(GO) test -run '^$$' -bench BenchmarkCommunityDay -benchtime 1x -timeout 2h ./firmware/
	$(BIN)/fractals sim --units 1000 --market --market-method consensus --market-interval 30m --horizon 3h --step 10s --duration 24h --seed 7

## footprint: the daemon's RSS after an hour of simulated operation with all telemetry on (InfluxDB
## down, embedded MQTT broker) and its peak RSS, and the ARM binary sizes from make cross
## (measured on the production build for this machine: static, stripped, -tags nosimchain, like make cross)
footprint: cross
	CGO_ENABLED=0 $(GO) build -tags nosimchain -ldflags='-s -w' -o $(BIN)/nosimchain/ ./cmd/fractalsd
	$(BIN)/nosimchain/fractalsd --footprint 1h --telemetry deploy/footprint.yaml
	@for f in $(BIN)/linux-arm64/fractalsd $(BIN)/linux-armv7/fractalsd; do \
		printf '%s: %.1f MB\n' $$f $$(echo "$$(stat -c %s $$f) / 1048576" | bc -l); done

## install: on a unit, as root: the daemon, a fractals system user and the systemd unit
install: build
	id -u fractals >/dev/null 2>&1 || useradd --system --home-dir /var/lib/fractals --shell /usr/sbin/nologin fractals
	install -D -m 0755 $(BIN)/fractalsd $(DESTDIR)/usr/local/bin/fractalsd
	install -D -m 0644 deploy/systemd/fractalsd.service $(DESTDIR)/etc/systemd/system/fractalsd.service
	systemctl daemon-reload
	@echo "put the unit file in /etc/fractals/unit.yaml (data_dir: /var/lib/fractals), then: systemctl enable --now fractalsd"

clean:
	rm -rf $(BIN)

## scenarios: every HIL scenario (reports in /tmp/fractals-scenarios) and a 200-outage campaign (1-2 min)
scenarios: build
	@for f in hil/scenarios/*.yaml; do $(BIN)/fractals scenario run $$f --report /tmp/fractals-scenarios/$$(basename $$f .yaml) || exit 1; done
	$(BIN)/fractals scenario campaign --n 200 --seed 7 > /tmp/fractals-scenarios/campaign.json

.PHONY: interop
## interop: our mesh node against go-ethereum's devp2p tool (RLPx hello, discv5 ping, record resolve)
interop:
	@command -v devp2p >/dev/null || [ -x "$$($(GO) env GOPATH)/bin/devp2p" ] || { echo "needs devp2p: $(GO) install github.com/ethereum/go-ethereum/cmd/devp2p@v1.16.9"; exit 1; }
	$(GO) test -count=1 -tags interop -run Interop -v ./mesh/
	@command -v geth >/dev/null || [ -x "$$($(GO) env GOPATH)/bin/geth" ] || { echo "needs geth: $(GO) install github.com/ethereum/go-ethereum/cmd/geth@v1.16.9"; exit 1; }
	$(GO) test -count=1 -tags interop -run TestInteropLedgerOnGethDev -v ./firmware/
	$(GO) test -count=1 -tags interop -run TestInteropStaleCloseOnGethDev -v ./firmware/
