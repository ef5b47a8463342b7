package modbus

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/fractals-energy/fractals/der"
)

// pymodbusSerial serves holding registers 0..9 for several unit ids over Modbus RTU on a serial
// line with pymodbus (a Modbus implementation we did not write). Unit k's register i holds
// 100*k + i.
const pymodbusSerial = `
import json, sys
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext
from pymodbus.server import StartSerialServer
from pymodbus.transaction import ModbusRtuFramer
cfg = json.load(open(sys.argv[1]))
slaves = {u: ModbusSlaveContext(hr=ModbusSequentialDataBlock(0, [100*u + i for i in range(10)]), zero_mode=True)
          for u in cfg["units"]}
StartSerialServer(context=ModbusServerContext(slaves=slaves, single=False), framer=ModbusRtuFramer,
                  port=cfg["port"], baudrate=cfg["baud"], parity="N", stopbits=1, bytesize=8)
`

func pythonWithPymodbusSerial() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if path, err := exec.LookPath(py); err == nil && exec.Command(path, "-c", "import pymodbus, serial").Run() == nil {
			return path
		}
	}
	return ""
}

// TestRTUOverSerialLine: Modbus RTU over a real pseudo-terminal pair (socat) to pymodbus' serial
// server with three unit ids on one bus: each answers its own registers, a write reads back, a
// unit that is not on the bus times out and backs off without disturbing the others.
func TestRTUOverSerialLine(t *testing.T) {
	socat, err := exec.LookPath("socat")
	py := pythonWithPymodbusSerial()
	if err != nil || py == "" {
		t.Skip("peers absent: needs socat and python3 with pymodbus and pyserial (Debian: apt-get install -y socat python3-pymodbus python3-serial)")
	}
	dir := t.TempDir()
	ours, theirs := filepath.Join(dir, "ttyA"), filepath.Join(dir, "ttyB")
	line := exec.Command(socat, "pty,raw,echo=0,link="+ours, "pty,raw,echo=0,link="+theirs)
	if err := line.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = line.Process.Kill(); _ = line.Wait() })
	waitForFile(t, ours)
	waitForFile(t, theirs)
	const baud = 19200
	cfg, _ := json.Marshal(map[string]any{"units": []int{1, 2, 7}, "port": theirs, "baud": baud})
	if err := os.WriteFile(filepath.Join(dir, "cfg.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "server.py"), []byte(pymodbusSerial), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := exec.Command(py, filepath.Join(dir, "server.py"), filepath.Join(dir, "cfg.json"))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })

	g, err := NewGateway(Config{Address: ours, Serial: &Serial{BaudRate: baud, Parity: "N"}, Timeout: 300 * time.Millisecond,
		BackoffMin: time.Hour, BusyRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx := context.Background()
	// The server needs a moment to open its end of the line.
	deadline := time.Now().Add(15 * time.Second)
	for {
		probe, err := NewGateway(Config{Address: ours, Serial: &Serial{BaudRate: baud, Parity: "N"}, Timeout: 300 * time.Millisecond, BackoffMin: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		_, err = probe.Unit(1).ReadHoldingRegisters(ctx, 0, 1)
		probe.Close()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pymodbus serial server never answered: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	start := time.Now()
	const rounds = 5
	for r := 0; r < rounds; r++ {
		for _, id := range []byte{1, 2, 7} {
			regs, err := g.Unit(id).ReadHoldingRegisters(ctx, 2, 3)
			if err != nil {
				t.Fatalf("unit %d: %v", id, err)
			}
			for i, v := range regs {
				if v != uint16(100*int(id)+2+i) {
					t.Fatalf("unit %d register %d = %d", id, 2+i, v)
				}
			}
		}
	}
	t.Logf("RTU at %d baud: %v per 3-register read (%d reads, units 1, 2, 7 interleaved)", baud, time.Since(start)/(3*rounds), 3*rounds)
	if err := g.Unit(2).WriteMultipleRegisters(ctx, 4, []uint16{4242, 4343}); err != nil {
		t.Fatal(err)
	}
	if regs, err := g.Unit(2).ReadHoldingRegisters(ctx, 4, 2); err != nil || regs[0] != 4242 || regs[1] != 4343 {
		t.Fatalf("read back %v %v", regs, err)
	}
	if regs, _ := g.Unit(7).ReadHoldingRegisters(ctx, 4, 1); len(regs) != 1 || regs[0] != 704 {
		t.Fatalf("unit 7 changed by a write to unit 2: %v", regs)
	}
	// Unit 9 is not on the bus: the request times out, then the unit is in back-off (stale at once).
	t0 := time.Now()
	if _, err := g.Unit(9).ReadHoldingRegisters(ctx, 0, 1); err == nil {
		t.Fatal("unit 9 answered")
	}
	if d := time.Since(t0); d < 250*time.Millisecond || d > 2*time.Second {
		t.Errorf("timeout took %v, want about 300ms", d)
	}
	u9 := g.Unit(9)
	_, _ = u9.ReadHoldingRegisters(ctx, 0, 1)
	if _, err := u9.ReadHoldingRegisters(ctx, 0, 1); !errors.Is(err, der.ErrStale) {
		t.Errorf("unit 9 after a timeout: %v, want back-off (stale)", err)
	}
	// The bus is clean after the timeout: the next frame to a present unit is answered.
	if regs, err := g.Unit(1).ReadHoldingRegisters(ctx, 0, 1); err != nil || regs[0] != 100 {
		t.Fatalf("unit 1 after unit 9's timeout: %v %v", regs, err)
	}
}

func waitForFile(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", path)
		}
	}
}
