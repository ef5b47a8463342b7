package sunspec

import (
	"context"
	"encoding/json"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// pymodbusServer serves a register block given as JSON {base, regs, unit, port} with pymodbus (a
// Modbus implementation we did not write); zero_mode makes register n mean address n.
const pymodbusServer = `
import json, sys
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext
from pymodbus.server import StartTcpServer
cfg = json.load(open(sys.argv[1]))
block = ModbusSequentialDataBlock(cfg["base"], cfg["regs"])
slave = ModbusSlaveContext(hr=block, ir=block, zero_mode=True)
StartTcpServer(context=ModbusServerContext(slaves={cfg["unit"]: slave}, single=False),
               address=("127.0.0.1", cfg["port"]))
`

// pythonWithPymodbus finds a Python that can import pymodbus (Debian: apt-get install -y
// python3-pymodbus puts it under /usr/bin/python3).
func pythonWithPymodbus() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if path, err := exec.LookPath(py); err == nil && exec.Command(path, "-c", "import pymodbus").Run() == nil {
			return path
		}
	}
	return ""
}

// TestClientReadsPymodbusServer: our SunSpec client discovers and decodes a map served by pymodbus.
func TestClientReadsPymodbusServer(t *testing.T) {
	py := pythonWithPymodbus()
	if py == "" {
		t.Skip("peer absent: no python3 with pymodbus (Debian: apt-get install -y python3-pymodbus)")
	}
	m := hybridMap(t)
	regs, err := m.ReadRegisters(m.Base(), uint16(m.Len()))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	cfg, _ := json.Marshal(map[string]any{"base": m.Base(), "regs": regs, "unit": 1, "port": port})
	if err := os.WriteFile(filepath.Join(dir, "map.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "server.py"), []byte(pymodbusServer), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, filepath.Join(dir, "server.py"), filepath.Join(dir, "map.json"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(15 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pymodbus server did not listen on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	g := gateway(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := Scan(ctx, g.Unit(1))
	if err != nil {
		t.Fatal(err)
	}
	want := m.Models()
	if len(res.Models) != len(want) {
		t.Fatalf("found %d models, want %v", len(res.Models), want)
	}
	for i, sm := range res.Models {
		if sm.ID != want[i] {
			t.Fatalf("model %d is %d, want %d", i, sm.ID, want[i])
		}
	}
	base, hs, err := Discover(ctx, g.Unit(1))
	if err != nil || base != 40000 {
		t.Fatalf("discover: base %d %v", base, err)
	}
	for _, h := range hs {
		got, err := ReadModel(ctx, g.Unit(1), h)
		if err != nil {
			t.Fatalf("model %d: %v", h.ID, err)
		}
		local, _ := m.Block(h.ID)
		for _, v := range local.Points {
			gv, _ := got.Get(v.Path)
			if gv.Valid != v.Valid || gv.Text != v.Text || (v.Valid && !(gv.Number == v.Number || math.IsNaN(v.Number))) {
				t.Fatalf("model %d %s: pymodbus-served %+v, local %+v", h.ID, v.Path, gv, v)
			}
		}
	}
}
