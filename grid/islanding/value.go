package islanding

// Step is the value-typed form of the detector: it returns the detector after sample m (d itself is
// not changed) with the detection, if any. The time since the previous sample is m.At minus its At.
func Step(d Detector, m Sample) (Detector, Detection, bool, error) {
	det, ok, err := d.Step(m)
	return d, det, ok, err
}

// NewDetector returns a detector value after checking its settings.
func NewDetector(s Settings) (Detector, error) {
	if err := s.Validate(); err != nil {
		return Detector{}, err
	}
	return Detector{s: s}, nil
}

// Settings returns the detector's settings.
func (d *Detector) Settings() Settings { return d.s }
