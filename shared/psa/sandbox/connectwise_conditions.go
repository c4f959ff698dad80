package sandbox

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// This file parses and evaluates the ConnectWise `conditions` /
// `childConditions` query syntax (PSA-API-NOTES.md 2.2): comparisons
// `field op value` with op one of = != < <= > >= like contains in (and
// `not` before like/contains/in), joined with AND / OR and parentheses.
// Values: "quoted strings" (`*` is a wildcard with like), numbers,
// True/False, null, [2025-06-01T00:00:00Z] datetimes, and (v1, v2) lists
// after in. Keywords are case-insensitive, as on the real server.

// cwCond is a parsed condition tree.
type cwCond interface {
	// eval decides the condition on a record whose fields are given by a
	// flat map of paths ("company/id") to values; a []any value (a child
	// collection such as types/id) matches when any element does.
	eval(rec map[string]any) (bool, error)
}

type cwAnd struct{ l, r cwCond }
type cwOr struct{ l, r cwCond }
type cwNot struct{ c cwCond }

// cwCmp is one comparison.
type cwCmp struct {
	field string
	op    string // = != < <= > >= like contains in
	neg   bool   // not like / not contains / not in
	vals  []any  // one value, or the list of in
}

func (c cwAnd) eval(rec map[string]any) (bool, error) {
	l, err := c.l.eval(rec)
	if err != nil || !l {
		return false, err
	}
	return c.r.eval(rec)
}

func (c cwOr) eval(rec map[string]any) (bool, error) {
	l, err := c.l.eval(rec)
	if err != nil || l {
		return l, err
	}
	return c.r.eval(rec)
}

func (c cwNot) eval(rec map[string]any) (bool, error) {
	v, err := c.c.eval(rec)
	return !v, err
}

func (c cwCmp) eval(rec map[string]any) (bool, error) {
	v, ok := rec[c.field]
	if !ok {
		// The real server answers 400 for an unknown field; so do we, so a
		// client typo cannot pass silently.
		return false, fmt.Errorf("Cannot find property %s", c.field)
	}
	if list, isList := v.([]any); isList {
		for _, e := range list {
			m, err := c.match(e)
			if err != nil || m {
				return m, err
			}
		}
		return c.neg, nil
	}
	return c.match(v)
}

func (c cwCmp) match(v any) (bool, error) {
	var m bool
	switch c.op {
	case "in":
		for _, w := range c.vals {
			if cwCompare(v, w) == 0 {
				m = true
				break
			}
		}
	case "like":
		s, ok := v.(string)
		p, pok := c.vals[0].(string)
		if !ok || !pok {
			return false, fmt.Errorf("like needs a string field and pattern (%s)", c.field)
		}
		m = cwLike(strings.ToLower(s), strings.ToLower(p))
	case "contains":
		s, ok := v.(string)
		p, pok := c.vals[0].(string)
		if !ok || !pok {
			return false, fmt.Errorf("contains needs a string field and value (%s)", c.field)
		}
		m = strings.Contains(strings.ToLower(s), strings.ToLower(p))
	default:
		w := c.vals[0]
		if v == nil || w == nil {
			eq := v == nil && w == nil
			switch c.op {
			case "=":
				return eq, nil
			case "!=":
				return !eq, nil
			}
			return false, nil
		}
		if !cwComparable(v, w) {
			return false, fmt.Errorf("Invalid value for %s", c.field)
		}
		r := cwCompare(v, w)
		switch c.op {
		case "=":
			m = r == 0
		case "!=":
			m = r != 0
		case "<":
			m = r < 0
		case "<=":
			m = r <= 0
		case ">":
			m = r > 0
		case ">=":
			m = r >= 0
		}
	}
	return m != c.neg, nil
}

// cwComparable reports whether two values have compatible kinds.
func cwComparable(a, b any) bool {
	switch a.(type) {
	case float64:
		_, ok := b.(float64)
		return ok
	case string:
		_, ok := b.(string)
		return ok
	case bool:
		_, ok := b.(bool)
		return ok
	case time.Time:
		_, ok := b.(time.Time)
		return ok
	}
	return false
}

// cwCompare orders two values: strings case-insensitively (SQL Server's
// default collation), numbers, booleans and times naturally. Values of
// different kinds compare unequal.
func cwCompare(a, b any) int {
	switch x := a.(type) {
	case float64:
		if y, ok := b.(float64); ok {
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(strings.ToLower(x), strings.ToLower(y))
		}
	case bool:
		if y, ok := b.(bool); ok {
			if x == y {
				return 0
			}
			if !x {
				return -1
			}
			return 1
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y)
		}
	case nil:
		if b == nil {
			return 0
		}
	}
	return 2
}

// cwLike matches s against a pattern where * is any run of characters.
func cwLike(s, p string) bool {
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return s == p
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// cwToken is one lexical token.
type cwToken struct {
	kind string // ident, op, str, num, date, lparen, rparen, comma
	text string
}

func cwLex(src string) ([]cwToken, error) {
	var toks []cwToken
	rs := []rune(src)
	for i := 0; i < len(rs); {
		c := rs[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '(':
			toks = append(toks, cwToken{"lparen", "("})
			i++
		case c == ')':
			toks = append(toks, cwToken{"rparen", ")"})
			i++
		case c == ',':
			toks = append(toks, cwToken{"comma", ","})
			i++
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				if rs[j] == '\\' && j+1 < len(rs) {
					j++
				}
				b.WriteRune(rs[j])
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			toks = append(toks, cwToken{"str", b.String()})
			i = j + 1
		case c == '[':
			j := i + 1
			for j < len(rs) && rs[j] != ']' {
				j++
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("unterminated datetime at %d", i)
			}
			toks = append(toks, cwToken{"date", string(rs[i+1 : j])})
			i = j + 1
		case strings.ContainsRune("=!<>", c):
			j := i + 1
			if j < len(rs) && rs[j] == '=' {
				j++
			}
			op := string(rs[i:j])
			if op == "!" {
				return nil, fmt.Errorf("bad operator at %d", i)
			}
			toks = append(toks, cwToken{"op", op})
			i = j
		case c == '-' || unicode.IsDigit(c):
			j := i + 1
			for j < len(rs) && (unicode.IsDigit(rs[j]) || rs[j] == '.') {
				j++
			}
			toks = append(toks, cwToken{"num", string(rs[i:j])})
			i = j
		case unicode.IsLetter(c) || c == '_':
			j := i + 1
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || rs[j] == '_' || rs[j] == '/' || rs[j] == '.') {
				j++
			}
			toks = append(toks, cwToken{"ident", string(rs[i:j])})
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q at %d", c, i)
		}
	}
	return toks, nil
}

// cwParser is a recursive-descent parser over the tokens:
//
//	expr   := term (OR term)*
//	term   := factor (AND factor)*
//	factor := '(' expr ')' | NOT factor | field op value | field [not] in '(' value {, value} ')'
type cwParser struct {
	toks []cwToken
	pos  int
}

// parseCWConditions parses a conditions string; an empty string is nil
// (match everything).
func parseCWConditions(src string) (cwCond, error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	toks, err := cwLex(src)
	if err != nil {
		return nil, err
	}
	p := &cwParser{toks: toks}
	c, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos].text)
	}
	return c, nil
}

func (p *cwParser) peek() (cwToken, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return cwToken{}, false
}

func (p *cwParser) keyword(kw string) bool {
	t, ok := p.peek()
	if ok && t.kind == "ident" && strings.EqualFold(t.text, kw) {
		p.pos++
		return true
	}
	return false
}

func (p *cwParser) expr() (cwCond, error) {
	l, err := p.term()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		r, err := p.term()
		if err != nil {
			return nil, err
		}
		l = cwOr{l, r}
	}
	return l, nil
}

func (p *cwParser) term() (cwCond, error) {
	l, err := p.factor()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		r, err := p.factor()
		if err != nil {
			return nil, err
		}
		l = cwAnd{l, r}
	}
	return l, nil
}

func (p *cwParser) factor() (cwCond, error) {
	t, ok := p.peek()
	if !ok {
		return nil, fmt.Errorf("unexpected end of conditions")
	}
	if t.kind == "lparen" {
		p.pos++
		c, err := p.expr()
		if err != nil {
			return nil, err
		}
		if t, ok := p.peek(); !ok || t.kind != "rparen" {
			return nil, fmt.Errorf("missing )")
		}
		p.pos++
		return c, nil
	}
	if p.keyword("not") {
		c, err := p.factor()
		if err != nil {
			return nil, err
		}
		return cwNot{c}, nil
	}
	if t.kind != "ident" {
		return nil, fmt.Errorf("expected a field name, got %q", t.text)
	}
	p.pos++
	cmp := cwCmp{field: t.text}
	if p.keyword("not") {
		cmp.neg = true
	}
	op, ok := p.peek()
	if !ok {
		return nil, fmt.Errorf("missing operator after %s", cmp.field)
	}
	switch {
	case op.kind == "op" && !cmp.neg:
		cmp.op = op.text
		p.pos++
	case op.kind == "ident" && (strings.EqualFold(op.text, "like") || strings.EqualFold(op.text, "contains") || strings.EqualFold(op.text, "in")):
		cmp.op = strings.ToLower(op.text)
		p.pos++
	default:
		return nil, fmt.Errorf("bad operator %q after %s", op.text, cmp.field)
	}
	if cmp.op == "in" {
		if t, ok := p.peek(); !ok || t.kind != "lparen" {
			return nil, fmt.Errorf("in needs a (list)")
		}
		p.pos++
		for {
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			cmp.vals = append(cmp.vals, v)
			t, ok := p.peek()
			if !ok {
				return nil, fmt.Errorf("missing ) after in list")
			}
			p.pos++
			if t.kind == "rparen" {
				break
			}
			if t.kind != "comma" {
				return nil, fmt.Errorf("unexpected %q in list", t.text)
			}
		}
		return cmp, nil
	}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	cmp.vals = []any{v}
	return cmp, nil
}

func (p *cwParser) value() (any, error) {
	t, ok := p.peek()
	if !ok {
		return nil, fmt.Errorf("missing value")
	}
	p.pos++
	switch t.kind {
	case "str":
		return t.text, nil
	case "num":
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q", t.text)
		}
		return f, nil
	case "date":
		d, err := time.Parse(time.RFC3339, t.text)
		if err != nil {
			return nil, fmt.Errorf("bad datetime [%s]", t.text)
		}
		return d, nil
	case "ident":
		switch strings.ToLower(t.text) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "null":
			return nil, nil
		}
	}
	return nil, fmt.Errorf("bad value %q", t.text)
}
