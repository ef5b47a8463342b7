package contracts

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/fractals-energy/fractals/ledger/contracts/bindings"
)

var update = flag.Bool("update", false, "record the current sources and artefacts (run by go generate)")

// sources are the inputs of the build; artefacts its committed outputs.
var (
	sources   = []string{"FractalsChannels.sol", "TestToken.sol", "TestRejector.sol", "build.js", "package.json", "package-lock.json"}
	artefacts = []string{"build/FractalsChannels.abi", "build/FractalsChannels.bin", "build/TestToken.abi", "build/TestToken.bin", "build/TestRejector.abi", "build/TestRejector.bin",
		"bindings/fractals_channels.go", "bindings/test_token.go", "bindings/test_rejector.go"}
)

const recordPath = "build/SOURCES.sha256"

func digestLines(t *testing.T, files []string) []string {
	t.Helper()
	var lines []string
	for _, f := range files {
		b, err := os.ReadFile(filepath.FromSlash(f))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		lines = append(lines, fmt.Sprintf("%s  %s", hex.EncodeToString(sum[:]), f))
	}
	return lines
}

// TestArtefactsMatchSources fails when a Solidity source or the compiler pin changed after the
// artefacts were generated, or when an artefact no longer is what generation produced.
func TestArtefactsMatchSources(t *testing.T) {
	sols, _ := filepath.Glob("*.sol")
	sort.Strings(sols)
	for _, s := range sols {
		found := false
		for _, k := range sources {
			found = found || k == s
		}
		if !found {
			t.Fatalf("%s is not listed in the build's sources; add it to build.js and to this test", s)
		}
	}
	got := strings.Join(append(digestLines(t, sources), digestLines(t, artefacts)...), "\n") + "\n"
	if *update {
		if err := os.WriteFile(recordPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(recordPath)
	if err != nil {
		t.Fatalf("%v: run go generate ./ledger/...", err)
	}
	if got != string(want) {
		t.Fatalf("sources or artefacts differ from %s; run go generate ./ledger/...\nnow:\n%s\nrecorded:\n%s", recordPath, got, want)
	}
	bin, err := os.ReadFile("build/FractalsChannels.bin")
	if err != nil {
		t.Fatal(err)
	}
	if "0x"+strings.TrimSpace(string(bin)) != bindings.FractalsChannelsMetaData.Bin {
		t.Fatal("the bindings embed different bytecode than build/FractalsChannels.bin")
	}
}
