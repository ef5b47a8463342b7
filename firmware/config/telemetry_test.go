package config

import (
	"strings"
	"testing"
	"time"
)

const opsFile = `data_dir: /var/lib/fractals
telemetry:
  state_every: 2s
  influx:
    url: http://127.0.0.1:8086
    bucket: fractals/autogen
  mqtt:
    topic_prefix: site/fractals
  prometheus: false
`

func TestOperationsDefaultsAndValues(t *testing.T) {
	o, err := ParseOperations("ops.yaml", []byte(opsFile))
	if err != nil {
		t.Fatal(err)
	}
	tl := o.Telemetry
	if o.DataDir != "/var/lib/fractals" || tl.StateEvery != 2*time.Second || tl.Influx.BatchSize != DefaultInfluxBatch ||
		tl.Influx.BufferPoints != DefaultInfluxBuffer || tl.MQTT.Broker != "embedded" || tl.MQTT.Listen != DefaultMQTTListen ||
		tl.MQTT.DiscoveryPrefix != "homeassistant" || tl.MQTT.TopicPrefix != "site/fractals" || *tl.Prometheus {
		t.Fatalf("%+v %+v %+v", o, tl.Influx, tl.MQTT)
	}
}

func TestOperationsErrorsSayFileLineAndField(t *testing.T) {
	cases := map[string]string{
		"data_dir: relative\n": "ops.yaml:1: data_dir:",
		"telemetry:\n  influx:\n    url: ftp://x\n    bucket: b\n":                           "ops.yaml:3: telemetry.influx.url:",
		"telemetry:\n  influx:\n    url: http://x:1\n":                                       "ops.yaml:3: telemetry.influx.bucket: missing",
		"telemetry:\n  mqtt:\n    broker: udp://x\n":                                         "ops.yaml:3: telemetry.mqtt.broker:",
		"telemetry:\n  mqtt:\n    topic_prefix: a/#\n":                                       "ops.yaml:3: telemetry.mqtt.topic_prefix:",
		"telemetry:\n  state_every: 1h\n":                                                    "ops.yaml:2: telemetry.state_every:",
		"telemetry:\n  influx:\n    url: http://x:1\n    bucket: b\n    batch_size: 20000\n": "ops.yaml:5: telemetry.influx.batch_size:",
		"telemetry:\n  colour: red\n":                                                        "ops.yaml:2:",
	}
	for in, want := range cases {
		_, err := ParseOperations("ops.yaml", []byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}

func TestUnitFileTakesOperationsSections(t *testing.T) {
	u, err := Load("testdata/unit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if u.DataDir != "" || u.Telemetry != nil {
		t.Fatalf("%q %+v", u.DataDir, u.Telemetry)
	}
}

func FuzzParseOperations(f *testing.F) {
	f.Add([]byte(opsFile))
	f.Add([]byte("telemetry:\n  mqtt:\n    broker: tcp://h:1\n    every: 5s\n"))
	f.Add([]byte("data_dir: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := ParseOperations("fuzz.yaml", data)
		if err == nil && o == nil {
			t.Fatal("no error and no operations")
		}
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.yaml:") {
			t.Fatalf("error without file and line: %v", err)
		}
	})
}
