package promquery

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// This file is the one place PromQL text is made. Expressions are built as
// parser AST nodes and printed by the PromQL printer, which quotes every label
// value; nothing here concatenates user or label values into query text.

// stat is one of the per-chunk aggregations a cycle asks for.
type stat string

const (
	statCount  stat = "count_over_time"
	statAvg    stat = "avg_over_time"
	statStdDev stat = "stddev_over_time"
	statMin    stat = "min_over_time"
	statMax    stat = "max_over_time"
)

var stats = []stat{statCount, statAvg, statStdDev, statMin, statMax}

func parseSelector(s string) ([]*labels.Matcher, error) {
	ms, err := promqlParser.ParseMetricSelector(s)
	if err != nil {
		return nil, fmt.Errorf("parse selector %q: %w", s, err)
	}
	return ms, nil
}

// baseMatchers selects the utilization metric, narrowed by the configured
// selector.
func (c Config) baseMatchers() ([]*labels.Matcher, error) {
	ms := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, c.Metric)}
	if c.Selector != "" {
		extra, err := parseSelector(c.Selector)
		if err != nil {
			return nil, err
		}
		for _, m := range extra {
			if m.Name != labels.MetricName {
				ms = append(ms, m)
			}
		}
	}
	return ms, nil
}

// oneOf matches a label against any of the values exactly ("" matches an
// absent label), each value regexp-quoted.
func oneOf(name string, values []string) (*labels.Matcher, error) {
	if len(values) == 1 {
		return labels.NewMatcher(labels.MatchEqual, name, values[0])
	}
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = regexp.QuoteMeta(v)
	}
	return labels.NewMatcher(labels.MatchRegexp, name, strings.Join(quoted, "|"))
}

// exactly selects one series by all its labels.
func exactly(metric string, m model.Metric) []*labels.Matcher {
	ms := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, metric)}
	for name, value := range m {
		if name != model.MetricNameLabel {
			ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, string(name), string(value)))
		}
	}
	return ms
}

func selector(metric string, ms []*labels.Matcher) *parser.VectorSelector {
	return &parser.VectorSelector{Name: metric, LabelMatchers: ms}
}

// rangeOver is the selector over one chunk ending at the evaluation time,
// left-open on both semantics: on a closed server the range is one
// millisecond (the TSDB's resolution) shorter.
func rangeOver(vs *parser.VectorSelector, chunk time.Duration, sem Semantics) *parser.MatrixSelector {
	if sem == Closed {
		chunk -= time.Millisecond
	}
	return &parser.MatrixSelector{VectorSelector: vs, Range: chunk}
}

// chunkExpr is e.g. avg_over_time(DCGM_FI_DEV_GPU_UTIL{Hostname=~"a|b"}[5m]).
func chunkExpr(s stat, ms *parser.MatrixSelector) string {
	return (&parser.Call{Func: parser.Functions[string(s)], Args: parser.Expressions{ms}}).String()
}

// semanticsProbe counts the points of a 60s:30s subquery at a time aligned to
// 30 s: 3 on a closed server, 2 on a left-open one. It reads no data.
const semanticsProbe = `count_over_time(vector(1)[60s:30s])`
