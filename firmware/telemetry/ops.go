package telemetry

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/fractals-energy/fractals/der/mqtt"
	"github.com/fractals-energy/fractals/firmware"
	"github.com/fractals-energy/fractals/firmware/config"
)

// Setup is what Start needs besides the daemon: the unit's name, its data directory ("" keeps no
// state) and its telemetry section (nil: the defaults, which are the dashboard and /metrics only).
type Setup struct {
	UnitName  string
	DataDir   string
	Telemetry *config.Telemetry
	Version   string
	Log       *slog.Logger // nil: silent
	// HistorySpan and HistoryEvery size the dashboard's ring buffer; defaults 6h and 10s.
	HistorySpan, HistoryEvery time.Duration
}

// Ops is everything operations adds to a running daemon.
type Ops struct {
	Store    *firmware.StateStore // nil without a data directory
	Restored bool                 // the unit started from saved state
	Metrics  *Metrics             // nil when prometheus is off
	Influx   *Influx              // nil when not configured
	MQTT     *MQTT                // nil when not configured
	Broker   *mqtt.Broker         // the embedded broker, when used
	History  *firmware.History
	Settings *firmware.Settings
}

// Start wires operations into d before it runs: restores saved state, then adds the observers (the
// daemon stops them after its last cycle) and the routes /, /api/history, /api/telemetry and /metrics.
func Start(d *firmware.Daemon, s Setup) (*Ops, error) {
	t := s.Telemetry
	if t == nil {
		t = &config.Telemetry{}
	}
	if s.HistorySpan == 0 {
		s.HistorySpan = 6 * time.Hour
	}
	if s.HistoryEvery == 0 {
		s.HistoryEvery = 10 * time.Second
	}
	o := &Ops{History: firmware.NewHistory(s.HistorySpan, s.HistoryEvery), Settings: firmware.NewSettings(d.Unit())}
	if err := o.startState(d, s, t); err != nil {
		return nil, err
	}
	d.AddObserver(o.Settings)
	d.AddObserver(o.History)
	d.Mount("GET /{$}", firmware.Dashboard())
	d.Mount("GET /api/history", o.History)
	d.Mount("GET /api/telemetry", http.HandlerFunc(o.serveStats))
	if t.Prometheus == nil || *t.Prometheus {
		o.Metrics = NewMetrics()
		o.Metrics.AttachDaemon(d)
		d.AddObserver(o.Metrics)
		d.Mount("GET /metrics", o.Metrics.Handler())
	}
	if err := o.startInflux(d, s, t.Influx); err != nil {
		o.Close()
		return nil, err
	}
	if err := o.startMQTT(d, s, t.MQTT); err != nil {
		o.Close()
		return nil, err
	}
	d.AddObserver(firmware.NewWatchdog()) // last: READY once everything above has seen a cycle
	return o, nil
}

func (o *Ops) startState(d *firmware.Daemon, s Setup, t *config.Telemetry) error {
	if s.DataDir == "" {
		return nil
	}
	store, movedAside, err := firmware.OpenStateStore(s.DataDir, time.Now())
	if err != nil {
		return err
	}
	if movedAside != nil && s.Log != nil {
		s.Log.Error("state file unusable", "err", movedAside)
	}
	saved, ok, err := store.Load()
	if err == nil && ok {
		err = d.Unit().Restore(saved)
	}
	if err != nil {
		// A damaged counters or mode record must not keep the unit from running (under systemd,
		// a restart loop): it starts fresh and keeps the old file aside for whoever looks into it.
		store, movedAside, err = store.StartFresh(err, time.Now())
		if err != nil {
			return err
		}
		if s.Log != nil {
			s.Log.Error("state file unusable", "err", movedAside)
		}
		ok = false
	}
	if err := resumeRefs(d, store, s.Log); err != nil {
		store.Close()
		return err
	}
	o.Store, o.Restored = store, ok
	if ok && s.Log != nil {
		s.Log.Info("state restored", "file", store.Path(), "saved_at", saved.SavedAt, "mode", saved.Mode,
			"pv_wh", float64(saved.Energy.PV), "load_wh", float64(saved.Energy.Load))
	}
	every := t.StateEvery
	if every == 0 {
		every = config.DefaultStateEvery
	}
	keeper := firmware.NewStateKeeper(store, every, func(err error) {
		if s.Log != nil {
			s.Log.Error("writing state", "err", err)
		}
	})
	keeper.KeepLedger(d.LedgerRefs)
	d.AddObserver(keeper)
	return nil
}

// resumeRefs takes up the market and ledger references of the state file: the commitment still in
// force is followed again, and the ledger the daemon runs must not be behind the one recorded.
func resumeRefs(d *firmware.Daemon, store *firmware.StateStore, log *slog.Logger) error {
	m, err := store.MarketRef()
	if err != nil {
		return err
	}
	if d.Unit().ResumeMarket(m, d.Now()) && log != nil {
		log.Info("market commitment resumed", "interval", m.Interval, "until", m.Schedule.End, "net_exchange_w", float64(m.Schedule.NetExchange))
	}
	recorded, ok, err := store.LedgerRef()
	if err != nil || !ok {
		return err
	}
	now, running := d.LedgerRefs()
	if !running {
		return nil // the unit file no longer has a channels section: nothing signs from the store
	}
	if err := firmware.CheckLedgerAgainst(recorded, now); err != nil {
		return fmt.Errorf("state file %s: %w", store.Path(), err)
	}
	return nil
}

func (o *Ops) startInflux(d *firmware.Daemon, s Setup, c *config.Influx) error {
	if c == nil {
		return nil
	}
	in, err := NewInflux(InfluxOptions{URL: c.URL, Org: c.Org, Bucket: c.Bucket, Token: c.Token, Unit: s.UnitName,
		BatchSize: c.BatchSize, FlushInterval: c.FlushInterval, BufferPoints: c.BufferPoints})
	if err != nil {
		return err
	}
	o.Influx = in
	in.AttachDaemon(d)
	d.AddObserver(in)
	if o.Metrics != nil {
		o.Metrics.AddCounter("influx_points_handed", func() float64 { return float64(in.Stats().Handed) })
		o.Metrics.AddCounter("influx_points_written", func() float64 { return float64(in.Stats().Written) })
		o.Metrics.AddCounter("influx_points_dropped_queue", func() float64 { return float64(in.Stats().DroppedQueue) })
		o.Metrics.AddCounter("influx_write_failures", func() float64 { return float64(in.Stats().Failures) })
	}
	return nil
}

func (o *Ops) startMQTT(d *firmware.Daemon, s Setup, c *config.TelemetryMQTT) error {
	if c == nil {
		return nil
	}
	broker := c.Broker
	if broker == "embedded" || broker == "" {
		listen := c.Listen
		if listen == "" {
			listen = config.DefaultMQTTListen
		}
		b, err := mqtt.StartBroker(listen)
		if err != nil {
			return err
		}
		o.Broker, broker = b, b.URL()
		if s.Log != nil {
			s.Log.Info("embedded mqtt broker listening", "addr", b.Addr())
		}
	}
	var settings *firmware.Settings
	var unit CommandTarget // an interface: left nil, not a nil *Unit, when commands are off
	if c.Commands {
		settings, unit = o.Settings, d.Unit()
	}
	prefix, discovery, every := c.TopicPrefix, c.DiscoveryPrefix, c.Every
	if prefix == "" {
		prefix = config.DefaultTopicPrefix
	}
	if discovery == "" {
		discovery = config.DefaultDiscoveryPrefix
	}
	if every == 0 {
		every = config.DefaultMQTTEvery
	}
	m, err := NewMQTT(MQTTOptions{Broker: broker, Username: c.Username, Password: c.Password,
		Topics: Topics{Prefix: prefix, Discovery: discovery, Unit: s.UnitName}, Every: every,
		Version: s.Version, Settings: settings, Unit: unit, Log: s.Log, Daemon: d})
	if err != nil {
		return err
	}
	o.MQTT = m
	d.AddObserver(m)
	if o.Metrics != nil {
		o.Metrics.AddCounter("mqtt_states_published", func() float64 { return float64(m.Published()) })
		o.Metrics.AddCounter("mqtt_states_dropped", func() float64 { return float64(m.Dropped()) })
		o.Metrics.AddCounter("mqtt_commands_rejected", func() float64 { return float64(m.Rejected()) })
	}
	return nil
}

// Stats is what /api/telemetry serves.
type Stats struct {
	Influx        *InfluxStats `json:"influx,omitempty"`
	MQTTPublished uint64       `json:"mqtt_states_published"`
	MQTTDropped   uint64       `json:"mqtt_states_dropped"`
	MQTTRejected  uint64       `json:"mqtt_commands_rejected"`
	StateFile     string       `json:"state_file,omitempty"`
	Restored      bool         `json:"restored"`
	ReserveSoCPct float64      `json:"reserve_soc_pct"`
}

// Stats returns the counters of every reporter.
func (o *Ops) Stats() Stats {
	s := Stats{Restored: o.Restored, ReserveSoCPct: o.Settings.Reserve()}
	if o.Influx != nil {
		is := o.Influx.Stats()
		s.Influx = &is
	}
	if o.MQTT != nil {
		s.MQTTPublished, s.MQTTDropped, s.MQTTRejected = o.MQTT.Published(), o.MQTT.Dropped(), o.MQTT.Rejected()
	}
	if o.Store != nil {
		s.StateFile = o.Store.Path()
	}
	return s
}

func (o *Ops) serveStats(w http.ResponseWriter, _ *http.Request) {
	firmware.WriteJSON(w, o.Stats())
}

// Close releases what outlives the daemon's observers (the state file, the embedded broker). Call it
// after Run has returned.
func (o *Ops) Close() error {
	var errs []error
	if o.Broker != nil {
		errs = append(errs, o.Broker.Close())
	}
	if o.Store != nil {
		errs = append(errs, o.Store.Close())
	}
	return errors.Join(errs...)
}

// Pending counts statuses handed to the reporters and not yet taken up by their goroutines; a loop
// that runs faster than real time (the footprint run) waits for it to reach 0 to stay realistic.
func (o *Ops) Pending() int {
	n := 0
	if o.Influx != nil {
		n += len(o.Influx.queue)
	}
	if o.MQTT != nil {
		n += len(o.MQTT.mailbox)
	}
	return n
}
