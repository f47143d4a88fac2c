package promquery

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/config"
)

// Connection is how to reach Prometheus (or Thanos, Mimir, Cortex,
// VictoriaMetrics: anything serving the Prometheus HTTP API).
type Connection struct {
	URL string `json:"url"`
	// BearerTokenFile is read on every request, so a rotated token is picked up.
	BearerTokenFile string `json:"bearerTokenFile"`
	// BasicAuth username with the password read from PasswordFile.
	Username     string `json:"username"`
	PasswordFile string `json:"passwordFile"`
	// TLS: a CA bundle, client certificate, or (for tests only) no checking.
	CAFile             string `json:"caFile"`
	CertFile           string `json:"certFile"`
	KeyFile            string `json:"keyFile"`
	InsecureSkipVerify bool   `json:"insecureSkipVerify"`
	// Headers are added to every request, e.g. X-Scope-OrgID for Mimir/Cortex.
	Headers map[string]string `json:"headers"`
	// Timeout bounds each HTTP request.
	Timeout time.Duration `json:"timeout"`
}

// Validate reports the first invalid field.
func (c Connection) Validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		return errors.New("prometheus.url: must be set (e.g. http://prometheus-operated.monitoring:9090)")
	case err != nil:
		return fmt.Errorf("prometheus.url: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("prometheus.url: scheme must be http or https, got %q", c.URL)
	case c.BearerTokenFile != "" && c.Username != "":
		return errors.New("prometheus: set bearerTokenFile or username/passwordFile, not both")
	case c.Timeout < 0:
		return fmt.Errorf("prometheus.timeout: must not be negative, got %v", c.Timeout)
	}
	return nil
}

// NewClient returns the client for a connection: client_golang's api/v1,
// with the aggregation queries decoded as they stream in (see streamer).
func NewClient(c Connection) (API, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cc := config.HTTPClientConfig{
		FollowRedirects: true,
		EnableHTTP2:     true,
		TLSConfig: config.TLSConfig{
			CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile,
			InsecureSkipVerify: c.InsecureSkipVerify,
		},
	}
	if c.BearerTokenFile != "" {
		cc.Authorization = &config.Authorization{Type: "Bearer", CredentialsFile: c.BearerTokenFile}
	}
	if c.Username != "" {
		cc.BasicAuth = &config.BasicAuth{Username: c.Username, PasswordFile: c.PasswordFile}
	}
	if len(c.Headers) > 0 {
		cc.HTTPHeaders = &config.Headers{Headers: map[string]config.Header{}}
		for k, v := range c.Headers {
			cc.HTTPHeaders.Headers[k] = config.Header{Values: []string{v}}
		}
	}
	if err := cc.Validate(); err != nil {
		return nil, fmt.Errorf("prometheus connection: %w", err)
	}
	rt, err := config.NewRoundTripperFromConfig(cc, "miner-detector")
	if err != nil {
		return nil, fmt.Errorf("prometheus connection: %w", err)
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	hc := &http.Client{Transport: noCache{rt}, Timeout: timeout}
	client, err := api.NewClient(api.Config{Address: c.URL, Client: hc})
	if err != nil {
		return nil, fmt.Errorf("prometheus client: %w", err)
	}
	base, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("prometheus.url: %w", err)
	}
	return httpAPI{API: v1.NewAPI(client), client: hc, base: base}, nil
}

// noCache adds nocache=1 to every query. Prometheus, Thanos and Mimir ignore
// it; VictoriaMetrics needs it to answer at exactly the times asked:
//   - for a range query of 50 points or more it rounds start and end to
//     multiples of step so that its rollup result cache can serve them
//     (promql.AdjustStartEnd in app/vmselect), which moves every chunk end
//     off the reader's grid unless the window ends on a multiple of the
//     chunk;
//   - an instant query closer to now than -search.latencyOffset (30s) is
//     evaluated that much earlier and the answer stamped with the time asked,
//     so a window-level read would cover another window than utilization's.
//
// Both are skipped for "nocache=1", documented as "the rollup cache can be
// disabled [...] on a per-query basis by passing nocache=1 query arg to
// /api/v1/query and /api/v1/query_range" (docs.victoriametrics.com, "Rollup
// result cache"); the server-wide -search.disableCache does the same.
type noCache struct{ next http.RoundTripper }

func (n noCache) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/api/v1/query") || strings.HasSuffix(r.URL.Path, "/api/v1/query_range") {
		r = r.Clone(r.Context())
		q := r.URL.Query()
		q.Set("nocache", "1")
		r.URL.RawQuery = q.Encode()
	}
	return n.next.RoundTrip(r)
}
