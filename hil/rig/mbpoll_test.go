package rig

import (
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// mbpollRead reads n holding registers from addr with mbpoll (a Modbus master we did not write).
func mbpollRead(t *testing.T, bin, host, port string, addr, n int) []uint16 {
	t.Helper()
	out, err := exec.Command(bin, "-m", "tcp", "-a", "1", "-0", "-1", "-t", "4:hex", "-r", strconv.Itoa(addr),
		"-c", strconv.Itoa(n), "-p", port, host).CombinedOutput()
	if err != nil {
		t.Fatalf("mbpoll at %d: %v\n%s", addr, err, out)
	}
	re := regexp.MustCompile(`\[(\d+)\]:\s+0x([0-9A-Fa-f]{4})`)
	var regs []uint16
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		if a, _ := strconv.Atoi(m[1]); a != addr+len(regs) {
			t.Fatalf("mbpoll printed register %d, want %d:\n%s", a, addr+len(regs), out)
		}
		v, _ := strconv.ParseUint(m[2], 16, 16)
		regs = append(regs, uint16(v))
	}
	if len(regs) != n {
		t.Fatalf("mbpoll gave %d registers, want %d:\n%s", len(regs), n, out)
	}
	return regs
}

// TestMbpollReadsSunSpecHeaders: mbpoll finds "SunS" at 40000 and walks the model headers to the
// end marker, the same chain the rig reports.
func TestMbpollReadsSunSpecHeaders(t *testing.T) {
	bin, err := exec.LookPath("mbpoll")
	if err != nil {
		t.Skip("peer absent: mbpoll not installed (Debian: apt-get install -y mbpoll)")
	}
	r := startRig(t, 1)
	host, port, _ := net.SplitHostPort(r.ModbusAddr())
	if m := mbpollRead(t, bin, host, port, 40000, 2); m[0] != 0x5375 || m[1] != 0x6e53 {
		t.Fatalf("registers 40000-40001 are %04x %04x, want SunS", m[0], m[1])
	}
	var ids []uint16
	addr := 40002
	for len(ids) <= len(InverterModels) {
		h := mbpollRead(t, bin, host, port, addr, 2)
		if h[0] == 0xFFFF {
			break
		}
		ids = append(ids, h[0])
		addr += 2 + int(h[1])
	}
	if fmt.Sprint(ids) != fmt.Sprint(r.inv.m.Models()) {
		t.Fatalf("mbpoll walked models %v, the rig serves %v", ids, r.inv.m.Models())
	}
	if ids[0] != 1 {
		t.Fatalf("the common model must come first, got %d", ids[0])
	}
}
