package rig

import (
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestRigThroughMosquitto: with --broker pointing at Mosquitto, the rig's telemetry reaches
// mosquitto_sub and a set-point sent with mosquitto_pub reaches the plant's charger.
func TestRigThroughMosquitto(t *testing.T) {
	for _, tool := range []string{"mosquitto", "mosquitto_sub", "mosquitto_pub"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("peer absent: %s not installed (Debian: apt-get install -y mosquitto mosquitto-clients)", tool)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	broker := exec.Command("mosquitto", "-p", port)
	if err := broker.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = broker.Process.Kill(); _ = broker.Wait() }()
	waitFor(t, "mosquitto listening", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	r, err := Start(Config{Plant: noonPlant(), Listen: "127.0.0.1:0", Broker: "tcp://127.0.0.1:" + port, Topic: "rigtest"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, err := exec.Command("mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-t", "rigtest/meter/frequency", "-C", "1", "-W", "5").CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_sub: %v %s", err, out)
	}
	if f, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err != nil || f != 50 {
		t.Fatalf("frequency from the rig through Mosquitto: %q", out)
	}
	if err := r.Inject(Fault{Device: "broker", Kind: "down", On: true}); err == nil {
		t.Fatal("the rig claimed to take an external broker down")
	}
	waitFor(t, "EV set-point through mosquitto_pub", func() bool {
		if out, err := exec.Command("mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-q", "1", "-t", "rigtest/ev/set", "-m", "3700").CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub: %v %s", err, out)
		}
		sp, ok := r.mq.evSetpoint()
		return ok && sp == 3700
	})
}
