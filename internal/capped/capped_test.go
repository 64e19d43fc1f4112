package capped

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

type failing struct{ io.Reader }

func (f failing) Read(p []byte) (int, error) {
	n, err := f.Reader.Read(p)
	if err == io.EOF {
		return n, errors.New("connection reset")
	}
	return n, err
}

func TestReadAll(t *testing.T) {
	for _, tt := range []struct {
		name     string
		in       string
		limit    int64
		hint     int64
		want     string
		over     bool
		wantErr  bool
		readable int // bytes the reader may give at most
	}{
		{"empty", "", 10, 0, "", false, false, 0},
		{"under", "hello", 10, 0, "hello", false, false, 5},
		{"exactly the limit", "0123456789", 10, 0, "0123456789", false, false, 10},
		{"one over", "0123456789a", 10, 0, "", true, false, 11},
		{"far over reads limit+1 only", strings.Repeat("x", 1<<20), 10, 0, "", true, false, 11},
		{"lying Content-Length", strings.Repeat("x", 100), 10, 5, "", true, false, 11},
		{"huge hint ignored", "abc", 10, 1 << 40, "abc", false, false, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := strings.NewReader(tt.in)
			b, over, err := ReadAll(r, tt.limit, tt.hint)
			if string(b) != tt.want || over != tt.over || (err != nil) != tt.wantErr {
				t.Fatalf("ReadAll = %q, %v, %v", b, over, err)
			}
			if read := len(tt.in) - r.Len(); read > tt.readable {
				t.Fatalf("read %d bytes, want at most %d", read, tt.readable)
			}
		})
	}
	b, over, err := ReadAll(failing{bytes.NewReader([]byte("part"))}, 10, 0)
	if err == nil || over || string(b) != "part" {
		t.Fatalf("read error: %q %v %v", b, over, err)
	}
	if b, over, err := ReadAll(nil, 10, 0); b != nil || over || err != nil {
		t.Fatal("nil reader")
	}
}

func BenchmarkReadAllWithHint(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 4096)
	b.ReportAllocs()
	for b.Loop() {
		_, _, _ = ReadAll(bytes.NewReader(body), 1<<20, int64(len(body)))
	}
}
