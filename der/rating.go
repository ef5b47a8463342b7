package der

// MaxRatingWatts bounds a rating a unit file may give (pv_rated_w): ten megawatts is no
// MeshBox++ device.
const MaxRatingWatts = 10e6

// CheckPVRating reports a pv_rated_w outside 0..MaxRatingWatts, and a zero one on a device that
// plays pv without reporting its rating itself (devicePoint false): the controller caps PV at the
// rating, so a rating left at 0 would curtail the inverter to 0 W. via says where else the
// rating could come from ("a pv.rated topic").
func CheckPVRating(roles []Role, rated float64, deviceReports bool, via string, report func(field, format string, args ...any)) {
	if !(rated >= 0 && rated <= MaxRatingWatts) {
		report("pv_rated_w", "%g outside 0..%g", rated, float64(MaxRatingWatts))
		return
	}
	for _, r := range roles {
		if r == RolePV && rated == 0 && !deviceReports {
			report("pv_rated_w", "missing: the PV inverter's rating in W (or %s)", via)
			return
		}
	}
}
