package firmware

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/fractals-energy/fractals/der"
	"github.com/fractals-energy/fractals/der/modbus"
	"github.com/fractals-energy/fractals/firmware/config"
	"github.com/fractals-energy/fractals/internal/clock"
	"github.com/fractals-energy/fractals/internal/units"
)

// registerMeter is a registered driver that reads its power from one holding register of a unit
// behind a gateway the unit file declares: it asks its Env for the gateway by name rather than
// dialling its own, as every device behind one gateway must.
type registerMeter struct {
	Bus      string `yaml:"bus"`
	Slave    int    `yaml:"slave"`
	Register uint16 `yaml:"register"`
	unit     *modbus.Unit
}

func (c *registerMeter) Check(_ []der.Role, report func(field, format string, args ...any)) {
	if c.Slave < 1 || c.Slave > 247 {
		report("slave", "%d outside 1..247", c.Slave)
	}
}

func (c *registerMeter) Open(env der.Env) (der.Opened, error) {
	res, err := env.Resource(der.SharedModbusGateway, c.Bus)
	if err != nil {
		return der.Opened{}, err
	}
	c.unit = res.(*modbus.Gateway).Unit(byte(c.Slave))
	return der.Opened{Meter: c}, nil
}

func (c *registerMeter) ReadMeter(ctx context.Context) (der.MeterStatus, error) {
	regs, err := c.unit.ReadHoldingRegisters(ctx, c.Register, 1)
	if err != nil {
		return der.MeterStatus{}, err
	}
	return der.MeterStatus{Power: units.Watts(int16(regs[0])), Voltage: 230, Frequency: 50, GridPresent: true}, nil
}

func init() {
	der.Register("example-register-meter", der.Driver{Roles: []der.Role{der.RoleMeter},
		NewConfig: func() der.DriverConfig { return &registerMeter{} }})
}

// wordBank is a Modbus unit's holding registers, a plain array.
type wordBank struct{ regs [64]uint16 }

func (b *wordBank) ReadRegisters(addr, n uint16) ([]uint16, error) {
	if int(addr)+int(n) > len(b.regs) {
		return nil, fmt.Errorf("registers %d+%d beyond %d", addr, n, len(b.regs))
	}
	return append([]uint16(nil), b.regs[addr:addr+n]...), nil
}

func (b *wordBank) WriteRegisters(addr uint16, vals []uint16) error {
	if int(addr)+len(vals) > len(b.regs) {
		return fmt.Errorf("registers %d+%d beyond %d", addr, len(vals), len(b.regs))
	}
	copy(b.regs[addr:], vals)
	return nil
}

// A registered driver reads a real Modbus TCP server through the gateway the unit file names; a
// gateway the file does not have is refused when the unit opens, naming the device and the name.
func TestRegisteredDriverUsesSharedGateway(t *testing.T) {
	bank := &wordBank{}
	bank.regs[7] = uint16(0xffff - 449) // -450 W as a signed word
	srv := modbus.NewServer(map[byte]modbus.Bank{3: bank}, 1)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	unitFile := func(bus string) string {
		return fmt.Sprintf(`name: u
gateways:
  - {name: lan, protocol: modbus-tcp, address: "%s", timeout: 500ms}
devices:
  - {name: grid, protocol: example-register-meter, roles: [meter], bus: %s, slave: 3, register: 7}
`, srv.Addr(), bus)
	}
	u, err := config.Parse("u.yaml", strings.NewReader(unitFile("lan")))
	if err != nil {
		t.Fatal(err)
	}
	hw := openHardware(t, u)
	defer hw.Close()
	st, err := hw.Devices.Meter.ReadMeter(context.Background())
	if err != nil || st.Power != -450 {
		t.Fatalf("meter %+v %v, want -450 W from register 7 of unit 3", st, err)
	}
	u, err = config.Parse("u.yaml", strings.NewReader(unitFile("attic")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenDevices(u, ControllerConfig(u), clock.Real{}, nil); err == nil ||
		!strings.Contains(err.Error(), `device grid: modbus-gateway "attic": not in the unit file`) {
		t.Fatalf("err %v, want the missing gateway named", err)
	}
}
