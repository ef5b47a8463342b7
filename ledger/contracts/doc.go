// Package contracts holds the settlement contract (FractalsChannels.sol), a test ERC-20 token and a
// test participant contract that refuses native coin (TestRejector.sol), the
// pinned compiler (package.json, package-lock.json: solc from the npm registry, run by build.js)
// and the committed artefacts: build/*.abi, build/*.bin and the abigen bindings in bindings/.
//
// `go generate ./ledger/...` rebuilds everything (it needs Node.js and npm); building and testing
// do not. TestArtefactsMatchSources, which needs no Node.js, fails when the Solidity sources or the
// compiler pin changed without the artefacts being regenerated, or when an artefact was edited.
// This package holds no Go logic of its own; the chain package drives the contract.
package contracts

//go:generate npm ci --no-audit --no-fund
//go:generate node build.js
//go:generate go run github.com/ethereum/go-ethereum/cmd/abigen@v1.16.9 --v2 --abi build/FractalsChannels.abi --bin build/FractalsChannels.bin --pkg bindings --type FractalsChannels --out bindings/fractals_channels.go
//go:generate go run github.com/ethereum/go-ethereum/cmd/abigen@v1.16.9 --v2 --abi build/TestToken.abi --bin build/TestToken.bin --pkg bindings --type TestToken --out bindings/test_token.go
//go:generate go run github.com/ethereum/go-ethereum/cmd/abigen@v1.16.9 --v2 --abi build/TestRejector.abi --bin build/TestRejector.bin --pkg bindings --type TestRejector --out bindings/test_rejector.go
//go:generate go test . -run TestArtefactsMatchSources -args -update
