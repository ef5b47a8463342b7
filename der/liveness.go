package der

// Liveness is what a link to a device (a Modbus unit id, a connection) reports about itself: a
// device layer whose last request got no reply at all (timeout, refused, back-off) is failing,
// and the values it still holds must not pass for this cycle's. An exception reply or a model the
// device lacks is an answer: the link is alive and its values age on their own.
type Liveness interface {
	Failing() (failing bool, consecutive int)
}
