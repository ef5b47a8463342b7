package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Telemetry is where the unit reports itself: InfluxDB, MQTT (with Home Assistant discovery) and
// Prometheus. A section left out is off, except MQTT's broker, which defaults to the embedded one.
type Telemetry struct {
	Influx     *Influx        `yaml:"influx"`
	MQTT       *TelemetryMQTT `yaml:"mqtt"`
	Prometheus *bool          `yaml:"prometheus"` // serve /metrics; default true
	// StateEvery is how often the state file in data_dir is written (and once more on shutdown),
	// default 5s.
	StateEvery time.Duration `yaml:"state_every"`
}

// Influx is an InfluxDB 2.x (or 1.8 with its v2 write API) endpoint.
type Influx struct {
	URL    string `yaml:"url"` // http(s)://host:port
	Org    string `yaml:"org"`
	Bucket string `yaml:"bucket"` // 1.8: database/retention-policy
	Token  string `yaml:"token"`  // 1.8: user:password, or empty
	// BatchSize points go in one write, at least every FlushInterval; BufferPoints bound what is
	// kept for retrying while the database is unreachable (older points are dropped, and counted).
	BatchSize     uint          `yaml:"batch_size"`     // default 500
	FlushInterval time.Duration `yaml:"flush_interval"` // default 5s
	BufferPoints  uint          `yaml:"buffer_points"`  // default 15000
}

// TelemetryMQTT is the broker the unit publishes its state to.
type TelemetryMQTT struct {
	// Broker is tcp://host:port, or "embedded" (the default): the unit runs its own broker on Listen.
	Broker          string        `yaml:"broker"`
	Listen          string        `yaml:"listen"` // embedded broker's address, default 127.0.0.1:1883
	Username        string        `yaml:"username"`
	Password        string        `yaml:"password"`
	TopicPrefix     string        `yaml:"topic_prefix"`     // default fractals
	DiscoveryPrefix string        `yaml:"discovery_prefix"` // default homeassistant
	Every           time.Duration `yaml:"every"`            // state publish period, default 10s
	Commands        bool          `yaml:"commands"`         // accept the safe commands (reserve SoC)
}

// Defaults of the telemetry section.
const (
	DefaultStateEvery  = 5 * time.Second
	DefaultInfluxBatch = 500
	DefaultInfluxFlush = 5 * time.Second
	// DefaultInfluxBuffer is an hour of a 1 s cycle's 4 points, about 7 MB of line protocol
	// (470 bytes a point): what fits the unit's 40 MB memory budget (cmd/fractalsd memoryLimit).
	DefaultInfluxBuffer    = 15000
	DefaultMQTTListen      = "127.0.0.1:1883"
	DefaultTopicPrefix     = "fractals"
	DefaultDiscoveryPrefix = "homeassistant"
	DefaultMQTTEvery       = 10 * time.Second
)

func (v *validator) operations(u *Unit) {
	if u.DataDir != "" && !filepath.IsAbs(u.DataDir) {
		v.fail(p("data_dir"), "%q: want an absolute path", u.DataDir)
	}
	t := u.Telemetry
	if t == nil {
		return
	}
	if t.StateEvery == 0 {
		t.StateEvery = DefaultStateEvery
	} else if t.StateEvery < u.Cycle || t.StateEvery > 10*time.Minute {
		v.fail(p("telemetry", "state_every"), "%v outside the cycle %v..10m", t.StateEvery, u.Cycle)
	}
	if t.Influx != nil {
		v.influx(t.Influx)
	}
	if t.MQTT != nil {
		v.telemetryMQTT(t.MQTT)
	}
}

func (v *validator) influx(in *Influx) {
	if pu, err := url.Parse(in.URL); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		v.fail(p("telemetry", "influx", "url"), "%q: want http://host:port or https://host:port", in.URL)
	}
	if in.Bucket == "" {
		v.fail(p("telemetry", "influx", "bucket"), "missing: the bucket (1.8: database/retention-policy)")
	}
	if in.BatchSize == 0 {
		in.BatchSize = DefaultInfluxBatch
	} else if in.BatchSize > 10000 {
		v.fail(p("telemetry", "influx", "batch_size"), "%d outside 1..10000", in.BatchSize)
	}
	if in.FlushInterval == 0 {
		in.FlushInterval = DefaultInfluxFlush
	} else if in.FlushInterval < 100*time.Millisecond || in.FlushInterval > 10*time.Minute {
		v.fail(p("telemetry", "influx", "flush_interval"), "%v outside 100ms..10m", in.FlushInterval)
	}
	if in.BufferPoints == 0 {
		in.BufferPoints = DefaultInfluxBuffer
	} else if in.BufferPoints < in.BatchSize || in.BufferPoints > 1e7 {
		v.fail(p("telemetry", "influx", "buffer_points"), "%d outside batch_size %d..10000000", in.BufferPoints, in.BatchSize)
	}
}

func (v *validator) telemetryMQTT(m *TelemetryMQTT) {
	switch {
	case m.Broker == "" || m.Broker == "embedded":
		m.Broker = "embedded"
		if m.Listen == "" {
			m.Listen = DefaultMQTTListen
		} else if _, _, err := net.SplitHostPort(m.Listen); err != nil {
			v.fail(p("telemetry", "mqtt", "listen"), "%q: want host:port", m.Listen)
		}
	case strings.HasPrefix(m.Broker, "tcp://") || strings.HasPrefix(m.Broker, "mqtt://"):
		if _, _, err := net.SplitHostPort(m.Broker[strings.Index(m.Broker, "://")+3:]); err != nil {
			v.fail(p("telemetry", "mqtt", "broker"), "%q: want tcp://host:port or embedded", m.Broker)
		}
	default:
		v.fail(p("telemetry", "mqtt", "broker"), "%q: want tcp://host:port or embedded", m.Broker)
	}
	if m.TopicPrefix == "" {
		m.TopicPrefix = DefaultTopicPrefix
	}
	if m.DiscoveryPrefix == "" {
		m.DiscoveryPrefix = DefaultDiscoveryPrefix
	}
	for _, f := range []struct{ name, value string }{{"topic_prefix", m.TopicPrefix}, {"discovery_prefix", m.DiscoveryPrefix}} {
		if strings.ContainsAny(f.value, "+#\x00") || strings.HasPrefix(f.value, "/") || strings.HasSuffix(f.value, "/") {
			v.fail(p("telemetry", "mqtt", f.name), "%q: no wildcards (+ #) and no leading or trailing /", f.value)
		}
	}
	if m.Every == 0 {
		m.Every = DefaultMQTTEvery
	} else if m.Every < 100*time.Millisecond || m.Every > time.Hour {
		v.fail(p("telemetry", "mqtt", "every"), "%v outside 100ms..1h", m.Every)
	}
}

// Operations is the operations part of a configuration on its own: what `fractalsd --telemetry FILE`
// reads for the simulated unit, with the same keys as in a unit file.
type Operations struct {
	DataDir   string     `yaml:"data_dir"`
	Telemetry *Telemetry `yaml:"telemetry"`
}

// LoadOperations reads and validates an operations file.
func LoadOperations(path string) (*Operations, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseOperations(path, data)
}

// ParseOperations validates an operations file; name is used in error messages.
func ParseOperations(name string, data []byte) (*Operations, error) {
	var o Operations
	root, err := decodeStrict(name, data, &o)
	if err != nil {
		return nil, err
	}
	v := validator{file: name, root: root}
	u := Unit{Cycle: time.Second, DataDir: o.DataDir, Telemetry: o.Telemetry}
	v.operations(&u)
	if len(v.errs) > 0 {
		sort.SliceStable(v.errs, func(i, j int) bool { return v.errs[i].Line < v.errs[j].Line })
		return nil, v.errs
	}
	return &o, nil
}
