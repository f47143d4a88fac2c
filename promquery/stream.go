package promquery

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	jsoniter "github.com/json-iterator/go"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// sampleSink receives a query's answer one series at a time. pts is reused
// for the next series once it returns: a sink that keeps points must copy
// them.
type sampleSink func(l seriesLabels, pts []model.SamplePair) error

// seriesLabels are one answer series' labels: the JSON object as the
// server wrote it (the streaming decoder), or a decoded metric (an API
// answer). A fleet's answers repeat the same label sets in every query, so
// the raw bytes let the join recognise a set it has seen without decoding
// it again.
type seriesLabels struct {
	raw    []byte
	metric model.Metric // owned by the caller when set: copy before keeping
}

// decode returns the labels as a metric the caller may keep and change.
func (l seriesLabels) decode() (model.Metric, error) {
	if l.raw == nil {
		return l.metric.Clone(), nil
	}
	it := jsoniter.ParseBytes(jsoniter.ConfigDefault, l.raw)
	m := model.Metric{}
	decodeLabels(it, m)
	if it.Error != nil && !errors.Is(it.Error, io.EOF) {
		return nil, fmt.Errorf("decode labels %s: %w", l.raw, it.Error)
	}
	return m, nil
}

// streamer decodes query answers straight into a sink, series by series,
// without materialising the whole answer (client_golang's api/v1 builds a
// model.Matrix of every point first, most of a large cycle's CPU and
// memory). The HTTP client implements it; other APIs (the embedded engine)
// are read through API and fed to the sink.
type streamer interface {
	queryInto(ctx context.Context, query string, at time.Time, sink sampleSink) ([]string, error)
	queryRangeInto(ctx context.Context, query string, r v1.Range, sink sampleSink) ([]string, error)
	// seriesInto lists the series matching match in [start, end], passing
	// each one's value of label ("" when absent) to each.
	seriesInto(ctx context.Context, match string, start, end time.Time, label string, each func(value string)) ([]string, error)
}

// httpAPI is the client for a server of the Prometheus HTTP API: api/v1 for
// series listings and the odd raw read, a streaming decoder for the
// aggregation queries.
type httpAPI struct {
	v1.API
	client *http.Client
	base   *url.URL
}

var _ streamer = httpAPI{}

func (h httpAPI) queryInto(ctx context.Context, query string, at time.Time, sink sampleSink) ([]string, error) {
	form := url.Values{"query": {query}, "time": {formatTime(at)}}
	return h.post(ctx, "/api/v1/query", form, resultInto(sink))
}

func (h httpAPI) queryRangeInto(ctx context.Context, query string, r v1.Range, sink sampleSink) ([]string, error) {
	form := url.Values{
		"query": {query}, "start": {formatTime(r.Start)}, "end": {formatTime(r.End)},
		"step": {strconv.FormatFloat(r.Step.Seconds(), 'f', -1, 64)},
	}
	return h.post(ctx, "/api/v1/query_range", form, resultInto(sink))
}

func (h httpAPI) seriesInto(ctx context.Context, match string, start, end time.Time, label string, each func(value string)) ([]string, error) {
	form := url.Values{"match[]": {match}, "start": {formatTime(start)}, "end": {formatTime(end)}}
	return h.post(ctx, "/api/v1/series", form, func(it *jsoniter.Iterator) error {
		if it.WhatIsNext() != jsoniter.ArrayValue {
			return fmt.Errorf("decode answer: series data is not a list")
		}
		for it.ReadArray() {
			value := ""
			for name := it.ReadObject(); name != ""; name = it.ReadObject() {
				if name == label {
					value = it.ReadString()
				} else {
					it.Skip()
				}
			}
			if it.Error != nil {
				return fmt.Errorf("decode answer: %w", it.Error)
			}
			each(value)
		}
		return nil
	})
}

// formatTime is Unix seconds with the fraction, as client_golang sends it.
func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.Unix())+float64(t.Nanosecond())/1e9, 'f', -1, 64)
}

// post sends one request and decodes its answer's data with data. It asks for gzip:
// the transport of prometheus/common disables Go's transparent compression,
// and an answer of aggregates compresses about tenfold.
func (h httpAPI) post(ctx context.Context, path string, form url.Values, data func(*jsoniter.Iterator) error) ([]string, error) {
	u := h.base.JoinPath(path)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body := io.Reader(resp.Body)
	if strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip answer: %w", resp.Status, err)
		}
		defer zr.Close()
		body = zr
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		snippet, _ := io.ReadAll(io.LimitReader(body, 512))
		return nil, fmt.Errorf("server answered %s (%s): %s", resp.Status, resp.Header.Get("Content-Type"), strings.TrimSpace(string(snippet)))
	}
	ws, err := decodeAnswer(body, data)
	if err != nil {
		return ws, fmt.Errorf("server answered %s: %w", resp.Status, err)
	}
	if resp.StatusCode/100 != 2 {
		return ws, fmt.Errorf("server answered %s", resp.Status)
	}
	// Drain what follows the JSON so the connection is reused.
	_, _ = io.Copy(io.Discard, body)
	return ws, nil
}

// againIfCut runs read, and once more if its answer was cut short: the
// connection closed or reset after the server began to answer (a proxy,
// an ingress or a load balancer dropping it). Reads are idempotent and
// every sink sets, never adds, so the second answer replaces what the
// first left. An error the server sent (a status, a message) is never
// retried, nor a second cut: the cycle then fails and takes no action.
func againIfCut(ctx context.Context, read func() ([]string, error)) ([]string, error) {
	ws, err := read()
	if err != nil && cutShort(err) && ctx.Err() == nil {
		return read()
	}
	return ws, err
}

// cutShort reports whether err is an answer's body ending before its JSON
// did, or its connection closed or reset under it.
func cutShort(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}

// decodeAnswer reads one API answer ({"status", "data", "warnings",
// "error", "errorType"}), its data with data.
func decodeAnswer(r io.Reader, data func(*jsoniter.Iterator) error) ([]string, error) {
	it := jsoniter.Parse(jsoniter.ConfigDefault, r, 64<<10)
	var status, errType, errMsg string
	var warnings []string
	for field := it.ReadObject(); field != ""; field = it.ReadObject() {
		switch field {
		case "status":
			status = it.ReadString()
		case "errorType":
			errType = it.ReadString()
		case "error":
			errMsg = it.ReadString()
		case "warnings":
			for it.ReadArray() {
				warnings = append(warnings, it.ReadString())
			}
		case "data":
			if err := data(it); err != nil {
				if cutShort(it.Error) { // a body cut short reads as malformed JSON: say what it was
					return warnings, fmt.Errorf("decode answer: %w", it.Error)
				}
				return warnings, err
			}
		default: // infos, stats, isPartial (VictoriaMetrics), ...
			it.Skip()
		}
	}
	if it.Error != nil && !errors.Is(it.Error, io.EOF) {
		return warnings, fmt.Errorf("decode answer: %w", it.Error)
	}
	if status != "success" {
		if errMsg == "" {
			errMsg = "no error message"
		}
		return warnings, fmt.Errorf("%s: %s (status %q)", errType, errMsg, status)
	}
	return warnings, nil
}

// resultInto decodes a query's data, {"resultType", "result"}: a vector or
// a matrix, each series passed to sink as soon as it is read.
func resultInto(sink sampleSink) func(*jsoniter.Iterator) error {
	return func(it *jsoniter.Iterator) error { return decodeResult(it, sink) }
}

func decodeResult(it *jsoniter.Iterator, sink sampleSink) error {
	if it.WhatIsNext() != jsoniter.ObjectValue {
		it.Skip()
		return nil
	}
	var pts []model.SamplePair
	for field := it.ReadObject(); field != ""; field = it.ReadObject() {
		if field != "result" {
			it.Skip()
			continue
		}
		if it.WhatIsNext() != jsoniter.ArrayValue {
			return fmt.Errorf("decode answer: result is not a list of series")
		}
		for it.ReadArray() {
			if it.WhatIsNext() != jsoniter.ObjectValue {
				return fmt.Errorf("decode answer: want a vector or a matrix, got a scalar or a string")
			}
			var raw []byte
			var err error
			if raw, pts, err = decodeSeries(it, pts[:0]); err != nil {
				return err
			}
			if it.Error != nil {
				return fmt.Errorf("decode answer: %w", it.Error)
			}
			if err := sink(seriesLabels{raw: raw}, pts); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeSeries reads one {"metric", "values" | "value"}: the metric's JSON
// object as it came, and the points appended to pts.
func decodeSeries(it *jsoniter.Iterator, pts []model.SamplePair) (raw []byte, _ []model.SamplePair, err error) {
	raw = []byte("{}")
	for field := it.ReadObject(); field != ""; field = it.ReadObject() {
		switch field {
		case "metric":
			if it.WhatIsNext() != jsoniter.ObjectValue {
				return nil, pts, fmt.Errorf("decode answer: metric is not an object")
			}
			raw = it.SkipAndReturnBytes()
		case "values":
			for it.ReadArray() {
				p, err := decodePoint(it)
				if err != nil {
					return nil, pts, err
				}
				pts = append(pts, p)
			}
		case "value":
			p, err := decodePoint(it)
			if err != nil {
				return nil, pts, err
			}
			pts = append(pts, p)
		default: // histograms: not a gauge's
			it.Skip()
		}
	}
	return raw, pts, nil
}

// decodeLabels reads {"name": "value", ...} into m.
func decodeLabels(it *jsoniter.Iterator, m model.Metric) {
	for name := it.ReadObject(); name != ""; name = it.ReadObject() {
		m[model.LabelName(name)] = model.LabelValue(it.ReadString())
	}
}

// decodePoint reads [unix seconds, "value"]; the value may be "NaN",
// "+Inf" or "-Inf".
func decodePoint(it *jsoniter.Iterator) (model.SamplePair, error) {
	var p model.SamplePair
	if !it.ReadArray() {
		return p, fmt.Errorf("decode answer: empty point")
	}
	p.Timestamp = model.Time(math.Round(it.ReadFloat64() * 1000))
	if !it.ReadArray() {
		return p, fmt.Errorf("decode answer: point without a value")
	}
	s := it.ReadString()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return p, fmt.Errorf("decode answer: value %q: %w", s, err)
	}
	p.Value = model.SampleValue(v)
	if it.ReadArray() {
		return p, fmt.Errorf("decode answer: point with more than two elements")
	}
	return p, nil
}
