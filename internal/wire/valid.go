package wire

// A validating scanner: it accepts exactly the documents encoding/json's
// Valid accepts (FuzzValidMatchesEncodingJSON holds it to encoding/json),
// in one pass that visits each byte once, without recursion, so that a JWT
// payload is validated and split into members in the same pass
// (Object.scanExact).

// validValue returns the index after the valid JSON value that starts at
// b[i], or -1. Nesting is tracked in a stack of the open containers, not
// by recursion.
func validValue(b []byte, i int) int {
	var open [32]byte
	stack := open[:0]
	for {
		if i < 0 || i >= len(b) {
			return -1
		}
		complete := true
		switch c := b[i]; {
		case c == '{' || c == '[':
			j := skipWS(b, i+1)
			if j < len(b) && b[j] == c+2 { // '{'+2 is '}', '['+2 is ']'
				i = j + 1
				break
			}
			stack, i, complete = append(stack, c), j, false
			if c == '{' {
				i = validKey(b, i)
			}
		case c == '"':
			i, _ = validString(b, i)
		case c == '-' || '0' <= c && c <= '9':
			i = validNumber(b, i)
		case c == 't':
			i = literal(b, i, "true")
		case c == 'f':
			i = literal(b, i, "false")
		case c == 'n':
			i = literal(b, i, "null")
		default:
			return -1
		}
		if i < 0 {
			return -1
		}
		if !complete {
			continue // the first value of a new container
		}
		// A value is complete: close containers, or go on to the next
		// element of the innermost one.
		for {
			if len(stack) == 0 {
				return i
			}
			if i = skipWS(b, i); i >= len(b) {
				return -1
			}
			top := stack[len(stack)-1]
			if b[i] == top+2 {
				stack, i = stack[:len(stack)-1], i+1
				continue
			}
			if b[i] != ',' {
				return -1
			}
			if i = skipWS(b, i+1); top == '{' {
				i = validKey(b, i)
			}
			break
		}
	}
}

// validKey checks a member name and its colon at b[i] and returns the index
// of the value, or -1.
func validKey(b []byte, i int) int {
	end, _ := validString(b, i)
	if end < 0 {
		return -1
	}
	if i = skipWS(b, end); i >= len(b) || b[i] != ':' {
		return -1
	}
	return skipWS(b, i+1)
}

// validString returns the index after the valid JSON string at b[i] and
// whether it is plain (ASCII without escapes), or -1.
func validString(b []byte, i int) (end int, plain bool) {
	if i >= len(b) || b[i] != '"' {
		return -1, false
	}
	plain = true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, plain
		case c < 0x20:
			return -1, false
		case c >= 0x80:
			plain = false
		case c == '\\':
			plain = false
			if j++; j >= len(b) {
				return -1, false
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if _, ok := hex4(b, j+1); !ok {
					return -1, false
				}
				j += 4
			default:
				return -1, false
			}
		}
	}
	return -1, false
}

// validNumber returns the index after the valid JSON number at b[i], or -1:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if j := digits(b, i+1); j > i+1 {
			i = j
		} else {
			return -1
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// literal returns the index after lit at b[i], or -1.
func literal(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}
