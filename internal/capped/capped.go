// Package capped reads what a peer sends, never more than a limit: the one
// capped reader of the module, for request bodies, metadata documents, key
// sets, introspection responses and client metadata documents.
package capped

import "io"

// ReadAll reads r to its end if it holds at most limit bytes. When it holds
// more, over is true and b is nil; at most limit+1 bytes are read. sizeHint,
// when positive and within the limit (a Content-Length), sizes the buffer so
// that reading it costs one allocation. err is a read error other than EOF;
// b holds what was read before it.
func ReadAll(r io.Reader, limit, sizeHint int64) (b []byte, over bool, err error) {
	if r == nil {
		return nil, false, nil
	}
	size := int64(512)
	if sizeHint > 0 && sizeHint <= limit {
		size = sizeHint + 1 // +1 so the read that sees EOF needs no growth
	}
	b = make([]byte, 0, size)
	lr := io.LimitReader(r, limit+1)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, rerr := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if rerr != nil {
			if rerr != io.EOF {
				err = rerr
			}
			break
		}
	}
	if int64(len(b)) > limit {
		return nil, true, nil
	}
	return b, false, err
}
