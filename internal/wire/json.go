package wire

import (
	"bytes"
	"errors"
	"unicode/utf8"
)

// A minimal, linear scanner for JSON objects, used
// where decoding a whole document with encoding/json would cost more than
// the check needs. It checks structure only; fuzz targets hold it to
// encoding/json's answers on every valid document. Every function here
// visits each input byte a bounded number of times, so a hostile document
// costs at most a constant times its size.

// walkObject scans the JSON object that starts at b[i] (leading whitespace
// allowed) and calls member for each member, in order, with the name's raw
// bytes between the quotes, whether that name is plain (ASCII without
// escapes, so the raw bytes are the name), and the raw value. It returns the
// index just after the closing brace, or -1 when b[i:] does not start with a
// well-formed object or member returned false.
func walkObject(b []byte, i int, member func(name []byte, plain bool, value []byte) bool) int {
	return walkSeq(b, i, '{', '}', func(i int) int {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		end, plain := ScanString(b, i)
		if end < 0 {
			return -1
		}
		name := b[i+1 : end-1]
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		i = skipWS(b, i+1)
		vend := scanValue(b, i)
		if vend < 0 || !member(name, plain, b[i:vend]) {
			return -1
		}
		return vend
	})
}

// walkArray calls elem for each element of the JSON array that starts at
// b[i], and returns the index after the closing bracket, or -1.
func walkArray(b []byte, i int, elem func(value []byte) bool) int {
	return walkSeq(b, i, '[', ']', func(i int) int {
		vend := scanValue(b, i)
		if vend < 0 || !elem(b[i:vend]) {
			return -1
		}
		return vend
	})
}

// walkSeq scans the comma-separated items between open and close that start
// at b[i]: item reads the item at its index and returns the index after it,
// or -1 to stop. It returns the index after close, or -1.
func walkSeq(b []byte, i int, open, close byte, item func(i int) int) int {
	i = skipWS(b, i)
	if i >= len(b) || b[i] != open {
		return -1
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == close {
		return i + 1
	}
	for {
		if i = item(i); i < 0 {
			return -1
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case close:
			return i + 1
		default:
			return -1
		}
	}
}

// isObject reports whether b holds exactly one well-formed object (with
// surrounding whitespace) and calls member for its members.
func isObject(b []byte, member func(name []byte, plain bool, value []byte) bool) bool {
	end := walkObject(b, 0, member)
	return end >= 0 && skipWS(b, end) == len(b)
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// ScanString returns the index after the string starting at b[i] == '"',
// or -1, and whether its contents are plain: ASCII without escapes.
func ScanString(b []byte, i int) (end int, plain bool) {
	plain = true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '\\':
			plain = false
			j++
		case c == '"':
			return j + 1, plain
		case c < 0x20:
			return -1, false
		case c >= 0x80:
			plain = false
		}
	}
	return -1, false
}

// DeeperThan reports whether b nests arrays and objects more than limit
// levels deep anywhere (strings skipped), in one pass that stops at the
// first level too deep: linear in the bytes read, whatever b holds.
func DeeperThan(b []byte, limit int) bool {
	depth := 0
	for j := 0; j < len(b); j++ {
		switch b[j] {
		case '"':
			end, _ := ScanString(b, j)
			if end < 0 {
				return false
			}
			j = end - 1
		case '{', '[':
			if depth++; depth > limit {
				return true
			}
		case '}', ']':
			depth--
		}
	}
	return false
}

// scanValue returns the index after the JSON value starting at b[i], or -1.
func scanValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := ScanString(b, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := ScanString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

var errBadString = errors.New("not a valid JSON string")

// DecodeString decodes a JSON string value (with surrounding JSON
// whitespace) as encoding/json does.
func DecodeString(raw []byte) (string, error) {
	raw = bytes.Trim(raw, " \t\r\n") // JSON whitespace only: not \f or \v
	n := len(raw)
	if n < 2 || raw[0] != '"' || raw[n-1] != '"' {
		return "", errBadString
	}
	end, plain := ScanString(raw, 0)
	if end != n {
		return "", errBadString
	}
	if plain {
		return string(raw[1 : n-1]), nil
	}
	b, ok := appendUnquoted(make([]byte, 0, n), raw[1:n-1])
	if !ok {
		return "", errBadString
	}
	return string(b), nil
}

// appendUnquoted appends the decoded contents of a JSON string (s is what
// lies between the quotes, as ScanString delimited it) to dst, with
// encoding/json's rules: invalid UTF-8 and unpaired surrogates become
// U+FFFD. ok is false for an invalid escape or a control character.
func appendUnquoted(dst, s []byte) ([]byte, bool) {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return dst, false
			}
			switch s[i+1] {
			case '"', '\\', '/':
				dst = append(dst, s[i+1])
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r, ok := hex4(s, i+2)
				if !ok {
					return dst, false
				}
				i += 6
				if 0xD800 <= r && r < 0xDC00 { // a high surrogate: a low one must follow
					if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if lo, ok := hex4(s, i+2); ok && 0xDC00 <= lo && lo < 0xE000 {
							dst = utf8.AppendRune(dst, (r-0xD800)<<10+(lo-0xDC00)+0x10000)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				} else if 0xDC00 <= r && r < 0xE000 {
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default:
				return dst, false
			}
			i += 2
		case c < 0x20 || c == '"':
			return dst, false
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
	}
	return dst, true
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
