package pmml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits on the documents the format accepts. A document over any of them is
// refused as corrupt before anything is compiled, so a hostile document
// cannot exhaust memory or the stack.
// The package documentation states them, under "Hostile documents".
const (
	maxDocBytes  = 256 << 20  // the largest document, in bytes
	maxDepth     = 2000       // the deepest element nesting
	maxAttrBytes = 64 << 10   // the longest attribute value
	maxTextBytes = 64 << 20   // the longest text content of one element (an Array)
	maxElements  = 20_000_000 // the largest number of elements
)

// maxDocumentBytes is maxDocBytes, lowered by tests.
var maxDocumentBytes = maxDocBytes

// node is one element of the document, with namespaces dropped: PMML
// elements are matched by local name, whatever version namespace the
// writer used.
type node struct {
	name  string
	attrs []xml.Attr
	kids  []*node
	text  string
}

// attr returns the value of the attribute called name and whether it is
// present.
func (n *node) attr(name string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// str returns the attribute called name, or def when absent.
func (n *node) str(name, def string) string {
	if v, ok := n.attr(name); ok {
		return v
	}
	return def
}

// num returns the attribute called name as a number, def when absent,
// and an error naming the element and attribute when it is not a
// number.
func (n *node) num(name string, def float64) (float64, error) {
	v, ok := n.attr(name)
	if !ok {
		return def, nil
	}
	f, err := parseNum(v)
	if err != nil {
		return 0, corruptf("%s@%s: %q is not a number", n.name, name, v)
	}
	return f, nil
}

// need returns the attribute called name, or an error when it is absent.
func (n *node) need(name string) (string, error) {
	v, ok := n.attr(name)
	if !ok {
		return "", corruptf("%s lacks the required attribute %s", n.name, name)
	}
	return v, nil
}

// needNum is need for a number.
func (n *node) needNum(name string) (float64, error) {
	if _, ok := n.attr(name); !ok {
		return 0, corruptf("%s lacks the required attribute %s", n.name, name)
	}
	return n.num(name, 0)
}

// all returns the children called name.
func (n *node) all(name string) []*node {
	var out []*node
	for _, k := range n.kids {
		if k.name == name {
			out = append(out, k)
		}
	}
	return out
}

// one returns the first child called name, or nil.
func (n *node) one(name string) *node {
	for _, k := range n.kids {
		if k.name == name {
			return k
		}
	}
	return nil
}

func parseNum(s string) (float64, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "INF", "Infinity":
		s = "+Inf"
	case "-INF", "-Infinity":
		s = "-Inf"
	}
	return strconv.ParseFloat(s, 64)
}

// parseXML reads b into a tree of nodes, refusing DOCTYPE and other
// directives (so no entity can be declared, let alone expanded), and
// documents over the limits.
func parseXML(b []byte) (*node, error) {
	if len(b) > maxDocumentBytes {
		return nil, corruptf("document of %d bytes is over the limit of %d", len(b), maxDocumentBytes)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var (
		root  *node
		stack []*node
		text  []byte
		count int
	)
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, corruptf("XML syntax error on line %d: %s", se.Line, se.Msg)
			}
			return nil, corruptf("XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			count++
			if count > maxElements {
				return nil, corruptf("more than %d elements", maxElements)
			}
			if len(stack) >= maxDepth {
				return nil, corruptf("elements nested deeper than %d", maxDepth)
			}
			if len(stack) == 0 && root != nil {
				return nil, corruptf("a second root element <%s>", t.Name.Local)
			}
			n := &node{name: t.Name.Local}
			for _, a := range t.Attr {
				if len(a.Value) > maxAttrBytes {
					return nil, corruptf("attribute %s of <%s> is %d bytes, over the limit of %d", a.Name.Local, t.Name.Local, len(a.Value), maxAttrBytes)
				}
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue
				}
				n.attrs = append(n.attrs, xml.Attr{Name: xml.Name{Local: a.Name.Local}, Value: a.Value})
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			} else {
				root = n
			}
			stack = append(stack, n)
			text = text[:0]
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, corruptf("unexpected end element </%s>", t.Name.Local)
			}
			n := stack[len(stack)-1]
			if n.name != t.Name.Local {
				return nil, corruptf("element <%s> closed by </%s>", n.name, t.Name.Local)
			}
			if len(n.kids) == 0 && len(text) > 0 {
				n.text = string(text)
			}
			text = text[:0]
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, corruptf("text outside the root element")
				}
				continue
			}
			if len(text)+len(t) > maxTextBytes {
				return nil, corruptf("text of <%s> is over the limit of %d bytes", stack[len(stack)-1].name, maxTextBytes)
			}
			text = append(text, t...)
		case xml.Directive:
			return nil, corruptf("XML directives (DOCTYPE, ENTITY) are refused")
		case xml.ProcInst, xml.Comment:
		}
	}
	if root == nil {
		return nil, corruptf("no root element")
	}
	if len(stack) > 0 {
		return nil, corruptf("element <%s> is not closed", stack[len(stack)-1].name)
	}
	if root.name != "PMML" {
		return nil, corruptf("root element is <%s>, want <PMML>", root.name)
	}
	return root, nil
}

// corruptf returns a corrupt-model error; parse wraps it with the format
// name.
func corruptf(format string, args ...any) error {
	return &docError{unsupported: false, msg: fmt.Sprintf(format, args...)}
}

// unsupportedf returns an unsupported-model error.
func unsupportedf(format string, args ...any) error {
	return &docError{unsupported: true, msg: fmt.Sprintf(format, args...)}
}

type docError struct {
	unsupported bool
	msg         string
}

func (e *docError) Error() string { return e.msg }

// parseArray splits the text of an Array element into its values: space
// separated, with double quotes around values that hold spaces, and \"
// for a quote inside quotes.
func parseArray(n *node) ([]string, error) {
	s := n.text
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			i++
			continue
		}
		if c == '"' {
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				if s[i] == '\\' && i+1 < len(s) && s[i+1] == '"' {
					b.WriteByte('"')
					i += 2
					continue
				}
				if s[i] == '"' {
					closed = true
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, corruptf("Array: unterminated quoted value")
			}
			out = append(out, b.String())
			continue
		}
		j := i
		for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' && s[j] != '\r' {
			j++
		}
		out = append(out, s[i:j])
		i = j
	}
	// n is not checked: writers (R's pmml package among them) get it
	// wrong, and the values are what the model means.
	return out, nil
}

// parseNumArray is parseArray for numbers.
func parseNumArray(n *node) ([]float64, error) {
	ss, err := parseArray(n)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(ss))
	for i, s := range ss {
		f, err := parseNum(s)
		if err != nil {
			return nil, corruptf("Array: %q is not a number", s)
		}
		out[i] = f
	}
	return out, nil
}
