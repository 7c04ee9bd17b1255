package proxy

import (
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// accessLog writes gorouter's access log lines:
//
//	<host> - [<start, UTC>] "<method> <uri> <proto>" <status> <request bytes> <response bytes>
//	"<referer>" "<user agent>" "<client addr>" "<backend addr>" x_forwarded_for:"…"
//	x_forwarded_proto:"…" vcap_request_id:"…" response_time:<s> gorouter_time:<s>
//	app_id:"…" app_index:"…" instance_id:"…" x_cf_routererror:"…"
//
// on one line; "-" stands for an empty value.
type accessLog struct {
	mu  sync.Mutex
	out io.Writer
}

func newAccessLog(out io.Writer) *accessLog {
	if out == nil {
		return nil
	}
	return &accessLog{out: out}
}

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (l *accessLog) write(s *request, r *http.Request) {
	bp := linePool.Get().(*[]byte)
	b := (*bp)[:0]

	var appID, appIndex, instanceID, backend string
	if e := s.endpoint; e != nil {
		appID, appIndex, instanceID, backend = e.AppID, e.PrivateInstanceIndex, e.PrivateInstanceID, s.endpointAddr
	}
	h := r.Header
	if s.outHeader != nil {
		h = s.outHeader
	}
	total := s.finished.Sub(s.started)

	b = append(b, r.Host...)
	b = append(b, " - ["...)
	b = s.started.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000000Z")
	b = append(b, "] "...)
	b = strconv.AppendQuote(b, r.Method+" "+r.RequestURI+" "+r.Proto)
	b = append(b, ' ')
	if s.status == 0 {
		b = append(b, `"-"`...)
	} else {
		b = strconv.AppendInt(b, int64(s.status), 10)
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, max(r.ContentLength, 0), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, s.bytes, 10)
	b = append(b, ' ')
	b = quoted(b, h.Get("Referer"))
	b = quoted(b, h.Get("User-Agent"))
	b = quoted(b, r.RemoteAddr)
	b = quoted(b, backend)
	b = append(b, "x_forwarded_for:"...)
	b = quoted(b, h.Get("X-Forwarded-For"))
	b = append(b, "x_forwarded_proto:"...)
	b = quoted(b, h.Get(headerForwardedProt))
	b = append(b, "vcap_request_id:"...)
	b = quoted(b, h.Get(headerRequestID))
	b = append(b, "response_time:"...)
	b = strconv.AppendFloat(b, total.Seconds(), 'f', 6, 64)
	b = append(b, " gorouter_time:"...)
	b = strconv.AppendFloat(b, max(total-s.backendTime, time.Duration(0)).Seconds(), 'f', 6, 64)
	b = append(b, " app_id:"...)
	b = quoted(b, appID)
	b = append(b, "app_index:"...)
	b = quoted(b, appIndex)
	b = append(b, "instance_id:"...)
	b = quoted(b, instanceID)
	b = append(b, "x_cf_routererror:"...)
	b = quoted(b, s.routerError)
	b[len(b)-1] = '\n'

	l.mu.Lock()
	_, _ = l.out.Write(b)
	l.mu.Unlock()
	*bp = b
	linePool.Put(bp)
}

// quoted appends v quoted, or "-" when empty, and a space.
func quoted(b []byte, v string) []byte {
	if v == "" {
		b = append(b, `"-"`...)
	} else {
		b = strconv.AppendQuote(b, v)
	}
	return append(b, ' ')
}
