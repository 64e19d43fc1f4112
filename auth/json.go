package auth

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Wire-format helpers: a minimal scanner for the top level of a JSON object,
// used where decoding the whole document with encoding/json would cost more
// than the check needs. Its callers fall back to encoding/json whenever it
// declines, and fuzz targets hold both to the same answers.

// walkObject calls member for each top-level member of the JSON object b,
// in order, with the name (without quotes) and the encoded value. It returns
// false when b is not a well-formed object whose names are plain ASCII
// without escapes, or when member returns false.
func walkObject(b []byte, member func(name, value []byte) bool) bool {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipWS(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return false
		}
		end := scanString(b, i)
		if end < 0 || !plainASCII(b[i+1:end-1]) {
			return false
		}
		name := b[i+1 : end-1]
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipWS(b, i+1)
		vend := scanValue(b, i)
		if vend < 0 || !member(name, b[i:vend]) {
			return false
		}
		i = skipWS(b, vend)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return skipWS(b, i+1) == len(b)
		default:
			return false
		}
	}
}

func plainASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || c == '\\' {
			return false
		}
	}
	return true
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the index after the string starting at b[i] == '"', or -1.
func scanString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '\\':
			j++
		case c == '"':
			return j + 1
		case c < 0x20:
			return -1
		}
	}
	return -1
}

// scanValue returns the index after the JSON value starting at b[i], or -1.
func scanValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return scanString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end := scanString(b, j)
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

// decodeString decodes a JSON string value, without encoding/json when it
// is plain ASCII without escapes.
func decodeString(raw json.RawMessage) (string, error) {
	raw = bytes.Trim(raw, " \t\r\n") // JSON whitespace only: not \f or \v
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' && plainASCII(raw[1:n-1]) && bytes.IndexByte(raw[1:n-1], '"') < 0 {
		for _, c := range raw[1 : n-1] {
			if c < 0x20 {
				return "", errors.New("control character in a string")
			}
		}
		return string(raw[1 : n-1]), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}
