package webhook

import (
	"errors"
	"io"
	"net/http"
)

// MaxBodyBytes is the largest delivery accepted (CONTRACTS section 4):
// 256 KiB; a body of exactly this size is accepted, one byte more is 413.
const MaxBodyBytes = 256 << 10

var errTooLarge = errors.New("body too large")

// readBody reads the whole body, at most limit bytes. It allocates once when
// the length is declared (the API Gateway adapter always declares it).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	rd := http.MaxBytesReader(w, r.Body, limit)
	defer rd.Close()
	size := int64(512)
	if r.ContentLength >= 0 {
		// One byte more than declared, so that reading to EOF needs no regrowth.
		size = r.ContentLength + 1
	}
	buf := make([]byte, 0, size)
	for {
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, errTooLarge
			}
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}
