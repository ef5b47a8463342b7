package config

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// meshUnit is the example unit with a mesh section appended; line returns the file line of the
// mesh section's n-th line (1: "mesh:").
func meshUnit(t *testing.T) (string, func(n int) int) {
	base, err := os.ReadFile("testdata/unit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b := strings.TrimRight(string(base), "\n") + "\n"
	offset := strings.Count(b, "\n")
	return b + meshSection, func(n int) int { return offset + n }
}

const meshSection = `mesh:
  listen: 127.0.0.1:30310
  community: valley
  key_file: /var/lib/fractals/unit.key
  discovery: true
  static:
    - enode://98f5f1224941ae11cd7d04e180f610ad5ecc1e33f807e388449f49c51503ce0e0bc0578d42e63da0b6a4f611aae14244d7b84448c1f5d51b06107e6d3df05e9f@127.0.0.1:40605
  bootnodes:
    - enode://98f5f1224941ae11cd7d04e180f610ad5ecc1e33f807e388449f49c51503ce0e0bc0578d42e63da0b6a4f611aae14244d7b84448c1f5d51b06107e6d3df05e9f@127.0.0.1:40605
`

func TestMeshSectionParses(t *testing.T) {
	text, _ := meshUnit(t)
	u, err := Parse("unit.yaml", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	m := u.Mesh
	if m == nil || m.Listen != "127.0.0.1:30310" || m.Community != "valley" || !m.Discovery || m.MaxPeers != 50 || len(m.Static) != 1 {
		t.Fatalf("%+v", m)
	}
	nodes, err := Nodes(m.Static)
	if err != nil || len(nodes) != 1 || nodes[0].TCP() != 40605 {
		t.Fatalf("static %v %v", nodes, err)
	}
}

func TestMeshSectionErrorsNameFileAndLine(t *testing.T) {
	text, line := meshUnit(t)
	for _, c := range []struct{ from, to, want string }{
		{"listen: 127.0.0.1:30310", "listen: nowhere", fmt.Sprintf("unit.yaml:%d: ", line(2)) + "mesh.listen: "},
		{"listen: 127.0.0.1:30310", "listen: 127.0.0.1:99999", fmt.Sprintf("unit.yaml:%d: ", line(2)) + "mesh.listen: port"},
		{"community: valley", "community: \"\"", fmt.Sprintf("unit.yaml:%d: ", line(3)) + "mesh.community: missing"},
		{"discovery: true", "discovery: false", fmt.Sprintf("unit.yaml:%d: ", line(9)) + "mesh.bootnodes: bootnodes need discovery"},
		{"    - enode://98f5", "    - enode://zz", fmt.Sprintf("unit.yaml:%d: ", line(7)) + "mesh.static[0]: "},
		{"  key_file: /var/lib/fractals/unit.key\n", "", fmt.Sprintf("unit.yaml:%d: ", line(2)) + "mesh.key_file: missing"},
		{"discovery: true", "discovery: true\n  max_peers: 5000", fmt.Sprintf("unit.yaml:%d: ", line(6)) + "mesh.max_peers: 5000 outside"},
	} {
		_, err := Parse("unit.yaml", strings.NewReader(strings.Replace(text, c.from, c.to, 1)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q -> %q: error %v, want %q", c.from, c.to, err, c.want)
		}
	}
}

// The unit has one key: a channels key_file naming another file than the mesh's is refused, the
// same file (or none) is taken.
func TestMeshAndChannelsShareOneKey(t *testing.T) {
	text, _ := meshUnit(t)
	channels := "channels:\n  listen: 127.0.0.1:7400\n  store: /var/lib/fractals/ledger.db\n"
	for _, c := range []struct{ keyLine, want string }{
		{"", ""},
		{"  key_file: /var/lib/fractals/../fractals/unit.key\n", ""},
		{"  key_file: /var/lib/fractals/other.key\n", "channels.key_file: \"/var/lib/fractals/other.key\" differs from mesh key_file"},
	} {
		u, err := Parse("unit.yaml", strings.NewReader(text+channels+c.keyLine))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.keyLine, err)
		case c.want == "" && u.Channels.KeyFile != "/var/lib/fractals/unit.key" && u.Channels.KeyFile != "/var/lib/fractals/../fractals/unit.key":
			t.Errorf("%q: channels key %q", c.keyLine, u.Channels.KeyFile)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: error %v, want %q", c.keyLine, err, c.want)
		}
	}
}
