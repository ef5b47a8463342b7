// Package report writes a scenario run's report: report.json with every assertion's measured
// value and verdict, one PNG plot per recorded series (gonum/plot), and an index.html showing
// them. It lives apart from package firmware so that only the command-line tool links the
// plotting library and its embedded fonts; the daemon does not.
package report
