// Package solar holds the pure PV equations shared by the simulated plant (hil) and the controller's
// forecasts (fractals): NREL's PVWatts v5 DC and inverter models, Cooper's sun position, Meinel's
// clear-sky irradiance, the isotropic-sky transposition to a tilted plane, the Sandia cell temperature
// and a seasonal ambient temperature. It reads no clock and keeps no state.
package solar
