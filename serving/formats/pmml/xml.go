package pmml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
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

	// The tree the parser builds takes about 100 bytes per element, and
	// an element can be written in 4 (<a/>), so the number of elements
	// kept is bounded by the document's size as well: one per
	// bytesPerNode bytes, plus slackNodes. Real documents need far less:
	// the writers' output in testdata has 41 bytes or more per element.
	// Elements inside ignorable subtrees are skipped without being kept
	// and count only towards maxElements.
	bytesPerNode = 12
	slackNodes   = 1024
)

// skipped elements carry nothing the compiler reads, inside or out: the
// parser keeps a bare node for them (name only), so the compiler still
// sees where they were, and reads past their content without keeping it.
var skipped = map[string]bool{
	"Extension": true, "Header": true, "MiningBuildTask": true, "ModelStats": true,
	"ModelExplanation": true, "ModelVerification": true,
}

// maxDocumentBytes is maxDocBytes, lowered by tests.
var maxDocumentBytes = maxDocBytes

// node is one element of the document, with namespaces dropped: PMML
// elements are matched by local name, whatever version namespace the
// writer used.
type node struct {
	name  string
	attrs []attr
	kids  []*node
	text  string
}

// attr is one attribute of a node, namespace dropped.
type attr struct{ name, value string }

// attr returns the value of the attribute called name and whether it is
// present.
func (n *node) attr(name string) (string, bool) {
	for _, a := range n.attrs {
		if a.name == name {
			return a.value, true
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

// expression returns the expression of n, a DerivedField or a
// ComplexPartialScore: its first child other than the Extension and Value
// elements the schema allows around it, or nil when it has none.
func (n *node) expression() *node {
	for _, k := range n.kids {
		if k.name != "Extension" && k.name != "Value" {
			return k
		}
	}
	return nil
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
	// XML allows a UTF-8 document to begin with a byte order mark, as
	// writers on Windows often do; encoding/xml would read it as text
	// outside the root element.
	d := xml.NewDecoder(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff"))))
	d.Strict = true
	var (
		root  *node
		stack []*node
		text  []byte
		count int
		nodes int
		// skip holds the names of the open elements of an ignorable
		// subtree being read past; its first entry is the subtree's root.
		skip []string
	)
	maxNodes := slackNodes + len(b)/bytesPerNode
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
			if len(stack)+len(skip) >= maxDepth {
				return nil, corruptf("elements nested deeper than %d", maxDepth)
			}
			for _, a := range t.Attr {
				if len(a.Value) > maxAttrBytes {
					return nil, corruptf("attribute %s of <%s> is %d bytes, over the limit of %d", a.Name.Local, t.Name.Local, len(a.Value), maxAttrBytes)
				}
			}
			if len(skip) > 0 {
				skip = append(skip, t.Name.Local)
				continue
			}
			if len(stack) == 0 && root != nil {
				return nil, corruptf("a second root element <%s>", t.Name.Local)
			}
			nodes++
			if nodes > maxNodes {
				return nil, corruptf("more than %d elements in a document of %d bytes (the limit is %d plus one per %d bytes)", maxNodes, len(b), slackNodes, bytesPerNode)
			}
			n := &node{name: t.Name.Local}
			if len(stack) > 0 && skipped[n.name] {
				// A bare node: the compiler sees the element, not its
				// attributes or content.
				stack[len(stack)-1].kids = append(stack[len(stack)-1].kids, n)
				skip = append(skip, n.name)
				continue
			}
			k := 0
			for _, a := range t.Attr {
				if !isXMLNS(a) {
					k++
				}
			}
			if k > 0 {
				n.attrs = make([]attr, 0, k)
				for _, a := range t.Attr {
					if !isXMLNS(a) {
						n.attrs = append(n.attrs, attr{a.Name.Local, a.Value})
					}
				}
				if name, dup := twice(n.attrs); dup {
					return nil, corruptf("<%s> has the attribute %s twice", n.name, name)
				}
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
			if len(skip) > 0 {
				if skip[len(skip)-1] != t.Name.Local {
					return nil, corruptf("element <%s> closed by </%s>", skip[len(skip)-1], t.Name.Local)
				}
				skip = skip[:len(skip)-1]
				continue
			}
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
			if cap(n.kids) > len(n.kids) {
				// Drop the slack append left, up to half the slice.
				n.kids = slices.Clip(n.kids)
			}
			text = text[:0]
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(skip) > 0 {
				continue
			}
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
	if len(skip) > 0 {
		return nil, corruptf("element <%s> is not closed", skip[len(skip)-1])
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

// twice returns the name of an attribute that occurs more than once,
// namespaces dropped. XML allows an attribute once per element, which
// encoding/xml does not check; and attributes are matched by local name,
// so a:x beside b:x would be as ambiguous.
func twice(as []attr) (string, bool) {
	if len(as) <= 16 {
		for i := range as {
			for j := range i {
				if as[i].name == as[j].name {
					return as[i].name, true
				}
			}
		}
		return "", false
	}
	seen := make(map[string]bool, len(as))
	for _, a := range as {
		if seen[a.name] {
			return a.name, true
		}
		seen[a.name] = true
	}
	return "", false
}

// isXMLNS says whether a is a namespace declaration.
func isXMLNS(a xml.Attr) bool {
	return a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns")
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

// within prefixes a document error with where it was met, keeping its
// kind: a derived field compiled when a MiningSchema first names it may
// be unsupported rather than corrupt.
func within(err error, format string, args ...any) error {
	de, ok := err.(*docError)
	if !ok {
		return err
	}
	return &docError{unsupported: de.unsupported, msg: fmt.Sprintf(format, args...) + ": " + de.msg}
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
