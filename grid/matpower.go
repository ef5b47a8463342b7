package grid

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ParseError is a problem in a case file, with the line it was found on.
type ParseError struct {
	Name string // case name given to ParseMATPOWER
	Line int    // 1-based line number
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, e.Msg) }

// maxCaseBytes bounds what ParseMATPOWER reads, so a hostile input cannot exhaust memory.
const maxCaseBytes = 64 << 20

// ParseMATPOWER reads a MATPOWER case file (format version 2). It reads the data fields baseMVA, bus,
// gen, branch and bus_name, ignores gencost and other literal data fields, and applies only the
// unit-conversion statements MATPOWER's distribution cases end with (see conversions). Any other
// statement is refused with an error naming its line. Out-of-service branches are left out.
func ParseMATPOWER(r io.Reader, name string) (*Case, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxCaseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: read: %w", name, err)
	}
	if len(data) > maxCaseBytes {
		return nil, &ParseError{Name: name, Line: 1, Msg: fmt.Sprintf("file larger than %d bytes", maxCaseBytes)}
	}
	toks, err := lex(string(data))
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			pe.Name = name
		}
		return nil, err
	}
	p := &parser{name: name, toks: toks, fields: map[string]*matrix{}, vars: map[string]float64{}}
	if err := p.parse(); err != nil {
		return nil, err
	}
	return p.build()
}

type tokKind int

const (
	tIdent tokKind = iota
	tNumber
	tString
	tPunct
	tNewline
	tEOF
)

type token struct {
	kind tokKind
	text string
	num  float64
	line int
}

func lex(src string) ([]token, error) {
	toks := make([]token, 0, len(src)/4) // a MATPOWER row averages a little over 4 bytes per token
	line := 1
	prevSignificant := byte('\n') // last non-space character, to tell a sign from a binary operator
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			toks = append(toks, token{kind: tNewline, line: line})
			line++
			i++
			prevSignificant = '\n'
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '%' || c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case strings.HasPrefix(src[i:], "..."):
			// continuation: the rest of the line is a comment and the newline is not a separator
			for i < len(src) && src[i] != '\n' {
				i++
			}
			if i < len(src) {
				i++
				line++
			}
		case c == '\'':
			j := i + 1
			var sb strings.Builder
			for {
				if j >= len(src) || src[j] == '\n' {
					return nil, &ParseError{Line: line, Msg: "unterminated string"}
				}
				if src[j] == '\'' {
					if j+1 < len(src) && src[j+1] == '\'' { // '' is an escaped quote
						sb.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				sb.WriteByte(src[j])
				j++
			}
			toks = append(toks, token{kind: tString, text: sb.String(), line: line})
			i = j + 1
			prevSignificant = '\''
		case isDigit(c) || c == '.' && i+1 < len(src) && isDigit(src[i+1]) ||
			(c == '-' || c == '+') && signStartsNumber(src, i, prevSignificant):
			j := i + 1
			for j < len(src) && isNumberChar(src[j], src[j-1]) {
				j++
			}
			text := src[i:j]
			v, err := parseNumber(text)
			if err != nil {
				return nil, &ParseError{Line: line, Msg: fmt.Sprintf("bad number %q", text)}
			}
			toks = append(toks, token{kind: tNumber, text: text, num: v, line: line})
			i = j
			prevSignificant = '0'
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			text := src[i:j]
			if text == "Inf" || text == "inf" {
				toks = append(toks, token{kind: tNumber, text: text, num: math.Inf(1), line: line})
			} else {
				toks = append(toks, token{kind: tIdent, text: text, line: line})
			}
			i = j
			prevSignificant = 'a'
		case strings.IndexByte("=;,()[]{}:*/^+-.", c) >= 0:
			toks = append(toks, token{kind: tPunct, text: string(c), line: line})
			i++
			prevSignificant = c
		default:
			return nil, &ParseError{Line: line, Msg: fmt.Sprintf("unexpected character %q", c)}
		}
	}
	toks = append(toks, token{kind: tEOF, line: line})
	return toks, nil
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }

// signStartsNumber reports whether a '+' or '-' at src[i] is the sign of a number (as in "-360" inside
// a matrix row) rather than an operator: it must follow a separator and precede a digit, '.' or Inf.
func signStartsNumber(src string, i int, prev byte) bool {
	if strings.IndexByte("\n[;,(={", prev) < 0 && !(prev == '0' && i > 0 && (src[i-1] == ' ' || src[i-1] == '\t')) {
		return false
	}
	rest := src[i+1:]
	return len(rest) > 0 && (isDigit(rest[0]) || rest[0] == '.' || strings.HasPrefix(rest, "Inf"))
}

func isNumberChar(c, prev byte) bool {
	return isDigit(c) || c == '.' || c == 'e' || c == 'E' || c == 'I' || c == 'n' || c == 'f' ||
		(c == '-' || c == '+') && (prev == 'e' || prev == 'E')
}

// parseNumber accepts decimal literals and signed Inf; it refuses NaN, hex and underscores that
// strconv would otherwise take.
func parseNumber(text string) (float64, error) {
	body := strings.TrimLeft(text, "+-")
	switch body {
	case "Inf", "inf":
		if strings.HasPrefix(text, "-") {
			return math.Inf(-1), nil
		}
		return math.Inf(1), nil
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !(isDigit(c) || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
			return 0, errors.New("not a decimal number")
		}
	}
	return strconv.ParseFloat(text, 64)
}

// matrix is a numeric matrix literal with the line each row started on.
type matrix struct {
	rows  [][]float64
	lines []int
	line  int // line of the assignment
}

type parser struct {
	name   string
	toks   []token
	pos    int
	fields map[string]*matrix
	cells  map[string][]string
	vars   map[string]float64 // Octave variables set by accepted statements (Vbase, Sbase, pf)
	done   map[string]bool    // conversions already applied
	base   *token             // baseMVA assignment
	ver    *token
}

func (p *parser) errAt(line int, format string, args ...any) error {
	return &ParseError{Name: p.name, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) parse() error {
	p.done = map[string]bool{}
	p.cells = map[string][]string{}
	for {
		t := p.peek()
		switch {
		case t.kind == tEOF:
			return nil
		case t.kind == tNewline || t.kind == tPunct && t.text == ";":
			p.next()
		case t.kind == tIdent && t.text == "function" && p.pos == p.firstSignificant():
			if err := p.functionHeader(); err != nil {
				return err
			}
		case t.kind == tIdent && t.text == "mpc" && p.isDataAssignment():
			if err := p.dataAssignment(); err != nil {
				return err
			}
		default:
			if err := p.statement(); err != nil {
				return err
			}
		}
	}
}

func (p *parser) firstSignificant() int {
	for i, t := range p.toks {
		if t.kind != tNewline {
			return i
		}
	}
	return 0
}

// functionHeader accepts "function mpc = name".
func (p *parser) functionHeader() error {
	line := p.next().line
	a, eq, b := p.next(), p.next(), p.next()
	if a.kind != tIdent || eq.text != "=" || b.kind != tIdent {
		return p.errAt(line, "function header must read 'function mpc = NAME'")
	}
	if a.text != "mpc" {
		return p.errAt(line, "function returns %q, want mpc", a.text)
	}
	return p.endOfStatement(line)
}

// isDataAssignment reports whether the tokens at pos read "mpc.FIELD =", the form of every data field.
func (p *parser) isDataAssignment() bool {
	if p.pos+3 >= len(p.toks) {
		return false
	}
	dot, field, eq := p.toks[p.pos+1], p.toks[p.pos+2], p.toks[p.pos+3]
	return dot.text == "." && field.kind == tIdent && eq.text == "="
}

func (p *parser) dataAssignment() error {
	line := p.next().line
	p.next() // .
	field := p.next().text
	p.next() // =
	v := p.next()
	switch {
	case v.kind == tString:
		if field != "version" {
			return p.endOfStatement(line) // other string fields are descriptive data
		}
		if v.text != "2" {
			return p.errAt(line, "mpc.version is %q, only version '2' is supported", v.text)
		}
		p.ver = &v
	case v.kind == tNumber:
		if field == "baseMVA" {
			if p.base != nil {
				// MATPOWER would silently take the later value; two bases in one file is a mistake
				return p.errAt(line, "mpc.baseMVA assigned twice (first on line %d)", p.base.line)
			}
			if !(v.num > 0) || math.IsInf(v.num, 0) {
				return p.errAt(line, "baseMVA %v must be positive and finite", v.num)
			}
			p.base = &v
		}
	case v.kind == tPunct && v.text == "[":
		m, err := p.matrixBody(line)
		if err != nil {
			return err
		}
		if _, dup := p.fields[field]; dup {
			return p.errAt(line, "mpc.%s assigned twice", field)
		}
		p.fields[field] = m
	case v.kind == tPunct && v.text == "{":
		cells, err := p.cellBody(line)
		if err != nil {
			return err
		}
		p.cells[field] = cells
	default:
		return p.errAt(line, "mpc.%s: expected a literal value, found %q", field, v.text)
	}
	return p.endOfStatement(line)
}

func (p *parser) endOfStatement(line int) error {
	t := p.next()
	if t.kind == tNewline || t.kind == tEOF || t.kind == tPunct && t.text == ";" {
		return nil
	}
	return p.errAt(t.line, "unexpected %q after statement that started on line %d", t.text, line)
}

// matrixBody reads matrix rows after '[' up to ']'. Rows end at ';' or a newline; values are separated
// by blanks or commas.
func (p *parser) matrixBody(line int) (*matrix, error) {
	m := &matrix{line: line}
	var row []float64
	rowLine := 0
	endRow := func() error {
		if len(row) == 0 {
			return nil
		}
		if len(m.rows) > 0 && len(row) != len(m.rows[0]) {
			return p.errAt(rowLine, "row has %d columns, previous rows have %d", len(row), len(m.rows[0]))
		}
		m.rows = append(m.rows, row)
		m.lines = append(m.lines, rowLine)
		row = nil
		return nil
	}
	for {
		t := p.next()
		switch {
		case t.kind == tNumber:
			if math.IsNaN(t.num) {
				return nil, p.errAt(t.line, "NaN is not allowed")
			}
			if len(row) == 0 {
				rowLine = t.line
			}
			row = append(row, t.num)
		case t.kind == tPunct && t.text == ",":
		case t.kind == tNewline || t.kind == tPunct && t.text == ";":
			if err := endRow(); err != nil {
				return nil, err
			}
		case t.kind == tPunct && t.text == "]":
			if err := endRow(); err != nil {
				return nil, err
			}
			return m, nil
		case t.kind == tEOF:
			return nil, p.errAt(t.line, "matrix opened on line %d is not closed with ']'", line)
		default:
			return nil, p.errAt(t.line, "unexpected %q in matrix opened on line %d", t.text, line)
		}
	}
}

func (p *parser) cellBody(line int) ([]string, error) {
	var out []string
	for {
		t := p.next()
		switch {
		case t.kind == tString:
			out = append(out, t.text)
		case t.kind == tNewline || t.kind == tPunct && (t.text == ";" || t.text == ","):
		case t.kind == tPunct && t.text == "}":
			return out, nil
		case t.kind == tEOF:
			return nil, p.errAt(t.line, "cell array opened on line %d is not closed with '}'", line)
		default:
			return nil, p.errAt(t.line, "unexpected %q in cell array opened on line %d", t.text, line)
		}
	}
}

// statement reads one Octave statement (up to ';' or the end of the line) and applies it if it is one
// of the known conversions; anything else is refused.
func (p *parser) statement() error {
	start := p.peek().line
	var words []string
	var number float64
	for {
		t := p.peek()
		if t.kind == tEOF || t.kind == tNewline {
			break
		}
		p.next()
		if t.kind == tPunct && t.text == ";" {
			break
		}
		switch {
		case t.kind == tPunct && t.text == ",":
			continue // list separators: "[PD, QD]" and "[BR_R BR_X]" read the same
		case t.kind == tNumber:
			number = t.num
		}
		words = append(words, t.text)
	}
	text := strings.Join(words, " ")
	for _, conv := range conversions {
		if conv.pattern == text || conv.numeric && numericPattern(words) == conv.pattern {
			return conv.apply(p, start, number)
		}
	}
	return p.errAt(start, "unsupported statement %q: only the MATPOWER unit conversions (branch ohms to p.u., loads kW to MW, kVA at a power factor) are accepted", abbreviate(text))
}

// numericPattern replaces the value in "pf = 0.85" by '#', the placeholder used in conversions.
func numericPattern(words []string) string {
	if len(words) == 3 && words[1] == "=" {
		if _, err := parseNumber(words[2]); err == nil {
			return words[0] + " = #"
		}
	}
	return ""
}

func abbreviate(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// conversion is one accepted statement, written as its tokens joined by single spaces (commas dropped).
type conversion struct {
	id      string
	pattern string
	numeric bool // the pattern has a '#' placeholder for a number
	apply   func(p *parser, line int, number float64) error
}

const (
	idxBusNames  = "PQ PV REF NONE BUS_I BUS_TYPE PD QD GS BS BUS_AREA VM VA BASE_KV ZONE VMAX VMIN LAM_P LAM_Q MU_VMAX MU_VMIN"
	idxBrchNames = "F_BUS T_BUS BR_R BR_X BR_B RATE_A RATE_B RATE_C TAP SHIFT BR_STATUS PF QF PT QT MU_SF MU_ST ANGMIN ANGMAX MU_ANGMIN MU_ANGMAX"
)

// Column positions (0-based) in the MATPOWER matrices.
const (
	colBusI, colBusType, colPd, colQd, colGs, colBs, colArea, colVm, colVa, colBaseKV, colZone, colVmax, colVmin = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
	colGenBus, colPg, colQg, colQmax, colQmin, colVg, colMBase, colGenStatus, colPmax, colPmin                   = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
	colFBus, colTBus, colR, colX, colB, colRateA, colRateB, colRateC, colRatio, colShift, colBrStatus            = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
	colAngMin, colAngMax                                                                                         = 11, 12
)

// conversions are the statements MATPOWER's distribution cases end with, and nothing else: declaring
// the column names, converting branch r and x from ohms to p.u. on the bus-1 voltage base, converting
// loads from kW to MW, and (case141) turning a kVA load into MW and MVAr at a stated power factor.
var conversions = []conversion{
	{id: "idx_bus", pattern: "[ " + idxBusNames + " ] = idx_bus", apply: declare("idx_bus")},
	{id: "idx_brch", pattern: "[ " + idxBrchNames + " ] = idx_brch", apply: declare("idx_brch")},
	{id: "Vbase", pattern: "Vbase = mpc . bus ( 1 BASE_KV ) * 1e3", apply: setVbase},
	{id: "Sbase", pattern: "Sbase = mpc . baseMVA * 1e6", apply: setSbase},
	{id: "ohms", pattern: "mpc . branch ( : [ BR_R BR_X ] ) = mpc . branch ( : [ BR_R BR_X ] ) / ( Vbase ^ 2 / Sbase )", apply: ohmsToPU},
	{id: "kW", pattern: "mpc . bus ( : [ PD QD ] ) = mpc . bus ( : [ PD QD ] ) / 1e3", apply: kWToMW},
	{id: "pf", pattern: "pf = #", numeric: true, apply: setPowerFactor},
	{id: "pfQ", pattern: "mpc . bus ( : QD ) = mpc . bus ( : PD ) * sin ( acos ( pf ) )", apply: reactiveFromPF},
	{id: "pfP", pattern: "mpc . bus ( : PD ) = mpc . bus ( : PD ) * pf", apply: activeFromPF},
}

func (p *parser) once(id string, line int, needs ...string) error {
	if p.done[id] {
		return p.errAt(line, "statement repeated: %s was already applied", id)
	}
	for _, n := range needs {
		if !p.done[n] {
			return p.errAt(line, "statement needs %s first", n)
		}
	}
	p.done[id] = true
	return nil
}

func declare(id string) func(*parser, int, float64) error {
	return func(p *parser, line int, _ float64) error { return p.once(id, line) }
}

func (p *parser) need(field string, line int) (*matrix, error) {
	m := p.fields[field]
	if m == nil || len(m.rows) == 0 {
		return nil, p.errAt(line, "statement uses mpc.%s before it is defined", field)
	}
	return m, nil
}

func setVbase(p *parser, line int, _ float64) error {
	if err := p.once("Vbase", line, "idx_bus"); err != nil {
		return err
	}
	bus, err := p.need("bus", line)
	if err != nil {
		return err
	}
	if len(bus.rows[0]) <= colBaseKV || !(bus.rows[0][colBaseKV] > 0) || math.IsInf(bus.rows[0][colBaseKV], 0) {
		return p.errAt(line, "Vbase needs a positive finite BASE_KV on the first bus row")
	}
	p.vars["Vbase"] = bus.rows[0][colBaseKV] * 1e3
	return nil
}

func setSbase(p *parser, line int, _ float64) error {
	if err := p.once("Sbase", line); err != nil {
		return err
	}
	if p.base == nil {
		return p.errAt(line, "Sbase uses mpc.baseMVA before it is defined")
	}
	p.vars["Sbase"] = p.base.num * 1e6
	return nil
}

func ohmsToPU(p *parser, line int, _ float64) error {
	if err := p.once("ohms", line, "idx_brch", "Vbase", "Sbase"); err != nil {
		return err
	}
	br, err := p.need("branch", line)
	if err != nil {
		return err
	}
	zBase := p.vars["Vbase"] * p.vars["Vbase"] / p.vars["Sbase"]
	return scaleColumns(p, br, line, 1/zBase, colR, colX)
}

func kWToMW(p *parser, line int, _ float64) error {
	if err := p.once("kW", line, "idx_bus"); err != nil {
		return err
	}
	bus, err := p.need("bus", line)
	if err != nil {
		return err
	}
	return scaleColumns(p, bus, line, 1e-3, colPd, colQd)
}

func setPowerFactor(p *parser, line int, pf float64) error {
	if err := p.once("pf", line); err != nil {
		return err
	}
	if !(pf > 0 && pf <= 1) {
		return p.errAt(line, "power factor %v must be in (0, 1]", pf)
	}
	p.vars["pf"] = pf
	return nil
}

func reactiveFromPF(p *parser, line int, _ float64) error {
	if err := p.once("pfQ", line, "idx_bus", "pf"); err != nil {
		return err
	}
	bus, err := p.need("bus", line)
	if err != nil {
		return err
	}
	if len(bus.rows[0]) <= colQd {
		return p.errAt(line, "mpc.bus has no QD column")
	}
	s := math.Sin(math.Acos(p.vars["pf"]))
	for _, row := range bus.rows {
		row[colQd] = row[colPd] * s
	}
	return nil
}

func activeFromPF(p *parser, line int, _ float64) error {
	if err := p.once("pfP", line, "pfQ"); err != nil {
		return err
	}
	bus, err := p.need("bus", line)
	if err != nil {
		return err
	}
	return scaleColumns(p, bus, line, p.vars["pf"], colPd)
}

func scaleColumns(p *parser, m *matrix, line int, k float64, cols ...int) error {
	for _, c := range cols {
		if len(m.rows[0]) <= c {
			return p.errAt(line, "matrix has %d columns, the statement needs column %d", len(m.rows[0]), c+1)
		}
	}
	for _, row := range m.rows {
		for _, c := range cols {
			row[c] *= k
		}
	}
	return nil
}

// build turns the parsed matrices into a validated Case.
func (p *parser) build() (*Case, error) {
	eof := p.toks[len(p.toks)-1].line
	if p.ver == nil {
		return nil, p.errAt(eof, "missing mpc.version = '2'")
	}
	if p.base == nil {
		return nil, p.errAt(eof, "missing mpc.baseMVA")
	}
	c := &Case{Name: p.name, BaseMVA: p.base.num}
	if err := p.buildBuses(c, eof); err != nil {
		return nil, err
	}
	if err := p.buildGens(c, eof); err != nil {
		return nil, err
	}
	if err := p.buildBranches(c, eof); err != nil {
		return nil, err
	}
	return c, nil
}

func (p *parser) mustMatrix(field string, minCols, eof int) (*matrix, error) {
	m := p.fields[field]
	if m == nil || len(m.rows) == 0 {
		return nil, p.errAt(eof, "missing or empty mpc.%s", field)
	}
	if len(m.rows[0]) < minCols {
		return nil, p.errAt(m.lines[0], "mpc.%s has %d columns, at least %d needed", field, len(m.rows[0]), minCols)
	}
	return m, nil
}

// finite checks that the given columns of a row hold finite numbers.
func (p *parser) finite(field string, row []float64, line int, cols ...int) error {
	for _, c := range cols {
		if math.IsInf(row[c], 0) {
			return p.errAt(line, "mpc.%s column %d must be finite", field, c+1)
		}
	}
	return nil
}

func (p *parser) integer(field string, v float64, line int, what string) (int, error) {
	if v != math.Trunc(v) || math.Abs(v) > 1e9 {
		return 0, p.errAt(line, "mpc.%s: %s %v is not an integer", field, what, v)
	}
	return int(v), nil
}

func (p *parser) buildBuses(c *Case, eof int) error {
	m, err := p.mustMatrix("bus", 13, eof)
	if err != nil {
		return err
	}
	names := p.cells["bus_name"]
	if names != nil && len(names) != len(m.rows) {
		return p.errAt(eof, "mpc.bus_name has %d names for %d buses", len(names), len(m.rows))
	}
	seen := map[int]int{}
	for i, row := range m.rows {
		line := m.lines[i]
		if err := p.finite("bus", row, line, colBusI, colBusType, colPd, colQd, colGs, colBs, colArea, colVm, colVa, colBaseKV, colZone); err != nil {
			return err
		}
		id, err := p.integer("bus", row[colBusI], line, "bus number")
		if err != nil {
			return err
		}
		if id <= 0 {
			return p.errAt(line, "bus number %d must be positive", id)
		}
		if prev, dup := seen[id]; dup {
			return p.errAt(line, "bus %d already defined on line %d", id, prev)
		}
		seen[id] = line
		typ, err := p.integer("bus", row[colBusType], line, "bus type")
		if err != nil {
			return err
		}
		if typ < 1 || typ > 4 {
			return p.errAt(line, "bus %d: type %d, want 1 (PQ), 2 (PV), 3 (REF) or 4 (isolated)", id, typ)
		}
		if !(row[colVm] > 0) {
			return p.errAt(line, "bus %d: voltage magnitude %v must be positive", id, row[colVm])
		}
		b := Bus{ID: id, Type: BusType(typ), Pd: row[colPd], Qd: row[colQd], Gs: row[colGs], Bs: row[colBs],
			Area: int(row[colArea]), Vm: row[colVm], Va: row[colVa], BaseKV: row[colBaseKV], Zone: int(row[colZone]),
			Vmax: row[colVmax], Vmin: row[colVmin], Line: line}
		if names != nil {
			b.Name = strings.TrimSpace(names[i])
		}
		c.Buses = append(c.Buses, b)
	}
	return nil
}

func (p *parser) buildGens(c *Case, eof int) error {
	m, err := p.mustMatrix("gen", 10, eof)
	if err != nil {
		return err
	}
	buses := c.BusIndex()
	for i, row := range m.rows {
		line := m.lines[i]
		if err := p.finite("gen", row, line, colGenBus, colPg, colQg, colVg, colGenStatus); err != nil {
			return err
		}
		id, err := p.integer("gen", row[colGenBus], line, "bus number")
		if err != nil {
			return err
		}
		if _, ok := buses[id]; !ok {
			return p.errAt(line, "generator at bus %d, which is not in mpc.bus", id)
		}
		if !(row[colVg] > 0) {
			return p.errAt(line, "generator at bus %d: voltage set-point %v must be positive", id, row[colVg])
		}
		if row[colQmin] > row[colQmax] {
			return p.errAt(line, "generator at bus %d: Qmin %v above Qmax %v", id, row[colQmin], row[colQmax])
		}
		c.Gens = append(c.Gens, Gen{Bus: id, Pg: row[colPg], Qg: row[colQg], Qmax: row[colQmax], Qmin: row[colQmin],
			Vg: row[colVg], MBase: row[colMBase], InService: row[colGenStatus] > 0, Pmax: row[colPmax], Pmin: row[colPmin], Line: line})
	}
	return nil
}

func (p *parser) buildBranches(c *Case, eof int) error {
	m, err := p.mustMatrix("branch", 11, eof)
	if err != nil {
		return err
	}
	buses := c.BusIndex()
	for i, row := range m.rows {
		line := m.lines[i]
		if err := p.finite("branch", row, line, colFBus, colTBus, colR, colX, colB, colRatio, colShift, colBrStatus); err != nil {
			return err
		}
		from, err := p.integer("branch", row[colFBus], line, "from bus")
		if err != nil {
			return err
		}
		to, err := p.integer("branch", row[colTBus], line, "to bus")
		if err != nil {
			return err
		}
		for _, id := range []int{from, to} {
			if _, ok := buses[id]; !ok {
				return p.errAt(line, "branch %d-%d: bus %d is not in mpc.bus", from, to, id)
			}
		}
		if row[colBrStatus] == 0 {
			c.DroppedBranches++
			continue
		}
		if from == to {
			return p.errAt(line, "branch %d-%d connects a bus to itself", from, to)
		}
		if row[colR] == 0 && row[colX] == 0 {
			return p.errAt(line, "branch %d-%d has zero impedance", from, to)
		}
		if row[colRatio] < 0 {
			return p.errAt(line, "branch %d-%d: tap ratio %v must not be negative", from, to, row[colRatio])
		}
		br := Branch{From: from, To: to, R: row[colR], X: row[colX], B: row[colB], RateA: row[colRateA],
			Ratio: row[colRatio], ShiftDeg: row[colShift], AngMinDeg: -360, AngMaxDeg: 360, Line: line}
		if len(row) > colAngMax {
			br.AngMinDeg, br.AngMaxDeg = row[colAngMin], row[colAngMax]
		}
		c.Branches = append(c.Branches, br)
	}
	return nil
}
