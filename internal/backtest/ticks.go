package backtest

import (
	"errors"
	"fmt"
	"time"
)

// MaxTicks bounds one backtest: each tick is a full evaluation of the window.
const MaxTicks = 10000

// Ticks returns from, from+every, ... up to and including to.
func Ticks(from, to time.Time, every time.Duration) ([]time.Time, error) {
	switch {
	case every <= 0:
		return nil, fmt.Errorf("every: must be positive, got %v", every)
	case from.IsZero() || to.IsZero():
		return nil, errors.New("from and to are both required")
	case to.Before(from):
		return nil, fmt.Errorf("to (%s) is before from (%s)", to.UTC().Format(time.RFC3339), from.UTC().Format(time.RFC3339))
	}
	n := int64(to.Sub(from)/every) + 1
	if n > MaxTicks {
		return nil, fmt.Errorf("%d ticks from %s to %s every %v: at most %d; use a larger every or a shorter range",
			n, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), every, MaxTicks)
	}
	ticks := make([]time.Time, 0, n)
	for i := range n {
		ticks = append(ticks, from.Add(time.Duration(i)*every))
	}
	return ticks, nil
}
