package config

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/prometheus/common/model"
)

// Duration is a time.Duration written as in Prometheus: 30s, 5m, 1h, 7d.
type Duration time.Duration

// D is the duration as time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return model.Duration(d).String() }

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string such as "1h" or "7d".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"5m\", got %s", b)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return &durationError{value: s}
	}
	*d = Duration(v)
	return nil
}

// durationError keeps the bad value so the loader can name the field.
type durationError struct{ value string }

func (e *durationError) Error() string {
	return fmt.Sprintf("not a duration: %q (write e.g. 30s, 5m, 1h, 7d)", e.value)
}

// ParseDuration accepts Prometheus durations (1h30m, 7d) and Go ones (1.5h).
func ParseDuration(s string) (time.Duration, error) {
	if v, err := model.ParseDuration(s); err == nil {
		return time.Duration(v), nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, &durationError{value: s}
	}
	return v, nil
}
