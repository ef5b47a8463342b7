package templates

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/der/modbus"
	"github.com/fractals-energy/fractals/der/regmap"
)

func TestEveryTemplateLoads(t *testing.T) {
	ts, err := All()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	meters := 0
	for _, tp := range ts {
		count[tp.Protocol]++
		if len(tp.Roles) == 1 && tp.Roles[0] == "meter" {
			meters++
		}
	}
	if len(ts) < 12 || count["regmap"] < 6 || count["sunspec"] < 2 || count["mqtt"] < 2 || meters < 2 {
		t.Fatalf("%d templates %v, %d meters: want at least 12, 4 hybrid register maps, 2 meters", len(ts), count, meters)
	}
	if _, ok := Get("huawei-sun2000"); !ok {
		t.Fatal("huawei-sun2000 missing")
	}
}

// sample is a plausible engineering value for a point of unit u, negative where a sign matters.
func sample(r *regmap.Register) float64 {
	switch r.Unit {
	case "W":
		if r.Point == "pv.rated" {
			return 8000
		}
		if r.Point == "pv.power" {
			return 1234
		}
		return -1234
	case "V":
		return 231
	case "Hz":
		return 50
	case "%":
		return 56
	}
	return 7
}

// served is where a template's registers are served from.
type served struct {
	name string
	regs regmap.Registers
}

// TestRegisterMapTemplates: every register-map template, served from its documented registers
// (by der/modbus's server and, when installed, by pymodbus with separate holding and input
// tables), reads back every point, takes a set-point within its limits and reads it back.
func TestRegisterMapTemplates(t *testing.T) {
	ts, _ := All()
	py := pythonWithPymodbus()
	for _, tp := range ts {
		if tp.Protocol != "regmap" {
			continue
		}
		t.Run(tp.Name, func(t *testing.T) {
			bank, err := regmap.NewBank(tp.Registers)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]float64{}
			for i := range tp.Registers.Points {
				p := &tp.Registers.Points[i]
				want[p.Point] = sample(p)
				if p.SignBit == nil && p.Scale > 0 && p.Type[0] == 'u' && want[p.Point] < 0 {
					want[p.Point] = -want[p.Point] // an unsigned register cannot hold it
				}
				if err := bank.Set(p.Point, want[p.Point]); err != nil {
					t.Fatalf("%s: %v", p.Point, err)
				}
			}
			servers := []served{{"der/modbus", serveBank(t, bank)}}
			if py != "" {
				servers = append(servers, served{"pymodbus", servePymodbus(t, py, tp.Registers, bank)})
			} else {
				t.Log("pymodbus peer absent (Debian: apt-get install -y python3-pymodbus): der/modbus server only")
			}
			t.Logf("served by %d servers", len(servers))
			for _, s := range servers {
				checkTemplate(t, s, tp, want)
			}
		})
	}
}

func checkTemplate(t *testing.T, s served, tp *Template, want map[string]float64) {
	dev, err := regmap.New(regmap.Config{Name: tp.Name, StaleAfter: time.Minute}, s.regs, tp.Registers)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := dev.Poll(ctx); err != nil {
		t.Fatalf("%s: poll: %v", s.name, err)
	}
	for p, w := range want {
		got, err := dev.Number(p)
		if err != nil || math.Abs(got-w) > 0.01*math.Abs(w)+0.01 {
			t.Errorf("%s: %s read %v %v, want %v", s.name, p, got, err, w)
		}
	}
	for i := range tp.Registers.Setpoints {
		sp := &tp.Registers.Setpoints[i]
		for _, v := range []float64{sp.Min + (sp.Max-sp.Min)/4, sp.Max} {
			if err := dev.Write(ctx, sp.Point, v); err != nil {
				t.Fatalf("%s: write %s %v: %v", s.name, sp.Point, v, err)
			}
			got, err := dev.ReadSetpoint(ctx, sp.Point)
			if err != nil || math.Abs(got-v) > 0.01*math.Abs(v)+0.01 {
				t.Errorf("%s: %s wrote %v, read back %v %v", s.name, sp.Point, v, got, err)
			}
		}
		if err := dev.Write(ctx, sp.Point, sp.Max+1); err == nil {
			t.Errorf("%s: %s beyond its limit %v accepted", s.name, sp.Point, sp.Max)
		}
	}
}

func serveBank(t *testing.T, b *regmap.Bank) regmap.Registers {
	srv := modbus.NewServer(map[byte]modbus.Bank{1: b}, 1)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	return gateway(t, srv.Addr()).Unit(1)
}

func gateway(t *testing.T, addr string) *modbus.Gateway {
	g, err := modbus.NewGateway(modbus.Config{Address: addr, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// pymodbusServer serves sparse holding and input tables given as JSON {hr, ir, port}: only the
// documented registers exist, as on the device.
const pymodbusServer = `
import json, sys
from pymodbus.datastore import ModbusSparseDataBlock, ModbusSlaveContext, ModbusServerContext
from pymodbus.server import StartTcpServer
cfg = json.load(open(sys.argv[1]))
table = lambda d: ModbusSparseDataBlock({int(k): v for k, v in d.items()} or {65535: 0})
slave = ModbusSlaveContext(hr=table(cfg["hr"]), ir=table(cfg["ir"]), zero_mode=True)
StartTcpServer(context=ModbusServerContext(slaves={1: slave}, single=False), address=("127.0.0.1", cfg["port"]))
`

func pythonWithPymodbus() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if path, err := exec.LookPath(py); err == nil && exec.Command(path, "-c", "import pymodbus").Run() == nil {
			return path
		}
	}
	return ""
}

func servePymodbus(t *testing.T, py string, m *regmap.Map, b *regmap.Bank) regmap.Registers {
	hr, ir := map[string]uint16{}, map[string]uint16{}
	put := func(table string, addr uint16, n int) {
		regs, err := b.ReadRegisters(addr, uint16(n))
		if err != nil {
			t.Fatal(err)
		}
		dst := hr
		if table == regmap.Input {
			dst = ir
		}
		for k, v := range regs {
			dst[fmt.Sprint(int(addr)+k)] = v
		}
	}
	for i := range m.Points {
		p := &m.Points[i]
		put(p.Table, p.Address, p.Size())
		if sb := p.SignBit; sb != nil {
			put(p.Table, sb.Address, 1)
		}
	}
	for i := range m.Setpoints {
		s := &m.Setpoints[i]
		put(regmap.Holding, s.Address, s.Size())
		if d := s.Direction; d != nil {
			put(regmap.Holding, d.Address, 1)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	cfg, _ := json.Marshal(map[string]any{"hr": hr, "ir": ir, "port": port})
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
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
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
	return gateway(t, addr).Unit(1)
}
